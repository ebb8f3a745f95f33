// The xmlrpc-slave transport against an in-test HTTP server that answers with
// bodies captured from a real launchpad-buildd (tests/fixtures/
// launchpad-buildd-wire) or, for the 2005 forms, generated with xmlrpc-c.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/plugin_loader.hpp"
#include "fake_slave.hpp"
#include "support/test_support.hpp"
#include "xmlrpc_slave.hpp"

namespace buildd::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using xmlrpc_c::value;
namespace xs = buildd::xmlrpc_slave;
using xs::BuildArgs;
using xs::BuildStartResult;
using xs::BuildStartStatus;
using xs::EnsurePresentResult;
using xs::SlaveInfo;

std::string wire(const std::string& name) {
  return read_file(fixtures_dir() / "launchpad-buildd-wire" / name);
}

value str(const std::string& s) {
  return xmlrpc_c::value_string(s);
}
value arr(std::vector<value> items) {
  return xmlrpc_c::value_array(items);
}
value bin(const std::string& s) {
  return xmlrpc_c::value_bytestring(std::vector<unsigned char>(s.begin(), s.end()));
}
value map(std::map<std::string, value> m) {
  return xmlrpc_c::value_struct(m);
}

std::string as_string(const value& v) {
  return static_cast<std::string>(xmlrpc_c::value_string(v));
}

const std::string kSha1A = "f7355b021e2d1c52b2c54fa9ecb61c2f165b9050";
const std::string kSha1B = "02230e827bd5aa5841218f6730b4a3675d6919df";

Builder builder_at(const std::string& url, const std::string& name = "bob") {
  Builder b;
  b.name = name;
  b.url = url;
  return b;
}

// Runs `fn`, expects a buildd::Error and returns it.
template <typename Fn>
Error expect_error(Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    return error;
  } catch (const std::exception& other) {
    ADD_FAILURE() << "foreign exception escaped: " << other.what();
    return Error(ErrorCategory::kInternal, other.what());
  }
  ADD_FAILURE() << "no exception";
  return Error(ErrorCategory::kInternal, "none");
}

// Runs `fn`, expects an XML-RPC Fault and returns it (with its code).
template <typename Fn>
xs::FaultError expect_fault(Fn&& fn) {
  try {
    fn();
  } catch (const xs::FaultError& fault) {
    return fault;
  } catch (const std::exception& other) {
    ADD_FAILURE() << "not a Fault: " << other.what();
    return xs::FaultError(0, other.what());
  }
  ADD_FAILURE() << "no exception";
  return xs::FaultError(0, "none");
}

class XmlRpcSlaveTest : public ::testing::Test {
 protected:
  std::unique_ptr<xs::LaunchpadSlave> connect(xs::Options options = xs::default_options()) {
    transport_ = std::make_unique<xs::XmlRpcSlaveTransport>(options);
    return transport_->connect_launchpad(builder_at(server_.url()));
  }
  SlaveStatus status_of(const std::string& body, xs::Options options = xs::default_options()) {
    server_.reply(body);
    return connect(options)->status();
  }

  FakeSlave server_;
  std::unique_ptr<xs::XmlRpcSlaveTransport> transport_;
};

// ---- simple methods -----------------------------------------------------

TEST_F(XmlRpcSlaveTest, EchoSendsArgumentsAndReadsArray) {
  server_.reply(wire("01-echo.response.xml"));
  auto slave = connect();
  EXPECT_EQ(slave->echo({"Test"}), std::vector<std::string>{"Test"});
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "echo");
  ASSERT_EQ(calls[0].params.size(), 1u);
  EXPECT_EQ(as_string(calls[0].params[0]), "Test");
  EXPECT_EQ(slave->builder_name(), "bob");
}

TEST_F(XmlRpcSlaveTest, InfoFromCapture) {
  server_.reply(wire("02-info.response.xml"));
  const SlaveInfo info = connect()->info();
  EXPECT_EQ(info.protocol_version, "1.0");
  EXPECT_EQ(info.arch_tag, "amd64");
  ASSERT_EQ(info.builder_types.size(), 10u);
  EXPECT_EQ(info.builder_types.front(), "binarypackage");
}

TEST_F(XmlRpcSlaveTest, InfoOf2005Slave) {
  server_.reply(response_xml(arr({str("1.0"), str("i386"), arr({str("debian")})})));
  const SlaveInfo info = connect()->info();
  EXPECT_EQ(info.arch_tag, "i386");
  EXPECT_EQ(info.builder_types, std::vector<std::string>{"debian"});
}

TEST_F(XmlRpcSlaveTest, AbortAndCleanReturnStateText) {
  auto slave = connect();
  server_.reply(wire("41-abort.response.xml"));
  EXPECT_EQ(slave->abort(), "BuilderStatus.ABORTING");
  server_.reply(wire("22-clean-ok.response.xml"));
  EXPECT_EQ(slave->clean(), "BuilderStatus.IDLE");
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "abort");
  EXPECT_EQ(calls[1].method, "clean");
}

// ---- status(), modern struct -------------------------------------------

TEST_F(XmlRpcSlaveTest, ModernIdle) {
  const SlaveStatus s = status_of(wire("03-status-idle.response.xml"));
  EXPECT_EQ(s.state, BuilderState::kIdle);
  EXPECT_EQ(s.state_text, "BuilderStatus.IDLE");
  EXPECT_TRUE(s.build_id.empty());
  EXPECT_EQ(s.result, BuildResult::kNone);
  EXPECT_FALSE(s.legacy_array);
  EXPECT_FALSE(s.builder_version.has_value());
}

