// The builder state machine of BuilddMaster::poll_builder over the fakes:
// slaves with no job of ours are cleaned or aborted, status() failures are
// counted and disable, lost jobs cost a failure and prefer another builder,
// results are committed before the slave is cleaned, every dispatch attempt
// has a fresh cookie, and stuck builds time out.

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "buildd/pipeline/master.hpp"
#include "buildd/pipeline/poller.hpp"
#include "fakes/fake_farm.hpp"

namespace buildd {
namespace {

using namespace buildd::test;
using namespace std::chrono_literals;

class Reconcile : public ::testing::Test, protected FakeFarm {
 protected:
  Reconcile() {
    dsc_ = librarian_.store_bytes("dsc", "foo_1.0-1.dsc", "text/plain");
    settings_.max_in_flight = 1;  // builders polled in id order: deterministic pairs
  }

  Build add_build(const std::string& source) {
    NewBuild nb;
    nb.source_name = source;
    nb.source_version = "1.0-1";
    nb.distro_arch_release_id = dar_.id;
    nb.source_files = {{"foo_1.0-1.dsc", dsc_.id}};
    return store_.add_build(nb);
  }
  std::string cookie_of(const Build& b, int attempt = 1) {
    return build_cookie(b.id, store_.queue_entry_for_build(b.id)->id, attempt);
  }
  BuilddMaster& master() {
    if (!master_)
      master_ = std::make_unique<BuilddMaster>(store_, transport_, librarian_, time_, settings_);
    return *master_;
  }

