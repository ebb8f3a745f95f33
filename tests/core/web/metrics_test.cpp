// The Metrics registry, its Prometheus text format (every line parsed), the
// pipeline's hooks and the /metrics endpoint.

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "buildd/librarian.hpp"
#include "buildd/pipeline/master.hpp"
#include "buildd/web/metrics.hpp"
#include "buildd/web/status_pages.hpp"
#include "fakes/fake_archive.hpp"
#include "fakes/fake_farm.hpp"
#include "fakes/fake_slave.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using namespace buildd::test;
using namespace std::chrono_literals;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the exposition text strictly; every failure is reported. Returns the
// samples. Checks: HELP/TYPE syntax, TYPE before samples, metric and label
// names, label value escapes, numbers, histogram buckets cumulative, with an
// le="+Inf" bucket equal to _count, and _sum/_count present.
std::vector<Sample> parse_exposition(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*")(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*")*)\})? ([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN)))");
  static const std::regex kLabel(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\[\\"n]|[^"\\\n])*)\")");
  std::map<std::string, std::string> types;
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, m, kHelp)) << line;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, m, kType)) << line;
      if (!m.empty()) {
        EXPECT_EQ(types.count(m[1]), 0u) << "TYPE twice: " << line;
        types[m[1]] = m[2];
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "bad line: '" << line << "'";
      continue;
    }
    Sample s;
    s.name = m[1];
    const std::string value = m[4];
    s.value = value == "+Inf" || value == "Inf" ? INFINITY : std::stod(value);
    const std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), kLabel), end; it != end; ++it)
      s.labels[(*it)[1]] = (*it)[2];
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (!types.count(family) && family.size() > sfx.size() &&
          family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0 &&
          types.count(family.substr(0, family.size() - sfx.size())))
        family = family.substr(0, family.size() - sfx.size());
    }
    EXPECT_EQ(types.count(family), 1u) << "sample before its TYPE: " << line;
    if (types[family] == "histogram") {
      EXPECT_NE(s.name, family) << "histogram sample without a suffix: " << line;
      if (s.name == family + "_bucket") {
        EXPECT_EQ(s.labels.count("le"), 1u) << line;
      }
    }
    samples.push_back(s);
  }
  // Histogram series: cumulative buckets ending in +Inf == _count, _sum present.
  for (const auto& [family, type] : types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<const Sample*>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    std::set<std::map<std::string, std::string>> sums;
    for (const auto& s : samples) {
      auto key = s.labels;
      key.erase("le");
      if (s.name == family + "_bucket") buckets[key].push_back(&s);
      if (s.name == family + "_count") counts[key] = s.value;
      if (s.name == family + "_sum") sums.insert(key);
    }
    for (const auto& [key, list] : buckets) {
      if (list.empty()) continue;
      EXPECT_EQ(list.back()->labels.at("le"), "+Inf") << family;
      for (std::size_t i = 1; i < list.size(); ++i) {
        EXPECT_LE(list[i - 1]->value, list[i]->value) << family << " not cumulative";
        EXPECT_LT(
            std::stod(list[i - 1]->labels.at("le")),
            list[i]->labels.at("le") == "+Inf" ? INFINITY : std::stod(list[i]->labels.at("le")));
      }
      EXPECT_EQ(counts.count(key), 1u) << family << "_count missing";
      EXPECT_EQ(list.back()->value, counts[key]) << family;
      EXPECT_EQ(sums.count(key), 1u) << family << "_sum missing";
    }
  }
  return samples;
}

double find(const std::vector<Sample>& samples, const std::string& name,
            const std::map<std::string, std::string>& labels) {
  for (const auto& s : samples)
    if (s.name == name && s.labels == labels) return s.value;
  ADD_FAILURE() << "no sample " << name;
  return -1;
}

