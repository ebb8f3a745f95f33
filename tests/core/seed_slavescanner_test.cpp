// The seed doctest (buildd-slavescanner.txt), line by line, with in-process
// fake slaves instead of the Python mocks. The seed's build.builder,
// build.datebuilt, build.buildduration and build.buildstate are Build's
// builder_id, built, duration and state; build.buildlog keeps its name.

#include <gtest/gtest.h>

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

TimePoint utc_2005_01_01_08_00() {
  return TimePoint(std::chrono::seconds(1104566400));
}

class SeedSlaveScanner : public ::testing::Test {
 protected:
  SeedSlaveScanner()
      : time_(utc_2005_01_01_08_00() + 2h),
        librarian_(store_, archive_, tmp_.path() / "lib", "http://master.test") {
    dar_.id = 1;
    dar_.distribution = "ubuntu";
    dar_.release = "warty";
    dar_.arch_tag = "i386";
  }

  // MockBuilder(name, slave)
  BuilderHandle* mock_builder(const std::string& name, SlaveStatus status,
                              std::optional<Error> error = std::nullopt) {
    auto script = transport_.script(name);
    script->status = std::move(status);
    script->status_error = std::move(error);
    script->files["buildlog"] = "BOGUS";
    Builder row;
    row.id = static_cast<Id>(group_.builders.size() + 1);
    row.name = name;
    row.url = "http://fake:0000";
    group_.builders.push_back(std::make_unique<BuilderHandle>(row, transport_.connect(row)));
    return group_.builders.back().get();
  }

  // MockBuildQueue(1, builder, MockBuild())
  QueueItem mock_build_queue(BuilderHandle* builder) {
    QueueItem item;
    item.id = 1;
    item.build.id = 1;
    item.build.source_name = "foo";
    item.build.source_version = "1.0-1";
    item.build.state = BuildState::kBuilding;
    item.builder = builder;
    item.buildstart = utc_2005_01_01_08_00();
    item.dar = dar_;
    return item;
  }

  TempDir tmp_;
  ManualTimeSource time_;
  FakeStore store_;
  FakeArchive archive_;
  FakeTransport transport_;
  Librarian librarian_;
  BuilderGroup group_{1, time_};
  DistroArchRelease dar_;
};

