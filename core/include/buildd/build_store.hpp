#pragma once

// The store interface: everything durable (processor families, arch
// releases, builders, builds, the queue, library file records).
//
// Threading: a BuildStore is shared by every thread of the master and must be
// thread-safe (the SOCI store keeps a small connection pool). Two masters may
// share one PostgreSQL database: claim() is a compare-and-set so that a queue
// entry is never dispatched twice.
//
// Transactions: every method is one transaction. commit() applies a batch of
// changes (one builder's step, or a whole scan) in one transaction: all of
// them or none.
//
// Conditional transitions: every job and build change of commit() states
// what it expects to find, and is dropped (counted as stale, never applied)
// when the row has moved on: a reset applies only to an entry that still has
// a builder and a build still BUILDING (an operator's cancel wins); a
// completion only while its queue entry exists (committing one completion
// twice leaves one set of rows). A builder update may disable a builder but
// never re-enable one: enabling is the operator's (set_builder_ok).
//
// Counters are deltas: a builder's and a build's failure counts (and a
// build's give-backs) are added to what the row holds, so that an operator's
// reset, or another writer, committed meanwhile is never overwritten by a
// count the pipeline read before it.
//
// Errors: Error(kStore) for database failures (retryable when the database was
// unreachable or busy and nothing was written); Error(kNotFound) for a named
// record that does not exist; Error(kConflict) for a duplicate name or a state
// that forbids the change. Bad input never leaves anything half-written.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "buildd/domain.hpp"
#include "buildd/export.hpp"
#include "buildd/plugin.hpp"

namespace buildd {

// ---- inputs of the admin operations ---------------------------------------

struct NewBuilder {
  std::string name;
  std::string url;
  std::string processor;  // processor name
  bool manual = false;
  bool virtualized = false;
  int speed_index = 0;
};

struct NewDistroArchRelease {
  std::string distribution;
  std::string release;
  std::string arch_tag;
  std::string family;  // processor family name
  std::optional<Id> chroot_file_id;
  bool official = true;
};

struct NewBuild {
  std::string source_name;
  std::string source_version;
  Id distro_arch_release_id = 0;
  std::string component = "main";
  std::string pocket = "release";
  std::string urgency = "medium";
  std::string archive = "primary";  // check_object_name("archive name")
  int score = 0;
  bool manual_score = false;  // score pinned by the operator
  // Source files (.dsc, tarballs) already stored in the librarian.
  std::vector<std::pair<std::string, Id>> source_files;  // filename, library file id
};

// ---- reads of the pipeline -------------------------------------------------

// A queue entry with its build.
struct QueuedBuild {
  BuildQueueEntry entry;
  Build build;
};

// A waiting entry given to a builder (claim, claim_all).
struct Claim {
  Id queue_id = 0;
  Id build_id = 0;
  Id builder_id = 0;
};

// ---- the changes of one cycle ----------------------------------------------

struct LogTailUpdate {
  Id queue_id = 0;
  std::string logtail;
};

// The next bytes of a running build's log (read from a worker that reads its
// log from an offset), appended to the entry's live log: the whole log so
// far, which `build log --follow` prints as it grows. Stale unless the entry
// still has a builder, is at dispatch attempt `attempt`, and its live log is
// exactly `offset` bytes long (another master appended them first).
struct LiveLogAppend {
  Id queue_id = 0;
  int attempt = 0;
  std::uint64_t offset = 0;
  std::string bytes;
};

// The slave lost the job, or it is requeued after a failure: the entry's
// builder, buildstart, logtail, live log and abort_sent are cleared and the build goes
// back to NEEDSBUILD (started cleared). Stale unless the entry still has a
// builder and the build is BUILDING (and, when `attempt` is set, the entry
// is still at that dispatch attempt).
struct JobReset {
  Id queue_id = 0;
  Id build_id = 0;
  int attempt = 0;  // 0: whatever the attempt
};

// A build reached a final state: the build row is updated, its log and
// result files recorded and its queue entry (with its live log) deleted,
// together. Stale once the
// queue entry is gone (already completed, or cancelled while waiting).
//
// A file with id 0 is one the pipeline has just put into the archive: its
// library file record is created here, in the completion's transaction (as
// add_library_file would, and only when the completion applies), rather than
// in a transaction of its own. A file with an id must exist (kNotFound).
struct BuildCompletion {
  Id build_id = 0;
  Id queue_id = 0;
  BuildState state = BuildState::kFullyBuilt;
  std::optional<TimePoint> built;
  std::optional<Duration> duration;
  std::optional<Id> builder_id;
  std::optional<LibraryFile> buildlog;
  std::string dependencies;
  std::vector<std::pair<std::string, LibraryFile>> result_files;  // filename, file
};

// builderok false disables the builder with `failnotes`; true leaves the
// operator's flag and notes as they are. The failure count is zeroed first
// when `reset_failures` (a build came back: the builder works), then
// `failure_delta` is added.
struct BuilderUpdate {
  Id builder_id = 0;
  bool builderok = true;
  std::string failnotes;
  int failure_delta = 0;
  bool reset_failures = false;
};

// Added to the build's counters.
struct BuildCountersUpdate {
  Id build_id = 0;
  int failure_delta = 0;
  int give_back_delta = 0;
};

struct BuildStateUpdate {  // e.g. CANCELLING -> CANCELLED without completion data
  Id build_id = 0;
  BuildState state = BuildState::kNeedsBuild;
};

struct AbortSent {
  Id queue_id = 0;
  TimePoint at{};
};

// What status() said a builder's slave was doing, when it changed (the
// builder row's slave_state and slave_state_since).
struct SlaveStateUpdate {
  Id builder_id = 0;
  std::string state;
  TimePoint since{};
};

struct CycleChanges {
  std::vector<LogTailUpdate> logtails;
  std::vector<LiveLogAppend> live_logs;
  std::vector<JobReset> resets;
  std::vector<BuildCompletion> completions;
  std::vector<BuilderUpdate> builders;
  std::vector<BuildCountersUpdate> counters;
  std::vector<AbortSent> aborts;
  std::vector<SlaveStateUpdate> slave_states;

