// buildd-slave --fault: each injected misbehaviour is observable by a client.

#include <gtest/gtest.h>

#include <xmlrpc-c/base.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "slave_test_util.hpp"
#include "support/slave_process.hpp"

namespace buildd::test {
namespace {

using Clock = std::chrono::steady_clock;
using Keys = std::vector<std::string>;

std::string builder_status(const std::string& url) {
  RpcResult r = rpc(url, "status");
  if (!r.ok) return "(no answer: " + r.fault_string + ")";
  return str(obj(r.value).at("builder_status"));
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(SlaveFaults, HangHoldsStatusUntilTheClientGivesUp) {
  SlaveProcess slave({"--fault", "hang"});
  auto start = Clock::now();
  RpcResult r = rpc(slave.rpc_url(), "status", {}, 700);
  EXPECT_TRUE(r.transport_error);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(600));
  // Other methods still answer, and the slave still stops promptly.
  EXPECT_TRUE(rpc(slave.rpc_url(), "echo", params({s("x")})).ok);
  EXPECT_EQ(slave.stop(), 0);
}

TEST(SlaveFaults, SlowDelaysEveryReply) {
  SlaveProcess slave({"--fault", "slow:300"});
  auto start = Clock::now();
  EXPECT_TRUE(rpc(slave.rpc_url(), "echo").ok);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
}

TEST(SlaveFaults, ResetGarbageAndFault) {
  SlaveProcess reset({"--fault", "reset"});
  RpcResult r = rpc(reset.rpc_url(), "status");
  EXPECT_TRUE(r.transport_error);

  SlaveProcess garbage({"--fault", "garbage:status"});
  RpcResult g = rpc(garbage.rpc_url(), "status");
  EXPECT_FALSE(g.ok);
  EXPECT_EQ(g.fault_code, 0);
  EXPECT_TRUE(rpc(garbage.rpc_url(), "echo").ok);  // limited to status

  SlaveProcess fault({"--fault", "fault"});
  RpcResult f = rpc(fault.rpc_url(), "echo");
  EXPECT_EQ(f.fault_code, 8002);
  EXPECT_EQ(f.fault_string, "error");
}

TEST(SlaveFaults, FaultCanTargetOneBuilder) {
  SlaveProcess slave({"--builders", "3", "--fault", "fault@1"});
  EXPECT_TRUE(rpc(slave.rpc_url(0), "status").ok);
  EXPECT_EQ(rpc(slave.rpc_url(1), "status").fault_code, 8002);
  EXPECT_TRUE(rpc(slave.rpc_url(2), "status").ok);
}

TEST(SlaveFaults, OversizedTailAndHugeXml) {
  SlaveProcess slave({"--fault", "oversized-tail", "--start-state", "building"});
  // xmlrpc-c refuses responses over 512 KiB unless told otherwise.
  xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, 64u << 20);
  RpcResult r = rpc(slave.rpc_url(), "status");
  ASSERT_TRUE(r.ok) << r.fault_string;
  EXPECT_EQ(bytes(obj(r.value).at("logtail")).size(), 1u << 20);
  xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, XMLRPC_XML_SIZE_LIMIT_DEFAULT);

  SlaveProcess huge({"--fault", "huge-xml"});
  httplib::Client client("127.0.0.1", huge.port());
  auto res = client.Post("/rpc",
                         "<?xml version='1.0'?><methodCall><methodName>status</methodName>"
                         "<params></params></methodCall>",
                         "text/xml");
  ASSERT_TRUE(res);
  EXPECT_GE(res->body.size(), 20u << 20);
}

TEST(SlaveFaults, BadSha1AndHostileFilemap) {
  SlaveProcess slave(
      {"--fault", "bad-sha1", "--fault", "hostile-filemap", "--start-state", "waiting:OK"});
  xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, 64u << 20);
  RpcResult r = rpc(slave.rpc_url(), "status");
  xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, XMLRPC_XML_SIZE_LIMIT_DEFAULT);
  ASSERT_TRUE(r.ok) << r.fault_string;
  auto filemap = string_map(obj(r.value).at("filemap"));
  EXPECT_TRUE(filemap.count("../../etc/passwd"));
  EXPECT_TRUE(filemap.count("a/b"));
  EXPECT_TRUE(filemap.count("tab\tand\nnewline.deb"));
  bool long_name = false;
  for (const auto& [name, sha1] : filemap) long_name = long_name || name.size() >= 300;
  EXPECT_TRUE(long_name);

  const std::string sha1 = filemap.at("foo_1.0-1_amd64.deb");
  httplib::Client client("127.0.0.1", slave.port());
  auto got = client.Get(("/filecache/" + sha1).c_str());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_FALSE(got->body.empty());
  EXPECT_NE(sha1_hex(got->body), sha1);
}