TEST(Metrics, RendersCountersGaugesAndHistogramsInTheTextFormat) {
  Metrics m;
  m.describe("jobs_total", MetricType::kCounter, "Jobs.\nSecond line \\ too.");
  m.inc("jobs_total", {{"builder", "bob \"the\" \\builder\\\n"}, {"kind", "transport"}});
  m.inc("jobs_total", {{"builder", "bob \"the\" \\builder\\\n"}, {"kind", "transport"}}, 2);
  m.set("depth", {{"family", "x86"}}, 7);
  m.describe("wait_seconds", MetricType::kHistogram, "Waits.", {0.5, 1, 5});
  for (double v : {0.1, 0.7, 0.7, 3.0, 100.0}) m.observe("wait_seconds", {}, v);
  m.observe("auto_seconds", {{"x", "1"}}, 0.02);  // undescribed: default buckets

  const std::string text = m.render();
  auto samples = parse_exposition(text);
  EXPECT_NE(text.find("# HELP jobs_total Jobs.\\nSecond line \\\\ too.\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE jobs_total counter\n"), std::string::npos);
  EXPECT_NE(
      text.find(
          "jobs_total{builder=\"bob \\\"the\\\" \\\\builder\\\\\\n\",kind=\"transport\"} 3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE depth gauge\ndepth{family=\"x86\"} 7\n"), std::string::npos);
  EXPECT_EQ(find(samples, "wait_seconds_bucket", {{"le", "0.5"}}), 1);
  EXPECT_EQ(find(samples, "wait_seconds_bucket", {{"le", "1"}}), 3);
  EXPECT_EQ(find(samples, "wait_seconds_bucket", {{"le", "5"}}), 4);
  EXPECT_EQ(find(samples, "wait_seconds_bucket", {{"le", "+Inf"}}), 5);
  EXPECT_EQ(find(samples, "wait_seconds_count", {}), 5);
  EXPECT_DOUBLE_EQ(find(samples, "wait_seconds_sum", {}), 104.5);
  EXPECT_EQ(find(samples, "auto_seconds_count", {{"x", "1"}}), 1);
  EXPECT_EQ(m.value("wait_seconds"), 5);
  m.clear("depth");
  EXPECT_EQ(m.render().find("depth{"), std::string::npos);
}

TEST(Metrics, IsThreadSafe) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&m] {
      for (int i = 0; i < 2000; ++i) {
        m.inc("c_total");
        m.observe("h_seconds", {}, 0.3);
        if (i % 100 == 0) (void)m.render();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.value("c_total"), 8000);
  EXPECT_EQ(m.value("h_seconds"), 8000);
}

class PipelineMetrics : public ::testing::Test, protected FakeFarm {
 protected:
  PipelineMetrics() {
    NewBuild nb;
    nb.source_name = "foo";
    nb.source_version = "1.0-1";
    nb.distro_arch_release_id = dar_.id;
    build_ = store_.add_build(nb);
    master_.set_metrics(&metrics_);
  }

  Metrics metrics_;
  BuilddMaster master_{store_, transport_, librarian_, time_};
  Build build_;
};

TEST_F(PipelineMetrics, CyclesRecordDurationsDispatchLatencyErrorsAndFinishedBuilds) {
  ASSERT_EQ(master_.run_cycle().dispatched, 1u);
  EXPECT_EQ(metrics_.value(kMetricCycles), 1);
  EXPECT_EQ(metrics_.value(kMetricCycleDuration), 1);  // one observation
  EXPECT_EQ(metrics_.value(kMetricDispatchLatency), 1);
  const Id queue = store_.queue_entry_for_build(build_.id)->id;
  const std::string cookie = build_cookie(build_.id, queue);

  script_->status_error = transport_error();
  master_.run_cycle();
  EXPECT_EQ(metrics_.value(kMetricSlaveErrors, {{"builder", "bob"}, {"kind", "transport"}}), 1);

  script_->status_error.reset();
  script_->status = waiting_status(BuildResult::kOk, cookie);
  master_.run_cycle();
  EXPECT_EQ(metrics_.value(kMetricBuildsFinished, {{"state", "FULLYBUILT"}}), 1);
  EXPECT_EQ(metrics_.value(kMetricCycles), 3);
  parse_exposition(metrics_.render());
}

TEST_F(PipelineMetrics, CountsEveryPollOfAUsableBuilderThatRanToItsEnd) {
  master_.run_cycle();  // probe, then the poll that dispatches
  EXPECT_EQ(metrics_.value(kMetricBuilderPolls), 1);
  master_.run_cycle();  // the job scanned
  EXPECT_EQ(metrics_.value(kMetricBuilderPolls), 2);

  // A poll whose step a store error ended is not counted.
  const Id queue = store_.queue_entry_for_build(build_.id)->id;
  script_->status = waiting_status(BuildResult::kOk, build_cookie(build_.id, queue));
  store_.fail_next_commit = true;
  EXPECT_THROW(master_.run_cycle(), Error);
  EXPECT_EQ(metrics_.value(kMetricBuilderPolls), 2);

  // An unreachable slave still costs a poll; a disabled builder is not polled.
  script_->status_error = transport_error();
  master_.run_cycle();
  EXPECT_EQ(metrics_.value(kMetricBuilderPolls), 3);
  store_.set_builder_ok(bob_.id, false, "broken");
  master_.run_cycle();
  EXPECT_EQ(metrics_.value(kMetricBuilderPolls), 3);
  EXPECT_NE(metrics_.render().find("# TYPE buildd_builder_polls_total counter\n"
                                   "buildd_builder_polls_total 3\n"),
            std::string::npos)
      << metrics_.render();
}

