#pragma once

// Group commit: the changes of builders polled at the same time go to the
// store in one transaction (BuildStore::commit_all). Each poll commits what it saw before it cleans
// the slave (collect, commit, then clean); on its own, that is one
// transaction, and one fsync of the database, per builder per poll, and the
// store's single writer (SQLite) serialises them. Here a poll hands its
// changes in and waits: the first to arrive while no commit runs commits them
// together with those that arrived meanwhile, and every member gets the
// batch's result. A change is durable when commit() returns, as before.
//
// Threading: commit() may be called from many threads at once; one store
// commit runs at a time.
// Errors: what BuildStore::commit_all throws reaches every member of the
// batch (with a store that commits a batch in one transaction, none of their
// changes was applied). Each member gets its own CommitResult: whether its
// own changes were stale.

#include <condition_variable>
#include <memory>
#include <mutex>

#include "buildd/build_store.hpp"
#include "buildd/export.hpp"

namespace buildd {

class BUILDD_API CommitBatcher {
 public:
  explicit CommitBatcher(BuildStore& store);

  CommitResult commit(CycleChanges changes);

  // Store transactions run so far (for tests and the benchmark).
  std::size_t transactions() const;

 private:
  struct Batch;
  BuildStore& store_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::shared_ptr<Batch> open_;  // collecting, not yet committing
  bool committing_ = false;
  std::size_t transactions_ = 0;
};

}  // namespace buildd
