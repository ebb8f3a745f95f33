// BuilddMaster cycles over FakeStore, FakeArchive (through the real
// Librarian) and FakeTransport, on a ManualTimeSource.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <set>
#include <thread>

#include "buildd/config.hpp"
#include "buildd/digest.hpp"
#include "buildd/librarian.hpp"
#include "buildd/pipeline/commit_batcher.hpp"
#include "buildd/pipeline/master.hpp"
#include "fair_share_scheduler.hpp"
#include "fakes/fake_archive.hpp"
#include "fakes/fake_farm.hpp"
#include "fakes/fake_slave.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using namespace buildd::test;
using namespace std::chrono_literals;

class Cycle : public ::testing::Test, protected FakeFarm {
 protected:
  Cycle() {
    dsc_ = librarian_.store_bytes("dsc", "foo_1.0-1.dsc", "text/plain");
    NewBuild nb;
    nb.source_name = "foo";
    nb.source_version = "1.0-1";
    nb.distro_arch_release_id = dar_.id;
    nb.pocket = "updates";
    nb.source_files = {{"foo_1.0-1.dsc", dsc_.id}};
    build_ = store_.add_build(nb);
    entry_ = *store_.queue_entry_for_build(build_.id);
  }

  std::string cookie() const { return build_cookie(build_.id, entry_.id); }

  BuilddMaster master_{store_, transport_, librarian_, time_};
  LibraryFile dsc_;
  Build build_;
  BuildQueueEntry entry_;
};

TEST_F(Cycle, DispatchesWithArgsAndCollectsOk) {
  auto report = master_.run_cycle();
  EXPECT_EQ(report.dispatched, 1u);
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  EXPECT_EQ(script_->count("build " + cookie() + " binarypackage " + chroot_.sha1), 1u);
  EXPECT_EQ(
      script_->count("ensure_present " + chroot_.sha1 + " http://archive.test/" + chroot_.sha256),
      1u);
  ASSERT_EQ(script_->build_args.size(), 1u);
  auto& args = script_->build_args[0];
  EXPECT_EQ(std::get<std::string>(args.at("series")), "warty");
  EXPECT_EQ(std::get<std::string>(args.at("suite")), "warty-updates");
  EXPECT_EQ(std::get<std::string>(args.at("ogrecomponent")), "main");
  EXPECT_EQ(std::get<std::string>(args.at("arch_tag")), "i386");
  EXPECT_TRUE(std::get<bool>(args.at("arch_indep")));
  EXPECT_EQ(script_->build_filemaps[0].at("foo_1.0-1.dsc"), dsc_.sha1);
  // The limit of the candidate query is bounded, never the whole queue.
  EXPECT_EQ(store_.candidate_limits.back(), 1u + 10u);

  script_->status = building_status(cookie(), std::string("tail\0", 5));
  time_.advance(60s);
  report = master_.run_cycle();
  EXPECT_EQ(report.scanned, 1u);
  EXPECT_EQ(store_.entry(entry_.id)->logtail, "tail");

  const std::string deb = "deb bytes";
  script_->files[sha1_hex(deb)] = deb;
  script_->status =
      waiting_status(BuildResult::kOk, cookie(), {{"foo_1.0-1_i386.deb", sha1_hex(deb)}});
  time_.advance(60s);
  report = master_.run_cycle();
  EXPECT_EQ(report.completed[BuildState::kFullyBuilt], 1u);
  auto b = store_.build(build_.id);
  EXPECT_EQ(b.state, BuildState::kFullyBuilt);
  EXPECT_EQ(b.duration, Duration(120s));
  ASSERT_TRUE(b.buildlog_id);
  EXPECT_EQ(store_.find_library_file(*b.buildlog_id)->filename,
            "buildlog_ubuntu-warty-i386.foo_1.0-1_FULLYBUILT.txt.gz");
  auto results = store_.result_files(build_.id);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].file.sha1, sha1_hex(deb));
  EXPECT_FALSE(store_.entry(entry_.id));
  EXPECT_EQ(script_->count("clean"), 1u);
  std::size_t completions = 0, live_logs = 0;
  for (const auto& c : store_.commits) {
    completions += c.completions.size();
    live_logs += c.live_logs.size();
  }
  EXPECT_EQ(completions, 1u);
  EXPECT_EQ(live_logs, 0u);  // launchpad-buildd cannot read its log from an offset
}

// A builder the collection has just cleaned is IDLE, as clean() said: the
// same poll feeds it the next build without asking status() again (start()
// still asks it once, right before build()). One round trip fewer per build.

