#pragma once

// BuilderGroup: the builders of one processor family and the scan of their
// jobs (the seed's BuilderGroup: firstAvailable, countAvailable, updateBuild).
//
// A QueueItem is the in-memory queue entry with its build, named as the seed
// reads them (item.build.state — the seed's buildstate —, item.builder,
// item.logtail…). update_build() changes the item in place AND records the
// same changes in item.changes (buildd::CycleChanges) for the store; nothing
// is written to the store here, the caller commits the changes and then, when
// item.clean_after_commit says so, cleans the slave (clean_after_commit()).
//
// Threading: a BuilderGroup is used by one thread, except update_build(),
// which may run concurrently for items whose builders differ (each builder's
// Slave is used by one thread at a time). available_builders() asks its
// builders concurrently on worker threads of its own, one thread per builder.
// Errors: update_build() never throws for slave, archive or store trouble: a
// retryable one leaves the item untouched (item.deferred, the next poll
// tries again); the others are judged by failure counting. first_available()
// and count_available() skip builders whose status() throws.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/clock.hpp"
#include "buildd/domain.hpp"
#include "buildd/error.hpp"
#include "buildd/export.hpp"
#include "buildd/librarian.hpp"
#include "buildd/pipeline/commit_batcher.hpp"
#include "buildd/pipeline/decisions.hpp"
#include "buildd/pipeline/settings.hpp"
#include "buildd/slave_transport.hpp"
#include "buildd/web/metrics.hpp"

namespace buildd {

// A builder row with its slave connection (the seed's MockBuilder: name,
// url, builderok, slave) and what the master remembers of it between polls.
struct BUILDD_API BuilderHandle : Builder {
  BuilderHandle(Builder row, std::unique_ptr<Slave> connection)
      : Builder(std::move(row)), slave(std::move(connection)) {}

  std::unique_ptr<Slave> slave;
  bool probed = false;
  WorkerInfo worker;           // what the last probe() said (its capabilities)
  bool has_job = false;        // the database gives it a job: never dispatch to it
  int transport_failures = 0;  // consecutive polls whose status() failed (memory only)
  std::optional<TimePoint> unreachable_since;  // the first of those failures
  // describe_slave_state() of the last status(), or "unreachable: …"; the
  // master records it on the builder row (slave_state) when it changes.
  std::string observed_state;
  bool polled = false;  // by this process, at least once
  // What clean() answered in this poll, when it succeeded (the collection
  // cleans after its commit): the worker is IDLE, so the poll dispatches to
  // it without asking status() again; start() checks once more that it is
  // IDLE before it starts anything.
  std::optional<std::string> cleaned;
  // When the slave last answered a call of this process (status() or the
  // probe); the master reports it (BuilderAnswers).
  std::optional<TimePoint> last_answer;

  // status() answered at `now`: ends a failure streak (logged) and records
  // the state.
  void note_status(const SlaveStatus& status, TimePoint now);
  // status() failed at `now`: lengthens the streak, records "unreachable: …"
  // and logs the streak's first failure at warning level, the others at
  // debug. `context` says what the poll was about ("build 5-12: " or "").
  void note_status_failure(const Error& error, TimePoint now, const std::string& context);
  // The log-silence clock of the job it builds: the tail last seen and when
  // it last changed (memory only: a restarted master starts the clock again).
  Id tail_queue_id = 0;
  std::string tail_seen;
  std::optional<TimePoint> tail_changed;
  // Set while a poll of this builder runs (the daemon's poller never polls
  // one builder twice at once, and leaves a polled handle alone).
  std::atomic<bool> polling{false};
};

// The build of a queue entry: the store's Build (the seed's names map one
// for one: build.buildstate is state, datebuilt built, buildduration
// duration, builder builder_id), with what a collection adds before its
// completion is committed.
struct BUILDD_API BuildRecord : Build {
  BuildRecord() = default;
  explicit BuildRecord(const Build& build) : Build(build) {}

