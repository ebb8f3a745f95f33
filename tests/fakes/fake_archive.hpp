#pragma once

// FakeArchive: a LogArchive in memory. `fail_puts` makes put() throw a
// retryable kArchive error (the archive is down); `broken` makes put() return
// no locator and open() no stream (a plugin's bug). Thread-safe.

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "buildd/error.hpp"
#include "buildd/log_archive.hpp"

namespace buildd::test {

class FakeArchive final : public LogArchive {
 public:
  std::string put(const ContentDigest& digest, const std::filesystem::path& source) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fail_puts) throw Error(ErrorCategory::kArchive, "archive is down", true);
    if (broken) return "";
    std::ifstream in(source, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    objects[digest.sha256] = bytes.str();
    return digest.sha256;
  }
  bool contains(const std::string& locator) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return objects.count(locator) != 0;
  }
  std::unique_ptr<std::istream> open(const std::string& locator) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (broken) return nullptr;
    auto it = objects.find(locator);
    if (it == objects.end()) throw Error(ErrorCategory::kArchive, "no object " + locator);
    return std::make_unique<std::istringstream>(it->second);
  }
  std::optional<std::string> public_url(const std::string& locator) override {
    return "http://archive.test/" + locator;
  }

  bool fail_puts = false;
  bool broken = false;
  std::map<std::string, std::string> objects;

 private:
  std::mutex mutex_;
};

}  // namespace buildd::test
