#include "runtime.hpp"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

#include "buildd/logging.hpp"
#include "buildd/net.hpp"
#include "buildd/web/status_pages.hpp"
#include "version.hpp"

namespace buildd::cli {
namespace {

constexpr const char* kAnswersCollector = "builder_answers";

}  // namespace

MasterSettings master_settings_from(const PluginConfig& master) {
  using std::chrono::duration;
  using std::chrono::duration_cast;
  // Every number is checked against a sane range here, so that `config
  // check` refuses what `run` would misread (1e300 seconds, -5 workers).
  auto out_of_range = [&](const char* key, const std::string& value, const std::string& range) {
    return Error(ErrorCategory::kConfig,
                 master.origin() + ": master." + key + " is " + value + "; it must be " + range);
  };
  auto seconds_in = [&](const char* key, double low, double high) {
    const double value = master.get_seconds(key);
    if (!(value >= low && value <= high)) {
      std::ostringstream range;
      range << "between " << low << " and " << high << " seconds";
      std::ostringstream shown;
      shown << value;
      throw out_of_range(key, shown.str(), range.str());
    }
    return value;
  };
  auto int_in = [&](const char* key, std::int64_t low, std::int64_t high) {
    const std::int64_t value = master.get_int(key);
    if (value < low || value > high) {
      throw out_of_range(key, std::to_string(value),
                         "between " + std::to_string(low) + " and " + std::to_string(high));
    }
    return value;
  };
  auto seconds = [](double value) {
    return duration_cast<std::chrono::seconds>(duration<double>(value));
  };
  constexpr double kDay = 24 * 3600;
  MasterSettings s;
  s.scan_interval = duration_cast<std::chrono::milliseconds>(
      duration<double>(seconds_in("scan_interval", 0.01, 3600)));
  s.max_in_flight = static_cast<std::size_t>(int_in("max_in_flight", 1, 4096));
  s.give_back_limit = static_cast<int>(int_in("give_back_limit", 0, 1000));
  s.cancel_timeout = seconds(seconds_in("cancel_timeout", 1, kDay));
  s.transport_grace_scans = static_cast<int>(int_in("transport_grace_scans", 0, 1000));
  s.job_reset_threshold = static_cast<int>(int_in("job_reset_threshold", 1, 1000));
  s.builder_failure_threshold = static_cast<int>(int_in("builder_failure_threshold", 1, 1000));
  s.max_log_bytes = static_cast<std::uint64_t>(int_in("max_log_bytes", 1, std::int64_t{1} << 50));
  s.max_result_bytes =
      static_cast<std::uint64_t>(int_in("max_result_bytes", 1, std::int64_t{1} << 50));
  // XML-RPC's int is 32 bits: a log is read from offsets below 2 GiB.
  s.live_log_bytes = static_cast<std::uint64_t>(int_in("live_log_bytes", 0, std::int64_t{1} << 30));
  s.lease_ttl = seconds(seconds_in("lease_ttl", 3, 3600));
  s.timeouts.max_duration = seconds(seconds_in("max_build_duration", 1, 365 * kDay));
  s.timeouts.log_silence = seconds(seconds_in("log_silence_timeout", 1, 365 * kDay));
  s.master_id = master.has("id") ? master.get_string("id") : host_name();
  if (master.has("arch_release_timeouts")) {
    for (const std::string& entry : master.get_string_list("arch_release_timeouts")) {
      // DISTRIBUTION/RELEASE/ARCH:MAX_BUILD_DURATION:LOG_SILENCE_TIMEOUT
      const auto second = entry.rfind(':');
      const auto first = second == std::string::npos ? second : entry.rfind(':', second - 1);
      BuildTimeouts t;
      try {
        if (first == std::string::npos || first == 0) throw std::invalid_argument("shape");
        std::size_t used = 0;
        const std::string max_text = entry.substr(first + 1, second - first - 1);
        const std::string silence_text = entry.substr(second + 1);
        const double max = std::stod(max_text, &used);
        // The same range as max_build_duration: a larger number (1e300,
        // inf) has no std::chrono::seconds, and NaN is no number.
        if (used != max_text.size() || !(max > 0 && max <= 365 * kDay))
          throw std::invalid_argument("max");
        const double silence = std::stod(silence_text, &used);
        if (used != silence_text.size() || !(silence > 0 && silence <= 365 * kDay))
          throw std::invalid_argument("silence");
        t.max_duration = seconds(max);
        t.log_silence = seconds(silence);
      } catch (const std::exception&) {
        throw Error(
            ErrorCategory::kConfig,
            master.origin() + ": master.arch_release_timeouts: \"" + entry +
                "\" is not DISTRIBUTION/RELEASE/ARCH:MAX_BUILD_DURATION:LOG_SILENCE_TIMEOUT "
                "with two positive numbers of seconds, at most 365 days each");
      }
      s.arch_release_timeouts[entry.substr(0, first)] = t;
    }
  }
  if (master.has("job_args")) {
    for (const std::string& entry : master.get_string_list("job_args")) {
      // ARCH_RELEASE:KEY=VALUE; the value may hold any text, ':' and '=' too.
      const auto colon = entry.find(':');
      const auto equals = colon == std::string::npos ? colon : entry.find('=', colon);
      const std::string scope = entry.substr(0, colon);
      const std::string key =
          equals == std::string::npos ? std::string() : entry.substr(colon + 1, equals - colon - 1);
      const bool scope_ok = scope == "*" || (std::count(scope.begin(), scope.end(), '/') == 2 &&
                                             scope.front() != '/' && scope.back() != '/' &&
                                             scope.find("//") == std::string::npos);
      const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      });
      if (colon == std::string::npos || !scope_ok || !key_ok)
        throw Error(ErrorCategory::kConfig,
                    master.origin() + ": master.job_args: \"" + entry +
                        "\" is not ARCH_RELEASE:KEY=VALUE (ARCH_RELEASE: DISTRIBUTION/RELEASE/ARCH "
                        "or *; KEY: letters, digits, '_' and '-')");
      s.job_args[scope][key] = entry.substr(equals + 1);
    }
  }
  return s;
}

