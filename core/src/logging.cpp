#include "buildd/logging.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "buildd/error.hpp"

namespace buildd {
namespace {

// UTC with its zone, as the pages and the API print times.
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v";
constexpr auto kPatternTime = spdlog::pattern_time_type::utc;

// One JSON object per line; nlohmann::json escapes whatever a message holds
// (slave text included), so every line parses.
class JsonLineFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char time[40];
    const std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%03dZ", static_cast<int>(ms % 1000));
    const auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::json line = {{"time", time},
                           {"level", std::string(level.data(), level.size())},
                           {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
                           {"message", std::string(msg.payload.data(), msg.payload.size())}};
    // Invalid UTF-8 from a slave is replaced, never a reason to lose the line.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

// spdlog's basic_file_sink cannot reopen its file; logrotate needs that.
class ReopenableFileSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path) { file_.open(path, false); }
  void reopen() {
    std::lock_guard lock(mutex_);
    file_.reopen(false);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    file_.write(formatted);
  }
  void flush_() override { file_.flush(); }

 private:
  spdlog::details::file_helper file_;
};

struct LogState {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  std::vector<std::shared_ptr<ReopenableFileSink>> files;
  spdlog::level::level_enum level = spdlog::level::info;
  bool json = false;
};

LogState& state() {
  static LogState* s = new LogState;  // never destroyed: loggers outlive static destructors
  return *s;
}

// Called with state().mutex held.
std::unique_ptr<spdlog::formatter> make_formatter() {
  if (state().json) return std::make_unique<JsonLineFormatter>();
  return std::make_unique<spdlog::pattern_formatter>(kPattern, kPatternTime);
}

}  // namespace

void set_log_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw Error(ErrorCategory::kUsage, "unknown log level '" + level +
                                           "' (trace, debug, info, warn, error, critical, off)");
  std::lock_guard lock(state().mutex);
  state().level = parsed;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
}

void set_stderr_log_level(const std::string& level) {
  std::lock_guard lock(state().mutex);
  state().sinks.front()->set_level(spdlog::level::from_str(level));
}

void set_log_format(const std::string& format) {
  if (format != "text" && format != "json")
    throw Error(ErrorCategory::kUsage, "unknown log format '" + format + "' (text, json)");
  std::lock_guard lock(state().mutex);
  state().json = format == "json";
  for (const auto& sink : state().sinks) sink->set_formatter(make_formatter());
  spdlog::apply_all(
      [&](const std::shared_ptr<spdlog::logger>& l) { l->set_formatter(make_formatter()); });
}

void log_to_file(const std::string& path) {
  std::shared_ptr<ReopenableFileSink> sink;
  try {
    sink = std::make_shared<ReopenableFileSink>(path);
  } catch (const spdlog::spdlog_ex& e) {
    throw Error(ErrorCategory::kConfig, "cannot open the log file " + path + ": " + e.what());
  }
  std::lock_guard lock(state().mutex);
  sink->set_formatter(make_formatter());
  state().sinks.push_back(sink);
  state().files.push_back(sink);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->sinks().push_back(sink); });
}

void reopen_log_files() {
  std::lock_guard lock(state().mutex);
  for (const auto& file : state().files) {
    try {
      file->reopen();
    } catch (const spdlog::spdlog_ex& e) {
      std::cerr << "buildd-master: cannot reopen a log file: " << e.what() << '\n';
    }
  }
}

std::shared_ptr<spdlog::logger> logger(const std::string& subsystem) {
  if (auto existing = spdlog::get(subsystem)) return existing;
  std::lock_guard lock(state().mutex);
  if (auto existing = spdlog::get(subsystem)) return existing;
  auto l = std::make_shared<spdlog::logger>(subsystem, state().sinks.begin(), state().sinks.end());
  l->set_formatter(make_formatter());
  l->set_level(state().level);
  // Every line reaches the file at once: a killed master keeps its last words.
  l->flush_on(spdlog::level::trace);
  spdlog::register_logger(l);
  return l;
}

}  // namespace buildd