  bool empty() const {
    return logtails.empty() && live_logs.empty() && resets.empty() && completions.empty() &&
           builders.empty() && counters.empty() && aborts.empty() && slave_states.empty();
  }
  // Moves every change of `other` to the end of this one's.
  void append(CycleChanges&& other) {
    auto move_all = [](auto& into, auto& from) {
      into.insert(into.end(), std::make_move_iterator(from.begin()),
                  std::make_move_iterator(from.end()));
      from.clear();
    };
    move_all(logtails, other.logtails);
    move_all(live_logs, other.live_logs);
    move_all(resets, other.resets);
    move_all(completions, other.completions);
    move_all(builders, other.builders);
    move_all(counters, other.counters);
    move_all(aborts, other.aborts);
    move_all(slave_states, other.slave_states);
  }
};

// What commit() did: changes dropped because their row had moved on.
struct CommitResult {
  std::size_t stale = 0;
};

// What heartbeat() found: held, or who holds the registration.
struct MasterRegistration {
  bool held = true;
  std::string holder_id;        // the live master in the way
  std::string holder_instance;  // "host:pid"
  std::optional<TimePoint> holder_heartbeat;
};

// A page of the builds list (list_builds): newest first, optionally one state
// and one source package name (exact), `offset` rows skipped, at most `limit`
// rows (0: all).
struct BuildListQuery {
  std::optional<BuildState> state;
  std::string source_name;
  std::size_t offset = 0;
  std::size_t limit = 0;
};

// What cancel() did.
enum class CancelOutcome { kCancelled, kCancelling, kAlreadyFinal };

class BUILDD_API BuildStore : public PluginObject {
 public:
  // ---- schema ----
  // Applies every missing migration; returns how many. Safe to run twice.
  // Throws kStore (not retryable) when the database is newer than this binary.
  virtual int upgrade() = 0;
  virtual int schema_version() = 0;         // applied in the database
  virtual int latest_schema_version() = 0;  // known to this binary

  // ---- processor families, processors, arch releases ----
  virtual ProcessorFamily add_processor_family(const std::string& name,
                                               const std::vector<std::string>& processors) = 0;
  virtual std::vector<ProcessorFamily> processor_families() = 0;
  virtual std::vector<Processor> processors() = 0;
  virtual DistroArchRelease add_distro_arch_release(const NewDistroArchRelease& dar) = 0;
  virtual std::vector<DistroArchRelease> distro_arch_releases() = 0;
  virtual std::optional<DistroArchRelease> find_distro_arch_release(
      const std::string& distribution, const std::string& release, const std::string& arch_tag) = 0;
  virtual void set_chroot(Id distro_arch_release_id, Id library_file_id) = 0;