MasterRuntime::MasterRuntime(CommandContext& context, bool upgrade_schema) : context_(context) {
  const PluginConfig& master = context.config().master();
  set_log_format(master.get_string("log_format"));
  if (master.has("log_file")) log_to_file(master.get_path("log_file").string());
  BuildStore& store = context.store();
  if (upgrade_schema) store.upgrade();
  if (store.schema_version() != store.latest_schema_version())
    throw Error(ErrorCategory::kStore,
                "the database schema is at version " + std::to_string(store.schema_version()) +
                    ", this buildd-master needs " + std::to_string(store.latest_schema_version()) +
                    ": run 'buildd-master db upgrade'");
  set_build_info(Metrics::global(), kVersion);
  answers_ = std::make_shared<BuilderAnswers>(time_.now());
  http_ = std::make_unique<HttpServer>(master.get_string("http_listen"));
  http_->serve_library(context.librarian());
  add_status_routes(*http_, store, context.librarian(), Metrics::global(), time_,
                    context.scheduler());
  http_->start();
  master_ = std::make_unique<BuilddMaster>(store, context.transport(), context.librarian(), time_,
                                           master_settings_from(master));
  master_->set_builder_answers(answers_);
  master_->set_scheduler(context.scheduler());
  // Last: nothing throws after it, so the destructor always removes it.
  Metrics::global().add_collector(
      kAnswersCollector,
      [answers = answers_, &time = time_](Metrics& m) { answers->export_to(m, time.now()); });
  logger("master")->info("serving files for slaves on {}", http_->base_url());
}

MasterRuntime::~MasterRuntime() {
  try {
    master_->leave();  // the other masters take its builders over at once
  } catch (const std::exception& e) {
    logger("master")->warn("could not give the builder leases back: {}", e.what());
  }
  master_.reset();
  if (http_) http_->stop();
  Metrics::global().remove_collector(kAnswersCollector);  // it reads time_
}

CycleReport MasterRuntime::cycle() {
  return master_->run_cycle();
}

void MasterRuntime::apply_settings(const MasterSettings& settings) {
  master_ = std::make_unique<BuilddMaster>(context_.store(), context_.transport(),
                                           context_.librarian(), time_, settings);
  master_->set_builder_answers(answers_);
  master_->set_scheduler(context_.scheduler());
}

std::filesystem::path pid_file(const PluginConfig& master) {
  return master.get_path("work_dir") / "buildd-master.pid";
}

void wake_daemon(CommandContext& context) {
  try {
    std::ifstream in(pid_file(context.config().master()));
    long pid = 0;
    if (!(in >> pid) || pid <= 1) return;
    // A stale pid file may name another program now: SIGUSR1 would kill it.
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    if (std::filesystem::path(argv0).filename() == "buildd-master")
      ::kill(static_cast<pid_t>(pid), SIGUSR1);
  } catch (...) {
    // No daemon, or no config: nothing to wake.
  }
}

}  // namespace buildd::cli
