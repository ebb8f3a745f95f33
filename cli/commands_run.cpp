#include "commands_run.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "buildd/logging.hpp"
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
  // Waits until the timeout or a signal; returns false once asked to stop.
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return stop_ || reload_ || wake_; });
    wake_ = false;
    return !stop_;
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

int run_daemon(CommandContext& ctx, const po::variables_map& vm) {
  SignalWatcher signals;  // before any other thread exists
  auto log = logger("master");
  MasterRuntime runtime(ctx, vm.count("upgrade") > 0);
  MasterSettings settings = master_settings_from(ctx.config().master());
  const auto pid_path = pid_file(ctx.config().master());
  std::filesystem::create_directories(pid_path.parent_path());
  std::ofstream(pid_path) << ::getpid() << '\n';
  log->info("buildd-master running (pid {}, scan interval {} ms, config {})", ::getpid(),
            settings.scan_interval.count(), ctx.config_file().string());
  while (!signals.stopping()) {
    CycleReport report;
    try {
      report = runtime.cycle();
    } catch (const Error& e) {
      // A store outage: nothing of the cycle was written; try again later.
      log->error("cycle failed: {}", e.what());
    }
    if (signals.take_reload()) {
      try {
        Config fresh = Config::load(ctx.config_file());
        settings = master_settings_from(fresh.master());
        runtime.apply_settings(settings);
        log->info("config re-read: scan interval {} ms (plugin sections take effect on restart)",
                  settings.scan_interval.count());
      } catch (const Error& e) {
        log->error("SIGHUP: keeping the running config: {}", e.what());
      }
    }
    // Completions free builders and dispatches change the queue: go again at
    // once while there is work moving, else sleep until the tick or a wake-up.
    bool busy = report.completed_total() > 0 || report.dispatched > 0 || report.reset > 0;
    if (!busy && !signals.wait(settings.scan_interval)) break;
  }
  std::error_code ec;
  std::filesystem::remove(pid_path, ec);
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
                   "the daemon: a cycle every scan_interval; SIGTERM/SIGINT stop after the "
                   "cycle, SIGHUP re-reads the config",
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