  // ---- builders ----
  // A new builder; the name of a removed builder brings that builder back
  // (same id, its history kept) with the new URL, processor and flags.
  virtual Builder add_builder(const NewBuilder& builder) = 0;
  virtual std::vector<Builder> builders() = 0;  // ordered by id; removed ones left out
  // The removed builders, ordered by id: their names still label old builds.
  virtual std::vector<Builder> removed_builders() = 0;
  virtual std::optional<Builder> find_builder(const std::string& name) = 0;  // not removed
  // Operator enable/disable: enabling also zeroes failure_count. Disabling an
  // enabled builder stamps disabled_at; enabling clears it.
  virtual void set_builder_ok(Id builder_id, bool ok, const std::string& failnotes) = 0;
  // Takes a builder out of the farm for good: it leaves builders(), its lease
  // and its name are freed; its builds keep pointing at it. kConflict while it
  // holds a job (cancel the build or wait), kNotFound if absent or removed.
  virtual void remove_builder(Id builder_id) = 0;
  // The slave's new address; the daemon reconnects to it at its next pass.
  virtual void set_builder_url(Id builder_id, const std::string& url) = 0;
  // The slave's state as the master last saw it (Builder::slave_state).
  virtual void set_builder_slave_state(Id builder_id, const std::string& state,
                                       TimePoint since) = 0;

  // ---- builds ----
  // Creates the build (NEEDSBUILD), its source file links and its queue entry.
  virtual Build add_build(const NewBuild& build) = 0;
  virtual std::optional<Build> find_build(Id build_id) = 0;
  // Newest first, filtered and paged as `query` says.
  virtual std::vector<Build> list_builds(const BuildListQuery& query) = 0;
  // Newest first; `state` filters; `limit` 0 means no limit.
  std::vector<Build> builds(std::optional<BuildState> state, std::size_t limit) {
    return list_builds(BuildListQuery{state, {}, 0, limit});
  }
  // The builds this builder built or is building (builder_id), newest first;
  // `limit` 0 means no limit. The default filters builds(); stores override
  // it with an indexed query.
  virtual std::vector<Build> builds_by_builder(Id builder_id, std::size_t limit) {
    std::vector<Build> out;
    for (Build& b : builds(std::nullopt, 0)) {
      if (b.builder_id != builder_id) continue;
      out.push_back(std::move(b));
      if (limit != 0 && out.size() == limit) break;
    }
    return out;
  }
  virtual std::vector<BuildFile> source_files(Id build_id) = 0;
  virtual std::vector<BuildFile> result_files(Id build_id) = 0;
  virtual std::optional<BuildQueueEntry> queue_entry_for_build(Id build_id) = 0;
  // A final (failed, cancelled…) build back to NEEDSBUILD with a new queue
  // entry. kConflict when the build is not in a retryable state.
  virtual void retry_build(Id build_id) = 0;
  // The operator's score for a waiting build, pinned (the scheduler
  // leaves it). kConflict once the build is dispatched or final.
  virtual void rescore_build(Id build_id, int score) = 0;
  // The builds of one source version for one arch release, newest first
  // (`build add` refuses a duplicate of an active one).
  virtual std::vector<Build> builds_of_source(const std::string& source_name,
                                              const std::string& source_version,
                                              Id distro_arch_release_id) = 0;
  // Waiting: CANCELLED at once, queue entry deleted. Dispatched: CANCELLING
  // (the pipeline aborts it). Final: nothing.
  virtual CancelOutcome cancel_build(Id build_id) = 0;

  // ---- queue (the pipeline) ----
  // Every queue entry that has a builder, with its build.
  virtual std::vector<QueuedBuild> active_jobs() = 0;
  // The best `limit` waiting entries (no builder, build NEEDSBUILD) of these arch
  // releases: score descending, then id ascending. Must cost the same whatever
  // the depth of the queue (index on (distro_arch_release, score, id) of
  // waiting entries; never load the whole queue).
  virtual std::vector<QueuedBuild> candidates(const std::vector<Id>& distro_arch_release_ids,
                                              std::size_t limit) = 0;
  // For each of these arch releases, the best `per_archive` waiting entries
  // (as candidates() ranks them) of each archive that has any there, in no
  // particular order: what a scheduler that shares the builders between
  // archives chooses from. Must cost the same whatever the depth of the
  // queue (one index range scan per arch release and archive with waiting
  // entries). The default filters waiting().
  virtual std::vector<QueuedBuild> candidates_per_archive(
      const std::vector<Id>& distro_arch_release_ids, std::size_t per_archive) {
    std::map<std::pair<Id, std::string>, std::size_t> taken;
    std::vector<QueuedBuild> out;
    for (QueuedBuild& q : waiting(0)) {
      const Id dar = q.build.distro_arch_release_id;
      if (std::find(distro_arch_release_ids.begin(), distro_arch_release_ids.end(), dar) ==
              distro_arch_release_ids.end() ||
          q.build.state != BuildState::kNeedsBuild ||
          taken[{dar, q.build.archive}]++ >= per_archive)
        continue;
      out.push_back(std::move(q));
    }
    return out;
  }
  // How many builds of each archive are dispatched now (queue entries with a
  // builder), farm-wide; archives with none are left out. The default counts
  // active_jobs().
  virtual std::map<std::string, std::size_t> running_per_archive() {
    std::map<std::string, std::size_t> out;
    for (const QueuedBuild& q : active_jobs()) ++out[q.build.archive];
    return out;
  }
  // Every waiting entry, in dispatch order (for `queue list`; `limit` 0 = all).
  virtual std::vector<QueuedBuild> waiting(std::size_t limit) = 0;
  // The queue entry this builder holds, if any (fresh from the database: the
  // pipeline asks before it aborts or cleans a slave whose job it does not
  // know). The default filters active_jobs().
  virtual std::optional<QueuedBuild> active_job_for_builder(Id builder_id) {
    for (QueuedBuild& job : active_jobs()) {
      if (job.entry.builder_id == builder_id) return std::move(job);
    }
    return std::nullopt;
  }
  // Compare-and-set: gives the waiting entry to the builder (buildstart = now,
  // attempt + 1) and marks the build BUILDING (started = now), in one
  // transaction. False when another master or cycle took it first (or it is
  // gone), or when the builder already holds an entry: one active job per
  // builder, which the database enforces too.
  virtual bool claim(Id queue_id, Id build_id, Id builder_id, TimePoint now) = 0;
  // Several claims (the pipeline's batched dispatch), in one transaction
  // where the store can; each is all or nothing and judged as claim() would
  // judge it, in order, with one result per claim. The default claims them
  // one by one.
  virtual std::vector<bool> claim_all(const std::vector<Claim>& claims, TimePoint now) {
    std::vector<bool> results;
    for (const Claim& c : claims)
      results.push_back(claim(c.queue_id, c.build_id, c.builder_id, now));
    return results;
  }

