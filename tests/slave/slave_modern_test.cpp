// buildd-slave speaking the current launchpad-buildd protocol (protocol.md
// §3-4), driven over real sockets like a master would drive the real slave.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <xmlrpc-c/xml.hpp>

#include "slave_test_util.hpp"
#include "support/slave_process.hpp"

namespace buildd::test {
namespace {

using Keys = std::vector<std::string>;

class ModernSlaveTest : public ::testing::Test {
 protected:
  SlaveProcess slave_{{"--log-level", "debug"}};
  std::string url_ = slave_.rpc_url();
};

TEST_F(ModernSlaveTest, EchoInfoAndIdleStatus) {
  RpcResult echo = rpc(url_, "echo", params({s("Test")}));
  ASSERT_TRUE(echo.ok);
  ASSERT_EQ(arr(echo.value).size(), 1u);
  EXPECT_EQ(str(arr(echo.value)[0]), "Test");

  RpcResult info = rpc(url_, "info");
  ASSERT_TRUE(info.ok);
  auto parts = arr(info.value);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(str(parts[0]), "1.0");
  EXPECT_EQ(str(parts[1]), "amd64");
  std::vector<std::string> types;
  for (const auto& t : arr(parts[2])) types.push_back(str(t));
  EXPECT_EQ(types, (Keys{"binarypackage", "sourcepackagerecipe", "translation-templates", "livefs",
                         "snap", "oci", "charm", "ci", "rock", "craft"}));

  RpcResult status = rpc(url_, "status");
  ASSERT_TRUE(status.ok);
  EXPECT_EQ(keys(obj(status.value)), Keys{"builder_status"});
  EXPECT_EQ(str(obj(status.value).at("builder_status")), "BuilderStatus.IDLE");
}

TEST_F(ModernSlaveTest, EnsurePresentDownloadsCachesAndChecks) {
  const std::string content = "hello, slave\n";
  const std::string sha1 = sha1_hex(content);
  FileServer files({{"hello.txt", content}});

  RpcResult nourl = rpc(url_, "ensurepresent", params({s(sha1), nil(), nil(), nil()}));
  ASSERT_TRUE(nourl.ok);
  EXPECT_FALSE(boolean(arr(nourl.value)[0]));
  EXPECT_EQ(str(arr(nourl.value)[1]), "No URL");

  RpcResult bad = rpc(url_, "ensurepresent",
                      params({s(std::string(40, '0')), s(files.url("hello.txt")), s(""), s("")}));
  ASSERT_TRUE(bad.ok);
  EXPECT_FALSE(boolean(arr(bad.value)[0]));
  EXPECT_EQ(str(arr(bad.value)[1]), "Digests did not match, removing again!");
  EXPECT_FALSE(std::filesystem::exists(slave_.cache_dir() / std::string(40, '0')));

  RpcResult missing = rpc(url_, "ensurepresent",
                          params({s(std::string(40, '1')), s(files.url("missing")), s(""), s("")}));
  ASSERT_TRUE(missing.ok);
  EXPECT_FALSE(boolean(arr(missing.value)[0]));
  EXPECT_EQ(str(arr(missing.value)[1]), "Error accessing Librarian: HTTP Error 404: Not Found");

  RpcResult empty_url =
      rpc(url_, "ensurepresent", params({s(std::string(40, '2')), s(""), s(""), s("")}));
  ASSERT_TRUE(empty_url.ok);
  EXPECT_EQ(str(arr(empty_url.value)[1]), "Error accessing Librarian: unknown url type: ''");

  RpcResult download = rpc(url_, "ensurepresent",
                           params({s(sha1), s(files.url("hello.txt")), s("user"), s("secret")}));
  ASSERT_TRUE(download.ok);
  EXPECT_TRUE(boolean(arr(download.value)[0]));
  EXPECT_EQ(str(arr(download.value)[1]), "Download");
  EXPECT_EQ(files.last_authorization(), "Basic dXNlcjpzZWNyZXQ=");  // user:secret
  EXPECT_EQ(read_file(slave_.cache_dir() / sha1), content);

  RpcResult cached =
      rpc(url_, "ensurepresent", params({s(sha1), s(files.url("missing")), s(""), s("")}));
  ASSERT_TRUE(cached.ok);
  EXPECT_TRUE(boolean(arr(cached.value)[0]));
  EXPECT_EQ(str(arr(cached.value)[1]), "Cache");

  RpcResult check = rpc(url_, "ensurepresent", params({s(sha1), nil(), nil(), nil()}));
  EXPECT_TRUE(boolean(arr(check.value)[0]));
  EXPECT_EQ(str(arr(check.value)[1]), "No URL");

  // The 2005 two-argument form is refused by the current slave.
  RpcResult two_args = rpc(url_, "ensurepresent", params({s(sha1), s(files.url("hello.txt"))}));
  EXPECT_FALSE(two_args.ok);
  EXPECT_EQ(two_args.fault_code, 8002);
  EXPECT_EQ(two_args.fault_string, "error");
}

TEST_F(ModernSlaveTest, FilecacheServesRangesHeadAnd404) {
  const std::string content = "0123456789abcdef";
  const std::string sha1 = sha1_hex(content);
  FileServer files({{"f", content}});
  ASSERT_TRUE(rpc(url_, "ensurepresent", params({s(sha1), s(files.url("f")), s(""), s("")})).ok);

  auto whole = http_get(slave_.base_url(), "filecache/" + sha1);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, content);

