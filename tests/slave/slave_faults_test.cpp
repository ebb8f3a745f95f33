// buildd-slave --fault: each injected misbehaviour is observable by a client.

#include <gtest/gtest.h>

#include <xmlrpc-c/base.h>

#include <chrono>

#include "slave_test_util.hpp"
#include "support/slave_process.hpp"

namespace buildd::test {
namespace {

using Clock = std::chrono::steady_clock;

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

}  // namespace
}  // namespace buildd::test
