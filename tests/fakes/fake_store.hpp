#pragma once

// FakeStore: the whole BuildStore contract in memory, for pipeline tests
// (it passes the store conformance suite, fake_store_conformance_test.cpp).
// Thread-safe (one mutex). Records every commit() so tests can assert on the
// transactions of a cycle; `fail_next_commit` makes the next commit throw.

#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "buildd/build_store.hpp"

namespace buildd::test {

class FakeStore : public BuildStore {
 public:
  int upgrade() override { return 0; }
  int schema_version() override { return 1; }
  int latest_schema_version() override { return 1; }

  ProcessorFamily add_processor_family(const std::string& name,
                                       const std::vector<std::string>& processors) override;
  std::vector<ProcessorFamily> processor_families() override;
  std::vector<Processor> processors() override;
  DistroArchRelease add_distro_arch_release(const NewDistroArchRelease& dar) override;
  std::vector<DistroArchRelease> distro_arch_releases() override;
  std::optional<DistroArchRelease> find_distro_arch_release(const std::string& distribution,
                                                            const std::string& release,
                                                            const std::string& arch_tag) override;
  void set_chroot(Id distro_arch_release_id, Id library_file_id) override;

  Builder add_builder(const NewBuilder& builder) override;
  std::vector<Builder> builders() override;
  std::vector<Builder> removed_builders() override;
  std::optional<Builder> find_builder(const std::string& name) override;
  void set_builder_ok(Id builder_id, bool ok, const std::string& failnotes) override;
  void remove_builder(Id builder_id) override;
  void set_builder_url(Id builder_id, const std::string& url) override;
  void set_builder_slave_state(Id builder_id, const std::string& state, TimePoint since) override;

  Build add_build(const NewBuild& build) override;
  std::optional<Build> find_build(Id build_id) override;
  std::vector<Build> list_builds(const BuildListQuery& query) override;
  std::vector<Build> builds_by_builder(Id builder_id, std::size_t limit) override;
  std::vector<BuildFile> source_files(Id build_id) override;
  std::vector<BuildFile> result_files(Id build_id) override;
  std::optional<BuildQueueEntry> queue_entry_for_build(Id build_id) override;
  void retry_build(Id build_id) override;
  void rescore_build(Id build_id, int score) override;
  std::vector<Build> builds_of_source(const std::string& source_name,
                                      const std::string& source_version,
                                      Id distro_arch_release_id) override;
  CancelOutcome cancel_build(Id build_id) override;

  std::vector<QueuedBuild> active_jobs() override;
  std::vector<QueuedBuild> candidates(const std::vector<Id>& distro_arch_release_ids,
                                      std::size_t limit) override;
  std::vector<QueuedBuild> waiting(std::size_t limit) override;
  bool claim(Id queue_id, Id build_id, Id builder_id, TimePoint now) override;
  // The default's, recorded in claim_batches after claim_delay.
  std::vector<bool> claim_all(const std::vector<Claim>& claims, TimePoint now) override;
  std::string live_log(Id queue_id, std::uint64_t offset, std::size_t max_bytes) override;
  CommitResult commit(const CycleChanges& changes) override;

  MasterRegistration heartbeat(const std::string& master_id, const std::string& instance,
                               TimePoint now, std::chrono::seconds ttl,
                               const std::string& replacing = "") override;
  std::vector<std::string> live_masters(TimePoint now, std::chrono::seconds ttl) override;
  std::vector<Id> balance_leases(const std::string& master_id, std::size_t target, TimePoint now,
                                 std::chrono::seconds ttl) override;
  void leave(const std::string& master_id, const std::string& instance) override;

  LibraryFile add_library_file(const LibraryFile& file) override;
  std::optional<LibraryFile> find_library_file(Id id) override;
  std::optional<LibraryFile> find_library_file_by_sha256(const std::string& sha256) override;

  // ---- test helpers ----
  std::vector<CycleChanges> commits;          // every commit, in order
  std::vector<std::size_t> candidate_limits;  // the limit of every candidates() call
  bool fail_next_commit = false;
  std::vector<std::size_t> claim_batches;    // the size of every claim_all() call
  std::chrono::milliseconds claim_delay{0};  // how long each claim_all() takes
  bool refuse_claims = false;                // claim() answers false (another master won)
  Builder& builder(Id id);
  Build& build(Id id);
  std::optional<BuildQueueEntry> entry(Id id);
  // Gives a waiting entry to a builder as a dispatch would have.
  void assign(Id queue_id, Id builder_id, TimePoint at);
  // Sets when a queue entry was queued (the fake leaves it at the epoch).
  void set_enqueued(Id queue_id, TimePoint at);

 private:
  std::mutex mutex_;
  Id next_id_ = 1;
  std::vector<ProcessorFamily> families_;
  std::vector<Processor> processors_;
  std::vector<DistroArchRelease> dars_;
  std::vector<Builder> builders_;  // removed ones too (their ids are in removed_)
  std::set<Id> removed_;
  std::map<Id, Build> builds_;
  std::map<Id, BuildQueueEntry> queue_;
  std::map<Id, std::string> live_logs_;  // by queue entry
  std::map<Id, LibraryFile> files_;
  std::map<Id, std::vector<std::pair<std::string, Id>>> sources_;
  std::map<Id, std::vector<std::pair<std::string, Id>>> results_;
  std::map<Id, std::pair<int, bool>> scores_;  // build -> score, pinned by the operator
  struct MasterRow {
    std::string instance;
    TimePoint heartbeat;
  };
  struct LeaseRow {
    std::string master_id;
    TimePoint expires;
  };
  std::map<std::string, MasterRow> masters_;
  std::map<Id, LeaseRow> leases_;  // by builder
  Id new_id() { return next_id_++; }
  LibraryFile add_library_file_locked(const LibraryFile& file);
  Build& build_locked(Id build_id);  // kNotFound when there is none
  std::vector<QueuedBuild> join(bool active, const std::vector<Id>* dars, std::size_t limit);
  bool reset_locked(const JobReset& reset);
};

}  // namespace buildd::test