// The builder type comes from the probe's info(): a slave that offers no
// "binarypackage" (the 2005 slave: "debian" only) is asked for "debian".
TEST_F(Cycle, ASlaveWithoutBinarypackageBuildsWithDebian) {
  script_->info.builder_types = {"debian"};
  EXPECT_EQ(master_.run_cycle().dispatched, 1u);
  EXPECT_EQ(script_->count("build " + cookie() + " debian " + chroot_.sha1), 1u);
  EXPECT_EQ(script_->count("build " + cookie() + " binarypackage " + chroot_.sha1), 0u);
}
TEST_F(Cycle, ABuilderCleanedByTheCollectionIsFedInTheSamePoll) {
  ASSERT_EQ(master_.run_cycle().dispatched, 1u);
  NewBuild nb;
  nb.source_name = "bar";
  nb.source_version = "2.0-1";
  nb.distro_arch_release_id = dar_.id;
  nb.source_files = {{"foo_1.0-1.dsc", dsc_.id}};
  const Build next = store_.add_build(nb);
  script_->status = waiting_status(BuildResult::kOk, cookie());
  {
    std::lock_guard lock(script_->mutex);
    script_->calls.clear();
  }
  time_.advance(60s);
  const CycleReport report = master_.run_cycle();
  EXPECT_EQ(report.completed.at(BuildState::kFullyBuilt), 1u);
  EXPECT_EQ(report.dispatched, 1u);
  EXPECT_EQ(store_.build(next.id).state, BuildState::kBuilding);
  const std::vector<std::string>& calls = script_->calls;
  const auto cleaned = std::find(calls.begin(), calls.end(), "clean");
  ASSERT_NE(cleaned, calls.end());
  ASSERT_NE(cleaned + 1, calls.end());
  EXPECT_EQ((cleaned + 1)->rfind("ensure_present " + dsc_.sha1, 0), 0u) << *(cleaned + 1);
  EXPECT_EQ(std::count(cleaned, calls.end(), "status"), 1) << "one status(), start()'s own";
  EXPECT_EQ(calls.back().rfind("build ", 0), 0u) << calls.back();
  // Recorded as clean() said (the next poll records BUILDING, as before).
  EXPECT_EQ(store_.builder(bob_.id).slave_state, "IDLE");
}

// A worker that reads its log from an offset (probe() finds it): each poll
// that sees the tail move appends the log's new bytes to the store's live
// log, which goes with the queue entry when the build completes.
TEST_F(Cycle, AWorkerThatReadsItsLogFromAnOffsetFillsTheLiveLog) {
  script_->live_log = "";
  master_.run_cycle();
  ASSERT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  EXPECT_EQ(script_->count("readlog 0"), 1u);  // the probe's readlog(0, 0)

  script_->live_log = "RUN: sbuild\n";
  script_->status = building_status(cookie(), "RUN: sbuild\n");
  master_.run_cycle();
  EXPECT_EQ(store_.entry(entry_.id)->live_log_size, 12u);
  EXPECT_EQ(store_.live_log(entry_.id, 0, 100), "RUN: sbuild\n");

  master_.run_cycle();  // the tail did not move: the log is not asked for
  EXPECT_EQ(script_->count("readlog 12"), 0u);

  // 600 KiB in one poll (three reads of at most 256 KiB), any byte value.
  std::string more;
  for (int i = 0; more.size() < 600 * 1024; ++i) more += static_cast<char>(i * 7);
  *script_->live_log += more;
  script_->status = building_status(cookie(), "…the last bytes");
  master_.run_cycle();
  EXPECT_EQ(script_->count("readlog 12"), 1u);
  EXPECT_EQ(store_.entry(entry_.id)->live_log_size, script_->live_log->size());
  EXPECT_EQ(store_.live_log(entry_.id, 0, 1 << 20), *script_->live_log);

  script_->files["buildlog"] = *script_->live_log;
  script_->status = waiting_status(BuildResult::kOk, cookie());
  master_.run_cycle();
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kFullyBuilt);
  EXPECT_EQ(store_.live_log(entry_.id, 0, 100), "");
}

// A poll of a running build records what it saw (the tail, the live log,
// the slave's new state) in one commit, not one for the job and one for the
// slave's state.
TEST_F(Cycle, APollOfARunningBuildCommitsOnce) {
  script_->live_log = "";
  master_.run_cycle();
  ASSERT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  const std::size_t before = store_.commits.size();
  script_->live_log = "RUN: sbuild\n";
  script_->status = building_status(cookie(), "RUN: sbuild\n");
  master_.run_cycle();
  ASSERT_EQ(store_.commits.size(), before + 1);
  const CycleChanges& one = store_.commits.back();
  EXPECT_EQ(one.logtails.size(), 1u);
  EXPECT_EQ(one.live_logs.size(), 1u);
  ASSERT_EQ(one.slave_states.size(), 1u);
  EXPECT_EQ(one.slave_states[0].state, "BUILDING " + cookie());
  EXPECT_EQ(store_.builder(bob_.id).slave_state, "BUILDING " + cookie());

  master_.run_cycle();  // nothing moved: nothing to write
  EXPECT_EQ(store_.commits.size(), before + 1);
}