TEST_F(XmlRpcSlaveTest, ModernBuildingDecodesBase64Tail) {
  const SlaveStatus s = status_of(wire("20-status-building-ok.response.xml"));
  EXPECT_EQ(s.state, BuilderState::kBuilding);
  EXPECT_EQ(s.build_id, "99-99");
  EXPECT_THAT(s.logtail, ::testing::StartsWith("Kernel version: Linux builder"));
  EXPECT_THAT(s.logtail, ::testing::EndsWith("Starting target for build 10-10\n"));
  EXPECT_FALSE(s.log_size.has_value());  // launchpad-buildd does not say where its tail ends
}

TEST_F(XmlRpcSlaveTest, ModernWaitingOk) {
  const SlaveStatus s = status_of(wire("21-status-waiting-ok.response.xml"));
  EXPECT_EQ(s.state, BuilderState::kWaiting);
  EXPECT_EQ(s.result, BuildResult::kOk);
  EXPECT_EQ(s.result_text, "BuildStatus.OK");
  EXPECT_EQ(s.build_id, "99-99");
  EXPECT_EQ(s.dependencies, "");
  const std::map<std::string, std::string> expected{{"foo_1.0-1_amd64.changes", kSha1A},
                                                    {"foo_1.0-1_amd64.deb", kSha1B}};
  EXPECT_EQ(s.filemap, expected);
}

TEST_F(XmlRpcSlaveTest, ModernAborting) {
  const SlaveStatus s = status_of(wire("42-status-aborting.response.xml"));
  EXPECT_EQ(s.state, BuilderState::kAborting);
  EXPECT_EQ(s.build_id, "20-20");
}

struct WaitingCase {
  const char* fixture;
  BuildResult result;
  const char* dependencies;
};

class ModernWaiting : public XmlRpcSlaveTest, public ::testing::WithParamInterface<WaitingCase> {};

TEST_P(ModernWaiting, ResultFromCapture) {
  const SlaveStatus s = status_of(wire(GetParam().fixture));
  EXPECT_EQ(s.state, BuilderState::kWaiting);
  EXPECT_EQ(s.result, GetParam().result) << s.result_text;
  EXPECT_EQ(s.dependencies, GetParam().dependencies);
  EXPECT_TRUE(s.filemap.empty());
  EXPECT_FALSE(s.build_id.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Captures, ModernWaiting,
    ::testing::Values(
        WaitingCase{"25-status-waiting-packagefail.response.xml", BuildResult::kPackageFail, ""},
        WaitingCase{"29-status-waiting-depwait.response.xml", BuildResult::kDepFail,
                    "libfoo-dev (>= 1.2)"},
        WaitingCase{"33-status-waiting-givenback.response.xml", BuildResult::kGivenBack, ""},
        WaitingCase{"37-status-waiting-builderfail.response.xml", BuildResult::kBuilderFail, ""},
        WaitingCase{"48-status-waiting-chrootfail.response.xml", BuildResult::kChrootFail, ""},
        WaitingCase{"43-status-waiting-aborted.response.xml", BuildResult::kAborted, ""}));

TEST_F(XmlRpcSlaveTest, ModernBuilderVersionAndExtraKeys) {
  const SlaveStatus s = status_of(response_xml(map({{"builder_status", str("BuilderStatus.IDLE")},
                                                    {"builder_version", str("254")},
                                                    {"revision_id", str("abc")},
                                                    {"jobs", arr({str("x")})}})));
  EXPECT_EQ(s.state, BuilderState::kIdle);
  EXPECT_EQ(s.builder_version, std::optional<std::string>("254"));
}

TEST_F(XmlRpcSlaveTest, UnknownStatesKeepTheirText) {
  const SlaveStatus s =
      status_of(response_xml(map({{"builder_status", str("BuilderStatus.WAITING")},
                                  {"build_id", str("1-1")},
                                  {"build_status", str("BuildStatus.SOMETHINGNEW")}})));
  EXPECT_EQ(s.result, BuildResult::kUnknown);
  EXPECT_EQ(s.result_text, "BuildStatus.SOMETHINGNEW");
  const SlaveStatus t =
      status_of(response_xml(map({{"builder_status", str("BuilderStatus.NAPPING")}})));
  EXPECT_EQ(t.state, BuilderState::kUnknown);
  EXPECT_EQ(t.state_text, "BuilderStatus.NAPPING");
}

TEST_F(XmlRpcSlaveTest, LongLogtailKeepsItsLastBytes) {
  std::string tail(100000, 'a');
  tail += "THE END";
  xs::Options options = xs::default_options();
  options.max_logtail_bytes = 1000;
  const SlaveStatus s =
      status_of(response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                                  {"build_id", str("7-7")},
                                  {"logtail", bin(tail)},
                                  {"log_size", xmlrpc_c::value_int(200000)}})),
                options);
  ASSERT_EQ(s.logtail.size(), 1000u);
  EXPECT_EQ(s.logtail, tail.substr(tail.size() - 1000));
  // buildd-slave's log_size: still where the (shortened) tail ends.
  EXPECT_EQ(s.log_size, 200000u);
}

TEST_F(XmlRpcSlaveTest, LogtailWithArbitraryBytesSurvives) {
  const std::string tail("\xff\x00\xfe line\n\xc3", 11);
  const SlaveStatus s =
      status_of(response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                                  {"build_id", str("7-7")},
                                  {"logtail", bin(tail)}})));
  EXPECT_EQ(s.logtail, tail);
}