TEST_F(SeedSlaveScanner, BuilderGroupAndUpdateBuild) {
  auto* builder1 = mock_builder("Broken Slave", {}, fault_error());
  auto* builder2 = mock_builder("Idle Slave", idle_status());
  auto* builder3 = mock_builder("Package Failed", waiting_status(BuildResult::kPackageFail, "1-1"));
  auto* builder4 =
      mock_builder("Missed Dependency build", waiting_status(BuildResult::kDepFail, "1-1"));
  auto* builder5 = mock_builder("Bad CHROOT", waiting_status(BuildResult::kChrootFail, "1-1"));
  auto* builder6 =
      mock_builder("I am out of order", waiting_status(BuildResult::kBuilderFail, "1-1"));
  auto* builder7 = mock_builder("I am busy", building_status("1-1", "building something"));
  auto* builder8 = mock_builder("I was aborted", aborted_status("1-1"));
  auto* builder9 =
      mock_builder("I am trying to terminate the child process", aborting_status("1-1"));
  auto* builder10 =
      mock_builder("Package Successfully Built", waiting_status(BuildResult::kOk, "1-1"));
  (void)builder1;

  // assert buildergroup.firstAvailable() is builder2
  EXPECT_EQ(group_.first_available(), builder2);
  // assert buildergroup.countAvailable() is 1
  EXPECT_EQ(group_.count_available(), 1u);

  // WAITING - PACKAGEFAIL
  auto bq_item3 = mock_build_queue(builder3);
  group_.update_build(bq_item3, librarian_);
  EXPECT_TRUE(bq_item3.build.builder_id.has_value());
  EXPECT_TRUE(bq_item3.build.built.has_value());
  EXPECT_TRUE(bq_item3.build.duration.has_value());
  EXPECT_TRUE(bq_item3.build.buildlog.has_value());
  EXPECT_EQ(title(bq_item3.build.state), "Failed to build");

  // WAITING - DEPWAIT
  auto bq_item4 = mock_build_queue(builder4);
  group_.update_build(bq_item4, librarian_);
  EXPECT_TRUE(bq_item4.build.builder_id.has_value());
  EXPECT_TRUE(bq_item4.build.built.has_value());
  EXPECT_TRUE(bq_item4.build.duration.has_value());
  EXPECT_TRUE(bq_item4.build.buildlog.has_value());
  EXPECT_EQ(title(bq_item4.build.state), "Manual dependency wait");

  // WAITING - CHROOTFAIL
  auto bq_item5 = mock_build_queue(builder5);
  group_.update_build(bq_item5, librarian_);
  EXPECT_TRUE(bq_item5.build.builder_id.has_value());
  EXPECT_TRUE(bq_item5.build.built.has_value());
  EXPECT_TRUE(bq_item5.build.duration.has_value());
  EXPECT_TRUE(bq_item5.build.buildlog.has_value());
  EXPECT_EQ(title(bq_item5.build.state), "Chroot wait");

  // WAITING - BUILDERFAIL
  auto bq_item6 = mock_build_queue(builder6);
  group_.update_build(bq_item6, librarian_);
  EXPECT_EQ(bq_item6.builder, nullptr);
  EXPECT_EQ(title(bq_item6.build.state), "Needs building");

  // BUILDING
  auto bq_item7 = mock_build_queue(builder7);
  group_.update_build(bq_item7, librarian_);
  ASSERT_NE(bq_item7.builder, nullptr);
  EXPECT_EQ(bq_item7.builder->name, "I am busy");
  EXPECT_EQ(bq_item7.logtail, "building something");

  // ABORTED
  auto bq_item8 = mock_build_queue(builder8);
  EXPECT_EQ(bq_item8.builder->name, "I was aborted");
  group_.update_build(bq_item8, librarian_);
  EXPECT_EQ(bq_item8.builder, nullptr);

  // ABORTING
  auto bq_item9 = mock_build_queue(builder9);
  EXPECT_EQ(bq_item9.builder->name, "I am trying to terminate the child process");
  group_.update_build(bq_item9, librarian_);
  EXPECT_EQ(bq_item9.logtail, "Waiting slave process to be terminated");

  // WAITING - OK
  auto bq_item10 = mock_build_queue(builder10);
  group_.update_build(bq_item10, librarian_);
  EXPECT_TRUE(bq_item10.build.builder_id.has_value());
  EXPECT_TRUE(bq_item10.build.built.has_value());
  EXPECT_TRUE(bq_item10.build.duration.has_value());
  EXPECT_TRUE(bq_item10.build.buildlog.has_value());
  EXPECT_EQ(title(bq_item10.build.state), "Fully built");
}

TEST_F(SeedSlaveScanner, BuilddMasterWithoutChroots) {
  store_.add_processor_family("x86", {"386"});
  NewDistroArchRelease warty{"ubuntu", "warty", "i386", "x86", std::nullopt, true};
  NewDistroArchRelease hoary{"ubuntu", "hoary", "i386", "x86", std::nullopt, true};
  store_.add_distro_arch_release(warty);
  store_.add_distro_arch_release(hoary);
  BuilddMaster bm(store_, transport_, librarian_, time_);

  std::vector<std::string> printed;
  for (const auto& dar : store_.distro_arch_releases()) {
    bm.add_distro_arch_release(dar);
    try {
      bm.setup_builders(dar);
    } catch (const SetupError& e) {
      printed.push_back(e.what());
    }
  }
  EXPECT_EQ(printed, (std::vector<std::string>{"Unable to setup builder for ubuntu/warty/i386.",
                                               "Unable to setup builder for ubuntu/hoary/i386."}));
  EXPECT_TRUE(bm.archreleases().empty());

  auto report = bm.scan_active_builders();
  EXPECT_EQ(report.scanned, 0u);
  auto byproc = bm.sort_and_split_by_processor();
  for (const auto& [proc, items] : byproc) bm.dispatch_by_processor(proc, items);
  EXPECT_TRUE(byproc.empty());
}

}  // namespace
}  // namespace buildd
