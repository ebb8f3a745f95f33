#include "buildd/pipeline/commit_batcher.hpp"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "buildd/error.hpp"

namespace buildd {

struct CommitBatcher::Batch {
  std::vector<CycleChanges> members;
  bool done = false;
  std::vector<CommitResult> results;  // one per member
  std::exception_ptr error;
};

CommitBatcher::CommitBatcher(BuildStore& store) : store_(store) {}

CommitResult CommitBatcher::commit(CycleChanges changes) {
  if (changes.empty()) return {};
  std::unique_lock lock(mutex_);
  if (!open_) open_ = std::make_shared<Batch>();
  const std::shared_ptr<Batch> batch = open_;
  const std::size_t member = batch->members.size();
  batch->members.push_back(std::move(changes));
  while (!batch->done) {
    if (!committing_ && open_ == batch) {
      // This thread commits the batch; later arrivals start the next one.
      committing_ = true;
      open_.reset();
      lock.unlock();
      try {
        std::vector<const CycleChanges*> all;
        for (const auto& m : batch->members) all.push_back(&m);
        batch->results = store_.commit_all(all);
        if (batch->results.size() != all.size())
          throw Error(ErrorCategory::kPlugin,
                      "the store's commit_all() returned " + std::to_string(batch->results.size()) +
                          " results for " + std::to_string(all.size()) + " members");
      } catch (...) {
        batch->error = std::current_exception();
      }
      lock.lock();
      committing_ = false;
      ++transactions_;
      batch->done = true;
      done_.notify_all();
    } else {
      done_.wait(lock);
    }
  }
  if (batch->error) std::rethrow_exception(batch->error);
  return batch->results[member];
}

std::size_t CommitBatcher::transactions() const {
  std::lock_guard lock(mutex_);
  return transactions_;
}

}  // namespace buildd
