#pragma once

// BuilddMaster: the build farm's brain (the seed's BuilddMaster).
//
// Every builder is a state machine that the master reconciles with what its
// slave says, one step at a time (poll_builder):
//   - a job in the database: scan it (update_build), commit the step, and
//     only then clean the slave (collect, commit, clean);
//   - no job: IDLE is ready and is fed at once (dispatch_to: best build of
//     its family); WAITING or ABORTED with no job of ours is cleaned;
//     BUILDING a cookie we do not own is aborted, then cleaned; ABORTING is
//     waited for;
//   - status() failures are counted (after transport_grace_scans) and
//     disable the builder at builder_failure_threshold, saying why and since
//     when; the slave's state is recorded on the builder row on each change.
// The daemon polls each builder on its own timer (BuilderPoller), so a slow
// slave delays only itself; run_cycle() (scan-once) is one pass over every
// builder. The seed's batch façade (scan_active_builders,
// sort_and_split_by_processor, dispatch_by_processor) is kept for the parts
// it names.
//
// Threading: poll_builder() may run concurrently for different builders and
// with refresh(); never twice at once for one builder. The seed façade and
// run_cycle() are called from one thread. Ownership: the master keeps
// references to the store, transport, librarian and time source, which must
// outlive it. Errors: setup_builders() throws SetupError; poll_builder() and
// run_cycle() let store errors escape (each step is one transaction: what
// was committed stays, the rest is retried by the next poll); slave and
// archive errors never escape (see builder_group.hpp).

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/clock.hpp"
#include "buildd/error.hpp"
#include "buildd/export.hpp"
#include "buildd/librarian.hpp"
#include "buildd/pipeline/builder_answers.hpp"
#include "buildd/pipeline/builder_group.hpp"
#include "buildd/pipeline/settings.hpp"
#include "buildd/scheduler.hpp"
#include "buildd/slave_transport.hpp"
#include "buildd/web/metrics.hpp"

namespace buildd {

// No usable builder for an arch release (the seed's KeyError); what() is
// "Unable to setup builder for ubuntu/warty/i386."
class BUILDD_API SetupError : public Error {
 public:
  explicit SetupError(const DistroArchRelease& dar);
};

class BUILDD_API BuilddMaster {
 public:
  BuilddMaster(BuildStore& store, SlaveTransport& transport, Librarian& librarian,
               const TimeSource& time, MasterSettings settings = {});

  // The order waiting builds go in (default: DefaultScheduler).
  void set_scheduler(std::shared_ptr<const Scheduler> scheduler);
  const MasterSettings& settings() const { return settings_; }
  // Where cycle durations, finished builds, dispatch latencies and slave call
  // errors are recorded (default Metrics::global(); nullptr records nothing).
  void set_metrics(Metrics* metrics);
  // When each builder this master polls last answered (default: its own,
  // started at construction). A process that rebuilds its master (SIGHUP)
  // hands the new one the old instance, so silences are not forgotten.
  void set_builder_answers(std::shared_ptr<BuilderAnswers> answers);
  const std::shared_ptr<BuilderAnswers>& builder_answers() const { return answers_; }

  // Registers the arch release when it has a chroot; false (logged) otherwise.
  bool add_distro_arch_release(const DistroArchRelease& dar);
  // Builds (once) the group of the release's processor family and probes its
  // OK builders (echo, info protocol "1.0", arch tag); a failed probe marks the
  // builder not OK with the reason. Throws SetupError when the release is not
  // registered or no usable builder is left.
  BuilderGroup& setup_builders(const DistroArchRelease& dar);
  const std::map<Id, DistroArchRelease>& archreleases() const { return archreleases_; }
  BuilderGroup* group(Id family_id);

  // update_build for every queue entry that has a builder of a set-up group;
  // the changes are committed in one transaction.
  CycleReport scan_active_builders();
  // Waiting entries of registered releases, per processor family, best score
  // first then oldest; at most (usable builders + look-ahead) per family.
  std::map<Id, std::vector<QueuedBuild>> sort_and_split_by_processor();
  // Pairs the available builders (in first_available() order) with the
  // items, best first, and starts the pairs concurrently (at most
  // max_in_flight at once); the changes are committed in one transaction.
  // Returns how many builds were started.
  std::size_t dispatch_by_processor(Id family_id, const std::vector<QueuedBuild>& items);

  // One pass: refresh(), then poll_builder() for every builder, at most
  // max_in_flight at once. What `scan-once` runs.
  CycleReport run_cycle();

  // Re-reads the arch releases and builders (no slave I/O; a handle being
  // polled is left alone until its next refresh).
  void refresh();
  // Every builder handle of the set-up families that this master holds
  // (stable pointers); the builder answers forget the others.
  std::vector<BuilderHandle*> builder_handles();
  // One step of the builder's state machine (see the top of this file).
  CycleReport poll_builder(BuilderHandle& builder);