  auto part = http_get(slave_.base_url(), "filecache/" + sha1, {{"Range", "bytes=2-5"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, "2345");

  httplib::Client client("127.0.0.1", slave_.port());
  auto head = client.Head(("/filecache/" + sha1).c_str());
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(content.size()));

  EXPECT_EQ(http_get(slave_.base_url(), "filecache/" + std::string(40, 'a'))->status, 404);
  EXPECT_EQ(http_get(slave_.base_url(), "filecache/buildlog")->status, 404);
  EXPECT_EQ(http_get(slave_.base_url(), "rpc")->status, 405);
  EXPECT_EQ(http_get(slave_.base_url(), "RPC2")->status, 404);
}

TEST_F(ModernSlaveTest, ProtocolErrorsAreTwistedFaults) {
  RpcResult unknown = rpc(url_, "getFile", params({s("x")}));
  EXPECT_EQ(unknown.fault_code, 8001);
  EXPECT_EQ(unknown.fault_string, "procedure getFile not found");

  RpcResult introspection = rpc(url_, "system.listMethods");
  EXPECT_EQ(introspection.fault_code, 8001);

  httplib::Client client("127.0.0.1", slave_.port());
  auto garbage = client.Post("/rpc", "this is not xml", "text/xml");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 200);
  {
    xmlrpc_c::rpcOutcome outcome;
    xmlrpc_c::xml::parseResponse(garbage->body, &outcome);
    ASSERT_FALSE(outcome.succeeded());
    // As an int at once: 8002 is not one of xmlrpc-c's code_t enumerators.
    EXPECT_EQ(static_cast<int>(outcome.getFault().getCode()), 8002);
  }
  EXPECT_NE(garbage->body.find("Can't deserialize input: "), std::string::npos);

