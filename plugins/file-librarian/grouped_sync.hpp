#pragma once

// GroupedSync: the archive's group commit. Every file the archive publishes
// must be on disk twice over before put() or adopt() returns: its bytes
// before the rename that names it, and the rename before the caller records
// the object. One fsync per file and one per folder made six per build (a
// log and two result files); here the callers that wait at the same time
// share one syncfs() of the archive's file system, which writes their inodes
// and folders out together.
//
// Guarantee: sync() returns once a sync_once() that began after the call
// has finished, so whatever the caller wrote before calling is durable.
// Threading: sync() may be called from many threads at once; sync_once()
// runs on one of them at a time (the leader of a group).
// Errors: sync() throws Error(kArchive, retryable) when a sync that may
// cover the call failed (a later one is tried by the next caller).

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>

namespace buildd {

class GroupedSync {
 public:
  // `sync_once` makes everything written to the file system so far durable
  // and returns 0, or an errno.
  explicit GroupedSync(std::function<int()> sync_once);

  // `what` names the file in an error message.
  void sync(const std::filesystem::path& what);

  // How many times sync_once() ran.
  std::uint64_t syncs() const;

 private:
  std::function<int()> sync_once_;
  mutable std::mutex mu_;
  std::condition_variable finished_cv_;
  // Syncs begun and ended; they run one at a time, in order, so one is
  // running while the two differ.
  std::uint64_t started_ = 0;
  std::uint64_t finished_ = 0;
  std::uint64_t last_failed_ = 0;  // the last sync that failed, and why
  int last_errno_ = 0;
};

}  // namespace buildd