// ---- status(), 2005 array ------------------------------------------------

TEST_F(XmlRpcSlaveTest, LegacyIdlePairAndOneTuple) {
  SlaveStatus s = status_of(response_xml(arr({str("BuilderStatus.IDLE"), str("")})));
  EXPECT_EQ(s.state, BuilderState::kIdle);
  EXPECT_TRUE(s.legacy_array);
  s = status_of(response_xml(arr({str("BuilderStatus.IDLE")})));
  EXPECT_EQ(s.state, BuilderState::kIdle);
  EXPECT_TRUE(s.legacy_array);
}

TEST_F(XmlRpcSlaveTest, LegacyBuildingWithBinaryOrStringTail) {
  SlaveStatus s =
      status_of(response_xml(arr({str("BuilderStatus.BUILDING"), str("1-1"), bin("log\xff")})));
  EXPECT_EQ(s.state, BuilderState::kBuilding);
  EXPECT_EQ(s.build_id, "1-1");
  EXPECT_EQ(s.logtail, "log\xff");
  s = status_of(response_xml(arr({str("BuilderStatus.BUILDING"), str("2-1"), str("plain tail")})));
  EXPECT_EQ(s.build_id, "2-1");
  EXPECT_EQ(s.logtail, "plain tail");
}

TEST_F(XmlRpcSlaveTest, LegacyWaitingForms) {
  // 2005: four elements.
  SlaveStatus s = status_of(response_xml(arr({str("BuilderStatus.WAITING"), str("BuildStatus.OK"),
                                              str("1-1"), map({{"foo.deb", str(kSha1B)}})})));
  EXPECT_EQ(s.state, BuilderState::kWaiting);
  EXPECT_EQ(s.result, BuildResult::kOk);
  EXPECT_EQ(s.build_id, "1-1");
  EXPECT_EQ(s.filemap, (std::map<std::string, std::string>{{"foo.deb", kSha1B}}));
  EXPECT_TRUE(s.legacy_array);
  // From 2006-02: five, with dependencies.
  s = status_of(response_xml(arr({str("BuilderStatus.WAITING"), str("BuildStatus.DEPFAIL"),
                                  str("3-1"), map({}), str("libfoo (>= 1)")})));
  EXPECT_EQ(s.result, BuildResult::kDepFail);
  EXPECT_EQ(s.dependencies, "libfoo (>= 1)");
  // Failures: three.
  s = status_of(
      response_xml(arr({str("BuilderStatus.WAITING"), str("BuildStatus.CHROOTFAIL"), str("4-1")})));
  EXPECT_EQ(s.result, BuildResult::kChrootFail);
  EXPECT_EQ(s.build_id, "4-1");
  EXPECT_TRUE(s.filemap.empty());
}

TEST_F(XmlRpcSlaveTest, LegacyAbortingAndAborted) {
  SlaveStatus s = status_of(response_xml(arr({str("BuilderStatus.ABORTING"), str("5-1")})));
  EXPECT_EQ(s.state, BuilderState::kAborting);
  EXPECT_EQ(s.build_id, "5-1");
  s = status_of(response_xml(arr({str("BuilderStatus.ABORTED"), str("5-1")})));
  EXPECT_EQ(s.state, BuilderState::kAborted);
  EXPECT_EQ(s.build_id, "5-1");
}

// ---- wrong shapes ---------------------------------------------------------

TEST_F(XmlRpcSlaveTest, WrongShapeNamesBuilderAndField) {
  server_.reply(response_xml(map(
      {{"builder_status", str("BuilderStatus.BUILDING")}, {"build_id", xmlrpc_c::value_int(42)}})));
  const Error e = expect_error([&] { connect()->status(); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_FALSE(e.retryable());
  EXPECT_THAT(e.message(), HasSubstr("builder bob: status(): 'build_id' is not a string"));
}

TEST_F(XmlRpcSlaveTest, OtherWrongShapes) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {response_xml(xmlrpc_c::value_int(1)), "'result' is not a struct or an array"},
      {response_xml(map({{"build_id", str("1")}})), "'builder_status' is missing"},
      {response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")}})),
       "'build_id' is missing"},
      {response_xml(map({{"builder_status", str("BuilderStatus.WAITING")},
                         {"build_id", str("1")},
                         {"build_status", str("BuildStatus.OK")},
                         {"filemap", map({{"a.deb", str("../../etc/passwd")}})}})),
       "'filemap[a.deb]' is not a sha1"},
      {response_xml(map({{"builder_status", str("BuilderStatus.WAITING")},
                         {"build_id", str("1")},
                         {"build_status", str("BuildStatus.OK")},
                         {"filemap", arr({})}})),
       "'filemap' is not a struct"},
      {response_xml(arr({})), "empty array"},
      {response_xml(arr({str("BuilderStatus.WAITING"), str("BuildStatus.OK")})), "needs 3"},
      {response_xml(arr({str("BuilderStatus.BUILDING"), str("1"), xmlrpc_c::value_int(3)})),
       "'logtail' is not base64 or a string"},
      {response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                         {"build_id", str("1")},
                         {"logtail", bin("tail")},
                         {"log_size", xmlrpc_c::value_int(-4)}})),
       "'log_size' is negative"},
      {response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                         {"build_id", str("1")},
                         {"logtail", bin("tail")},
                         {"log_size", str("4")}})),
       "'log_size' is not an int"},
      {response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                         {"build_id", str("1")},
                         {"logtail", bin("tail")},
                         {"log_size", xmlrpc_c::value_int(3)}})),
       "'logtail' is longer than 'log_size' (3)"},
      {"this is not XML at all", "status()"},
  };
  for (const auto& [body, expected] : cases) {
    server_.reply(body);
    const Error e = expect_error([&] { connect()->status(); });
    EXPECT_EQ(e.category(), ErrorCategory::kProtocol) << expected;
    EXPECT_THAT(e.message(), HasSubstr("builder bob"));
    EXPECT_THAT(e.message(), HasSubstr(expected));
  }
  server_.reply(response_xml(arr({str("1.0"), str("amd64")})));
  EXPECT_THAT(expect_error([&] { connect()->info(); }).message(),
              HasSubstr("info(): expected 3 elements"));
  server_.reply(response_xml(xmlrpc_c::value_int(0)));
  EXPECT_THAT(expect_error([&] { connect()->clean(); }).message(),
              HasSubstr("clean(): 'result' is not a string"));
}

