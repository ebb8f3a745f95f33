// The daemon's signals and the demo, as an operator meets them.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <functional>
#include <thread>

#include "e2e/farm.hpp"

namespace buildd::test {
namespace {

using namespace std::chrono_literals;

// Processes whose command line mentions `text` (the demo's slaves carry its
// work folder in their arguments).
int processes_mentioning(const std::string& text) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(text) != std::string::npos &&
        cmdline.find("buildd-slave") != std::string::npos)
      ++count;
  }
  return count;
}

TEST(Daemon, SighupRereadsTheConfigAndSigtermExitsZero) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  farm.start_daemon();
  ASSERT_TRUE(eventually(
      [&] { return farm.daemon_log().find("buildd-master running") != std::string::npos; }, 20s))
      << farm.daemon_log();
  std::string config = read_file(farm.config());
  const auto at = config.find("scan_interval: 0.2");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, std::string("scan_interval: 0.2").size(), "scan_interval: 0.35");
  write_file(farm.config(), config);
  farm.signal_daemon(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] {
        return farm.daemon_log().find("config re-read: scan interval 350 ms") != std::string::npos;
      },
      20s))
      << farm.daemon_log();
  // A broken config on SIGHUP keeps the running one.
  write_file(farm.config(), "master:\n  scan_interval: soon\n");
  farm.signal_daemon(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] {
        return farm.daemon_log().find("SIGHUP: keeping the running config") != std::string::npos;
      },
      20s))
      << farm.daemon_log();
  EXPECT_EQ(farm.stop_daemon(), 0) << farm.daemon_log();
  EXPECT_NE(farm.daemon_log().find("buildd-master stopped"), std::string::npos);
}

TEST(Demo, DrainsAMixedQueueAndStopsItsSlaves) {
  TempDir dir;
  const auto work = dir / "demo";
  CommandResult r = run_command(executable("buildd-master"), {"demo", "--builders", "3", "--builds",
                                                              "30", "--work-dir", work.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* text : {"Queue drained", "Fully built", "Cancelled build", "Failed to build",
                           "FAILED: Builder returned BUILDERFAIL", "builds/s", "status pages at"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  // Not a TTY: plain progress lines, no cursor control.
  EXPECT_EQ(r.out.find("\033[K"), std::string::npos);
  EXPECT_EQ(processes_mentioning(work.string()), 0);
}

TEST(Demo, DrainsWithOneBuilderPerFamily) {
  TempDir dir;
  CommandResult r = run_command(
      executable("buildd-master"),
      {"demo", "--builders", "2", "--builds", "12", "--work-dir", (dir / "demo").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Queue drained"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("BUILDERFAIL"), std::string::npos) << "no builder broken when alone";
}

TEST(Daemon, ASecondDaemonOfTheSameWorkDirRefusesToStart) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  farm.start_daemon();
  const auto pid_path = farm.dir() / "work" / "buildd-master.pid";
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(pid_path); }, 30s))
      << farm.daemon_log();
  const std::string first_pid = read_file(pid_path);
  CommandResult second = farm.cli({"run"});
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(
      second.err.find("another buildd-master (pid " + first_pid.substr(0, first_pid.find('\n')) +
                      ") is running with this work_dir"),
      std::string::npos)
      << second.err;
  // The pid file still belongs to the first daemon, which still stops cleanly.
  EXPECT_EQ(read_file(pid_path), first_pid);
  EXPECT_EQ(farm.stop_daemon(), 0) << farm.daemon_log();
  EXPECT_FALSE(std::filesystem::exists(pid_path));
}

TEST(Demo, CtrlCStopsTheSlavesItStarted) {
  TempDir dir;
  const auto work = dir / "demo";
  ChildProcess demo(executable("buildd-master"),
                    {"demo", "--builders", "2", "--builds", "400", "--work-dir", work.string()},
                    dir / "demo.out");
  ASSERT_TRUE(eventually(
      [&] {
        std::error_code ec;
        return std::filesystem::exists(dir / "demo.out", ec) &&
               read_file(dir / "demo.out").find("builders busy") != std::string::npos;
      },
      60s))
      << read_file(dir / "demo.out");
  EXPECT_EQ(processes_mentioning(work.string()), 2);
  demo.signal(SIGINT);
  EXPECT_EQ(demo.wait(), 130) << read_file(dir / "demo.out");
  EXPECT_NE(read_file(dir / "demo.out").find("Interrupted"), std::string::npos);
  EXPECT_EQ(processes_mentioning(work.string()), 0);
}

}  // namespace
}  // namespace buildd::test