// A worker whose status() says where its tail ends (buildd-slave's
// log_size): the log's new bytes come from the tail whenever it holds them
// all, and readlog() is asked only when the log moved on by more than that.
TEST_F(Cycle, TheLiveLogTakesTheNewBytesFromTheTailWhenItHoldsThemAll) {
  script_->live_log = "";
  master_.run_cycle();
  ASSERT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  const auto readlogs = [&] {
    std::lock_guard lock(script_->mutex);
    return std::count_if(script_->calls.begin(), script_->calls.end(),
                         [](const std::string& c) { return c.rfind("readlog ", 0) == 0; });
  };
  const auto probe_reads = readlogs();
  // The log becomes `log`; status() answers its last `tail` bytes and its size.
  const auto log_grows_to = [&](const std::string& log, std::size_t tail) {
    script_->live_log = log;
    SlaveStatus s = building_status(cookie(), log.substr(log.size() - std::min(tail, log.size())));
    s.log_size = log.size();
    script_->status = s;
    master_.run_cycle();
  };
  std::string log = "RUN: sbuild\n";
  log_grows_to(log, 2048);  // the whole log is in the tail
  EXPECT_EQ(store_.live_log(entry_.id, 0, 1 << 20), log);
  EXPECT_EQ(readlogs(), probe_reads);

  for (int i = 0; i < 300; ++i) log += static_cast<char>(i);  // any byte value
  log_grows_to(log, 2048);
  EXPECT_EQ(store_.live_log(entry_.id, 0, 1 << 20), log);
  EXPECT_EQ(readlogs(), probe_reads);

  log += "exactly the tail\n";  // the new bytes are the whole tail
  log_grows_to(log, 17);
  EXPECT_EQ(store_.live_log(entry_.id, 0, 1 << 20), log);
  EXPECT_EQ(readlogs(), probe_reads);

  log += std::string(5000, 'x') + "\n";  // more than the tail: read from the offset
  log_grows_to(log, 2048);
  EXPECT_EQ(store_.live_log(entry_.id, 0, 1 << 20), log);
  EXPECT_EQ(readlogs(), probe_reads + 1);
  EXPECT_EQ(store_.entry(entry_.id)->live_log_size, log.size());
}

// The live log is for people following the build: a read that fails is
// logged, appends nothing and costs neither the build nor the builder.
TEST_F(Cycle, ALiveLogReadThatFailsChangesNothingElse) {
  script_->live_log = "";
  master_.run_cycle();
  script_->status = building_status(cookie(), "tail");
  script_->live_log = "the log";
  script_->readlog_error = Error(ErrorCategory::kProtocol, "readlog(): 'size' is negative");
  master_.run_cycle();
  EXPECT_EQ(store_.entry(entry_.id)->live_log_size, 0u);
  EXPECT_EQ(store_.entry(entry_.id)->logtail, "tail");
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  EXPECT_EQ(store_.build(build_.id).failure_count, 0);
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 0);

  script_->readlog_error.reset();
  script_->status = building_status(cookie(), "tail moved");
  master_.run_cycle();
  EXPECT_EQ(store_.live_log(entry_.id, 0, 100), "the log");
}

// The operator's job arguments (master.job_args: "*" and the arch release's
// own, which win) reach the worker in the JobSpec, and launchpad-buildd's
// build() args struct through xmlrpc-slave, never replacing one of its own.
TEST_F(Cycle, TheOperatorsJobArgumentsReachTheBuildArgs) {
  MasterSettings settings;
  settings.job_args["*"] = {{"archive_purpose", "PRIMARY"}, {"build_debug_symbols", "no"}};
  settings.job_args["ubuntu/warty/i386"] = {{"build_debug_symbols", "yes"}, {"series", "hoary"}};
  settings.job_args["ubuntu/hoary/i386"] = {{"archive_purpose", "PPA"}};
  BuilddMaster master(store_, transport_, librarian_, time_, settings);
  EXPECT_EQ(master.run_cycle().dispatched, 1u);
  ASSERT_EQ(script_->build_args.size(), 1u);
  auto& args = script_->build_args[0];
  EXPECT_EQ(std::get<std::string>(args.at("archive_purpose")), "PRIMARY");
  EXPECT_EQ(std::get<std::string>(args.at("build_debug_symbols")), "yes");
  EXPECT_EQ(std::get<std::string>(args.at("series")), "warty");  // the transport's own
  EXPECT_EQ(args.size(), 7u);
}

