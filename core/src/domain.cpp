#include "buildd/domain.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>

#include "buildd/clock.hpp"
#include "buildd/error.hpp"

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

namespace {

// The offending text as a message can show it: cut, control characters escaped.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 60) out += "…";
  return out + "'";
}

[[noreturn]] void refuse(std::string_view what, std::string_view text, const std::string& rule) {
  throw Error(ErrorCategory::kUsage,
              std::string(what) + " " + quoted(text) + " is not allowed: " + rule);
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool only(std::string_view text, std::string_view extra) {
  for (char c : text)
    if (!is_alnum(c) && extra.find(c) == std::string_view::npos) return false;
  return true;
}

}  // namespace

void check_source_name(std::string_view name) {
  const std::string rule =
      "a source name is 2 to 200 characters of lowercase letters, digits, '+', '-' and '.', "
      "starting with a letter or a digit (Debian Policy 5.6.1)";
  if (name.size() < 2 || name.size() > 200 || !is_lower_alnum(name[0]))
    refuse("source name", name, rule);
  for (char c : name)
    if (!is_lower_alnum(c) && c != '+' && c != '-' && c != '.') refuse("source name", name, rule);
}

void check_source_version(std::string_view version) {
  const std::string rule =
      "a version is [epoch:]upstream_version[-debian_revision], at most 200 characters: the "
      "epoch digits, the upstream version starting with a digit and made of letters, digits, "
      "'.', '+', '~' (and '-' when there is a revision), the revision of letters, digits, '.', "
      "'+' and '~' (Debian Policy 5.6.12)";
  if (version.empty() || version.size() > 200) refuse("version", version, rule);
  std::string_view rest = version;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    const std::string_view epoch = rest.substr(0, colon);
    if (epoch.empty() || epoch.find_first_not_of("0123456789") != std::string_view::npos)
      refuse("version", version, rule);
    rest = rest.substr(colon + 1);
  }
  std::string_view upstream = rest;
  if (auto dash = rest.rfind('-'); dash != std::string_view::npos) {
    const std::string_view revision = rest.substr(dash + 1);
    if (revision.empty() || !only(revision, ".+~")) refuse("version", version, rule);
    upstream = rest.substr(0, dash);
  }
  if (upstream.empty() || !std::isdigit(static_cast<unsigned char>(upstream[0])) ||
      !only(upstream, upstream.size() == rest.size() ? ".+~" : ".+~-"))
    refuse("version", version, rule);
}

void check_object_name(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 64 || !is_alnum(name[0]) || !only(name, "._+-"))
    refuse(what, name,
           "a name is 1 to 64 characters of letters, digits, '.', '_', '+' and '-', starting "
           "with a letter or a digit");
}

void check_free_text(std::string_view what, std::string_view text) {
  bool ok = !text.empty() && text.size() <= 1000;
  for (unsigned char c : text) ok = ok && (c == '\t' || (c >= 0x20 && c != 0x7f));
  if (!ok) refuse(what, text, "1 to 1,000 characters, no control characters but tab");
}

}  // namespace buildd
