// buildd-slave --protocol 2005: the v1.0 tuple protocol a late-2005 master
// speaks (protocol.md §5).

#include <gtest/gtest.h>

#include "slave_test_util.hpp"
#include "support/slave_process.hpp"

namespace buildd::test {
namespace {

class Slave2005Test : public ::testing::Test {
 protected:
  SlaveProcess slave_{{"--protocol", "2005", "--abort-delay", "0.1"}};
  std::string url_ = slave_.rpc_url();
  FileServer files_{{{"chroot.tar.gz", chroot_bytes()},
                     {"ok.dsc", dsc("ok", 0.3)},
                     {"chroot.dsc", dsc("chrootfail", 0.1)},
                     {"slow.dsc", dsc("ok", 30)}}};
  std::string chroot_ = sha1_hex(chroot_bytes());

  void put(const std::string& sha1, const std::string& name) {
    RpcResult r = rpc(url_, "ensurepresent", params({s(sha1), s(files_.url(name))}));
    ASSERT_TRUE(r.ok) << r.fault_string;
    ASSERT_TRUE(boolean(r.value));  // a bare bool in 2005
  }
  RpcResult build(const std::string& id, const std::string& dsc_name, const std::string& dsc_sha1) {
    return rpc(url_, "build",
               params({s(id), s("debian"), s(chroot_), string_struct({{dsc_name, dsc_sha1}}),
                       string_struct({{"ogrecomponent", "main"}})}));
  }
};

TEST_F(Slave2005Test, InfoStatusAndEnsurePresentShapes) {
  auto info = arr(rpc(url_, "info").value);
  EXPECT_EQ(str(info[0]), "1.0");
  ASSERT_EQ(arr(info[2]).size(), 1u);
  EXPECT_EQ(str(arr(info[2])[0]), "debian");

  auto idle = arr(rpc(url_, "status").value);
  ASSERT_EQ(idle.size(), 2u);
  EXPECT_EQ(str(idle[0]), "BuilderStatus.IDLE");
  EXPECT_EQ(str(idle[1]), "");

  RpcResult four = rpc(url_, "ensurepresent", params({s(chroot_), nil(), nil(), nil()}));
  EXPECT_EQ(four.fault_code, 8002);
  RpcResult absent = rpc(url_, "ensurepresent", params({s(chroot_), nil()}));
  ASSERT_TRUE(absent.ok);
  EXPECT_FALSE(boolean(absent.value));

  RpcResult unknown_sum = build("1-1", "ok.dsc", sha1_hex(dsc("ok", 0.3)));
  ASSERT_TRUE(unknown_sum.ok);
  EXPECT_EQ(str(arr(unknown_sum.value)[0]), "BuilderStatus.UNKNOWNSUM");
  EXPECT_EQ(str(arr(unknown_sum.value)[1]), chroot_);
}

TEST_F(Slave2005Test, OkBuildAsTuples) {
  const std::string dsc_sha1 = sha1_hex(dsc("ok", 0.3));
  put(chroot_, "chroot.tar.gz");
  put(dsc_sha1, "ok.dsc");
  RpcResult started = build("1-1", "ok.dsc", dsc_sha1);
  ASSERT_TRUE(started.ok) << started.fault_string;
  EXPECT_EQ(str(started.value), "BuilderStatus.BUILDING");

  auto building = arr(rpc(url_, "status").value);
  ASSERT_EQ(building.size(), 3u);
  EXPECT_EQ(str(building[0]), "BuilderStatus.BUILDING");
  EXPECT_EQ(str(building[1]), "1-1");
  EXPECT_EQ(building[2].type(), xmlrpc_c::value::TYPE_BYTESTRING);

  auto waiting = arr(wait_for_state(url_, "BuilderStatus.WAITING"));
  ASSERT_EQ(waiting.size(), 5u);
  EXPECT_EQ(str(waiting[1]), "BuildStatus.OK");
  EXPECT_EQ(str(waiting[2]), "1-1");
  EXPECT_EQ(string_map(waiting[3]).size(), 2u);
  EXPECT_EQ(str(waiting[4]), "");
  EXPECT_EQ(str(rpc(url_, "clean").value), "BuilderStatus.IDLE");
}

TEST_F(Slave2005Test, FailureIsAThreeTuple) {
  const std::string dsc_sha1 = sha1_hex(dsc("chrootfail", 0.1));
  put(chroot_, "chroot.tar.gz");
  put(dsc_sha1, "chroot.dsc");
  ASSERT_TRUE(build("2-2", "chroot.dsc", dsc_sha1).ok);
  auto waiting = arr(wait_for_state(url_, "BuilderStatus.WAITING"));
  ASSERT_EQ(waiting.size(), 3u);
  EXPECT_EQ(str(waiting[1]), "BuildStatus.CHROOTFAIL");
  EXPECT_EQ(str(waiting[2]), "2-2");
}

TEST_F(Slave2005Test, AbortEndsInAbortedThenClean) {
  const std::string dsc_sha1 = sha1_hex(dsc("ok", 30));
  put(chroot_, "chroot.tar.gz");
  put(dsc_sha1, "slow.dsc");
  ASSERT_TRUE(build("3-3", "slow.dsc", dsc_sha1).ok);
  EXPECT_EQ(str(rpc(url_, "abort").value), "BuilderStatus.ABORTING");
  auto aborted = arr(wait_for_state(url_, "BuilderStatus.ABORTED"));
  ASSERT_EQ(aborted.size(), 2u);
  EXPECT_EQ(str(aborted[1]), "3-3");
  EXPECT_EQ(str(rpc(url_, "clean").value), "BuilderStatus.IDLE");
}

TEST(Slave2005StartState, AbortedAndWaitingLikeTheSeedMocks) {
  SlaveProcess aborted({"--protocol", "2005", "--start-state", "aborted"});
  auto status = arr(rpc(aborted.rpc_url(), "status").value);
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(str(status[0]), "BuilderStatus.ABORTED");
  EXPECT_EQ(str(status[1]), "1-1");
  EXPECT_EQ(str(rpc(aborted.rpc_url(), "clean").value), "BuilderStatus.IDLE");

  SlaveProcess aborting({"--protocol", "2005", "--start-state", "aborting"});
  auto aborting_status = arr(rpc(aborting.rpc_url(), "status").value);
  EXPECT_EQ(str(aborting_status[0]), "BuilderStatus.ABORTING");

  SlaveProcess depfail({"--protocol", "2005", "--start-state", "waiting:DEPFAIL"});
  auto waiting = arr(rpc(depfail.rpc_url(), "status").value);
  ASSERT_EQ(waiting.size(), 5u);
  EXPECT_EQ(str(waiting[1]), "BuildStatus.DEPFAIL");
  EXPECT_EQ(str(waiting[4]), "libfoo-dev (>= 1.2)");

  EXPECT_THROW(SlaveProcess({"--start-state", "aborted"}), std::runtime_error);
}

}  // namespace
}  // namespace buildd::test