// The chroot a slave confirmed it holds is not sent again with the next
// build (one round trip fewer); a slave that lost it (UNKNOWNSUM) gets the
// job back in the queue, is not blamed, and is sent the chroot next time.
TEST_F(Cycle, ChrootHeldBySlaveIsNotSentAgainUntilItIsLost) {
  const std::string ensure_chroot =
      "ensure_present " + chroot_.sha1 + " http://archive.test/" + chroot_.sha256;
  auto finish = [&](const std::string& job) {
    script_->status = waiting_status(BuildResult::kOk, job);
    time_.advance(60s);
    master_.run_cycle();  // collects, cleans and feeds the builder again
  };
  auto add = [&](const std::string& version) {
    NewBuild nb;
    nb.source_name = "foo";
    nb.source_version = version;
    nb.distro_arch_release_id = dar_.id;
    nb.source_files = {{"foo_1.0-1.dsc", dsc_.id}};
    return store_.add_build(nb);
  };
  EXPECT_EQ(master_.run_cycle().dispatched, 1u);
  EXPECT_EQ(script_->count(ensure_chroot), 1u);

  const Build second = add("2.0-1");
  finish(cookie());
  const auto second_entry = *store_.queue_entry_for_build(second.id);
  ASSERT_EQ(store_.build(second.id).state, BuildState::kBuilding);
  EXPECT_EQ(script_->count(ensure_chroot), 1u) << "the chroot was sent again";
  EXPECT_EQ(script_->count("ensure_present " + dsc_.sha1 + " http://archive.test/" + dsc_.sha256),
            2u);

  // The slave restarts with an empty cache.
  const Build third = add("3.0-1");
  script_->build_reply = {BuildStartStatus::kUnknownSum, "BuilderStatus.UNKNOWNSUM",
                          "CHROOTSUM -> " + chroot_.sha1};
  finish(build_cookie(second.id, second_entry.id));
  EXPECT_EQ(store_.build(third.id).state, BuildState::kNeedsBuild);
  EXPECT_FALSE(store_.queue_entry_for_build(third.id)->builder_id);
  EXPECT_TRUE(store_.builder(bob_.id).builderok);
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 0);
  EXPECT_EQ(script_->count(ensure_chroot), 1u);

  script_->build_reply = {BuildStartStatus::kBuilding, "BuilderStatus.BUILDING", ""};
  time_.advance(60s);
  master_.run_cycle();
  EXPECT_EQ(store_.build(third.id).state, BuildState::kBuilding);
  EXPECT_EQ(script_->count(ensure_chroot), 2u);
}

// A worker that speaks no launchpad-buildd at all: the core hands it a
// JobSpec (inputs by file name, SHA-1 and the librarian's URL) and takes its
// answers. not_now puts the job back without blame; a throw from start()
// counts against the builder.
class JobRecordingSlave final : public Slave {
 public:
  JobRecordingSlave(std::string name, std::vector<JobSpec>& jobs, std::deque<StartResult>& answers)
      : name_(std::move(name)), jobs_(jobs), answers_(answers) {}
  const std::string& builder_name() const override { return name_; }
  WorkerInfo probe() override { return {"i386", "a test worker"}; }
  SlaveStatus status() override { return idle_status(); }
  StartResult start(const JobSpec& job) override {
    jobs_.push_back(job);
    if (answers_.empty()) throw Error(ErrorCategory::kRefused, "no more jobs, thanks");
    StartResult r = answers_.front();
    answers_.pop_front();
    return r;
  }
  std::string abort() override { return "ABORTING"; }
  std::string clean() override { return "IDLE"; }
  FetchedFile fetch_file(const std::string&, ByteSink&, std::uint64_t) override {
    throw Error(ErrorCategory::kProtocol, "nothing to fetch");
  }

 private:
  std::string name_;
  std::vector<JobSpec>& jobs_;
  std::deque<StartResult>& answers_;
};

class JobRecordingTransport final : public SlaveTransport {
 public:
  std::unique_ptr<Slave> connect(const Builder& builder) override {
    return std::make_unique<JobRecordingSlave>(builder.name, jobs, answers);
  }
  std::vector<JobSpec> jobs;
  std::deque<StartResult> answers;
};

TEST_F(Cycle, AProtocolNeutralWorkerGetsAJobSpecAndItsAnswersAreHeeded) {
  JobRecordingTransport worker;
  BuilddMaster master(store_, worker, librarian_, time_);

  worker.answers = {StartResult{false, "busy after all"}};
  EXPECT_EQ(master.run_cycle().dispatched, 0u);
  ASSERT_EQ(worker.jobs.size(), 1u);
  const JobSpec& job = worker.jobs[0];
  EXPECT_EQ(job.job_id, cookie());
  EXPECT_EQ(job.chroot.filename, "chroot-warty-i386.tar.gz");
  EXPECT_EQ(job.chroot.sha1, chroot_.sha1);
  EXPECT_EQ(job.chroot.url, "http://archive.test/" + chroot_.sha256);
  ASSERT_EQ(job.sources.size(), 1u);
  EXPECT_EQ(job.sources[0].filename, "foo_1.0-1.dsc");
  EXPECT_EQ(job.sources[0].sha1, dsc_.sha1);
  EXPECT_EQ(job.sources[0].url, "http://archive.test/" + dsc_.sha256);
  EXPECT_EQ(job.source_name, "foo");
  EXPECT_EQ(job.source_version, "1.0-1");
  EXPECT_EQ(job.release, "warty");
  EXPECT_EQ(job.pocket, "updates");
  EXPECT_EQ(job.component, "main");
  EXPECT_EQ(job.arch_tag, "i386");
  EXPECT_TRUE(job.arch_indep);
  // Not now: back in the queue, nobody blamed.
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kNeedsBuild);
  EXPECT_FALSE(store_.queue_entry_for_build(build_.id)->builder_id);
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 0);

  worker.answers = {StartResult{true, ""}};
  time_.advance(60s);
  EXPECT_EQ(master.run_cycle().dispatched, 1u);
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  EXPECT_TRUE(store_.builder(bob_.id).builderok);
}