  // The live log of a dispatched entry (LiveLogAppend): its bytes from
  // `offset`, at most `max_bytes` (fewer at its end; none past it, or for an
  // entry that has none). BuildQueueEntry::live_log_size says how long it
  // is. The default: a store that keeps no live logs.
  virtual std::string live_log(Id /*queue_id*/, std::uint64_t /*offset*/,
                               std::size_t /*max_bytes*/) {
    return {};
  }

  // Applies the changes in one transaction, each conditionally (see the top).
  virtual CommitResult commit(const CycleChanges& changes) = 0;
  // Several commits' changes (CommitBatcher's group commit), in one
  // transaction where the store can; one result per member, so that each
  // knows whether its own changes were stale. The default commits them one
  // by one (each member's changes still all or nothing).
  // (A store error thrown by a later member then leaves earlier ones applied.)
  virtual std::vector<CommitResult> commit_all(const std::vector<const CycleChanges*>& batch) {
    std::vector<CommitResult> results;
    for (const CycleChanges* changes : batch) results.push_back(commit(*changes));
    return results;
  }

  // ---- masters and builder leases ----
  // Several masters may share one database (not SQLite: there one master
  // runs, and that is enforced). Each registers under its id with a
  // heartbeat; builders are leased to live masters with a TTL, and a master
  // polls only the builders it holds. The defaults suit a store that one
  // master uses alone: no registration, every builder held.

  // Registers this master (or renews its heartbeat). Refused (held false,
  // with the holder) when another instance holds `master_id` with a
  // heartbeat younger than `ttl`, or, on SQLite, when any other master is
  // live. `replacing` names an instance the caller knows is dead (a killed
  // process of this host): its registration is removed first.
  virtual MasterRegistration heartbeat(const std::string& /*master_id*/,
                                       const std::string& /*instance*/, TimePoint /*now*/,
                                       std::chrono::seconds /*ttl*/,
                                       const std::string& /*replacing*/ = "") {
    return {};
  }
  // Ids of the masters whose heartbeat is younger than `ttl`.
  virtual std::vector<std::string> live_masters(TimePoint /*now*/, std::chrono::seconds /*ttl*/) {
    return {};
  }
  // Renews this master's leases (expiring at now + ttl), takes free or
  // expired ones until it holds `target`, releases those beyond it; returns
  // the ids of the builders it holds, ascending.
  virtual std::vector<Id> balance_leases(const std::string& /*master_id*/, std::size_t /*target*/,
                                         TimePoint /*now*/, std::chrono::seconds /*ttl*/) {
    std::vector<Id> all;
    for (const Builder& b : builders()) all.push_back(b.id);
    return all;
  }
  // A clean stop: the master's leases and registration are removed, so that
  // the others take its builders over at once.
  virtual void leave(const std::string& /*master_id*/, const std::string& /*instance*/) {}

  // ---- library files ----
  virtual LibraryFile add_library_file(const LibraryFile& file) = 0;  // id assigned
  virtual std::optional<LibraryFile> find_library_file(Id id) = 0;
  virtual std::optional<LibraryFile> find_library_file_by_sha256(const std::string& sha256) = 0;
};

}  // namespace buildd
