#pragma once

// --journal FILE: one line per build that reaches WAITING, so that a crash
// test can count how often a build was really built, across slave restarts
// and across several slave processes sharing the file:
//
//   <unix time, seconds with milliseconds> <builder index> <build id> <result>
//   1764500000.123 3 42-17 BuildStatus.OK
//
// Threading: record() may be called from any thread. Each line goes out in
// one write() on an O_APPEND descriptor, so lines of concurrent writers,
// even of other processes, never interleave; it is fsync'd before record()
// returns, so a line survives the slave being killed right after.
// Errors: the constructor throws std::runtime_error when the file cannot be
// opened; record() only logs a failed write (a build must not fail for it).

#include <filesystem>
#include <mutex>
#include <string>

namespace buildd::slave {

class Journal {
 public:
  explicit Journal(const std::filesystem::path& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // `result` is the wire name, e.g. "BuildStatus.OK".
  void record(int builder, const std::string& build_id, const std::string& result);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex mu_;
};

}  // namespace buildd::slave
