// The fair-share scheduler's order, its explanations, its config, and the
// plugin as the loader makes it from a config's `scheduler:` section.

#include "fair_share_scheduler.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "buildd/config.hpp"
#include "buildd/error.hpp"
#include "buildd/plugin_loader.hpp"

namespace buildd {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::hours(500000));

QueuedBuild queued(Id id, const std::string& archive, const std::string& pocket = "release",
                   Duration waited = Duration::zero(), const std::string& component = "main") {
  QueuedBuild q;
  q.entry.id = id;
  q.entry.build_id = id;
  q.entry.created = kNow - waited;
  q.build.id = id;
  q.build.archive = archive;
  q.build.pocket = pocket;
  q.build.component = component;
  return q;
}

FairShareScheduler scheduler(std::map<std::string, PluginConfig::Value> values = {}) {
  return FairShareScheduler(
      fair_share_options_from(plugin_config_from(kFairShareConfigKeys, std::move(values))));
}

std::vector<Id> ids(const std::vector<ScheduledBuild>& order) {
  std::vector<Id> out;
  for (const auto& s : order) out.push_back(s.job.entry.id);
  return out;
}

std::string config_error(std::map<std::string, PluginConfig::Value> values) {
  try {
    scheduler(std::move(values));
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kConfig);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

// A rebuild of 50,000 builds queued first cannot starve a later upload of
// another archive: with builds of its own running, the rebuild's next build
// loses share_penalty for each, and the upload goes first.
TEST(FairShare, AnArchiveWithBuildsRunningYieldsToOneWithNone) {
  std::vector<QueuedBuild> rows;
  for (Id id = 1; id <= 5; ++id) rows.push_back(queued(id, "rebuild"));
  rows.push_back(queued(6, "security"));
  const auto order = scheduler().order(rows, {{"rebuild", 2}}, kNow);
  EXPECT_EQ(ids(order), (std::vector<Id>{6, 1, 2, 3, 4, 5}));
  EXPECT_EQ(order[0].explain,
            "priority 2510 = score 2510 (main 1000 + release 1500 + medium 10) - share 0 (archive "
            "security: 0 dispatched before it, weight 1)");
  EXPECT_EQ(order[1].explain,
            "priority 1510 = score 2510 (main 1000 + release 1500 + medium 10) - share 1000 "
            "(archive rebuild: 2 dispatched before it, weight 1)");
  EXPECT_EQ(order[1].job.entry.score, 1510);  // the score shown is the priority

  // The default scheduler would have fed the whole rebuild first.
  EXPECT_EQ(ids(DefaultScheduler().order(rows, {}, kNow)), (std::vector<Id>{1, 2, 3, 4, 5, 6}));

  // With nothing running, the older entry goes first, then the other
  // archive, as each dispatched build counts against its archive.
  EXPECT_EQ(ids(scheduler().order(rows, {}, kNow)), (std::vector<Id>{1, 6, 2, 3, 4, 5}));
}

// A pocket step (1,500) is more than one share step (500): a security
// upload still beats a release build of an archive with one build running.
TEST(FairShare, ScoresStillCountBeyondTheShare) {
  const auto order = scheduler().order(
      {queued(1, "primary", "release"), queued(2, "ppa", "security")}, {{"ppa", 2}}, kNow);
  EXPECT_EQ(ids(order), (std::vector<Id>{2, 1}));  // 5510 - 1000 > 2510
}

// Weight 3 against 1: three builders for every one while both have work.
TEST(FairShare, WeightsShareTheBuilders) {
  std::vector<QueuedBuild> rows;
  for (Id id = 1; id <= 8; ++id) rows.push_back(queued(id, "primary"));
  for (Id id = 9; id <= 16; ++id) rows.push_back(queued(id, "ppa"));
  const auto order =
      scheduler({{"weights", std::vector<std::string>{"primary=3"}}}).order(rows, {}, kNow);
  int primary = 0;
  for (std::size_t i = 0; i < 8; ++i) primary += order[i].job.build.archive == "primary";
  EXPECT_EQ(primary, 6);
  EXPECT_NE(order[0].explain.find("weight 3"), std::string::npos) << order[0].explain;
}

// A build that keeps losing gains aging_per_hour each hour until it wins,
// against a better score or against its archive's share.
TEST(FairShare, WaitingBuildsAge) {
  // universe (250) waited 13 h: 250 + 1500 + 10 + 100 (Launchpad's >4h) +
  // 13 x 60 = 2640, above a fresh main build's 2510.
  auto order = scheduler().order(
      {queued(1, "primary"), queued(2, "primary", "release", 13h, "universe")}, {}, kNow);
  EXPECT_EQ(ids(order), (std::vector<Id>{2, 1}));
  EXPECT_NE(order[0].explain.find("+ waited 13h 00m 780"), std::string::npos) << order[0].explain;
  // Without aging it would wait.
  EXPECT_EQ(ids(scheduler({{"aging_per_hour", std::int64_t{0}}})
                    .order({queued(1, "primary"), queued(2, "primary", "release", 13h, "universe")},
                           {}, kNow)),
            (std::vector<Id>{1, 2}));
  // Ten hours (600 + 100) outweigh one running build's share (500).
  order = scheduler().order({queued(1, "primary"), queued(2, "ppa", "release", 10h)}, {{"ppa", 1}},
                            kNow);
  EXPECT_EQ(ids(order), (std::vector<Id>{2, 1}));
}

TEST(FairShare, APinnedScoreIsKept) {
  QueuedBuild pinned = queued(2, "ppa");
  pinned.entry.manual = true;
  pinned.entry.score = 9000;
  const auto order = scheduler().order({queued(1, "primary"), pinned}, {}, kNow);
  EXPECT_EQ(ids(order), (std::vector<Id>{2, 1}));
  EXPECT_NE(order[0].explain.find("score 9000 (pinned by an operator)"), std::string::npos)
      << order[0].explain;
}

TEST(FairShare, EveryCandidateComesBackOnce) {
  std::vector<QueuedBuild> rows;
  for (Id id = 1; id <= 40; ++id)
    rows.push_back(queued(id, "a" + std::to_string(id % 7), id % 2 ? "security" : "release",
                          std::chrono::minutes(id * 37)));
  auto got = ids(scheduler().order(rows, {{"a1", 3}, {"a4", 9}}, kNow));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got.size(), 40u);
  EXPECT_EQ(std::unique(got.begin(), got.end()), got.end());
  EXPECT_TRUE(scheduler().order({}, {}, kNow).empty());
}

