// End to end: the daemon against buildd-slave processes that misbehave the
// way real slaves do (left WAITING, building someone else's job, forgetting
// their job, restarted mid-build, faulting, slow, hung, slow to abort).
// Every test checks the builds AND the builders: each slave must end IDLE
// and usable, with the failures counted where they should be.

#include <gtest/gtest.h>

#include <thread>

#include "e2e/farm.hpp"
#include "xmlrpc_slave.hpp"

namespace buildd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

BuilderState slave_state(const SlaveProcess& slave) {
  xmlrpc_slave::XmlRpcSlaveTransport transport(xmlrpc_slave::default_options());
  Builder row;
  row.name = "check";
  row.url = slave.base_url();
  return transport.connect(row)->status().state;
}

json builder(const Farm& farm, const std::string& name) {
  return farm.cli_json({"builder", "show", name});
}

// The slave is IDLE, the master saw it so, and the builder is usable.
void expect_idle_and_usable(Farm& farm, const std::string& name, const SlaveProcess& slave) {
  SCOPED_TRACE(name);
  EXPECT_EQ(slave_state(slave), BuilderState::kIdle);
  EXPECT_TRUE(eventually([&] { return builder(farm, name)["slave_state"] == "IDLE"; }, 10s))
      << builder(farm, name).dump(2);
  EXPECT_TRUE(builder(farm, name)["builderok"]) << builder(farm, name).dump(2);
}

// The farm's config with another scan interval (the fixture writes 0.2).
void set_scan_interval(Farm& farm, const std::string& seconds) {
  std::string config = read_file(farm.config());
  const std::string key = "scan_interval: 0.2";
  config.replace(config.find(key), key.size(), "scan_interval: " + seconds);
  write_file(farm.config(), config);
}

class Reconciliation : public ::testing::Test {
 protected:
  Reconciliation() : farm_(embedded_backends(data_.path())) { farm_.add_family_and_archrelease(); }
  ~Reconciliation() override {
    if (HasFailure()) std::cerr << "daemon log:\n" << farm_.daemon_log();
  }

  TempDir data_;
  Farm farm_;
};