TEST_F(Cycle, AWorkerThatRefusesAJobIsCountedAgainst) {
  JobRecordingTransport worker;  // no answers: start() throws kRefused
  BuilddMaster master(store_, worker, librarian_, time_);
  EXPECT_EQ(master.run_cycle().dispatched, 0u);
  EXPECT_EQ(worker.jobs.size(), 1u);
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kNeedsBuild);
  EXPECT_GE(store_.builder(bob_.id).failure_count, 1);
}

TEST_F(Cycle, RetryableArchiveErrorLosesNothing) {
  master_.run_cycle();
  script_->status = waiting_status(BuildResult::kPackageFail, cookie());
  archive_.fail_puts = true;
  auto report = master_.run_cycle();
  EXPECT_EQ(report.deferred, 1u);
  EXPECT_EQ(script_->count("clean"), 0u);
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  EXPECT_TRUE(store_.entry(entry_.id));
  archive_.fail_puts = false;
  script_->fetch_error = transport_error();
  master_.run_cycle();
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  script_->fetch_error.reset();
  master_.run_cycle();
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kFailedToBuild);
  EXPECT_EQ(script_->count("clean"), 1u);
}

TEST_F(Cycle, TransportGraceThenFailureCounting) {
  master_.run_cycle();
  script_->status_error = transport_error();
  for (int i = 0; i < 4; ++i) master_.run_cycle();
  EXPECT_EQ(store_.build(build_.id).failure_count, 0);
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kBuilding);
  master_.run_cycle();  // fifth failed scan: counted
  EXPECT_EQ(store_.build(build_.id).failure_count, 1);
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 1);
}

TEST_F(Cycle, GiveBackCountsAndResets) {
  master_.run_cycle();
  script_->status = waiting_status(BuildResult::kGivenBack, cookie());
  script_->building_after_build = false;
  master_.run_cycle();
  EXPECT_EQ(store_.build(build_.id).give_back_count, 1);
  EXPECT_EQ(script_->count("clean"), 1u);
}

TEST_F(Cycle, BuilderFailAndCancelTimeout) {
  master_.run_cycle();
  EXPECT_EQ(store_.cancel_build(build_.id), CancelOutcome::kCancelling);
  master_.run_cycle();
  EXPECT_EQ(script_->count("abort"), 1u);
  master_.run_cycle();
  EXPECT_EQ(script_->count("abort"), 1u);  // once
  time_.advance(181s);
  master_.run_cycle();
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kCancelled);
  EXPECT_FALSE(store_.builder(bob_.id).builderok);
}

TEST_F(Cycle, RefusedFileReleasesClaimAndQueuedCancelIsImmediate) {
  script_->present[dsc_.sha1] = false;
  auto report = master_.run_cycle();
  EXPECT_EQ(report.dispatched, 0u);
  EXPECT_EQ(store_.build(build_.id).state, BuildState::kNeedsBuild);
  EXPECT_FALSE(store_.entry(entry_.id)->builder_id);
  EXPECT_EQ(store_.build(build_.id).failure_count, 1);
  EXPECT_EQ(store_.cancel_build(build_.id), CancelOutcome::kCancelled);
}

TEST_F(Cycle, LostClaimSkipsAndBadProbeFailsBuilder) {
  store_.refuse_claims = true;
  EXPECT_EQ(master_.run_cycle().dispatched, 0u);
  EXPECT_EQ(script_->count("build " + cookie() + " binarypackage " + chroot_.sha1), 0u);
  auto other = store_.add_builder({"carol", "http://carol:8221", "386"});
  transport_.script("carol")->info.arch_tag = "amd64";
  master_.run_cycle();
  EXPECT_FALSE(store_.builder(other.id).builderok);
  EXPECT_NE(store_.builder(other.id).failnotes.find("amd64"), std::string::npos);
}

// A slave whose start() first waits at a gate shared by all builders: the
// gate opens when `expected` start() calls are in flight at once (or after
// a timeout, so a sequential dispatch fails the test instead of hanging).
// The builder named `hung` instead sleeps for `hang` and then fails as a
// transport deadline would.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t expected = 0;
  std::size_t in_flight = 0;
  std::size_t max_in_flight = 0;
  std::size_t timed_out = 0;
  std::string hung;
  std::chrono::milliseconds hang{0};
  std::map<std::string, std::chrono::steady_clock::time_point> returned;
};