// ---- the readlog extension (buildd-slave's, not launchpad-buildd's) -------

// A slave answering echo and info from the captures, and readlog with
// `readlog` (a body).
void serve_probe(FakeSlave& server, const std::string& readlog) {
  server.set_handler([readlog](const RecordedCall& call) {
    if (call.method == "echo") return wire("01-echo.response.xml");
    if (call.method == "info") return wire("02-info.response.xml");
    return readlog;
  });
}

TEST_F(XmlRpcSlaveTest, ProbeFindsWhetherTheSlaveReadsItsLogFromAnOffset) {
  // launchpad-buildd answers an unknown method with Fault 8001 (captured).
  serve_probe(server_, wire("17-nosuchmethod.response.xml"));
  WorkerInfo info = connect()->probe();
  EXPECT_EQ(info.arch_tag, "amd64");
  EXPECT_FALSE(info.reads_log_from_offset);
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].method, "readlog");
  ASSERT_EQ(calls[2].params.size(), 2u);
  EXPECT_EQ(xmlrpc_c::value_int(calls[2].params[0]), 0);
  EXPECT_EQ(xmlrpc_c::value_int(calls[2].params[1]), 0);

  serve_probe(server_, response_xml(map({{"data", bin("")}, {"size", xmlrpc_c::value_int(0)}})));
  EXPECT_TRUE(connect()->probe().reads_log_from_offset);
  // A garbled answer to the extension does not refuse the worker.
  serve_probe(server_, response_xml(str("yes")));
  EXPECT_FALSE(connect()->probe().reads_log_from_offset);
}

TEST_F(XmlRpcSlaveTest, ReadLogSendsOffsetAndChecksTheAnswer) {
  const std::string bytes("a\0\xff\n", 4);
  server_.reply(response_xml(map({{"data", bin(bytes)}, {"size", xmlrpc_c::value_int(10)}})));
  const LogRead read = connect()->read_log(6, 4);
  EXPECT_EQ(read.bytes, bytes);
  EXPECT_EQ(read.log_size, 10u);
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(xmlrpc_c::value_int(calls[0].params[0]), 6);
  EXPECT_EQ(xmlrpc_c::value_int(calls[0].params[1]), 4);

  auto refused = [&](const value& answer, std::uint64_t offset, std::size_t max_bytes,
                     const std::string& why) {
    server_.reply(response_xml(answer));
    const Error e = expect_error([&] { connect()->read_log(offset, max_bytes); });
    EXPECT_EQ(e.category(), ErrorCategory::kProtocol) << why;
    EXPECT_THAT(e.message(), HasSubstr("builder bob: readlog(")) << why;
    EXPECT_THAT(e.message(), HasSubstr(why));
  };
  refused(map({{"data", bin(bytes)}, {"size", xmlrpc_c::value_int(10)}}), 6, 3, "4 bytes answered");
  refused(map({{"data", bin(bytes)}, {"size", xmlrpc_c::value_int(8)}}), 6, 4,
          "past the log's size 8");
  refused(map({{"data", bin(bytes)}, {"size", xmlrpc_c::value_int(-1)}}), 0, 4, "negative");
  refused(map({{"data", str("abcd")}, {"size", xmlrpc_c::value_int(10)}}), 0, 4,
          "'data' is not base64");
  refused(map({{"size", xmlrpc_c::value_int(10)}}), 0, 4, "'data' is missing");
  refused(str("no"), 0, 4, "'result' is not a struct");

  // Offsets are XML-RPC ints: none is sent past 2 GiB.
  const Error far = expect_error([&] { connect()->read_log(std::uint64_t{1} << 31, 4); });
  EXPECT_EQ(far.category(), ErrorCategory::kRefused);
}

// ---- faults and transport errors -----------------------------------------

TEST_F(XmlRpcSlaveTest, FaultCarriesCode) {
  server_.reply(wire("17-nosuchmethod.response.xml"));
  const xs::FaultError e = expect_fault([&] { connect()->status(); });
  EXPECT_EQ(e.category(), ErrorCategory::kRefused);
  EXPECT_EQ(e.fault_code(), xs::kFaultNoSuchMethod);
  EXPECT_FALSE(e.retryable());
  EXPECT_THAT(e.message(), HasSubstr("builder bob"));
}

