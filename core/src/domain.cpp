#include "buildd/domain.hpp"

#include <ctime>
#include <string>

#include "buildd/clock.hpp"

namespace buildd {

std::string DistroArchRelease::display_name() const {
  return distribution + "/" + release + "/" + arch_tag;
}

std::string build_cookie(Id build_id, Id queue_id, int attempt) {
  std::string cookie = std::to_string(build_id) + "-" + std::to_string(queue_id);
  if (attempt > 1) cookie += "-" + std::to_string(attempt);
  return cookie;
}

std::string iso_utc(TimePoint t) {
  const std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_safe_result_filename(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name == "." || name.find("..") != std::string_view::npos) return false;
  for (unsigned char c : name) {
    if (c == '/' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace buildd