class GatedSlave final : public Slave {
 public:
  GatedSlave(std::unique_ptr<Slave> inner, Gate& gate) : inner_(std::move(inner)), gate_(gate) {}
  const std::string& builder_name() const override { return inner_->builder_name(); }
  WorkerInfo probe() override { return inner_->probe(); }
  SlaveStatus status() override { return inner_->status(); }
  StartResult start(const JobSpec& job) override {
    if (builder_name() == gate_.hung) {
      std::this_thread::sleep_for(gate_.hang);
      record_return();
      throw transport_error("timed out");
    }
    {
      std::unique_lock<std::mutex> lock(gate_.mutex);
      ++gate_.in_flight;
      gate_.max_in_flight = std::max(gate_.max_in_flight, gate_.in_flight);
      gate_.cv.notify_all();
      if (!gate_.cv.wait_for(lock, std::chrono::seconds(2),
                             [&] { return gate_.max_in_flight >= gate_.expected; })) {
        ++gate_.timed_out;
      }
      --gate_.in_flight;
    }
    auto r = inner_->start(job);
    record_return();
    return r;
  }
  std::string abort() override { return inner_->abort(); }
  std::string clean() override { return inner_->clean(); }
  FetchedFile fetch_file(const std::string& name, ByteSink& destination,
                         std::uint64_t max_bytes) override {
    return inner_->fetch_file(name, destination, max_bytes);
  }

 private:
  void record_return() {
    std::lock_guard<std::mutex> lock(gate_.mutex);
    gate_.returned[builder_name()] = std::chrono::steady_clock::now();
  }

  std::unique_ptr<Slave> inner_;
  Gate& gate_;
};

class GatedTransport final : public SlaveTransport {
 public:
  GatedTransport(FakeTransport& inner, Gate& gate) : inner_(inner), gate_(gate) {}
  std::unique_ptr<Slave> connect(const Builder& builder) override {
    return std::make_unique<GatedSlave>(inner_.connect(builder), gate_);
  }

 private:
  FakeTransport& inner_;
  Gate& gate_;
};

class ParallelDispatch : public Cycle {
 protected:
  // Adds builders up to `builders` (bob is the first) and builds up to
  // `builds` (the fixture's is the first), each with a pinned score.
  void populate(int builders, int builds) {
    for (int i = 1; i < builders; ++i) {
      ids_.push_back(store_.add_builder({"b" + std::to_string(i), "http://b:8221", "386"}).id);
    }
    for (int i = 1; i < builds; ++i) {
      NewBuild nb;
      nb.source_name = "pkg" + std::to_string(i);
      nb.source_version = "1";
      nb.distro_arch_release_id = dar_.id;
      nb.score = 100 * i;
      nb.manual_score = true;
      nb.source_files = {{"foo_1.0-1.dsc", dsc_.id}};
      entries_.push_back(store_.queue_entry_for_build(store_.add_build(nb).id)->id);
    }
  }

  Gate gate_;
  GatedTransport gated_{transport_, gate_};
  std::vector<Id> ids_{bob_.id};
  std::vector<Id> entries_{entry_.id};
};

TEST_F(ParallelDispatch, StartsBuildsOnAllBuildersConcurrently) {
  constexpr int kBuilders = 8;
  populate(kBuilders, kBuilders);
  gate_.expected = kBuilders;
  MasterSettings settings;
  settings.max_in_flight = kBuilders;
  BuilddMaster master(store_, gated_, librarian_, time_, settings);
  auto report = master.run_cycle();
  EXPECT_EQ(report.dispatched, static_cast<std::size_t>(kBuilders));
  EXPECT_EQ(gate_.max_in_flight, static_cast<std::size_t>(kBuilders));
  EXPECT_EQ(gate_.timed_out, 0u);  // no build() waited for the gate's timeout
  EXPECT_EQ(store_.active_jobs().size(), static_cast<std::size_t>(kBuilders));
}

TEST_F(ParallelDispatch, BestBuildGoesToTheFirstBuilder) {
  populate(3, 3);
  gate_.expected = 1;
  BuilddMaster master(store_, gated_, librarian_, time_);
  for (const auto& dar : store_.distro_arch_releases()) {
    master.add_distro_arch_release(dar);
    master.setup_builders(dar);
  }
  master.scan_active_builders();
  auto byproc = master.sort_and_split_by_processor();
  ASSERT_EQ(byproc.size(), 1u);
  const auto& items = byproc.begin()->second;
  ASSERT_EQ(items.size(), 3u);
  for (std::size_t i = 1; i < items.size(); ++i) {
    EXPECT_GE(items[i - 1].entry.score, items[i].entry.score);
  }
  EXPECT_EQ(master.dispatch_by_processor(byproc.begin()->first, items), 3u);
  // The i-th best build went to the i-th builder in first_available() order.
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(store_.entry(items[i].entry.id)->builder_id, ids_[i]) << i;
  }
}