TEST_F(XmlRpcSlaveTest, XmlSizeLimit) {
  xs::Options options = xs::default_options();
  options.max_xml_bytes = 4096;
  const std::string big = response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                                            {"build_id", str("1")},
                                            {"logtail", bin(std::string(20000, 'x'))}}));
  server_.reply(big);
  const Error e = expect_error([&] { connect(options)->status(); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_THAT(e.message(), HasSubstr("max_xml_bytes"));
  EXPECT_THAT(e.message(), HasSubstr("builder bob"));
}

// Found by tests/fuzz/xmlrpc_reply_fuzz: xmlrpc-c 1.33 dies of SIGSEGV on an
// <i8> that is not a 64-bit number, so one reply could kill the master.
TEST_F(XmlRpcSlaveTest, I8IsRefusedBeforeParsing) {
  for (const std::string value :
       {"<i8>1x</i8>", "<i8>9223372036854775808</i8>", "<ex:i8>x</ex:i8>", "<i8>12</i8>"}) {
    SCOPED_TRACE(value);
    server_.reply("<?xml version=\"1.0\"?><methodResponse><params><param><value>" + value +
                  "</value></param></params></methodResponse>");
    const Error e = expect_error([&] { connect()->status(); });
    EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
    EXPECT_THAT(e.message(), HasSubstr("<i8>"));
    EXPECT_THAT(e.message(), HasSubstr("builder bob"));
  }
}

// xmlrpc-c reads UTF-16, where a DOCTYPE (or an <i8>) is invisible to a
// check of the bytes as ASCII.
TEST_F(XmlRpcSlaveTest, Utf16IsRefusedBeforeParsing) {
  const std::string ascii =
      "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE x [<!ENTITY a \"b\">]>"
      "<methodResponse><params><param><value>&a;</value></param></params></methodResponse>";
  std::string utf16 = "\xff\xfe";  // little-endian, with its byte order mark
  for (const char c : ascii) {
    utf16 += c;
    utf16 += '\0';
  }
  server_.reply(utf16);
  const Error e = expect_error([&] { connect()->status(); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_THAT(e.message(), HasSubstr("NUL"));
}

TEST_F(XmlRpcSlaveTest, EntityExpansionIsRefusedBeforeParsing) {
  // "Billion laughs": ten levels of ten references, a few hundred bytes that
  // expand to a billion.
  std::string doctype = "<!DOCTYPE lolz [<!ENTITY lol0 \"lol\">";
  for (int i = 1; i < 10; ++i) {
    doctype += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) doctype += "&lol" + std::to_string(i - 1) + ";";
    doctype += "\">";
  }
  doctype += "]>";
  server_.reply("<?xml version=\"1.0\"?>" + doctype +
                "<methodResponse><params><param><value><array><data><value>&lol9;</value>"
                "</data></array></value></param></params></methodResponse>");
  const auto begin = std::chrono::steady_clock::now();
  const Error e = expect_error([&] { connect()->echo({"Test"}); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_THAT(e.message(), HasSubstr("DOCTYPE"));
  EXPECT_THAT(e.message(), HasSubstr("builder bob"));
  // Refused, not parsed: well within a second (parsing takes many seconds).
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(1));
}

TEST_F(XmlRpcSlaveTest, RepliesAboveXmlRpcDefaultLimitPass) {
  // xmlrpc-c's own parser limit is 512 KiB by default; the transport raises it
  // to max_xml_bytes (1 MiB by default): 600 KiB in base64 is about 800 KiB.
  const std::string tail(600 << 10, 'y');
  server_.reply(response_xml(map({{"builder_status", str("BuilderStatus.BUILDING")},
                                  {"build_id", str("1")},
                                  {"logtail", bin(tail)}})));
  const SlaveStatus s = connect()->status();
  EXPECT_EQ(s.logtail.size(), 65536u);
}

TEST_F(XmlRpcSlaveTest, ConnectionRefusedIsRetryableTransport) {
  xs::XmlRpcSlaveTransport transport{xs::default_options()};
  auto slave =
      transport.connect(builder_at("http://127.0.0.1:" + std::to_string(free_port()) + "/"));
  const Error e = expect_error([&] { slave->status(); });
  EXPECT_EQ(e.category(), ErrorCategory::kTransport);
  EXPECT_TRUE(e.retryable());
  EXPECT_THAT(e.message(), HasSubstr("builder bob"));
}

TEST_F(XmlRpcSlaveTest, HttpErrorIsTransport) {
  xs::XmlRpcSlaveTransport transport{xs::default_options()};
  // A path where nothing answers /rpc: the fake gives 404.
  auto slave = transport.connect(builder_at(server_.url() + "nowhere/"));
  const Error e = expect_error([&] { slave->status(); });
  EXPECT_EQ(e.category(), ErrorCategory::kTransport);
  EXPECT_TRUE(e.retryable());
  EXPECT_THAT(e.message(), HasSubstr("HTTP 404"));
}

// A socket that listens but never accepts: connections complete in the kernel
// and then nothing is ever answered.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      throw std::runtime_error("SilentServer: cannot listen on 127.0.0.1");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(XmlRpcSlaveTest, SilentSlaveTimesOutWithinDeadline) {
  SilentServer silent;
  xs::Options options = xs::default_options();
  options.call_timeout = 0.5;
  options.ensurepresent_timeout = 0.7;
  options.download_timeout = 0.5;
  xs::XmlRpcSlaveTransport transport{options};
  auto slave = transport.connect_launchpad(builder_at(silent.url()));
  for (int which = 0; which < 3; ++which) {
    const auto start = std::chrono::steady_clock::now();
    const Error e = expect_error([&] {
      if (which == 0) slave->status();
      if (which == 1) slave->ensure_present(kSha1A, std::nullopt, "", "");
      if (which == 2) {
        TempDir dir;
        slave->fetch_to_file("buildlog", dir / "log", 1000);
      }
    });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(e.category(), ErrorCategory::kTransport) << which;
    EXPECT_TRUE(e.retryable());
    EXPECT_THAT(e.message(), HasSubstr("timed out"));
    EXPECT_GE(elapsed, std::chrono::milliseconds(400));
    EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
  }
}

// ---- ensure_present ------------------------------------------------------

TEST_F(XmlRpcSlaveTest, EnsurePresentSendsFourArguments) {
  server_.reply(wire("04-ensurepresent-nourl.response.xml"));
  auto slave = connect();
  EnsurePresentResult r = slave->ensure_present(kSha1A, std::nullopt, "", "");
  EXPECT_TRUE(r.present);
  EXPECT_EQ(r.info, "No URL");
  server_.reply(wire("05-ensurepresent-download.response.xml"));
  r = slave->ensure_present(kSha1A, "http://librarian/x", "user", "s3cret");
  EXPECT_TRUE(r.present);
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "ensurepresent");
  ASSERT_EQ(calls[0].params.size(), 4u);
  EXPECT_EQ(as_string(calls[0].params[0]), kSha1A);
  EXPECT_EQ(calls[0].params[1].type(), value::TYPE_NIL);
  EXPECT_EQ(as_string(calls[0].params[2]), "");
  ASSERT_EQ(calls[1].params.size(), 4u);
  EXPECT_EQ(as_string(calls[1].params[1]), "http://librarian/x");
  EXPECT_EQ(as_string(calls[1].params[2]), "user");
  EXPECT_EQ(as_string(calls[1].params[3]), "s3cret");
}

TEST_F(XmlRpcSlaveTest, EnsurePresentFallsBackToTwoArgumentsOn8002) {
  // A 2005 slave: 4 arguments are a Python TypeError (Fault 8002); 2 arguments
  // answer a bare bool.
  server_.set_handler([](const RecordedCall& call) {
    if (call.params.size() != 2) return wire("09-ensurepresent-2args.response.xml");
    return response_xml(xmlrpc_c::value_boolean(true));
  });
  auto slave = connect();
  EnsurePresentResult r = slave->ensure_present(kSha1A, "http://librarian/x", "", "");
  EXPECT_TRUE(r.present);
  EXPECT_EQ(r.info, "");
  r = slave->ensure_present(kSha1B, "http://librarian/y", "", "");
  EXPECT_TRUE(r.present);
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 3u);  // 4 args, 2 args, then 2 args straight away
  EXPECT_EQ(calls[0].params.size(), 4u);
  EXPECT_EQ(calls[1].params.size(), 2u);
  EXPECT_EQ(as_string(calls[1].params[1]), "http://librarian/x");
  EXPECT_EQ(calls[2].params.size(), 2u);
  EXPECT_EQ(as_string(calls[2].params[0]), kSha1B);
}

