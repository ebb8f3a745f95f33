#include "grouped_sync.hpp"

#include <cstring>

#include "buildd/error.hpp"

namespace buildd {

GroupedSync::GroupedSync(std::function<int()> sync_once) : sync_once_(std::move(sync_once)) {}

void GroupedSync::sync(const std::filesystem::path& what) {
  std::unique_lock lock(mu_);
  // A sync running now may have begun before the caller's writes: the one
  // after it is the first that surely covers them.
  const std::uint64_t needed = started_ + 1;
  while (finished_ < needed) {
    if (started_ != finished_) {  // one is running
      finished_cv_.wait(lock);
      continue;
    }
    const std::uint64_t generation = ++started_;
    lock.unlock();
    const int err = sync_once_();
    lock.lock();
    finished_ = generation;
    if (err != 0) {
      last_failed_ = generation;
      last_errno_ = err;
    }
    finished_cv_.notify_all();
  }
  // Any failure since the needed sync may be the one that lost the caller's
  // writes (the kernel reports a write-back error once).
  if (last_failed_ >= needed)
    throw Error(ErrorCategory::kArchive,
                "file-librarian: cannot sync " + what.string() + ": " + std::strerror(last_errno_),
                true);
}

std::uint64_t GroupedSync::syncs() const {
  std::lock_guard lock(mu_);
  return finished_;
}

}  // namespace buildd
