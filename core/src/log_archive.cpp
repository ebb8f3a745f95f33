#include "buildd/log_archive.hpp"

#include "buildd/error.hpp"

namespace buildd {
namespace {
constexpr const char* kLocatorPrefix = "sha256/";
}  // namespace

std::optional<std::filesystem::path> LogArchive::staging_dir() {
  return std::nullopt;
}

std::string LogArchive::adopt(const ContentDigest& digest, const std::filesystem::path& source) {
  return put(digest, source);
}

bool is_sha256_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string sha256_locator(const std::string& sha256_hex) {
  if (!is_sha256_hex(sha256_hex))
    throw Error(ErrorCategory::kArchive, "not a SHA-256 digest: '" + sha256_hex + "'");
  return kLocatorPrefix + sha256_hex;
}

std::string sha256_from_locator(const std::string& locator) {
  const std::string prefix = kLocatorPrefix;
  if (locator.rfind(prefix, 0) != 0 || !is_sha256_hex(locator.substr(prefix.size())))
    throw Error(ErrorCategory::kArchive, "not a librarian locator: '" + locator + "'");
  return locator.substr(prefix.size());
}

}  // namespace buildd
