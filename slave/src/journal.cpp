#include "journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "buildd/logging.hpp"

namespace buildd::slave {

Journal::Journal(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw std::runtime_error("cannot open --journal " + path.string() + ": " +
                             std::strerror(errno));
  }
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::record(int builder, const std::string& build_id, const std::string& result) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  const std::string line =
      std::string(stamp) + " " + std::to_string(builder) + " " + build_id + " " + result + "\n";
  std::lock_guard lock(mu_);
  ssize_t written = ::write(fd_, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size()) || ::fsync(fd_) != 0) {
    buildd::logger("slave")->error("cannot write --journal {}: {}", path_.string(),
                                   std::strerror(errno));
  }
}

}  // namespace buildd::slave
