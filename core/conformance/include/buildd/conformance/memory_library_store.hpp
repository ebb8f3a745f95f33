#pragma once

// A BuildStore that keeps only library file records, in memory: enough for the
// Librarian and the HTTP server's /+files/ route in tests. Every other method
// throws Error(kInternal). Thread-safe.

#include <map>
#include <mutex>

#include "buildd/build_store.hpp"
#include "buildd/error.hpp"

namespace buildd::test {

class MemoryLibraryStore : public BuildStore {
 public:
  LibraryFile add_library_file(const LibraryFile& file) override {
    std::lock_guard lock(mutex_);
    LibraryFile stored = file;
    stored.id = ++last_id_;
    files_[stored.id] = stored;
    return stored;
  }
  std::optional<LibraryFile> find_library_file(Id id) override {
    std::lock_guard lock(mutex_);
    auto it = files_.find(id);
    if (it == files_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<LibraryFile> find_library_file_by_sha256(const std::string& sha256) override {
    std::lock_guard lock(mutex_);
    for (const auto& [id, f] : files_)
      if (f.sha256 == sha256) return f;
    return std::nullopt;
  }
  std::size_t record_count() {
    std::lock_guard lock(mutex_);
    return files_.size();
  }

  // ---- not needed by the librarian ----
  int upgrade() override { unused(); }
  int schema_version() override { unused(); }
  int latest_schema_version() override { unused(); }
  ProcessorFamily add_processor_family(const std::string&,
                                       const std::vector<std::string>&) override {
    unused();
  }
  std::vector<ProcessorFamily> processor_families() override { unused(); }
  std::vector<Processor> processors() override { unused(); }
  DistroArchRelease add_distro_arch_release(const NewDistroArchRelease&) override { unused(); }
  std::vector<DistroArchRelease> distro_arch_releases() override { unused(); }
  std::optional<DistroArchRelease> find_distro_arch_release(const std::string&, const std::string&,
                                                            const std::string&) override {
    unused();
  }
  void set_chroot(Id, Id) override { unused(); }
  Builder add_builder(const NewBuilder&) override { unused(); }
  std::vector<Builder> builders() override { unused(); }
  std::vector<Builder> removed_builders() override { unused(); }
  void remove_builder(Id) override { unused(); }
  std::optional<Builder> find_builder(const std::string&) override { unused(); }
  void set_builder_ok(Id, bool, const std::string&) override { unused(); }
  void set_builder_url(Id, const std::string&) override { unused(); }
  void set_builder_slave_state(Id, const std::string&, TimePoint) override { unused(); }
  Build add_build(const NewBuild&) override { unused(); }
  std::optional<Build> find_build(Id) override { unused(); }
  std::vector<Build> list_builds(const BuildListQuery&) override { unused(); }
  std::vector<BuildFile> source_files(Id) override { unused(); }
  std::vector<BuildFile> result_files(Id) override { unused(); }
  std::optional<BuildQueueEntry> queue_entry_for_build(Id) override { unused(); }
  void retry_build(Id) override { unused(); }
  CancelOutcome cancel_build(Id) override { unused(); }
  void rescore_build(Id, int) override { unused(); }
  std::vector<Build> builds_of_source(const std::string&, const std::string&, Id) override {
    unused();
  }
  std::vector<QueuedBuild> active_jobs() override { unused(); }
  std::vector<QueuedBuild> candidates(const std::vector<Id>&, std::size_t) override { unused(); }
  std::vector<QueuedBuild> waiting(std::size_t) override { unused(); }
  bool claim(Id, Id, Id, TimePoint) override { unused(); }
  CommitResult commit(const CycleChanges&) override { unused(); }

 private:
  [[noreturn]] static void unused() {
    throw Error(ErrorCategory::kInternal, "MemoryLibraryStore keeps library files only");
  }

  std::mutex mutex_;
  Id last_id_ = 0;
  std::map<Id, LibraryFile> files_;
};

}  // namespace buildd::test