  MasterSettings settings_;
  std::unique_ptr<BuilddMaster> master_;
  LibraryFile dsc_;
};

TEST_F(Reconcile, WaitingSlaveWithNoJobIsCleanedThenFedInTheSamePass) {
  script_->status = waiting_status(BuildResult::kOk, "99-99");
  auto build = add_build("foo");
  auto report = master().run_cycle();
  EXPECT_EQ(report.reconciled, 1u);
  EXPECT_EQ(report.dispatched, 1u);
  EXPECT_EQ(script_->count("clean"), 1u);
  EXPECT_EQ(script_->count("build " + cookie_of(build) + " binarypackage " + chroot_.sha1), 1u);
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
  EXPECT_TRUE(store_.builder(bob_.id).builderok);
}

// `builder set-url`: the next pass connects to the new address, probes the
// slave again and feeds it.
TEST_F(Reconcile, AMovedBuilderIsReconnectedProbedAndFed) {
  master().run_cycle();
  EXPECT_EQ(transport_.connected_urls(), std::vector<std::string>{"http://bob:8221"});
  const auto probes = script_->count("info");
  store_.set_builder_url(bob_.id, "http://bob-2:8221/");
  auto build = add_build("foo");
  auto report = master().run_cycle();
  EXPECT_EQ(transport_.connected_urls(),
            (std::vector<std::string>{"http://bob:8221", "http://bob-2:8221/"}));
  EXPECT_GT(script_->count("info"), probes);
  EXPECT_EQ(report.dispatched, 1u);
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
}

// A URL the transport refuses (typed for another transport, or written into
// the database by hand) disables that builder, with the refusal as its
// failnotes; the pass goes on. Moved back and enabled, it is fed.
TEST_F(Reconcile, ABuilderWhoseUrlTheTransportRefusesIsDisabledWithWhy) {
  store_.set_builder_url(bob_.id, "local://slot-1/");
  auto build = add_build("foo");
  auto report = master().run_cycle();
  EXPECT_EQ(report.dispatched, 0u);
  const Builder bob = store_.builder(bob_.id);
  EXPECT_FALSE(bob.builderok);
  EXPECT_NE(bob.failnotes.find("the slave transport refuses local://slot-1/"), std::string::npos)
      << bob.failnotes;
  EXPECT_EQ(store_.build(build.id).state, BuildState::kNeedsBuild);

  store_.set_builder_url(bob_.id, "http://bob:8221/");
  store_.set_builder_ok(bob_.id, true, "");
  report = master().run_cycle();
  EXPECT_EQ(report.dispatched, 1u);
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
}

// Several transports in one farm: each builder is served by the first that
// takes its URL; a URL none takes is refused with every transport's reason.
TEST(SlaveTransportChain, EachBuilderGoesToTheFirstTransportThatTakesItsUrl) {
  auto http = std::make_shared<FakeTransport>("http");
  auto local = std::make_shared<FakeTransport>("local");
  SlaveTransportChain chain({{"xmlrpc-slave", http}, {"local-process", local}});
  Builder b;
  b.name = "bob";
  b.url = "http://bob:8221/";
  EXPECT_EQ(chain.open(b)->builder_name(), "bob");
  b.name = "slot";
  b.url = "local://slot-1/";
  EXPECT_EQ(chain.open(b)->builder_name(), "slot");
  EXPECT_EQ(http->connected_urls(), std::vector<std::string>{"http://bob:8221/"});
  EXPECT_EQ(local->connected_urls(), std::vector<std::string>{"local://slot-1/"});
  b.url = "ftp://bob/";
  try {
    chain.open(b);
    ADD_FAILURE() << "ftp:// was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
    EXPECT_EQ(e.message(),
              "no slave transport takes ftp://bob/ (xmlrpc-slave: not a http URL: ftp://bob/; "
              "local-process: not a local URL: ftp://bob/)");
  }
}

TEST_F(Reconcile, AbortedSlaveWithNoJobIsCleanedAndIdleOneIsLeftAlone) {
  script_->status = aborted_status("7-7");
  master().run_cycle();
  EXPECT_EQ(script_->count("clean"), 1u);
  master().run_cycle();  // IDLE now, nothing queued: nothing to do
  EXPECT_EQ(script_->count("clean"), 1u);
  EXPECT_EQ(script_->count("abort"), 0u);
  EXPECT_EQ(store_.builder(bob_.id).slave_state, "IDLE");
}

TEST_F(Reconcile, ForeignBuildIsAbortedThenCleanedOnceItStops) {
  script_->status = building_status("77-77", "someone else's");
  auto build = add_build("foo");
  auto report = master().run_cycle();
  EXPECT_EQ(script_->count("abort"), 1u);
  EXPECT_EQ(script_->count("clean"), 0u);
  EXPECT_EQ(report.dispatched, 0u);
  EXPECT_EQ(store_.builder(bob_.id).slave_state, "BUILDING 77-77");
  EXPECT_EQ(master().run_cycle().reconciled, 0u) << "ABORTING is waited for";

  script_->status = waiting_status(BuildResult::kAborted, "77-77");
  report = master().run_cycle();
  EXPECT_EQ(script_->count("clean"), 1u);
  EXPECT_EQ(report.dispatched, 1u);
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
}

TEST_F(Reconcile, AJobTheDatabaseGaveItMeanwhileIsNotCleanedAway) {
  // The slave is WAITING with the result of a job the database knows: that
  // is collection, not reconciliation.
  auto build = add_build("foo");
  auto entry = *store_.queue_entry_for_build(build.id);
  store_.assign(entry.id, bob_.id, time_.now());
  script_->status = waiting_status(BuildResult::kOk, build_cookie(build.id, entry.id));
  auto report = master().run_cycle();
  EXPECT_EQ(report.reconciled, 0u);
  EXPECT_EQ(report.completed[BuildState::kFullyBuilt], 1u);
}

TEST_F(Reconcile, StatusFaultsAreCountedAndDisableTheBuilderWithWhyAndSince) {
  script_->status_error = fault_error("Broken slave");
  const TimePoint first = time_.now();
  for (int i = 0; i < settings_.transport_grace_scans - 1; ++i) {
    EXPECT_EQ(master().run_cycle().unreachable, 1u);
    time_.advance(15s);
  }
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 0);  // within the grace
  EXPECT_EQ(store_.builder(bob_.id).slave_state.rfind("unreachable: ", 0), 0u)
      << store_.builder(bob_.id).slave_state;
  for (int i = 0; i < settings_.builder_failure_threshold - 1; ++i) {
    master().run_cycle();
    time_.advance(15s);
  }
  EXPECT_EQ(store_.builder(bob_.id).failure_count, settings_.builder_failure_threshold - 1);
  EXPECT_TRUE(store_.builder(bob_.id).builderok);
  auto report = master().run_cycle();
  EXPECT_EQ(report.failed_builders, 1u);
  const Builder b = store_.builder(bob_.id);
  EXPECT_FALSE(b.builderok);
  EXPECT_NE(b.failnotes.find("status() failed"), std::string::npos) << b.failnotes;
  EXPECT_NE(b.failnotes.find("since " + iso_utc(first)), std::string::npos) << b.failnotes;
  EXPECT_NE(b.failnotes.find("Broken slave"), std::string::npos) << b.failnotes;

  // Disabled: no longer polled. Enabled by the operator: probed and used.
  const auto calls = script_->count("status");
  master().run_cycle();
  EXPECT_EQ(script_->count("status"), calls);
  script_->status_error.reset();
  store_.set_builder_ok(bob_.id, true, "");
  auto build = add_build("foo");
  master().run_cycle();
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
}

TEST_F(Reconcile, LostJobCountsFailuresAndGoesToAnotherBuilderWithAFreshCookie) {
  auto alice = store_.add_builder({"alice", "http://alice:8221", "386"});
  auto alice_script = transport_.script("alice");
  auto build = add_build("foo");
  master().run_cycle();  // bob (polled first) takes it
  const std::string first = cookie_of(build);
  ASSERT_EQ(script_->count("build " + first + " binarypackage " + chroot_.sha1), 1u);

  script_->status = idle_status();  // bob forgot it
  time_.advance(15s);
  master().run_cycle();
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 1);
  EXPECT_EQ(store_.build(build.id).failure_count, 1);
  const std::string second = cookie_of(build, 2);
  EXPECT_NE(second, first);
  EXPECT_EQ(alice_script->count("build " + second + " binarypackage " + chroot_.sha1), 1u)
      << "the next attempt prefers another builder";
  EXPECT_EQ(script_->count("build " + second + " binarypackage " + chroot_.sha1), 0u);
  EXPECT_EQ(store_.build(build.id).builder_id, alice.id);
}