TEST(SlaveFaults, HostileFilemapWithNulIsUnparsable) {
  SlaveProcess slave({"--fault", "hostile-filemap:nul", "--start-state", "waiting:OK"});
  RpcResult r = rpc(slave.rpc_url(), "status");
  EXPECT_FALSE(r.ok);
  httplib::Client client("127.0.0.1", slave.port());
  auto raw = client.Post("/rpc",
                         "<?xml version='1.0'?><methodCall><methodName>status</methodName>"
                         "<params></params></methodCall>",
                         "text/xml");
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->body.find(std::string("nul\0name.deb", 12)), std::string::npos);
}

TEST(SlaveFaults, BadCountsAreRejectedAtStartUp) {
  EXPECT_THROW(SlaveProcess({"--fault", "forget-job:0"}), std::runtime_error);
  EXPECT_THROW(SlaveProcess({"--fault", "restart-mid-build:x"}), std::runtime_error);
  EXPECT_THROW(SlaveProcess({"--fault", "abort-polls"}), std::runtime_error);
  EXPECT_THROW(SlaveProcess({"--fault", "abort-polls:-1"}), std::runtime_error);
}

TEST(SlaveFaults, ForgetJobAnswersBuildingThenIsIdleWithNothingLeft) {
  SlaveProcess slave({"--fault", "forget-job"});
  const std::string url = slave.rpc_url();
  Inputs in(dsc("ok", 0.3));
  in.upload(url);

  RpcResult started = start_build(url, "20-1", in);
  ASSERT_TRUE(started.ok) << started.fault_string;
  EXPECT_EQ(str(arr(started.value)[0]), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(arr(started.value)[1]), "20-1");
  // The very first status() after the answer: the job is gone.
  auto idle = obj(rpc(url, "status").value);
  EXPECT_EQ(keys(idle), Keys{"builder_status"});
  EXPECT_EQ(str(idle.at("builder_status")), "BuilderStatus.IDLE");
  EXPECT_EQ(http_get(slave.base_url(), "filecache/buildlog")->status, 404);
  // Nothing to abort or clean, and it stays IDLE.
  EXPECT_EQ(rpc(url, "abort").fault_code, 8002);
  EXPECT_EQ(rpc(url, "clean").fault_code, 8002);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(builder_status(url), "BuilderStatus.IDLE");

  // No leftovers: the same id builds normally, as does everything after.
  ASSERT_TRUE(start_build(url, "20-1", in).ok);
  auto building = obj(rpc(url, "status").value);
  EXPECT_EQ(str(building.at("builder_status")), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(building.at("build_id")), "20-1");
  auto waiting = obj(wait_for_state(url, "BuilderStatus.WAITING"));
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.OK");
  EXPECT_EQ(str(waiting.at("build_id")), "20-1");
  ASSERT_TRUE(rpc(url, "clean").ok);
}

TEST(SlaveFaults, ForgetJobCountsAndTargetsOneBuilder) {
  SlaveProcess slave({"--builders", "2", "--fault", "forget-job:2@1"});
  Inputs in(dsc("ok", 0.1));
  in.upload(slave.rpc_url(0));
  in.upload(slave.rpc_url(1));

  // Builder 0 is not affected.
  ASSERT_TRUE(start_build(slave.rpc_url(0), "30-1", in).ok);
  EXPECT_EQ(str(obj(wait_for_state(slave.rpc_url(0), "BuilderStatus.WAITING")).at("build_id")),
            "30-1");

  // Builder 1 forgets its first two builds, then builds.
  for (const char* id : {"31-1", "31-2"}) {
    ASSERT_TRUE(start_build(slave.rpc_url(1), id, in).ok) << id;
    EXPECT_EQ(builder_status(slave.rpc_url(1)), "BuilderStatus.IDLE") << id;
  }
  ASSERT_TRUE(start_build(slave.rpc_url(1), "31-3", in).ok);
  EXPECT_EQ(builder_status(slave.rpc_url(1)), "BuilderStatus.BUILDING");
  auto waiting = obj(wait_for_state(slave.rpc_url(1), "BuilderStatus.WAITING"));
  EXPECT_EQ(str(waiting.at("build_id")), "31-3");
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.OK");
}