TEST_F(Reconciliation, SlaveLeftWaitingWithNoJobIsCleanedAndUsed) {
  farm_.add_builders(1, {"--start-state", "waiting:OK", "--start-build-id", "99-99"});
  long id = farm_.add_build("hello", "1.0-1", "ok");
  farm_.start_daemon();
  farm_.wait_until_drained(60s);
  EXPECT_EQ(farm_.build(id)["state"], "FULLYBUILT");
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  EXPECT_NE(farm_.daemon_log().find("with no job of ours: cleaning it"), std::string::npos);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, ForeignBuildIsAbortedThenCleanedAndUsed) {
  farm_.add_builders(1, {"--start-state", "building", "--start-build-id", "77-77"});
  long id = farm_.add_build("hello", "1.0-1", "ok");
  farm_.start_daemon();
  farm_.wait_until_drained(60s);
  EXPECT_EQ(farm_.build(id)["state"], "FULLYBUILT");
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  EXPECT_NE(farm_.daemon_log().find("BUILDING 77-77 with no job of ours: aborting it"),
            std::string::npos);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, BuilderFailThenEnableIsCleanedBeforeDispatch) {
  farm_.add_builders(1, {"--fault", "builderfail"});
  long id = farm_.add_build("hello", "1.0-1", "ok");
  farm_.start_daemon();
  ASSERT_TRUE(eventually([&] { return !builder(farm_, "builder-1")["builderok"]; }, 30s));
  EXPECT_EQ(slave_state(*farm_.slaves()[0]), BuilderState::kWaiting) << "left for the operator";
  EXPECT_EQ(farm_.build(id)["state"], "NEEDSBUILD");
  farm_.cli_ok({"builder", "enable", "builder-1"});
  farm_.wait_until_drained(60s);
  EXPECT_EQ(farm_.build(id)["state"], "FULLYBUILT");
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, ForgottenJobIsCountedAndGoesToAnotherBuilder) {
  // A long scan interval keeps the forgetful builder away from the build
  // (two intervals) while the other one is enabled and fed.
  set_scan_interval(farm_, "2");
  farm_.add_builders(1, {"--fault", "forget-job"});
  farm_.add_builders(1);
  farm_.cli_ok({"builder", "disable", "builder-2", "--reason", "held back by the test"});
  long id = farm_.add_build("hello", "1.0-1", "ok");
  farm_.start_daemon();
  ASSERT_TRUE(eventually([&] { return farm_.build(id)["failure_count"] == 1; }, 30s))
      << farm_.build(id).dump(2);
  farm_.cli_ok({"builder", "enable", "builder-2"});
  farm_.wait_until_drained(60s);
  json b = farm_.build(id);
  EXPECT_EQ(b["state"], "FULLYBUILT");
  EXPECT_EQ(b["builder"], "builder-2");
  EXPECT_EQ(b["failure_count"], 1);
  EXPECT_EQ(builder(farm_, "builder-1")["failure_count"], 1);
  EXPECT_NE(farm_.daemon_log().find("slave forgot build"), std::string::npos);
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  expect_idle_and_usable(farm_, "builder-2", *farm_.slaves()[1]);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, SlaveRestartedMidBuildIsNotWedgedByTheSameCookie) {
  farm_.add_builders(1, {"--fault", "restart-mid-build"});
  long id = farm_.add_build("hello", "1.0-1", "ok", 1.0);
  farm_.start_daemon();
  farm_.wait_until_drained(60s);
  json b = farm_.build(id);
  EXPECT_EQ(b["state"], "FULLYBUILT");
  EXPECT_EQ(b["failure_count"], 1);
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  // The slave's refusal as the transport reports it ("Fault 8002"; a bare
  // "8002" also matches a pid in the log).
  EXPECT_EQ(farm_.daemon_log().find("Fault 8002"), std::string::npos)
      << "the second attempt reused the first one's cookie";
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, FaultingStatusIsCountedAndDisablesTheBuilder) {
  farm_.add_builders(1, {"--fault", "fault:status"});
  farm_.add_build("hello", "1.0-1", "ok");
  farm_.start_daemon();
  ASSERT_TRUE(eventually([&] { return !builder(farm_, "builder-1")["builderok"]; }, 30s));
  json b = builder(farm_, "builder-1");
  EXPECT_NE(b["failnotes"].get<std::string>().find("status() failed"), std::string::npos) << b;
  EXPECT_NE(b["failnotes"].get<std::string>().find(" since "), std::string::npos) << b;
  EXPECT_EQ(b["slave_state"].get<std::string>().rfind("unreachable: ", 0), 0u) << b;
  EXPECT_GE(b["failure_count"], 5);
  json queue = farm_.cli_json({"queue", "list"});
  ASSERT_EQ(queue["waiting"].size(), 1u);
  const std::string log = farm_.daemon_log();
  EXPECT_NE(log.find("builder-1: builder disabled: status() failed"), std::string::npos);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, SlaveSlowToAbortIsCancelledAndCleaned) {
  farm_.add_builders(1, {"--fault", "abort-polls:5"});
  long id = farm_.add_build("hello", "1.0-1", "ok", 60);
  farm_.start_daemon();
  ASSERT_TRUE(eventually([&] { return farm_.build(id)["state"] == "BUILDING"; }, 30s));
  farm_.cli_ok({"build", "cancel", std::to_string(id)});
  farm_.wait_until_drained(60s);
  EXPECT_EQ(farm_.build(id)["state"], "CANCELLED");
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  EXPECT_EQ(builder(farm_, "builder-1")["failure_count"], 0);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, HungSlowAndFaultingSlavesDoNotHoldUpTheHealthyOnes) {
  farm_.add_builders(4, {}, "healthy-");
  farm_.add_builders(1, {"--fault", "hang"}, "hung-");
  farm_.add_builders(1, {"--fault", "slow:3000"}, "slow-");
  farm_.add_builders(1, {"--fault", "fault:status"}, "faulting-");
  std::vector<long> ids;
  for (int i = 0; i < 24; ++i)
    ids.push_back(farm_.add_build("p" + std::to_string(i), "1.0-1", "ok"));
  farm_.start_daemon();
  farm_.wait_until_drained(90s);
  std::map<std::string, int> by_builder;
  for (long id : ids) {
    json b = farm_.build(id);
    EXPECT_EQ(b["state"], "FULLYBUILT") << b.dump(2);
    ++by_builder[b["builder"].get<std::string>()];
  }
  // The healthy builders did most of the work; nothing ran on the hung or
  // the faulting one.
  EXPECT_EQ(by_builder.count("hung-5"), 0u);
  EXPECT_EQ(by_builder.count("faulting-7"), 0u);
  for (int i = 1; i <= 4; ++i) {
    const std::string name = "healthy-" + std::to_string(i);
    EXPECT_GT(by_builder[name], 0) << name;
    expect_idle_and_usable(farm_, name, *farm_.slaves()[i - 1]);
  }
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

TEST_F(Reconciliation, OperatorsCleanAndAbortByHand) {
  farm_.add_builders(1, {"--start-state", "waiting:OK", "--start-build-id", "99-99"});
  farm_.add_builders(1, {"--start-state", "building", "--start-build-id", "77-77"});
  std::string out = farm_.cli_ok({"builder", "clean", "builder-1"});
  EXPECT_NE(out.find("builder builder-1: WAITING -> "), std::string::npos) << out;
  EXPECT_EQ(slave_state(*farm_.slaves()[0]), BuilderState::kIdle);
  out = farm_.cli_ok({"builder", "clean", "builder-1"});
  EXPECT_NE(out.find("builder builder-1 is IDLE: nothing to clean"), std::string::npos) << out;

  out = farm_.cli_ok({"builder", "abort", "builder-2"});
  EXPECT_NE(out.find("builder builder-2: BUILDING -> "), std::string::npos) << out;
  EXPECT_NE(slave_state(*farm_.slaves()[1]), BuilderState::kBuilding);

  // A builder holding one of this farm's builds is not the operator's to
  // clean: the build is cancelled instead.
  long id = farm_.add_build("hello", "1.0-1", "ok", 60);
  farm_.cli_ok({"scan-once"});
  ASSERT_EQ(farm_.build(id)["state"], "BUILDING");
  const std::string holder = farm_.build(id)["builder"];
  CommandResult refused = farm_.cli({"builder", "clean", holder});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("holds build " + std::to_string(id)), std::string::npos)
      << refused.err;
}

