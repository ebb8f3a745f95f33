#include "commands_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "buildd/logging.hpp"
#include "buildd/pipeline/poller.hpp"
#include "runtime.hpp"

namespace buildd::cli {
namespace {

nlohmann::json report_json(const CycleReport& r) {
  nlohmann::json completed = nlohmann::json::object();
  for (const auto& [state, count] : r.completed) completed[std::string(name(state))] = count;
  return {{"scanned", r.scanned},
          {"completed", completed},
          {"dispatched", r.dispatched},
          {"reset", r.reset},
          {"failed_builders", r.failed_builders},
          {"deferred", r.deferred},
          {"duration_seconds", std::chrono::duration<double>(r.duration).count()}};
}

int scan_once(CommandContext& ctx, const po::variables_map& vm) {
  MasterRuntime runtime(ctx);
  CycleReport report = runtime.cycle();
  if (output_format(vm) == OutputFormat::kJson)
    ctx.out << report_json(report).dump(2) << '\n';
  else
    ctx.out << report.summary() << '\n';
  return 0;
}

// Signals reach one thread (sigwait), which turns them into flags and wakes
// the cycle loop; every other thread has them blocked.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        std::lock_guard lock(mutex_);
        if (sig == SIGTERM || sig == SIGINT) stop_ = true;
        if (sig == SIGHUP) reload_ = true;
        if (sig == SIGUSR1) wake_ = true;
        cv_.notify_all();
        if (stop_) return;
      }
    });
  }
  ~SignalWatcher() {
    {
      std::lock_guard lock(mutex_);
      if (!stop_) ::kill(::getpid(), SIGTERM);  // ends the sigwait thread
    }
    thread_.join();
  }
  // Waits for a signal; returns false once asked to stop.
  bool wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return stop_ || reload_ || wake_; });
    return !stop_;
  }
  bool take_wake() {
    std::lock_guard lock(mutex_);
    return std::exchange(wake_, false);
  }
  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }
  bool take_reload() {
    std::lock_guard lock(mutex_);
    return std::exchange(reload_, false);
  }

 private:
  sigset_t set_{};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false, reload_ = false, wake_ = false;
};

// The daemon's pid file, locked (flock) for the daemon's whole life: a
// second daemon of the same work_dir refuses to start, and only the process
// holding the lock writes or removes the file.
class PidFile {
 public:
  explicit PidFile(std::filesystem::path path) : path_(std::move(path)) {
    std::filesystem::create_directories(path_.parent_path());
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw Error(ErrorCategory::kConfig,
                  "cannot open the pid file " + path_.string() + ": " + std::strerror(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      std::ifstream in(path_);
      long pid = 0;
      in >> pid;
      ::close(fd_);
      throw Error(ErrorCategory::kConflict,
                  "another buildd-master (pid " + std::to_string(pid) +
                      ") is running with this work_dir: " + path_.string() + " is locked");
    }
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::write(fd_, text.data(), text.size()) < 0) {
      logger("master")->warn("cannot write the pid file {}: {}", path_.string(),
                             std::strerror(errno));
    }
  }
  ~PidFile() {
    ::unlink(path_.c_str());
    ::close(fd_);  // releases the lock
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

int run_daemon(CommandContext& ctx, const po::variables_map& vm) {
  SignalWatcher signals;  // before any other thread exists
  auto log = logger("master");
  PidFile pid(pid_file(ctx.config().master()));
  MasterRuntime runtime(ctx, vm.count("upgrade") > 0);
  MasterSettings settings = master_settings_from(ctx.config().master());
  // Refuses to start (exit 2) when another live master has this id.
  runtime.master().renew_leases();
  log->info("buildd-master running (id {}, pid {}, scan interval {} ms, config {})",
            settings.master_id, ::getpid(), settings.scan_interval.count(),
            ctx.config_file().string());
  // Each builder on its own timer; this thread only turns signals into
  // wake-ups, reloads and the stop.
  auto poller = std::make_unique<BuilderPoller>(runtime.master());
  poller->start();
  while (signals.wait()) {
    if (signals.take_reload()) {
      // logrotate has moved the files away: write to new ones by the same name.
      reopen_log_files();
      try {
        Config fresh = Config::load(ctx.config_file());
        settings = master_settings_from(fresh.master());
        set_log_format(fresh.master().get_string("log_format"));
        poller->stop();
        runtime.apply_settings(settings);
        poller = std::make_unique<BuilderPoller>(runtime.master());
        poller->start();
        log->info("config re-read: scan interval {} ms (plugin sections take effect on restart)",
                  settings.scan_interval.count());
      } catch (const Error& e) {
        log->error("SIGHUP: keeping the running config: {}", e.what());
      }
    }
    if (signals.take_wake()) poller->wake();
  }
  poller->stop();
  log->info("buildd-master stopped");
  return 0;
}

}  // namespace

void add_run_commands(std::vector<Command>& table) {
  table.push_back({{"scan-once"},
                   "[--format json]",
                   "run one full cycle: scan busy builders, collect results, dispatch",
                   [](po::options_description& o, po::positional_options_description&) {
                     add_format_option(o);
                   },
                   scan_once});
  table.push_back({{"run"},
                   "[--upgrade]",
                   "the daemon: polls each builder every scan_interval on its own timer; "
                   "SIGTERM/SIGINT stop it once the polls under way end, SIGHUP reopens the log "
                   "file and re-reads the config, SIGUSR1 (sent by build add) dispatches at once",
                   [](po::options_description& o, po::positional_options_description&) {
                     o.add_options()("upgrade", "apply missing database migrations first");
                   },
                   run_daemon});
  table.push_back({{"demo"},
                   "[--builders N] [--builds N] [--work-dir DIR] [--serve-seconds N]",
                   "a whole farm on this machine (SQLite, local librarian, local slaves) draining "
                   "a queue of a few hundred builds",
                   declare_demo_options,
                   run_demo});
}

}  // namespace buildd::cli