TEST(SlaveFaults, RestartMidBuildLeavesALeftoverThatWedgesTheSameId) {
  SlaveProcess slave({"--fault", "restart-mid-build"});
  const std::string url = slave.rpc_url();
  Inputs in(dsc("ok", 1.0));
  in.upload(url);

  auto start = Clock::now();
  ASSERT_TRUE(start_build(url, "50-1", in).ok);
  auto building = obj(rpc(url, "status").value);
  ASSERT_EQ(str(building.at("builder_status")), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(building.at("build_id")), "50-1");
  EXPECT_NE(bytes(building.at("logtail")).find("builder-prep"), std::string::npos);

  // Cut off at half the 1 s duration: IDLE, as a restarted slave comes back.
  auto idle = obj(wait_for_state(url, "BuilderStatus.IDLE"));
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(keys(idle), Keys{"builder_status"});
  EXPECT_GE(elapsed, std::chrono::milliseconds(400));
  // The killed attempt's log is still on disk, cut off before the end.
  auto log = http_get(slave.base_url(), "filecache/buildlog");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 200);
  EXPECT_NE(log->body.find("builder-prep"), std::string::npos);
  EXPECT_EQ(log->body.find("remove-build"), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(builder_status(url), "BuilderStatus.IDLE");

  // A fresh id builds normally (and only the first build was cut off).
  Inputs quick(dsc("ok", 0.1));
  quick.upload(url);
  ASSERT_TRUE(start_build(url, "50-2", quick).ok);
  auto waiting = obj(wait_for_state(url, "BuilderStatus.WAITING"));
  EXPECT_EQ(str(waiting.at("build_id")), "50-2");
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.OK");
  ASSERT_TRUE(rpc(url, "clean").ok);

  // The same id hits the leftover: Fault 8002, then BUILDING that id with an
  // empty logtail and nothing behind it.
  RpcResult again = start_build(url, "50-1", quick);
  EXPECT_EQ(again.fault_code, 8002);
  EXPECT_EQ(again.fault_string, "error");
  for (int i = 0; i < 2; ++i) {
    auto wedged = obj(rpc(url, "status").value);
    EXPECT_EQ(str(wedged.at("builder_status")), "BuilderStatus.BUILDING");
    EXPECT_EQ(str(wedged.at("build_id")), "50-1");
    EXPECT_EQ(bytes(wedged.at("logtail")), "");
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  ASSERT_TRUE(rpc(url, "abort").ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto aborting = obj(rpc(url, "status").value);
  EXPECT_EQ(str(aborting.at("builder_status")), "BuilderStatus.ABORTING");
  EXPECT_EQ(str(aborting.at("build_id")), "50-1");
  EXPECT_EQ(rpc(url, "clean").fault_code, 8002);
}

TEST(SlaveFaults, RestartMidBuildTargetsOneBuilderAndAnEarlyAbortWins) {
  SlaveProcess slave({"--builders", "2", "--fault", "restart-mid-build@1"});
  Inputs in(dsc("ok", 0.4));
  in.upload(slave.rpc_url(0));
  in.upload(slave.rpc_url(1));

  ASSERT_TRUE(start_build(slave.rpc_url(0), "60-1", in).ok);
  EXPECT_EQ(str(obj(wait_for_state(slave.rpc_url(0), "BuilderStatus.WAITING")).at("build_status")),
            "BuildStatus.OK");

  // Aborted before the half-way point: a normal abort, no leftover.
  Inputs slow(dsc("ok", 30));
  slow.upload(slave.rpc_url(1));
  ASSERT_TRUE(start_build(slave.rpc_url(1), "61-1", slow).ok);
  ASSERT_TRUE(rpc(slave.rpc_url(1), "abort").ok);
  auto aborted = obj(wait_for_state(slave.rpc_url(1), "BuilderStatus.WAITING"));
  EXPECT_EQ(str(aborted.at("build_status")), "BuildStatus.ABORTED");
  ASSERT_TRUE(rpc(slave.rpc_url(1), "clean").ok);
  ASSERT_TRUE(start_build(slave.rpc_url(1), "61-1", in).ok);
  EXPECT_EQ(str(obj(wait_for_state(slave.rpc_url(1), "BuilderStatus.WAITING")).at("build_status")),
            "BuildStatus.OK");
}

TEST(SlaveFaults, AbortPollsAnswersAbortingExactlyNTimes) {
  // --abort-delay 0 would end an ordinary abort at once: the polls decide.
  SlaveProcess slave({"--fault", "abort-polls:3", "--abort-delay", "0"});
  const std::string url = slave.rpc_url();
  Inputs in(dsc("ok", 30));
  in.upload(url);

  for (const char* id : {"80-1", "80-2"}) {
    ASSERT_TRUE(start_build(url, id, in).ok) << id;
    ASSERT_EQ(str(rpc(url, "abort").value), "BuilderStatus.ABORTING");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 3; ++i) {
      auto aborting = obj(rpc(url, "status").value);
      EXPECT_EQ(keys(aborting), (Keys{"build_id", "builder_status"})) << i;
      EXPECT_EQ(str(aborting.at("builder_status")), "BuilderStatus.ABORTING") << i;
      EXPECT_EQ(str(aborting.at("build_id")), id);
      // A repeated abort() neither fails nor counts.
      if (i == 1) {
        EXPECT_EQ(str(rpc(url, "abort").value), "BuilderStatus.ABORTING");
      }
    }
    auto waiting = obj(rpc(url, "status").value);
    EXPECT_EQ(keys(waiting), (Keys{"build_id", "build_status", "builder_status"}));
    EXPECT_EQ(str(waiting.at("builder_status")), "BuilderStatus.WAITING");
    EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.ABORTED");
    EXPECT_EQ(str(waiting.at("build_id")), id);
    EXPECT_EQ(str(rpc(url, "clean").value), "BuilderStatus.IDLE");
  }
}

TEST(SlaveFaults, AbortPollsZeroTargetingAndWedges) {
  SlaveProcess slave({"--builders", "2", "--fault", "abort-polls:0@1", "--abort-delay", "0.5"});
  Inputs in(dsc("ok", 30));
  in.upload(slave.rpc_url(0));
  in.upload(slave.rpc_url(1));

  // Builder 0 keeps the --abort-delay timer, however often it is polled.
  ASSERT_TRUE(start_build(slave.rpc_url(0), "90-1", in).ok);
  ASSERT_TRUE(rpc(slave.rpc_url(0), "abort").ok);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(builder_status(slave.rpc_url(0)), "BuilderStatus.ABORTING");
  }
  wait_for_state(slave.rpc_url(0), "BuilderStatus.WAITING");

  // Builder 1, with N = 0: the first status() after abort() is WAITING.
  ASSERT_TRUE(start_build(slave.rpc_url(1), "91-1", in).ok);
  ASSERT_EQ(str(rpc(slave.rpc_url(1), "abort").value), "BuilderStatus.ABORTING");
  auto waiting = obj(rpc(slave.rpc_url(1), "status").value);
  EXPECT_EQ(str(waiting.at("builder_status")), "BuilderStatus.WAITING");
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.ABORTED");
  ASSERT_TRUE(rpc(slave.rpc_url(1), "clean").ok);

  // A wedged builder (bad args) has nothing to reap: still ABORTING forever.
  RpcResult bad = start_build(slave.rpc_url(1), "92-1", in, "binarypackage",
                              string_struct({{"suite", "bookworm"}, {"ogrecomponent", "main"}}));
  EXPECT_EQ(bad.fault_code, 8002);
  ASSERT_TRUE(rpc(slave.rpc_url(1), "abort").ok);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(builder_status(slave.rpc_url(1)), "BuilderStatus.ABORTING");
  }
}