TEST_F(Reconcile, ALoneBuilderGetsItsLostJobBackAfterTheAvoidWindow) {
  auto build = add_build("foo");
  master().run_cycle();
  script_->status = idle_status();
  time_.advance(1s);
  master().run_cycle();
  EXPECT_EQ(store_.build(build.id).state, BuildState::kNeedsBuild);
  time_.advance(2 * settings_.scan_interval + 1s);
  master().run_cycle();
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
  EXPECT_EQ(script_->count("build " + cookie_of(build, 2) + " binarypackage " + chroot_.sha1), 1u);
}

TEST_F(Reconcile, TheResultIsCommittedBeforeTheSlaveIsCleaned) {
  auto build = add_build("foo");
  master().run_cycle();
  script_->status = waiting_status(BuildResult::kPackageFail, cookie_of(build));
  store_.fail_next_commit = true;  // the completion's commit fails
  EXPECT_THROW(master().run_cycle(), Error);
  EXPECT_EQ(script_->count("clean"), 0u) << "cleaned before the result was committed";
  EXPECT_EQ(store_.build(build.id).state, BuildState::kBuilding);
  master().run_cycle();  // collected again, committed, then cleaned
  EXPECT_EQ(store_.build(build.id).state, BuildState::kFailedToBuild);
  EXPECT_EQ(script_->count("clean"), 1u);
}

TEST_F(Reconcile, ABuildRunningTooLongIsAbortedAndGivenBack) {
  settings_.timeouts.max_duration = 1h;
  auto build = add_build("foo");
  master().run_cycle();
  const std::string cookie = cookie_of(build);
  for (int i = 0; i < 4; ++i) {
    script_->status = building_status(cookie, "line " + std::to_string(i));
    time_.advance(20min);
    master().run_cycle();
  }
  EXPECT_EQ(script_->count("abort"), 1u);
  EXPECT_EQ(store_.build(build.id).give_back_count, 1);
  script_->status = waiting_status(BuildResult::kAborted, cookie);
  time_.advance(15s);
  master().run_cycle();
  EXPECT_EQ(script_->count("clean"), 1u);
  // Given back, then sent again with a fresh cookie (bob is the only one).
  time_.advance(2 * settings_.scan_interval);
  master().run_cycle();
  EXPECT_EQ(script_->count("build " + cookie_of(build, 2) + " binarypackage " + chroot_.sha1), 1u);
}

TEST_F(Reconcile, ABuildWhoseLogIsSilentIsAbortedPerArchReleaseTimeouts) {
  settings_.arch_release_timeouts["ubuntu/warty/i386"] = BuildTimeouts{24h, 30min};
  auto build = add_build("foo");
  master().run_cycle();
  script_->status = building_status(cookie_of(build), "same line");
  for (int i = 0; i < 3; ++i) {
    time_.advance(10min);
    master().run_cycle();
  }
  EXPECT_EQ(script_->count("abort"), 0u) << "30 minutes of silence are allowed";
  time_.advance(11min);
  master().run_cycle();
  EXPECT_EQ(script_->count("abort"), 1u);
}

// The daemon's clock over the fakes: four builders, each on its own timer,
// drain a queue; a wake-up feeds idle builders at once.
TEST_F(Reconcile, PollerDrainsTheQueueWithEachBuilderOnItsOwnTimer) {
  std::vector<std::shared_ptr<SlaveScript>> scripts{script_};
  for (const char* name : {"alice", "carol", "dave"}) {
    store_.add_builder({name, std::string("http://") + name + ":8221", "386"});
    scripts.push_back(transport_.script(name));
    scripts.back()->files["buildlog"] = "the log";
  }
  for (auto& s : scripts) s->finish_at_once = true;
  SystemTimeSource clock;
  settings_.scan_interval = std::chrono::milliseconds(20);
  settings_.max_in_flight = 4;
  BuilddMaster master(store_, transport_, librarian_, clock, settings_);
  std::vector<Build> builds;
  for (int i = 0; i < 20; ++i) builds.push_back(add_build("p" + std::to_string(i)));
  BuilderPoller poller(master);
  poller.start();
  poller.wake();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto done = [&] {
    for (const auto& b : builds) {
      // find_build copies under the store's lock: the poller's threads write.
      if (store_.find_build(b.id)->state != BuildState::kFullyBuilt) return false;
    }
    return true;
  };
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  poller.stop();
  EXPECT_TRUE(done());
  std::set<Id> builders_used;
  for (const auto& b : builds) builders_used.insert(*store_.find_build(b.id)->builder_id);
  EXPECT_EQ(builders_used.size(), 4u) << "every builder took part";
  for (auto& s : scripts) EXPECT_EQ(s->status.state, BuilderState::kIdle) << "cleaned at the end";
}

}  // namespace
}  // namespace buildd