TEST_F(ParallelDispatch, HungBuilderDelaysNobodyElse) {
  populate(4, 4);
  gate_.expected = 3;  // the three healthy builders meet at the gate
  gate_.hung = "bob";
  gate_.hang = std::chrono::milliseconds(1500);
  MasterSettings settings;
  settings.max_in_flight = 4;
  BuilddMaster master(store_, gated_, librarian_, time_, settings);
  const auto begin = std::chrono::steady_clock::now();
  auto report = master.run_cycle();
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(report.dispatched, 3u);
  EXPECT_EQ(gate_.timed_out, 0u);
  ASSERT_EQ(gate_.returned.size(), 4u);
  const auto hung_returned = gate_.returned.at("bob");
  for (const auto& [name, at] : gate_.returned) {
    if (name != "bob") {
      EXPECT_LT(at + std::chrono::milliseconds(1000), hung_returned) << name;
    }
  }
  // The cycle waits for the hung builder's deadline once, not once per build.
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
  // Its build went back to the queue and its failure counted.
  EXPECT_EQ(store_.builder(bob_.id).failure_count, 1);
  EXPECT_EQ(store_.active_jobs().size(), 3u);
  for (const auto& job : store_.active_jobs()) EXPECT_NE(job.entry.builder_id, bob_.id);
  std::vector<JobReset> resets;
  for (const auto& c : store_.commits)
    resets.insert(resets.end(), c.resets.begin(), c.resets.end());
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(store_.build(resets[0].build_id).state, BuildState::kNeedsBuild);
}

// Idle builders of a family asking for work at the same time are served
// together: one candidates() read and one claim_all() per batch, the best
// builds first, no build given twice.
TEST_F(ParallelDispatch, IdleBuildersAskingTogetherShareClaimTransactions) {
  constexpr int kBuilders = 8;
  populate(kBuilders, kBuilders + 2);
  gate_.expected = 1;
  store_.claim_delay = std::chrono::milliseconds(100);  // the others queue up meanwhile
  MasterSettings settings;
  settings.max_in_flight = kBuilders;
  BuilddMaster master(store_, gated_, librarian_, time_, settings);
  const auto report = master.run_cycle();
  EXPECT_EQ(report.dispatched, static_cast<std::size_t>(kBuilders));
  const auto active = store_.active_jobs();
  ASSERT_EQ(active.size(), static_cast<std::size_t>(kBuilders));
  std::set<Id> holders;
  std::set<Id> builds;
  for (const auto& job : active) {
    holders.insert(*job.entry.builder_id);
    builds.insert(job.build.id);
  }
  // The two worst builds wait (pkg1 and pkg2 have the lowest pinned scores).
  const auto waiting = store_.waiting(0);
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0].build.source_name, "pkg2");
  EXPECT_EQ(waiting[1].build.source_name, "pkg1");
  EXPECT_EQ(holders.size(), active.size());
  EXPECT_EQ(builds.size(), active.size());
  std::size_t claims = 0;
  for (std::size_t n : store_.claim_batches) claims += n;
  EXPECT_EQ(claims, static_cast<std::size_t>(kBuilders));
  EXPECT_LT(store_.claim_batches.size(), static_cast<std::size_t>(kBuilders) / 2);
}

// Many polls committing at once share transactions, each waits for its own
// changes to be durable, and a failed transaction fails every member of it.
TEST(CommitBatcher, ConcurrentCommitsShareTransactionsAndEachWaitsForItsOwn) {
  struct SlowStore : FakeStore {
    std::vector<CommitResult> commit_all(const std::vector<const CycleChanges*>& batch) override {
      ++batches;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (fail) throw Error(ErrorCategory::kStore, "database went away", true);
      return FakeStore::commit_all(batch);
    }
    std::atomic<bool> fail{false};
    std::atomic<std::size_t> batches{0};
  } store;
  store.add_processor_family("x86", {"386"});
  const Builder b = store.add_builder({"bob", "http://bob:8221", "386"});
  CommitBatcher batcher(store);
  constexpr int kPolls = 32;
  std::atomic<int> returned{0};
  std::vector<std::thread> polls;
  for (int i = 0; i < kPolls; ++i) {
    polls.emplace_back([&] {
      CycleChanges changes;
      changes.builders.push_back(BuilderUpdate{b.id, true, "", 1});
      batcher.commit(std::move(changes));
      ++returned;
    });
  }
  for (auto& t : polls) t.join();
  EXPECT_EQ(returned.load(), kPolls);
  EXPECT_EQ(store.builder(b.id).failure_count, kPolls) << "every change applied once";
  EXPECT_LT(batcher.transactions(), static_cast<std::size_t>(kPolls) / 2)
      << "the polls did not share transactions";
  EXPECT_EQ(batcher.transactions(), store.batches.load());

  store.fail = true;
  std::atomic<int> failed{0};
  polls.clear();
  for (int i = 0; i < 8; ++i) {
    polls.emplace_back([&] {
      CycleChanges changes;
      changes.builders.push_back(BuilderUpdate{b.id, true, "", 1});
      try {
        batcher.commit(std::move(changes));
      } catch (const Error& e) {
        if (e.category() == ErrorCategory::kStore) ++failed;
      }
    });
  }
  for (auto& t : polls) t.join();
  EXPECT_EQ(failed.load(), 8);
  EXPECT_EQ(store.builder(b.id).failure_count, kPolls);
  EXPECT_EQ(batcher.commit(CycleChanges{}).stale, 0u) << "nothing to commit: no transaction";
}