TEST(SlaveFaults, AbortPollsIn2005ProtocolEndsInAborted) {
  SlaveProcess slave({"--protocol", "2005", "--fault", "abort-polls:1"});
  const std::string url = slave.rpc_url();
  Inputs in(dsc("ok", 30));
  for (auto [sha1, name] : {std::pair{in.chroot_sha1, std::string("chroot.tar.gz")},
                            std::pair{in.dsc_sha1, std::string("foo_1.0-1.dsc")}}) {
    RpcResult r = rpc(url, "ensurepresent", params({s(sha1), s(in.files.url(name))}));
    ASSERT_TRUE(r.ok && boolean(r.value)) << r.fault_string;
  }
  RpcResult started =
      start_build(url, "1-1", in, "debian", string_struct({{"ogrecomponent", "main"}}));
  ASSERT_TRUE(started.ok) << started.fault_string;
  ASSERT_TRUE(rpc(url, "abort").ok);
  EXPECT_EQ(str(arr(rpc(url, "status").value).at(0)), "BuilderStatus.ABORTING");
  auto aborted = arr(rpc(url, "status").value);
  ASSERT_EQ(aborted.size(), 2u);
  EXPECT_EQ(str(aborted[0]), "BuilderStatus.ABORTED");
  EXPECT_EQ(str(aborted[1]), "1-1");
}