TEST(FairShare, ConfigIsChecked) {
  const auto s = scheduler({{"weights", std::vector<std::string>{"primary=3", "ppa-1=2"}},
                            {"default_weight", std::int64_t{2}},
                            {"candidates_per_archive", std::int64_t{8}}});
  EXPECT_EQ(s.weight("primary"), 3);
  EXPECT_EQ(s.weight("ppa-1"), 2);
  EXPECT_EQ(s.weight("other"), 2);
  EXPECT_EQ(s.candidates_per_archive(), 8u);
  EXPECT_EQ(scheduler().candidates_per_archive(), 32u);  // the keys' default

  for (const std::string bad :
       {"primary", "primary=", "primary=0", "primary=3x", "=3", "bad name=3", "primary=-1"}) {
    const std::string error = config_error({{"weights", std::vector<std::string>{bad}}});
    EXPECT_NE(error.find("weights entry '" + bad + "' is not ARCHIVE=WEIGHT"), std::string::npos)
        << error;
  }
  EXPECT_NE(config_error({{"weights", std::vector<std::string>{"a=1", "a=2"}}})
                .find("weights names archive 'a' twice"),
            std::string::npos);
  EXPECT_NE(config_error({{"default_weight", std::int64_t{0}}})
                .find("default_weight must be at least 1, not 0"),
            std::string::npos);
  EXPECT_NE(config_error({{"share_penalty", std::int64_t{-5}}}).find("share_penalty must be"),
            std::string::npos);
  EXPECT_NE(config_error({{"candidates_per_archive", std::int64_t{0}}})
                .find("candidates_per_archive must be at least 1"),
            std::string::npos);
}

// The config's `scheduler:` section loads the plugin; without one the loader
// gives the default scheduler.
TEST(FairSharePlugin, TheConfigSectionChoosesTheScheduler) {
  PluginLoader loader(BUILDD_PLUGIN_DIR);
  const auto info = loader.inspect("fair-share-scheduler");
  EXPECT_EQ(info.kind, PluginKind::kScheduler);
  EXPECT_STREQ(kind_name(info.kind), "scheduler");

  auto none = Config::parse("master: {}\n", "/etc/buildd/a.yaml");
  EXPECT_NE(dynamic_cast<const DefaultScheduler*>(loader.create_scheduler(none).get()), nullptr);

  auto fair = Config::parse(
      "scheduler:\n  plugin: fair-share-scheduler\n  config:\n    weights: [primary=4]\n"
      "    candidates_per_archive: 5\n",
      "/etc/buildd/b.yaml");
  auto made = loader.create_scheduler(fair);
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(made->candidates_per_archive(), 5u);
  EXPECT_EQ(dynamic_cast<const DefaultScheduler*>(made.get()), nullptr);

  auto bad = Config::parse(
      "scheduler:\n  plugin: fair-share-scheduler\n  config:\n    weights: [primary=none]\n",
      "/etc/buildd/c.yaml");
  try {
    loader.create_scheduler(bad);
    ADD_FAILURE() << "a bad weight was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weights entry 'primary=none'"), std::string::npos)
        << e.what();
  }
  // A plugin of another kind in the section is refused.
  auto wrong = Config::parse("scheduler:\n  plugin: file-librarian\n  config: {root: /tmp}\n",
                             "/etc/buildd/d.yaml");
  try {
    loader.create_scheduler(wrong);
    ADD_FAILURE() << "a log archive was taken as a scheduler";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("section 'scheduler' needs a scheduler plugin"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace buildd
