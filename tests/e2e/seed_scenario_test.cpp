// The seed (buildd-slavescanner.txt) through the real binary and the wire:
// ten buildd-slave processes behaving like the seed's ten mock builders, one
// `buildd-master scan-once`, then the states the seed expects, read back with
// `build show --format json`.
#include <gtest/gtest.h>

#include "e2e/farm.hpp"
#include "soci_store.hpp"

namespace buildd::test {
namespace {

using nlohmann::json;

struct SeedBuilder {
  std::string name;
  std::vector<std::string> slave_args;  // besides --arch i386
  bool has_job;
};

TEST(EndToEnd, SeedScenarioThroughTheWire) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  farm.cli_ok({"family", "add", "x86", "--processors", "386"});
  write_file(farm.dir() / "chroot-warty-i386.tar.gz", std::string(4096, 'w'));
  farm.cli_ok({"archrelease", "add", "ubuntu/warty/i386", "--family", "x86", "--chroot",
               (farm.dir() / "chroot-warty-i386.tar.gz").string()});
  farm.cli_ok({"archrelease", "add", "ubuntu/hoary/i386", "--family", "x86"});  // no chroot

  // The seed's ten builders. Those with a job are manual, so that this one
  // cycle dispatches only to the idle one (the seed's dispatch has no other
  // candidates either); their results are still collected.
  const std::vector<SeedBuilder> seed = {
      {"broken-slave", {"--fault", "fault"}, false},
      {"idle-slave", {}, false},
      {"package-failed", {"--start-state", "waiting:PACKAGEFAIL"}, true},
      {"missed-dependency-build", {"--start-state", "waiting:DEPFAIL"}, true},
      {"bad-chroot", {"--start-state", "waiting:CHROOTFAIL"}, true},
      {"i-am-out-of-order", {"--start-state", "waiting:BUILDERFAIL"}, true},
      {"i-am-busy", {"--start-state", "building"}, true},
      {"i-was-aborted", {"--protocol", "2005", "--start-state", "aborted"}, true},
      {"i-am-trying-to-terminate-the-child-process", {"--start-state", "aborting"}, true},
      {"package-successfully-built", {"--start-state", "waiting:OK"}, true},
  };

  // One build per builder with a job, then the one waiting build to dispatch.
  std::map<std::string, long> build_of;
  std::map<std::string, long> queue_of;
  for (const auto& b : seed) {
    if (!b.has_job) continue;
    write_file(farm.dir() / (b.name + ".dsc"), "Source: " + b.name + "\nVersion: 1.0-1\n");
    long id = std::stol(
        farm.cli_ok({"build", "add", b.name, "1.0-1", "--archrelease", "ubuntu/warty/i386",
                     "--file", (farm.dir() / (b.name + ".dsc")).string(), "--score", "1"}));
    build_of[b.name] = id;
    queue_of[b.name] = farm.build(id)["queue"]["queue_id"];
  }
  write_file(farm.dir() / "foo.dsc", "Source: foo\nVersion: 1.0-1\nOutcome: ok\nDuration: 30\n");
  long waiting =
      std::stol(farm.cli_ok({"build", "add", "foo", "1.0-1", "--archrelease", "ubuntu/warty/i386",
                             "--file", (farm.dir() / "foo.dsc").string(), "--score", "5000"}));

  // Slaves, each already in its seed state with the cookie of its job.
  std::vector<std::unique_ptr<SlaveProcess>> slaves;
  for (const auto& b : seed) {
    std::vector<std::string> args{"--arch", "i386"};
    args.insert(args.end(), b.slave_args.begin(), b.slave_args.end());
    if (b.has_job) {
      args.push_back("--start-build-id");
      args.push_back(std::to_string(build_of[b.name]) + "-" + std::to_string(queue_of[b.name]));
    }
    slaves.push_back(std::make_unique<SlaveProcess>(args));
    std::vector<std::string> add{"builder",     "add", b.name, slaves.back()->base_url(),
                                 "--processor", "386"};
    if (b.has_job) add.push_back("--manual");
    farm.cli_ok(add);
  }
  // Give each job to its builder, as an earlier cycle's dispatch would have.
  {
    soci_store::SociStore store(
        soci_store::default_options("sqlite3", (data.path() / "buildd.sqlite").string()));
    for (const auto& b : seed) {
      if (!b.has_job) continue;
      auto builder = store.find_builder(b.name);
      ASSERT_TRUE(builder);
      ASSERT_TRUE(store.claim(queue_of[b.name], build_of[b.name], builder->id, Clock::now()));
    }
  }

  CommandResult cycle = farm.cli({"scan-once"});
  ASSERT_EQ(cycle.exit_code, 0) << cycle.err;
  // bm.setupBuilders(dar) for the release without a chroot.
  EXPECT_NE(cycle.err.find("Unable to setup builder for ubuntu/hoary/i386."), std::string::npos)
      << cycle.err;

  auto show = [&](const std::string& builder) { return farm.build(build_of[builder]); };
  auto finished = [&](const std::string& builder, const std::string& title) {
    json b = show(builder);
    SCOPED_TRACE(builder);
    EXPECT_EQ(b["builder"], builder);               // build.builder is not None
    EXPECT_FALSE(b["built"].is_null());             // datebuilt
    EXPECT_FALSE(b["duration_seconds"].is_null());  // buildduration
    EXPECT_FALSE(b["log"].is_null());               // buildlog
    EXPECT_EQ(b["state_title"], title);
    EXPECT_TRUE(b["queue"].is_null());
  };
  // WAITING - PACKAGEFAIL / DEPFAIL / CHROOTFAIL / OK
  finished("package-failed", "Failed to build");
  finished("missed-dependency-build", "Manual dependency wait");
  finished("bad-chroot", "Chroot wait");
  finished("package-successfully-built", "Fully built");
  EXPECT_EQ(show("package-successfully-built")["result_files"].size(), 1u);

  // WAITING - BUILDERFAIL: job available for the next round, builder failed.
  json failed = show("i-am-out-of-order");
  EXPECT_TRUE(failed["queue"]["builder"].is_null());
  EXPECT_EQ(failed["state_title"], "Needs building");
  json out_of_order = farm.cli_json({"builder", "show", "i-am-out-of-order"});
  EXPECT_FALSE(out_of_order["builderok"]);
  EXPECT_EQ(out_of_order["failnotes"], "Builder returned BUILDERFAIL when asked for its status");

  // BUILDING: still the builder's, with its log tail.
  json busy = show("i-am-busy");
  EXPECT_EQ(busy["queue"]["builder"], "i-am-busy");
  EXPECT_EQ(busy["state_title"], "Currently building");
  EXPECT_FALSE(busy["queue"]["logtail"].get<std::string>().empty());

  // ABORTED (2005): builder released, job reset.
  json aborted = show("i-was-aborted");
  EXPECT_TRUE(aborted["queue"]["builder"].is_null());
  EXPECT_EQ(aborted["state_title"], "Needs building");

  // ABORTING: the only thing to do is to wait.
  EXPECT_EQ(show("i-am-trying-to-terminate-the-child-process")["queue"]["logtail"],
            "Waiting slave process to be terminated");

  // firstAvailable() is the idle slave (the broken one is skipped), and the
  // dispatch gave it the waiting build.
  json dispatched = farm.build(waiting);
  EXPECT_EQ(dispatched["state_title"], "Currently building");
  EXPECT_EQ(dispatched["queue"]["builder"], "idle-slave");
}

}  // namespace
}  // namespace buildd::test