  // Several masters on one database (settings().master_id set): renews this
  // master's heartbeat and balances the builder leases across the live
  // masters; from then on only the builders it holds are polled. Throws
  // Error(kConflict) when another live master has the same id (or, on
  // SQLite, when any other master runs); a registration left by a killed
  // process of this host is taken over. Called by run_cycle() and, every
  // lease_ttl / 3, by the poller.
  void renew_leases();
  // A clean stop: gives the leases back at once.
  void leave();
  // Whether this master may poll the builder (always, without a master_id).
  bool holds(Id builder_id);
  const std::string& instance() const { return instance_; }

 private:
  BuilderGroup& load_builders(const DistroArchRelease& dar, const std::vector<Builder>& rows);
  // Warns once about each arch release that cannot be used: `unusable` (no
  // chroot) and those whose family has no OK builder.
  void report_unusable(std::vector<DistroArchRelease> unusable);
  std::optional<DistroArchRelease> find_archrelease(Id id);
  std::vector<DistroArchRelease> family_archreleases(Id family_id);
  bool arch_indep(const DistroArchRelease& dar);
  // status() of a builder without a job, its failures counted.
  std::optional<SlaveStatus> poll_status(BuilderHandle& builder, CycleReport& report);
  void reconcile(BuilderHandle& builder, const SlaveStatus& status, CycleReport& report);
  bool dispatch_to(BuilderHandle& builder, CycleReport& report);
  // The slave's state as this poll saw it, when it moved since it was last
  // recorded (nullopt: nothing to record). The caller commits it with its
  // other changes, then calls slave_state_recorded().
  std::optional<SlaveStateUpdate> slave_state_change(const BuilderHandle& builder) const;
  static void slave_state_recorded(BuilderHandle& builder, const SlaveStateUpdate& update);
  // Both steps, in a commit of its own.
  void record_slave_state(BuilderHandle& builder);
  // poll_builder() past its guards and the probe: scan the job or read the
  // slave's state, then reconcile and feed.
  void poll_step(BuilderHandle& builder, BuilderGroup& group, CycleReport& report);
  void avoid(Id build_id, Id builder_id);
  bool avoided(Id build_id, Id builder_id);
  // A claimed build for this builder of the family, if one is waiting. The
  // builders of a family asking at the same time are served together (see
  // FamilyDispatch); a store error reaches every one of them.
  std::optional<QueuedBuild> claim_next_job(BuilderHandle& builder);
  struct ClaimRequest;
  void claim_batch(Id family_id, const std::vector<ClaimRequest*>& batch);
  // The candidates of these arch releases for `wanted` builders, in the
  // scheduler's order. Error(kPlugin) when the scheduler hands back other
  // entries than it was given.
  std::vector<QueuedBuild> scheduled_candidates(const std::vector<Id>& distro_arch_release_ids,
                                                std::size_t wanted, TimePoint now);
  // Sends the claimed build to the builder (row.entry.attempt is this attempt).
  bool start_build(BuilderGroup& group, BuilderHandle& builder, const QueuedBuild& row,
                   const std::optional<LibraryFile>& chroot, CycleChanges& changes,
                   CycleReport& report);
  void probe(BuilderHandle& builder, const DistroArchRelease& dar);

  BuildStore& store_;
  CommitBatcher commits_{store_};  // every commit of the pipeline goes through it
  SlaveTransport& transport_;
  Librarian& librarian_;
  const TimeSource& time_;
  MasterSettings settings_;
  std::shared_ptr<const Scheduler> scheduler_;
  // archreleases_ and groups_ change in refresh() while polls read them.
  std::shared_mutex topology_mutex_;
  std::map<Id, DistroArchRelease> archreleases_;
  std::map<Id, std::unique_ptr<BuilderGroup>> groups_;  // by family id
  // Batched dispatch: the builders of a family that want a job while one
  // batch is being claimed wait, and the next batch serves all of them with
  // one candidates() read and one claim_all() transaction. One batch at a
  // time per family, so that two builders never race for the same best
  // build (the RPCs that start the builds run outside).
  struct FamilyDispatch {
    std::mutex mutex;
    std::condition_variable served;
    bool serving = false;
    std::vector<ClaimRequest*> waiting;
  };
  FamilyDispatch& family_dispatch(Id family_id);
  std::mutex family_dispatch_guard_;
  std::map<Id, std::unique_ptr<FamilyDispatch>> family_dispatch_;
  // Builds a slave forgot, and which builder forgot them: their next attempt
  // prefers another builder for a while.
  std::mutex avoid_mutex_;
  std::map<Id, std::pair<Id, TimePoint>> avoid_;
  // "host:pid": tells this process from another with the same master_id.
  std::string instance_;
  std::mutex lease_mutex_;
  std::set<Id> leased_;
  TimePoint leases_valid_until_{};
  std::atomic<std::size_t> builder_count_{0};  // read by refresh()
  std::set<Id> unusable_;                      // arch releases already reported as unusable
  Metrics* metrics_ = &Metrics::global();
  std::shared_ptr<BuilderAnswers> answers_;
};

}  // namespace buildd
