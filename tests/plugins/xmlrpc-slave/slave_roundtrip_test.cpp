// One full build through the transport against the project's own slave
// program (bin/buildd-slave) over real sockets, in both protocol generations.
// The chroot and the .dsc are served to the slave by an in-test HTTP server.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "fake_slave.hpp"
#include "support/test_support.hpp"
#include "xmlrpc_slave.hpp"

extern char** environ;

namespace buildd::test {
namespace {

namespace xs = buildd::xmlrpc_slave;
using xs::BuildArgs;
using xs::BuildStartResult;
using xs::BuildStartStatus;
using xs::EnsurePresentResult;
using xs::SlaveInfo;

// bin/buildd-slave on a free port; SIGTERM at the end.
class SlaveProcess {
 public:
  explicit SlaveProcess(const std::string& protocol) {
    const auto program = executable("buildd-slave");
    if (!std::filesystem::exists(program)) {
      throw std::runtime_error("missing " + program.string());
    }
    const auto port_file = dir_ / "port";
    std::vector<std::string> args{program.string(), "--listen",   "127.0.0.1:0",
                                  "--port-file",    port_file,    "--cache-dir",
                                  dir_ / "cache",   "--protocol", protocol};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start buildd-slave");
    }
    for (int i = 0; i < 500; ++i) {
      if (std::filesystem::exists(port_file) && !read_file(port_file).empty()) {
        port_ = std::stoi(read_file(port_file));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("buildd-slave did not write its port file");
  }
  ~SlaveProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

void run_full_build(const std::string& protocol) {
  SlaveProcess process(protocol);
  FakeSlave librarian;  // serves the inputs under /filecache/<sha1>
  const std::string chroot = "not really a tarball\n";
  const std::string dsc = "Source: foo\nVersion: 1.0-1\nOutcome: ok\nDuration: 0.8\nBinary: foo\n";
  const std::string chroot_sha1 = sha1_hex(chroot);
  const std::string dsc_sha1 = sha1_hex(dsc);
  librarian.serve(chroot_sha1, chroot);
  librarian.serve(dsc_sha1, dsc);

  xs::Options options = xs::default_options();
  options.call_timeout = 5;
  xs::XmlRpcSlaveTransport transport(options);
  Builder builder;
  builder.name = "double";
  builder.url = process.url();
  auto slave = transport.connect_launchpad(builder);

  EXPECT_EQ(slave->echo({"Test"}), std::vector<std::string>{"Test"});
  const SlaveInfo info = slave->info();
  EXPECT_EQ(info.protocol_version, "1.0");
  const bool modern = std::find(info.builder_types.begin(), info.builder_types.end(),
                                "binarypackage") != info.builder_types.end();
  EXPECT_EQ(modern, protocol == "modern");

  SlaveStatus s = slave->status();
  EXPECT_EQ(s.state, BuilderState::kIdle);
  EXPECT_EQ(s.legacy_array, protocol == "2005");

  EXPECT_FALSE(slave->ensure_present(chroot_sha1, std::nullopt, "", "").present);
  EXPECT_TRUE(
      slave->ensure_present(chroot_sha1, librarian.url() + "filecache/" + chroot_sha1, "", "")
          .present);
  EXPECT_TRUE(
      slave->ensure_present(dsc_sha1, librarian.url() + "filecache/" + dsc_sha1, "", "").present);

  const BuildStartResult started = slave->build("1-1", modern ? "binarypackage" : "debian",
                                                chroot_sha1, {{"foo_1.0-1.dsc", dsc_sha1}},
                                                {{"series", std::string("bookworm")},
                                                 {"suite", std::string("bookworm")},
                                                 {"ogrecomponent", std::string("main")},
                                                 {"arch_indep", true}});
  ASSERT_EQ(started.status, BuildStartStatus::kBuilding) << started.status_text << started.info;

  std::vector<std::size_t> tail_sizes;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    s = slave->status();
    EXPECT_EQ(s.legacy_array, protocol == "2005");
    if (s.state != BuilderState::kBuilding) break;
    EXPECT_EQ(s.build_id, "1-1");
    tail_sizes.push_back(s.logtail.size());
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "still BUILDING";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(tail_sizes.empty()) << "never saw BUILDING";
  EXPECT_GT(tail_sizes.back(), 0u);
  EXPECT_GT(tail_sizes.back(), tail_sizes.front()) << "the tail did not grow";

  ASSERT_EQ(s.state, BuilderState::kWaiting) << s.state_text;
  EXPECT_EQ(s.result, BuildResult::kOk) << s.result_text;
  EXPECT_EQ(s.build_id, "1-1");
  ASSERT_FALSE(s.filemap.empty());
  TempDir out;
  for (const auto& [name, sha1] : s.filemap) {
    const FetchedFile f = slave->fetch_to_file(sha1, out / name, 1 << 20);
    EXPECT_EQ(f.sha1, sha1);
    EXPECT_EQ(digest_file(out / name).sha1, sha1);
  }
  EXPECT_TRUE(s.filemap.count("foo_1.0-1_amd64.changes")) << s.filemap.size();
  const FetchedFile log = slave->fetch_to_file("buildlog", out / "buildlog", 1 << 20);
  EXPECT_GT(log.size, 0u);

  EXPECT_EQ(slave->clean(), "BuilderStatus.IDLE");
  EXPECT_EQ(slave->status().state, BuilderState::kIdle);
  // After clean the log is gone: a 404 is a transport error, nothing left on disk.
  try {
    slave->fetch_to_file("buildlog", out / "gone", 1 << 20);
    ADD_FAILURE() << "buildlog still served after clean";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kTransport);
  }
  EXPECT_FALSE(std::filesystem::exists(out / "gone"));
}

TEST(SlaveRoundTrip, ModernProtocol) {
  run_full_build("modern");
}
TEST(SlaveRoundTrip, Protocol2005) {
  run_full_build("2005");
}

}  // namespace
}  // namespace buildd::test