// The real daemon with the fair-share scheduler plugin named in its config:
// a security build queued behind a rebuild goes to the second builder at
// once, while the rebuild waits its turn; every slave ends IDLE and usable.
TEST_F(Reconciliation, FairShareSchedulerFeedsAnArchiveWithNothingRunning) {
  write_file(farm_.config(),
             read_file(farm_.config()) + "scheduler:\n  plugin: fair-share-scheduler\n");
  farm_.add_builders(2);
  std::vector<long> rebuild;
  for (int i = 0; i < 4; ++i)
    rebuild.push_back(
        farm_.add_build("rebuild" + std::to_string(i), "1.0-1", "ok", 3.0, "", "rebuild"));
  const long fix = farm_.add_build("fix", "1.0-1", "ok", 0.1, "", "security");
  farm_.start_daemon();
  farm_.wait_until_drained(90s);
  for (long id : rebuild) EXPECT_EQ(farm_.build(id)["state"], "FULLYBUILT");
  const json fixed = farm_.build(fix);
  EXPECT_EQ(fixed["state"], "FULLYBUILT");
  EXPECT_EQ(fixed["archive"], "security");
  // Dispatched beside the first rebuild build, it was built before the
  // third could start (the default scheduler would start it last, after
  // the third and fourth: all four are older and score the same).
  EXPECT_LT(fixed["built"].get<std::string>(),
            farm_.build(rebuild[2])["started"].get<std::string>());
  expect_idle_and_usable(farm_, "builder-1", *farm_.slaves()[0]);
  expect_idle_and_usable(farm_, "builder-2", *farm_.slaves()[1]);
  EXPECT_EQ(farm_.stop_daemon(), 0);
}

}  // namespace
}  // namespace buildd::test