TEST(SlaveFaults, JournalHasOneLinePerFinishedBuildAcrossRestarts) {
  TempDir dir;
  const auto journal = dir / "journal";
  const auto before = std::chrono::system_clock::now();
  {
    SlaveProcess slave({"--builders", "2", "--journal", journal.string(), "--fault", "forget-job@1",
                        "--fault", "restart-mid-build:1@0"});
    Inputs ok(dsc("ok", 0.2));
    Inputs fail(dsc("packagefail", 0.1));
    Inputs slow(dsc("ok", 30));
    for (int b : {0, 1}) {
      ok.upload(slave.rpc_url(b));
      fail.upload(slave.rpc_url(b));
      slow.upload(slave.rpc_url(b));
    }
    // Builder 0: cut off half-way (not journalled), then a failed build.
    ASSERT_TRUE(start_build(slave.rpc_url(0), "42-1", ok).ok);
    wait_for_state(slave.rpc_url(0), "BuilderStatus.IDLE");
    EXPECT_FALSE(std::filesystem::exists(journal) && !read_lines(journal).empty());
    ASSERT_TRUE(start_build(slave.rpc_url(0), "42-2", fail).ok);
    wait_for_state(slave.rpc_url(0), "BuilderStatus.WAITING");
    // The line is there as soon as status() says WAITING.
    ASSERT_EQ(read_lines(journal).size(), 1u);
    ASSERT_TRUE(rpc(slave.rpc_url(0), "clean").ok);

    // Builder 1: forgotten (not journalled), then built, then aborted.
    ASSERT_TRUE(start_build(slave.rpc_url(1), "43-1", ok).ok);
    ASSERT_TRUE(start_build(slave.rpc_url(1), "43-1", ok).ok);
    wait_for_state(slave.rpc_url(1), "BuilderStatus.WAITING");
    ASSERT_TRUE(rpc(slave.rpc_url(1), "clean").ok);
    ASSERT_TRUE(start_build(slave.rpc_url(1), "43-2", slow).ok);
    ASSERT_TRUE(rpc(slave.rpc_url(1), "abort").ok);
    wait_for_state(slave.rpc_url(1), "BuilderStatus.WAITING");
    EXPECT_EQ(slave.stop(), 0);
  }
  {
    // A second slave appends to the same file.
    SlaveProcess slave({"--journal", journal.string()});
    Inputs ok(dsc("ok", 0.1));
    ok.upload(slave.rpc_url());
    ASSERT_TRUE(start_build(slave.rpc_url(), "44-1", ok).ok);
    wait_for_state(slave.rpc_url(), "BuilderStatus.WAITING");
  }
  const auto after = std::chrono::system_clock::now();

  auto lines = read_lines(journal);
  ASSERT_EQ(lines.size(), 4u);
  const std::regex format(R"((\d+)\.(\d{3}) (\d+) (\S+) (BuildStatus\.[A-Z]+))");
  std::vector<std::string> rest;
  for (const auto& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, format)) << line;
    auto stamp = std::chrono::system_clock::time_point(std::chrono::seconds(std::stoll(m[1])));
    EXPECT_GE(stamp, std::chrono::time_point_cast<std::chrono::seconds>(before));
    EXPECT_LE(stamp, after);
    rest.push_back(m[3].str() + " " + m[4].str() + " " + m[5].str());
  }
  EXPECT_EQ(rest, (Keys{"0 42-2 BuildStatus.PACKAGEFAIL", "1 43-1 BuildStatus.OK",
                        "1 43-2 BuildStatus.ABORTED", "0 44-1 BuildStatus.OK"}));
}

TEST(SlaveFaults, JournalThatCannotBeOpenedStopsTheSlave) {
  EXPECT_THROW(SlaveProcess({"--journal", "/nonexistent-dir/journal"}), std::runtime_error);
}

}  // namespace
}  // namespace buildd::test