TEST(Metrics, CollectorsFillGaugesAtEveryRenderUntilRemoved) {
  Metrics m;
  int scrapes = 0;
  m.add_collector("count", [&scrapes](Metrics& into) { into.set("scrapes", {}, ++scrapes); });
  EXPECT_NE(m.render().find("scrapes 1\n"), std::string::npos);
  EXPECT_NE(m.render().find("scrapes 2\n"), std::string::npos);
  m.remove_collector("count");
  EXPECT_NE(m.render().find("scrapes 2\n"), std::string::npos);
  EXPECT_EQ(scrapes, 2);
}

TEST(Metrics, BuildInfoIsOneSeriesLabelledWithTheVersion) {
  Metrics m;
  describe_farm_metrics(m);
  set_build_info(m, "0.0.9");
  set_build_info(m, "1.2.3");  // a second call replaces the version
  auto samples = parse_exposition(m.render());
  EXPECT_EQ(find(samples, kMetricBuildInfo, {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(std::count_if(samples.begin(), samples.end(),
                          [](const Sample& s) { return s.name == kMetricBuildInfo; }),
            1);
}

TEST(BuilderAnswers, ReportsUsableHeldBuildersFromTheMasterStartUntilTheyAnswer) {
  const TimePoint start(std::chrono::seconds(1700000000));
  BuilderAnswers answers(start);
  answers.answered(1, start);  // not polled yet: ignored
  EXPECT_TRUE(answers.ages(start).empty());
  answers.polling(1, "bob", true);
  answers.polling(2, "eve", true);
  answers.polling(3, "off", false);  // disabled: not polled, not reported
  EXPECT_EQ(answers.ages(start + 30s), (std::map<std::string, double>{{"bob", 30}, {"eve", 30}}));
  answers.answered(1, start + 20s);
  answers.answered(1, start + 10s);  // older than the one known
  EXPECT_EQ(answers.ages(start + 30s).at("bob"), 10);
  // eve's lease went to another master: that one reports her.
  answers.retain({1, 3});
  Metrics m;
  answers.export_to(m, start + 90s);
  auto samples = parse_exposition(m.render());
  EXPECT_EQ(find(samples, kMetricBuilderLastAnswerAge, {{"builder", "bob"}}), 70);
  EXPECT_EQ(std::count_if(samples.begin(), samples.end(),
                          [](const Sample& s) { return s.name == kMetricBuilderLastAnswerAge; }),
            1);
}

TEST_F(PipelineMetrics, BuilderAnswerAgeGrowsWhileItIsUnreachableAndResetsWhenItAnswers) {
  auto answers = master_.builder_answers();
  metrics_.add_collector("answers", [&](Metrics& m) { answers->export_to(m, time_.now()); });
  auto age = [&] {
    return find(parse_exposition(metrics_.render()), kMetricBuilderLastAnswerAge,
                {{"builder", "bob"}});
  };
  master_.run_cycle();  // probed, answered IDLE, fed
  EXPECT_EQ(age(), 0);

  script_->status_error = transport_error();
  time_.advance(40s);
  master_.run_cycle();
  EXPECT_EQ(age(), 40);
  time_.advance(20s);  // no poll in between: the age still grows at each scrape
  EXPECT_EQ(age(), 60);
  master_.run_cycle();
  EXPECT_EQ(age(), 60);

  script_->status_error.reset();
  time_.advance(5s);
  master_.run_cycle();
  EXPECT_EQ(age(), 0);
  time_.advance(7s);
  EXPECT_EQ(age(), 7);

  // A disabled builder is not polled: its silence is not reported.
  store_.set_builder_ok(bob_.id, false, "broken");
  master_.run_cycle();
  EXPECT_EQ(metrics_.render().find("buildd_builder_last_answer_age_seconds{"), std::string::npos);
  metrics_.remove_collector("answers");
}

TEST_F(PipelineMetrics, AMasterRebuiltWithTheSameAnswersKeepsTheSilenceItSaw) {
  master_.run_cycle();
  script_->status_error = transport_error();
  time_.advance(100s);
  master_.run_cycle();
  // As the daemon does on SIGHUP: a new pipeline, the same memory. Until its
  // first poll (whose probe is an answer) it reports the silence seen.
  BuilddMaster rebuilt(store_, transport_, librarian_, time_);
  rebuilt.set_metrics(&metrics_);
  rebuilt.set_builder_answers(master_.builder_answers());
  time_.advance(50s);
  rebuilt.refresh();
  ASSERT_EQ(rebuilt.builder_handles().size(), 1u);  // held: not forgotten
  EXPECT_EQ(rebuilt.builder_answers()->ages(time_.now()),
            (std::map<std::string, double>{{"bob", 150}}));
  // Without it, the new master would know nothing of bob until it polls him.
  BuilddMaster fresh(store_, transport_, librarian_, time_);
  EXPECT_TRUE(fresh.builder_answers()->ages(time_.now()).empty());
}

TEST(MetricsEndpoint, OldestQueuedAgeIsPerFamilyAndZeroWhenNothingWaits) {
  TempDir tmp;
  ManualTimeSource time(TimePoint(std::chrono::seconds(1700000000)));
  FakeStore store;
  FakeArchive archive;
  Librarian librarian(store, archive, tmp.path() / "lib", "http://master.test");
  store.add_processor_family("x86", {"386"});
  store.add_processor_family("arm", {"armhf"});
  store.add_processor_family("ppc", {"powerpc"});
  LibraryFile chroot = librarian.store_bytes("chroot", "chroot.tar.gz", "application/gzip");
  auto x86 = store.add_distro_arch_release({"ubuntu", "warty", "i386", "x86", chroot.id, true});
  auto arm = store.add_distro_arch_release({"ubuntu", "warty", "armhf", "arm", chroot.id, true});
  Builder bob = store.add_builder({"bob", "http://bob:8221", "386"});
  auto queue = [&](const DistroArchRelease& dar, std::chrono::seconds ago) {
    NewBuild nb;
    nb.source_name = "foo";
    nb.source_version = std::to_string(ago.count());
    nb.distro_arch_release_id = dar.id;
    const Id entry = store.queue_entry_for_build(store.add_build(nb).id)->id;
    store.set_enqueued(entry, time.now() - ago);
    return entry;
  };
  const Id oldest_x86 = queue(x86, 3600s);
  queue(x86, 600s);
  queue(arm, 90s);
  Metrics metrics;
  HttpServer server("127.0.0.1:0");
  add_status_routes(server, store, librarian, metrics, time);
  server.start();
  httplib::Client client("127.0.0.1", server.actual_port());
  auto oldest = [&](const std::string& family) {
    return find(parse_exposition(client.Get("/metrics")->body), kMetricQueueOldest,
                {{"family", family}});
  };
  EXPECT_EQ(oldest("x86"), 3600);
  EXPECT_EQ(oldest("arm"), 90);
  EXPECT_EQ(oldest("ppc"), 0);
  time.advance(60s);
  EXPECT_EQ(oldest("x86"), 3660);
  EXPECT_EQ(oldest("arm"), 150);
  // The oldest is dispatched: the next one is the family's oldest.
  store.assign(oldest_x86, bob.id, time.now());
  EXPECT_EQ(oldest("x86"), 660);
}

// The scrape of a farm with every family recorded, as Prometheus would
// read it: promtool's parser and its lint (names, suffixes, HELP) must pass.
TEST(MetricsEndpoint, ScrapePassesPromtoolCheckMetrics) {
  FakeFarm farm;
  NewBuild nb;
  nb.source_name = "foo";
  nb.source_version = "1.0-1";
  nb.distro_arch_release_id = farm.dar_.id;
  farm.store_.add_build(nb);
  nb.source_version = "1.0-2";
  farm.store_.add_build(nb);
  Metrics metrics;
  set_build_info(metrics, "1.2.3");
  BuilddMaster master(farm.store_, farm.transport_, farm.librarian_, farm.time_);
  master.set_metrics(&metrics);
  master.run_cycle();  // one build dispatched, one left waiting
  farm.script_->status_error = transport_error();
  master.run_cycle();
  metrics.inc(kMetricStoreOutages);
  metrics.inc(kMetricInternalErrors, {{"where", "poll"}});
  metrics.inc(kMetricReconcileActions, {{"action", "clean"}});
  auto answers = master.builder_answers();
  metrics.add_collector("answers", [&](Metrics& m) { answers->export_to(m, farm.time_.now()); });
  HttpServer server("127.0.0.1:0");
  add_status_routes(server, farm.store_, farm.librarian_, metrics, farm.time_);
  server.start();
  auto r = httplib::Client("127.0.0.1", server.actual_port()).Get("/metrics");
  ASSERT_TRUE(r);
  metrics.remove_collector("answers");
  auto samples = parse_exposition(r->body);
  EXPECT_EQ(find(samples, kMetricBuildInfo, {{"version", "1.2.3"}}), 1);
  // FakeStore queues at the epoch.
  EXPECT_EQ(find(samples, kMetricQueueOldest, {{"family", "x86"}}),
            std::chrono::duration<double>(farm.time_.now().time_since_epoch()).count());
  EXPECT_EQ(find(samples, kMetricBuilderLastAnswerAge, {{"builder", "bob"}}), 0);

  const auto scrape = farm.tmp_.path() / "scrape.txt";
  const auto report = farm.tmp_.path() / "promtool.txt";
  std::ofstream(scrape) << r->body;
  const std::string command = std::string(BUILDD_PROMTOOL) + " check metrics < '" +
                              scrape.string() + "' > '" + report.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(report);
  const std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(status, 0) << said << "\n" << r->body;
  EXPECT_EQ(said, "");
}

TEST(MetricsEndpoint, ServesFarmGaugesAndPipelineSeriesInTheTextFormat) {
  TempDir tmp;
  ManualTimeSource time(TimePoint(std::chrono::seconds(1700000000)));
  FakeStore store;
  FakeArchive archive;
  Librarian librarian(store, archive, tmp.path() / "lib", "http://master.test");
  store.add_processor_family("x86", {"386"});
  store.add_processor_family("arm", {"armhf"});
  LibraryFile chroot = librarian.store_bytes("chroot", "chroot.tar.gz", "application/gzip");
  auto dar = store.add_distro_arch_release({"ubuntu", "warty", "i386", "x86", chroot.id, true});
  Builder bob = store.add_builder({"bob", "http://bob:8221", "386"});
  Builder eve = store.add_builder({"eve\"\\", "http://eve:8221", "386"});
  store.set_builder_ok(eve.id, false, "broken");
  NewBuild nb;
  nb.source_name = "foo";
  nb.source_version = "1";
  nb.distro_arch_release_id = dar.id;
  for (int i = 0; i < 3; ++i) store.add_build(nb);
  Metrics metrics;
  metrics.observe(kMetricCycleDuration, {}, 0.2);
  metrics.inc(kMetricSlaveErrors, {{"builder", "eve\"\\"}, {"kind", "fault"}});
  HttpServer server("127.0.0.1:0");
  add_status_routes(server, store, librarian, metrics, time);
  server.start();

  httplib::Client client("127.0.0.1", server.actual_port());
  auto r = client.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto samples = parse_exposition(r->body);
  EXPECT_EQ(find(samples, kMetricBuilders, {{"family", "x86"}, {"state", "idle"}}), 1);
  EXPECT_EQ(find(samples, kMetricBuilders, {{"family", "x86"}, {"state", "disabled"}}), 1);
  EXPECT_EQ(find(samples, kMetricBuilders, {{"family", "x86"}, {"state", "building"}}), 0);
  EXPECT_EQ(find(samples, kMetricBuilders, {{"family", "arm"}, {"state", "idle"}}), 0);
  EXPECT_EQ(find(samples, kMetricQueueDepth, {{"family", "x86"}}), 3);
  EXPECT_EQ(find(samples, kMetricQueueDepth, {{"family", "arm"}}), 0);
  EXPECT_EQ(find(samples, std::string(kMetricCycleDuration) + "_count", {}), 1);
  EXPECT_EQ(find(samples, kMetricSlaveErrors, {{"builder", "eve\\\"\\\\"}, {"kind", "fault"}}), 1);
  for (const char* family : {kMetricBuilders, kMetricQueueDepth, kMetricBuildsFinished,
                             kMetricCycleDuration, kMetricSlaveErrors, kMetricDispatchLatency})
    EXPECT_NE(r->body.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;

  // A builder taking a job moves between the gauges at the next scrape.
  store.assign(store.waiting(1).at(0).entry.id, bob.id, time.now());
  samples = parse_exposition(client.Get("/metrics")->body);
  EXPECT_EQ(find(samples, kMetricBuilders, {{"family", "x86"}, {"state", "building"}}), 1);
  EXPECT_EQ(find(samples, kMetricBuilders, {{"family", "x86"}, {"state", "idle"}}), 0);
  EXPECT_EQ(find(samples, kMetricQueueDepth, {{"family", "x86"}}), 2);
}

}  // namespace
}  // namespace buildd