TEST_F(XmlRpcSlaveTest, EnsurePresentFaultNeverShowsCredentials) {
  server_.reply(wire("09-ensurepresent-2args.response.xml"));
  auto slave = connect();
  const xs::FaultError e = expect_fault(
      [&] { slave->ensure_present(kSha1A, "http://librarian/x", "alice", "hunter2-secret"); });
  EXPECT_EQ(e.category(), ErrorCategory::kRefused);
  EXPECT_EQ(e.fault_code(), xs::kFaultApplicationError);
  EXPECT_THAT(e.message(), Not(HasSubstr("hunter2-secret")));
  EXPECT_THAT(e.message(), Not(HasSubstr("alice")));
  EXPECT_EQ(server_.calls().size(), 2u);  // the 2-arg retry faulted too
}

TEST_F(XmlRpcSlaveTest, EnsurePresentPairWithFalse) {
  server_.reply(response_xml(
      arr({xmlrpc_c::value_boolean(false), str("Digests did not match, removing again!")})));
  const EnsurePresentResult r = connect()->ensure_present(kSha1A, "http://x/", "", "");
  EXPECT_FALSE(r.present);
  EXPECT_EQ(r.info, "Digests did not match, removing again!");
}

// ---- build ---------------------------------------------------------------

TEST_F(XmlRpcSlaveTest, BuildSendsFiveArgumentsAndReadsPair) {
  server_.reply(wire("18-build-ok.response.xml"));
  auto slave = connect();
  const BuildStartResult r =
      slave->build("10-10", "binarypackage", kSha1A, {{"foo_1.0-1.dsc", kSha1B}},
                   {{"series", std::string("ok")}, {"arch_indep", true}});
  EXPECT_EQ(r.status, BuildStartStatus::kBuilding);
  EXPECT_EQ(r.info, "10-10");
  const auto calls = server_.calls();
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_EQ(calls[0].params.size(), 5u);
  EXPECT_EQ(as_string(calls[0].params[0]), "10-10");
  EXPECT_EQ(as_string(calls[0].params[1]), "binarypackage");
  EXPECT_EQ(as_string(calls[0].params[2]), kSha1A);
  const auto files =
      static_cast<std::map<std::string, value>>(xmlrpc_c::value_struct(calls[0].params[3]));
  EXPECT_EQ(as_string(files.at("foo_1.0-1.dsc")), kSha1B);
  const auto args =
      static_cast<std::map<std::string, value>>(xmlrpc_c::value_struct(calls[0].params[4]));
  EXPECT_EQ(as_string(args.at("series")), "ok");
  EXPECT_TRUE(static_cast<bool>(xmlrpc_c::value_boolean(args.at("arch_indep"))));
}