  RpcResult clean_idle = rpc(url_, "clean");
  EXPECT_EQ(clean_idle.fault_code, 8002);
  EXPECT_EQ(clean_idle.fault_string, "error");
  RpcResult abort_idle = rpc(url_, "abort");
  EXPECT_EQ(abort_idle.fault_code, 8002);
  EXPECT_EQ(rpc(url_, "proxy_info").fault_code, 8002);
}

TEST_F(ModernSlaveTest, BuildChecksInProtocolOrder) {
  Inputs in(dsc("ok"));
  in.upload(url_);

  RpcResult debian = start_build(url_, "1-1", in, "debian");
  ASSERT_TRUE(debian.ok);
  EXPECT_EQ(str(arr(debian.value)[0]), "BuilderStatus.UNKNOWNBUILDER");
  EXPECT_EQ(str(arr(debian.value)[1]),
            "debian not in ['binarypackage', 'sourcepackagerecipe', 'translation-templates', "
            "'livefs', 'snap', 'oci', 'charm', 'ci', 'rock', 'craft']");

  const std::string absent(40, '2');
  RpcResult no_chroot = rpc(url_, "build",
                            params({s("1-1"), s("binarypackage"), s(absent),
                                    string_struct({{"foo_1.0-1.dsc", in.dsc_sha1}}), good_args()}));
  ASSERT_TRUE(no_chroot.ok);
  EXPECT_EQ(str(arr(no_chroot.value)[0]), "BuilderStatus.UNKNOWNSUM");
  EXPECT_EQ(str(arr(no_chroot.value)[1]), "CHROOTSUM -> " + absent +
                                              "\n            ***** INFO *****\n            No URL\n"
                                              "            ****************\n            ");

  RpcResult no_file = rpc(url_, "build",
                          params({s("1-1"), s("binarypackage"), s(in.chroot_sha1),
                                  string_struct({{"foo_1.0-1.dsc", absent}}), good_args()}));
  ASSERT_TRUE(no_file.ok);
  EXPECT_EQ(str(arr(no_file.value)[0]), "BuilderStatus.UNKNOWNSUM");
  EXPECT_EQ(str(arr(no_file.value)[1]).rfind("FILESUM -> " + absent + "\n", 0), 0u);

  RpcResult empty_id = start_build(url_, "", in);
  EXPECT_EQ(empty_id.fault_code, 8002);
  // None of the refusals above moved the builder.
  EXPECT_EQ(str(obj(rpc(url_, "status").value).at("builder_status")), "BuilderStatus.IDLE");
}

TEST_F(ModernSlaveTest, BadArgsWedgeTheBuilderLikeTheRealSlave) {
  Inputs in(dsc("ok"));
  in.upload(url_);
  RpcResult r = start_build(url_, "7-7", in, "binarypackage",
                            string_struct({{"suite", "bookworm"}, {"ogrecomponent", "main"}}));
  EXPECT_EQ(r.fault_code, 8002);
  auto status = obj(rpc(url_, "status").value);
  EXPECT_EQ(str(status.at("builder_status")), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(status.at("build_id")), "7-7");
  EXPECT_EQ(bytes(status.at("logtail")), "");
  ASSERT_TRUE(rpc(url_, "abort").ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // Nothing is left to reap, so ABORTING never ends.
  EXPECT_EQ(str(obj(rpc(url_, "status").value).at("builder_status")), "BuilderStatus.ABORTING");
}

struct OutcomeCase {
  std::string outcome;
  std::string build_status;
  bool has_filemap;
  std::string dependencies;
  friend void PrintTo(const OutcomeCase& c, std::ostream* os) { *os << c.outcome; }
};

class OutcomeTest : public ModernSlaveTest, public ::testing::WithParamInterface<OutcomeCase> {};

TEST_P(OutcomeTest, FullStateMachine) {
  const OutcomeCase& c = GetParam();
  Inputs in(dsc(c.outcome, 0.4, c.dependencies));
  in.upload(url_);

  RpcResult started = start_build(url_, "60-1", in);
  ASSERT_TRUE(started.ok) << started.fault_string;
  EXPECT_EQ(str(arr(started.value)[0]), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(arr(started.value)[1]), "60-1");

  auto building = obj(rpc(url_, "status").value);
  EXPECT_EQ(keys(building), (Keys{"build_id", "builder_status", "log_size", "logtail"}));
  EXPECT_EQ(str(building.at("builder_status")), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(building.at("build_id")), "60-1");
  EXPECT_LE(bytes(building.at("logtail")).size(), 2048u);
  EXPECT_NE(bytes(building.at("logtail")).find("RUN: /usr/share/launchpad-buildd/bin/"),
            std::string::npos);

  auto waiting = obj(wait_for_state(url_, "BuilderStatus.WAITING"));
  EXPECT_EQ(str(waiting.at("build_status")), c.build_status);
  EXPECT_EQ(str(waiting.at("build_id")), "60-1");
  if (c.has_filemap) {
    EXPECT_EQ(keys(waiting),
              (Keys{"build_id", "build_status", "builder_status", "dependencies", "filemap"}));
    EXPECT_EQ(str(waiting.at("dependencies")), c.dependencies);
  } else {
    EXPECT_EQ(keys(waiting), (Keys{"build_id", "build_status", "builder_status"}));
  }
  auto filemap =
      c.has_filemap ? string_map(waiting.at("filemap")) : std::map<std::string, std::string>{};
  if (c.outcome == "ok") {
    ASSERT_EQ(filemap.size(), 2u);
    ASSERT_TRUE(filemap.count("foo_1.0-1_amd64.changes"));
    ASSERT_TRUE(filemap.count("foo_1.0-1_amd64.deb"));
    for (const auto& [name, sha1] : filemap) {
      auto got = http_get(slave_.base_url(), "filecache/" + sha1);
      ASSERT_TRUE(got);
      EXPECT_EQ(got->status, 200);
      EXPECT_EQ(sha1_hex(got->body), sha1) << name;
    }
    auto changes = http_get(slave_.base_url(), "filecache/" + filemap["foo_1.0-1_amd64.changes"]);
    EXPECT_NE(changes->body.find("Files:\n"), std::string::npos);
    EXPECT_NE(changes->body.find(" foo_1.0-1_amd64.deb\n"), std::string::npos);
  } else {
    EXPECT_TRUE(filemap.empty());
  }
  auto log = http_get(slave_.base_url(), "filecache/buildlog");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 200);
  EXPECT_NE(log->body.find("builder-prep"), std::string::npos);

  RpcResult cleaned = rpc(url_, "clean");
  ASSERT_TRUE(cleaned.ok);
  EXPECT_EQ(str(cleaned.value), "BuilderStatus.IDLE");
  EXPECT_EQ(keys(obj(rpc(url_, "status").value)), Keys{"builder_status"});
  EXPECT_EQ(http_get(slave_.base_url(), "filecache/buildlog")->status, 404);
  for (const auto& [name, sha1] : filemap) {
    EXPECT_EQ(http_get(slave_.base_url(), "filecache/" + sha1)->status, 404) << name;
  }
  // Inputs stay cached.
  EXPECT_EQ(http_get(slave_.base_url(), "filecache/" + in.chroot_sha1)->status, 200);
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, OutcomeTest,
    ::testing::Values(OutcomeCase{"ok", "BuildStatus.OK", true, ""},
                      OutcomeCase{"packagefail", "BuildStatus.PACKAGEFAIL", true, ""},
                      OutcomeCase{"depwait", "BuildStatus.DEPFAIL", true, "libfoo-dev (>= 1.2)"},
                      OutcomeCase{"givenback", "BuildStatus.GIVENBACK", false, ""},
                      OutcomeCase{"chrootfail", "BuildStatus.CHROOTFAIL", false, ""},
                      OutcomeCase{"builderfail", "BuildStatus.BUILDERFAIL", false, ""}),
    [](const auto& info) { return info.param.outcome; });

TEST_F(ModernSlaveTest, AbortGoesThroughAbortingToWaitingAborted) {
  Inputs in(dsc("ok", 30));
  in.upload(url_);
  ASSERT_TRUE(start_build(url_, "70-1", in).ok);
  EXPECT_EQ(str(obj(rpc(url_, "status").value).at("builder_status")), "BuilderStatus.BUILDING");

  RpcResult aborted = rpc(url_, "abort");
  ASSERT_TRUE(aborted.ok);
  EXPECT_EQ(str(aborted.value), "BuilderStatus.ABORTING");
  auto aborting = obj(rpc(url_, "status").value);
  EXPECT_EQ(keys(aborting), (Keys{"build_id", "builder_status"}));
  EXPECT_EQ(str(aborting.at("builder_status")), "BuilderStatus.ABORTING");
  EXPECT_EQ(str(aborting.at("build_id")), "70-1");
  RpcResult again = rpc(url_, "abort");
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(str(again.value), "BuilderStatus.ABORTING");
  EXPECT_EQ(rpc(url_, "clean").fault_code, 8002);

  auto waiting = obj(wait_for_state(url_, "BuilderStatus.WAITING"));
  EXPECT_EQ(keys(waiting), (Keys{"build_id", "build_status", "builder_status"}));
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.ABORTED");
  EXPECT_EQ(str(rpc(url_, "clean").value), "BuilderStatus.IDLE");
}

TEST_F(ModernSlaveTest, BuildWhileBusyReplacesTheReportedBuildId) {
  Inputs in(dsc("ok", 30));
  in.upload(url_);
  ASSERT_TRUE(start_build(url_, "10-10", in).ok);
  RpcResult busy = start_build(url_, "99-99", in);
  EXPECT_EQ(busy.fault_code, 8002);
  // The hazard of protocol.md §3, as captured from the real slave.
  auto status = obj(rpc(url_, "status").value);
  EXPECT_EQ(str(status.at("builder_status")), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(status.at("build_id")), "99-99");
  // ... and the refused call truncated the running build's log.
  EXPECT_EQ(bytes(status.at("logtail")).find("builder-prep"), std::string::npos);
}

// readlog(offset, max_bytes): the slave's extension. Its log read from any
// offset, while the build runs and after it, is the log the file cache
// serves once the build is over (Log-Lines makes it long).
TEST_F(ModernSlaveTest, ReadlogReadsTheLogFromAnOffset) {
  auto readlog = [&](int offset, int max_bytes) {
    RpcResult r =
        rpc(url_, "readlog", params({xmlrpc_c::value_int(offset), xmlrpc_c::value_int(max_bytes)}));
    EXPECT_TRUE(r.ok) << r.fault_string;
    auto answer = obj(r.value);
    EXPECT_EQ(keys(answer), (Keys{"data", "size"}));
    return std::pair{bytes(answer.at("data")), xmlrpc_c::value_int(answer.at("size")).cvalue()};
  };
  EXPECT_EQ(readlog(0, 0), (std::pair{std::string(), 0}));  // no log yet: the probe's call

  Inputs in(dsc("ok", 1.0, "", "Log-Lines: 400\n"));
  in.upload(url_);
  ASSERT_TRUE(start_build(url_, "80-1", in).ok);
  std::string followed;
  // status() of a BUILDING builder: its tail and where the tail ends.
  std::vector<std::pair<std::string, int>> tails;
  for (int polls = 0; polls < 200; ++polls) {
    auto [data, size] = readlog(static_cast<int>(followed.size()), 4096);
    EXPECT_LE(data.size(), 4096u);
    EXPECT_LE(followed.size() + data.size(), static_cast<std::size_t>(size));
    followed += data;
    auto status = obj(rpc(url_, "status").value);
    if (str(status.at("builder_status")) == "BuilderStatus.BUILDING") {
      tails.emplace_back(bytes(status.at("logtail")),
                         xmlrpc_c::value_int(status.at("log_size")).cvalue());
    } else if (followed.size() == static_cast<std::size_t>(size)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  wait_for_state(url_, "BuilderStatus.WAITING");
  followed += readlog(static_cast<int>(followed.size()), 1 << 20).first;
  auto log = http_get(slave_.base_url(), "filecache/buildlog");
  ASSERT_TRUE(log);
  EXPECT_EQ(followed, log->body);
  EXPECT_NE(log->body.find("part400.cpp.o"), std::string::npos);
  EXPECT_GT(log->body.size(), 400u * 60);
  // Each tail is the log's bytes that end at its log_size.
  ASSERT_GT(tails.size(), 1u);
  for (const auto& [tail, size] : tails) {
    ASSERT_LE(tail.size(), static_cast<std::size_t>(size));
    ASSERT_LE(static_cast<std::size_t>(size), log->body.size());
    EXPECT_EQ(log->body.substr(size - tail.size(), tail.size()), tail) << "log_size " << size;
  }
  EXPECT_EQ(readlog(static_cast<int>(log->body.size()) + 5, 10).first, "");
  EXPECT_EQ(
      rpc(url_, "readlog", params({xmlrpc_c::value_int(-1), xmlrpc_c::value_int(10)})).fault_code,
      8002);
  EXPECT_EQ(str(rpc(url_, "clean").value), "BuilderStatus.IDLE");
}

TEST(SlaveReadlog, NoReadlogAnswersAsLaunchpadBuilddDoes) {
  SlaveProcess slave({"--no-readlog"});
  RpcResult r =
      rpc(slave.rpc_url(), "readlog", params({xmlrpc_c::value_int(0), xmlrpc_c::value_int(0)}));
  EXPECT_EQ(r.fault_code, 8001);
}

TEST(SlaveManyBuilders, FiftyBuildersAnswerConcurrently) {
  SlaveProcess slave({"--builders", "50"});
  EXPECT_NE(slave.output().find("listening on " + slave.root_url()), std::string::npos);
  EXPECT_NE(slave.output().find(slave.base_url(49)), std::string::npos);

  std::atomic<int> idle{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      RpcResult r = rpc(slave.rpc_url(i), "status");
      if (r.ok && str(obj(r.value).at("builder_status")) == "BuilderStatus.IDLE") ++idle;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(idle.load(), 50);

  // Builders are independent: a build on one leaves the next one IDLE.
  Inputs in(dsc("ok", 0.1));
  in.upload(slave.rpc_url(3));
  ASSERT_TRUE(start_build(slave.rpc_url(3), "3-3", in).ok);
  EXPECT_EQ(str(obj(rpc(slave.rpc_url(4), "status").value).at("builder_status")),
            "BuilderStatus.IDLE");
  wait_for_state(slave.rpc_url(3), "BuilderStatus.WAITING");

  RpcResult out_of_range = rpc(slave.root_url() + "builders/50/rpc", "status");
  EXPECT_TRUE(out_of_range.transport_error);
  EXPECT_EQ(slave.stop(), 0);
}

TEST(SlaveStartState, WaitingOkHasAFetchableResultAndLog) {
  SlaveProcess slave({"--start-state", "waiting:OK", "--start-build-id", "1-1"});
  auto waiting = obj(rpc(slave.rpc_url(), "status").value);
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.OK");
  EXPECT_EQ(str(waiting.at("build_id")), "1-1");
  auto filemap = string_map(waiting.at("filemap"));
  ASSERT_EQ(filemap.size(), 1u);
  auto got = http_get(slave.base_url(), "filecache/" + filemap.begin()->second);
  ASSERT_TRUE(got);
  EXPECT_EQ(sha1_hex(got->body), filemap.begin()->second);
  EXPECT_EQ(http_get(slave.base_url(), "filecache/buildlog")->status, 200);
}

TEST(SlaveStartState, PackageFailAndBuilding) {
  SlaveProcess failed({"--start-state", "waiting:PACKAGEFAIL", "--start-build-id", "1-1"});
  auto waiting = obj(rpc(failed.rpc_url(), "status").value);
  EXPECT_EQ(str(waiting.at("build_status")), "BuildStatus.PACKAGEFAIL");
  EXPECT_TRUE(string_map(waiting.at("filemap")).empty());

  SlaveProcess busy({"--start-state", "building", "--start-build-id", "5-5"});
  auto building = obj(rpc(busy.rpc_url(), "status").value);
  EXPECT_EQ(str(building.at("builder_status")), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(building.at("build_id")), "5-5");
  EXPECT_FALSE(bytes(building.at("logtail")).empty());
  ASSERT_TRUE(rpc(busy.rpc_url(), "abort").ok);
  auto aborted = obj(wait_for_state(busy.rpc_url(), "BuilderStatus.WAITING"));
  EXPECT_EQ(str(aborted.at("build_status")), "BuildStatus.ABORTED");
}

TEST(SlaveCommandLine, RejectsBadArgumentsAndStopsCleanlyOnSigterm) {
  EXPECT_THROW(SlaveProcess({"--protocol", "1999"}), std::runtime_error);
  EXPECT_THROW(SlaveProcess({"--fault", "explode"}), std::runtime_error);
  SlaveProcess slave;
  EXPECT_EQ(slave.stop(), 0);
}

}  // namespace
}  // namespace buildd::test