  // The seed's build.buildlog: the gzipped log, and the result files, as
  // collected (id 0 until the completion that records them is committed).
  std::optional<LibraryFile> buildlog;
  std::vector<std::pair<std::string, LibraryFile>> result_files;  // filename, file
};

struct BUILDD_API QueueItem {
  Id id = 0;
  BuildRecord build;
  BuilderHandle* builder = nullptr;  // not owned; null after a reset
  std::optional<TimePoint> buildstart;
  std::string logtail;
  std::uint64_t live_log_size = 0;  // of the whole log kept in the store so far
  int score = 0;
  bool manual = false;
  std::optional<TimePoint> abort_sent;
  DistroArchRelease dar;

  int attempt = 1;                         // dispatch attempt (part of the cookie)
  BuilderHandle* dispatched_to = nullptr;  // `builder` as it was before a reset

  bool removed = false;   // the entry is deleted (its build reached a final state)
  bool deferred = false;  // a retryable error: collect again at the next poll
  bool lost = false;      // the slave forgot it: the next attempt prefers another builder
  // This process had not polled the builder before: a job found IDLE may be
  // one the previous run claimed and died before sending, so it is reset
  // without counting a failure against the slave.
  bool first_look = false;
  // The slave must be cleaned once `changes` are committed, never before:
  // until then it keeps the result, so a crash in between loses nothing.
  bool clean_after_commit = false;
  CycleChanges changes;  // what update_build changed, for BuildStore::commit

  static QueueItem from(const QueuedBuild& row, BuilderHandle* builder,
                        const DistroArchRelease& dar);
  JobView job_view(const MasterSettings& settings) const;
  std::string cookie() const { return build_cookie(build.id, id, attempt); }
};

class BUILDD_API BuilderGroup {
 public:
  BuilderGroup(Id family_id, const TimeSource& time, MasterSettings settings = {});

  Id family_id() const { return family_id_; }

  // First builder that is builderok, not manual, has no job in the database,
  // answers status() and reports IDLE; nullptr when none.
  BuilderHandle* first_available();
  std::size_t count_available();
  // The first (at most) `wanted` available builders in first_available()'s
  // order, their status() asked concurrently on up to `max_in_flight`
  // threads: the dispatch of a cycle pairs them with its best builds. Asks
  // the candidates in waves of the number still wanted, so no more builders
  // are asked than needed when they answer IDLE.
  std::vector<BuilderHandle*> available_builders(std::size_t wanted, std::size_t max_in_flight);
  BuilderHandle* find(Id builder_id);

  // Asks item.builder for its status and applies it (see decisions.hpp).
  void update_build(QueueItem& item, Librarian& librarian);

  // Applies an already obtained status (update_build after its status() call).
  void apply_status(QueueItem& item, const SlaveStatus& status, Librarian& librarian);
  // Counts a failure of the item's builder and job and acts on the judgement.
  void handle_failure(QueueItem& item, const Error& error, bool retry);

  // Commits the items' changes (in one transaction, with those of other
  // builders polled at the same time: CommitBatcher), then cleans the slaves
  // whose results were committed (collect, commit, then clean). A failed
  // clean() is logged: the slave stays WAITING with a cookie no job owns, and
  // the builder's next poll cleans it. Nothing is cleaned when a change was
  // stale (its row had moved on: another master may own that slave's next
  // build). Returns the commit's result.
  static CommitResult commit_then_clean(CommitBatcher& committer, std::vector<QueueItem*> items);

  std::vector<std::unique_ptr<BuilderHandle>> builders;
  Metrics* metrics = nullptr;  // slave call errors are counted here when set

 private:
  bool is_available(BuilderHandle& builder);
  static bool is_candidate(const BuilderHandle& builder);
  static bool answers_idle(BuilderHandle& builder);
  void reset_job(QueueItem& item);
  void read_live_log(QueueItem& item, const SlaveStatus& status);
  void fail_builder(QueueItem& item, BuilderHandle& builder, const std::string& notes);
  void complete(QueueItem& item, BuildState state, std::optional<LibraryFile> log,
                std::vector<std::pair<std::string, LibraryFile>> files, std::string dependencies);
  void collect(QueueItem& item, const ScanDecision& decision, Librarian& librarian);

  Id family_id_;
  const TimeSource& time_;
  MasterSettings settings_;
};

}  // namespace buildd