TEST_F(XmlRpcSlaveTest, BuildReplyForms) {
  auto slave = connect();
  server_.reply(wire("13-build-unknownsum.response.xml"));
  BuildStartResult r = slave->build("1", "binarypackage", kSha1A, {}, {});
  EXPECT_EQ(r.status, BuildStartStatus::kUnknownSum);
  EXPECT_THAT(r.info, HasSubstr("CHROOTSUM -> 2222"));
  server_.reply(wire("12-build-unknownbuilder.response.xml"));
  r = slave->build("1", "debian", kSha1A, {}, {});
  EXPECT_EQ(r.status, BuildStartStatus::kUnknownBuilder);
  // 2005: a bare string, hyphenated error names, and (UNKNOWNSUM, sha1).
  server_.reply(response_xml(str("BuilderStatus.BUILDING")));
  r = slave->build("1", "debian", kSha1A, {}, {});
  EXPECT_EQ(r.status, BuildStartStatus::kBuilding);
  EXPECT_EQ(r.status_text, "BuilderStatus.BUILDING");
  server_.reply(response_xml(str("BuilderStatus.UNKNOWN-BUILDER")));
  EXPECT_EQ(slave->build("1", "x", kSha1A, {}, {}).status, BuildStartStatus::kUnknownBuilder);
  server_.reply(response_xml(arr({str("BuilderStatus.UNKNOWN-SUM"), str(kSha1A)})));
  r = slave->build("1", "debian", kSha1A, {}, {});
  EXPECT_EQ(r.status, BuildStartStatus::kUnknownSum);
  EXPECT_EQ(r.info, kSha1A);
  server_.reply(response_xml(arr({str("BuilderStatus.UNKNOWNBUILDER"), xmlrpc_c::value_nil()})));
  EXPECT_EQ(slave->build("1", "x", kSha1A, {}, {}).status, BuildStartStatus::kUnknownBuilder);
  server_.reply(response_xml(str("BuilderStatus.WHATEVER")));
  EXPECT_EQ(slave->build("1", "x", kSha1A, {}, {}).status, BuildStartStatus::kOther);
}

// ---- fetch_file ----------------------------------------------------------

TEST_F(XmlRpcSlaveTest, FetchFileVerifiesSha1) {
  const std::string deb = wire("filecache-foo_1.0-1_amd64.deb");
  server_.serve(kSha1B, deb);
  server_.serve("buildlog", wire("filecache-buildlog.txt"));
  TempDir dir;
  auto slave = connect();
  const FetchedFile f = slave->fetch_to_file(kSha1B, dir / "foo.deb", 1 << 20);
  EXPECT_EQ(f.sha1, kSha1B);
  EXPECT_EQ(f.size, deb.size());
  EXPECT_EQ(read_file(dir / "foo.deb"), deb);
  const FetchedFile log = slave->fetch_to_file("buildlog", dir / "log.txt", 1 << 20);
  EXPECT_EQ(read_file(dir / "log.txt"), wire("filecache-buildlog.txt"));
  EXPECT_EQ(log.sha1, sha1_hex(wire("filecache-buildlog.txt")));
}

TEST_F(XmlRpcSlaveTest, FetchFileBaseUrlWithoutSlashAndWithPath) {
  server_.serve(kSha1B, wire("filecache-foo_1.0-1_amd64.deb"));
  xs::XmlRpcSlaveTransport transport{xs::default_options()};
  TempDir dir;
  auto slave = transport.connect(
      builder_at("http://127.0.0.1:" + std::to_string(server_.port())));  // no trailing '/'
  EXPECT_EQ(slave->fetch_to_file(kSha1B, dir / "a", 1000).sha1, kSha1B);
  server_.reply(wire("03-status-idle.response.xml"));
  EXPECT_EQ(slave->status().state, BuilderState::kIdle);
  EXPECT_EQ(xs::join_url("http://h:1/builders/0/", "rpc"), "http://h:1/builders/0/rpc");
  EXPECT_EQ(xs::join_url("http://h:1/builders/0", "rpc"), "http://h:1/builders/0/rpc");
}

