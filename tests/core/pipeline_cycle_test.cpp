// BuilddMaster cycles over FakeStore, FakeArchive (through the real
// Librarian) and FakeTransport, on a ManualTimeSource.

#include <gtest/gtest.h>

#include "buildd/digest.hpp"
#include "buildd/librarian.hpp"
#include "buildd/pipeline/master.hpp"
#include "fakes/fake_archive.hpp"
#include "fakes/fake_slave.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using namespace buildd::test;
using namespace std::chrono_literals;

class Cycle : public ::testing::Test {
 protected:
  Cycle()
      : time_(TimePoint(std::chrono::seconds(1700000000))),
        librarian_(store_, archive_, tmp_.path() / "lib", "http://master.test") {
    store_.add_processor_family("x86", {"386"});
    chroot_ = librarian_.store_bytes("chroot", "chroot-warty-i386.tar.gz", "application/gzip");
    dar_ = store_.add_distro_arch_release({"ubuntu", "warty", "i386", "x86", chroot_.id, true});
    bob_ = store_.add_builder({"bob", "http://bob:8221", "386"});
    script_ = transport_.script("bob");
    script_->files["buildlog"] = "the log";
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

  TempDir tmp_;
  ManualTimeSource time_;
  FakeStore store_;
  FakeArchive archive_;
  FakeTransport transport_;
  Librarian librarian_;
  BuilddMaster master_{store_, transport_, librarian_, time_};
  LibraryFile chroot_, dsc_;
  DistroArchRelease dar_;
  Builder bob_;
  Build build_;
  BuildQueueEntry entry_;
  std::shared_ptr<SlaveScript> script_;
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
  EXPECT_EQ(store_.commits.back().completions.size(), 1u);
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

}  // namespace
}  // namespace buildd