// The scheduler decides who gets the builders. Three idle builders; queued
// in this order, all scored alike (main, updates): the fixture's build
// (archive primary), five of a "rebuild" archive, then one "security" build.
class SchedulerChoice : public Cycle {
 protected:
  SchedulerChoice() {
    for (int i = 1; i <= 2; ++i)
      store_.add_builder({"b" + std::to_string(i), "http://b:8221", "386"});
    for (int i = 1; i <= 5; ++i) add("rebuild" + std::to_string(i), "rebuild");
    security_ = add("fix", "security");
  }
  Build add(const std::string& source, const std::string& archive) {
    NewBuild nb;
    nb.source_name = source;
    nb.source_version = "1";
    nb.distro_arch_release_id = dar_.id;
    nb.pocket = "updates";
    nb.archive = archive;
    nb.source_files = {{"foo_1.0-1.dsc", dsc_.id}};
    return store_.add_build(nb);
  }
  // The archives of the builds dispatched by one cycle, by build id.
  std::vector<std::string> dispatched_archives(std::shared_ptr<const Scheduler> scheduler) {
    BuilddMaster master(store_, transport_, librarian_, time_);
    master.set_scheduler(std::move(scheduler));
    EXPECT_EQ(master.run_cycle().dispatched, 3u);
    std::vector<std::string> out;
    for (const auto& job : store_.active_jobs()) out.push_back(job.build.archive);
    return out;
  }
  Build security_;
};

TEST_F(SchedulerChoice, TheDefaultSchedulerFeedsTheOldestBuildsWhateverTheirArchive) {
  EXPECT_EQ(dispatched_archives(std::make_shared<DefaultScheduler>()),
            (std::vector<std::string>{"primary", "rebuild", "rebuild"}));
  EXPECT_EQ(store_.build(security_.id).state, BuildState::kNeedsBuild);
}

TEST_F(SchedulerChoice, FairShareGivesABuilderToTheArchiveWithNothingRunning) {
  FairShareOptions options = fair_share_options_from(plugin_config_from(kFairShareConfigKeys));
  EXPECT_EQ(dispatched_archives(std::make_shared<FairShareScheduler>(options)),
            (std::vector<std::string>{"primary", "rebuild", "security"}));
  EXPECT_EQ(store_.build(security_.id).state, BuildState::kBuilding);
  // It read the best of each archive and what each has running, and fed
  // every builder once.
  for (const Builder& b : store_.builders())
    EXPECT_TRUE(store_.active_job_for_builder(b.id)) << b.name;
}

// A scheduler that looks at one build of each archive still feeds every
// idle builder: three builders, three candidates read, then more.
TEST_F(SchedulerChoice, TooFewCandidatesPerArchiveAreReadAgainForTheIdleBuilders) {
  FairShareOptions options = fair_share_options_from(
      plugin_config_from(kFairShareConfigKeys, {{"candidates_per_archive", std::int64_t{1}}}));
  EXPECT_EQ(dispatched_archives(std::make_shared<FairShareScheduler>(options)),
            (std::vector<std::string>{"primary", "rebuild", "security"}));
  // Then the rebuild alone is left: its one candidate, then enough for the
  // three builders the completions free.
  for (const auto& job : store_.active_jobs()) {
    auto script = transport_.script(store_.builder(*job.entry.builder_id).name);
    script->files["buildlog"] = "the log";
    script->status = waiting_status(BuildResult::kOk,
                                    build_cookie(job.build.id, job.entry.id, job.entry.attempt));
  }
  BuilddMaster master(store_, transport_, librarian_, time_);
  master.set_scheduler(std::make_shared<FairShareScheduler>(options));
  time_.advance(60s);
  master.run_cycle();
  std::size_t rebuilds = 0;
  for (const auto& job : store_.active_jobs()) rebuilds += job.build.archive == "rebuild";
  EXPECT_EQ(rebuilds, 3u);
}

// A scheduler plugin's answer is checked: dropping a candidate is a plugin
// error, and nothing is dispatched.
TEST_F(SchedulerChoice, ASchedulerThatDropsCandidatesIsRefused) {
  struct Dropping final : Scheduler {
    std::vector<ScheduledBuild> order(std::vector<QueuedBuild> candidates,
                                      const std::map<std::string, std::size_t>&,
                                      TimePoint) const override {
      std::vector<ScheduledBuild> out;
      out.push_back({candidates.front(), "only the first"});
      return out;
    }
  };
  BuilddMaster master(store_, transport_, librarian_, time_);
  master.set_scheduler(std::make_shared<Dropping>());
  const CycleReport report = master.run_cycle();
  EXPECT_EQ(report.dispatched, 0u);
  EXPECT_TRUE(store_.active_jobs().empty());
}

}  // namespace
}  // namespace buildd