TEST_F(XmlRpcSlaveTest, FetchFileGuardsLeaveNothingOnDisk) {
  TempDir dir;
  auto slave = connect();
  // Over the cap.
  server_.serve(kSha1A, std::string(5000, 'z'));
  Error e = expect_error([&] { slave->fetch_to_file(kSha1A, dir / "big", 1000); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_THAT(e.message(), HasSubstr("builder bob"));
  EXPECT_FALSE(std::filesystem::exists(dir / "big"));
  // Wrong content for its sha1.
  e = expect_error([&] { slave->fetch_to_file(kSha1A, dir / "bad", 1 << 20); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_THAT(e.message(), HasSubstr("SHA-1"));
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  // Missing (404).
  e = expect_error([&] { slave->fetch_to_file(kSha1B, dir / "missing", 1 << 20); });
  EXPECT_EQ(e.category(), ErrorCategory::kTransport);
  EXPECT_FALSE(std::filesystem::exists(dir / "missing"));
  // Not a cache name.
  e = expect_error([&] { slave->fetch_to_file("../etc/passwd", dir / "x", 1 << 20); });
  EXPECT_EQ(e.category(), ErrorCategory::kProtocol);
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
}

// ---- concurrency and plugin -------------------------------------------------

TEST_F(XmlRpcSlaveTest, ManySlavesConcurrently) {
  server_.reply(wire("21-status-waiting-ok.response.xml"));
  xs::XmlRpcSlaveTransport transport{xs::default_options()};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto slave = transport.connect(builder_at(server_.url(), "b" + std::to_string(t)));
      for (int i = 0; i < 25; ++i) {
        try {
          if (slave->status().filemap.size() == 2) ++ok;
        } catch (const Error&) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 200);
}

// Answers every POST /rpc with an idle status and records the client port of
// each request, i.e. which TCP connection carried it.
class PortRecorder {
 public:
  PortRecorder() {
    server_.Post("/rpc", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ports_.push_back(req.remote_port);
      }
      res.set_content(wire("03-status-idle.response.xml"), "text/xml");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("PortRecorder: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!server_.is_running()) throw std::runtime_error("PortRecorder: server did not start");
  }
  ~PortRecorder() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::vector<int> ports() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ports_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<int> ports_;
};

// The handles are pooled by the transport, yet a builder's consecutive calls
// still ride one keep-alive connection, also when other builders' calls come
// in between.
TEST(XmlRpcSlaveConnections, BuilderCallsReuseOneConnection) {
  PortRecorder a;
  PortRecorder b;
  xs::XmlRpcSlaveTransport transport{xs::default_options()};
  auto slave_a = transport.connect(builder_at(a.url(), "a"));
  auto slave_b = transport.connect(builder_at(b.url(), "b"));
  slave_a->status();
  slave_b->status();
  slave_a->status();
  slave_a->status();
  slave_b->status();
  const auto ports_a = a.ports();
  ASSERT_EQ(ports_a.size(), 3u);
  EXPECT_EQ(ports_a[1], ports_a[0]);
  EXPECT_EQ(ports_a[2], ports_a[0]);
  const auto ports_b = b.ports();
  ASSERT_EQ(ports_b.size(), 2u);
  EXPECT_EQ(ports_b[1], ports_b[0]);
}

size_t open_descriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// Many builders that each made a call hold no descriptor: the handles (and the
// socket pair libcurl keeps per handle) and the connections they cache are
// bounded by the calls in flight, not by the number of Slaves.
TEST_F(XmlRpcSlaveTest, IdleSlavesHoldNoDescriptors) {
  server_.reply(wire("03-status-idle.response.xml"));
  xs::XmlRpcSlaveTransport transport{xs::default_options()};
  const size_t before = open_descriptors();
  std::vector<std::unique_ptr<Slave>> slaves;
  for (int i = 0; i < 100; ++i) {
    slaves.push_back(transport.connect(builder_at(server_.url(), "b" + std::to_string(i))));
    EXPECT_EQ(slaves.back()->status().state, BuilderState::kIdle);
  }
  // One handle: its socket pair and at most 4 cached connections, plus the
  // server's ends of those (it closes the others' ends when it reads EOF).
  constexpr size_t kBound = 2 + 4 + 4 + 4;
  size_t after = open_descriptors();
  for (int i = 0; i < 200 && after > before + kBound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = open_descriptors();
  }
  EXPECT_LE(after, before + kBound) << "before " << before << ", after " << after;
}

TEST(XmlRpcSlavePlugin, DescriptorAndConfigKeys) {
  PluginLoader loader(plugin_dir());
  const PluginInfo info = loader.inspect("xmlrpc-slave");
  EXPECT_EQ(info.name, "xmlrpc-slave");
  EXPECT_EQ(info.kind, PluginKind::kSlaveTransport);
  std::vector<std::string> keys;
  for (const auto& key : info.config_keys) keys.push_back(key.name);
  EXPECT_THAT(keys,
              ::testing::IsSupersetOf({"connect_timeout", "call_timeout", "ensurepresent_timeout",
                                       "download_timeout", "max_xml_bytes", "max_logtail_bytes",
                                       "ca_file", "client_cert", "client_key", "tls_verify"}));
}

// The keys are the one source of the defaults: the options of a config that
// sets nothing are the keys' defaults, and default_options() is the same.
TEST(XmlRpcSlaveOptions, FromConfig) {
  const xs::Options o = xs::options_from_config(plugin_config_from(
      xs::kConfigKeys, {{"call_timeout", 2.0}, {"max_logtail_bytes", std::int64_t{10}}}));
  EXPECT_EQ(o.call_timeout, 2.0);
  EXPECT_EQ(o.ensurepresent_timeout, 10.0);  // 5 x call_timeout when not given
  EXPECT_EQ(o.max_logtail_bytes, 10u);
  EXPECT_EQ(o.connect_timeout, 10.0);  // the key's default
  EXPECT_EQ(o.max_xml_bytes, 1048576u);
  EXPECT_TRUE(o.tls_verify);
  const xs::Options d = xs::default_options();
  EXPECT_EQ(d.call_timeout, 30.0);
  EXPECT_EQ(d.ensurepresent_timeout, 150.0);
  EXPECT_EQ(d.download_timeout, 600.0);
  EXPECT_EQ(d.ca_file, "");
  EXPECT_THROW(
      xs::options_from_config(plugin_config_from(xs::kConfigKeys, {{"call_timeout", 0.0}})), Error);
  EXPECT_THROW(plugin_config_from(xs::kConfigKeys, {{"call_timout", 2.0}}), Error);  // misspelt
}

}  // namespace
}  // namespace buildd::test
