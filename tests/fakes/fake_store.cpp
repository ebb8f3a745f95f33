#include "fakes/fake_store.hpp"

#include <algorithm>
#include <thread>

#include "buildd/clock.hpp"
#include "buildd/error.hpp"

namespace buildd::test {

using Lock = std::lock_guard<std::mutex>;

ProcessorFamily FakeStore::add_processor_family(const std::string& name,
                                                const std::vector<std::string>& processors) {
  Lock lock(mutex_);
  for (const auto& f : families_) {
    if (f.name == name) throw Error(ErrorCategory::kConflict, "family exists: " + name);
  }
  for (const auto& p : processors_) {
    if (std::find(processors.begin(), processors.end(), p.name) != processors.end())
      throw Error(ErrorCategory::kConflict, "processor exists: " + p.name);
  }
  ProcessorFamily f{new_id(), name};
  families_.push_back(f);
  for (const auto& p : processors) processors_.push_back(Processor{new_id(), f.id, p});
  return f;
}

std::vector<ProcessorFamily> FakeStore::processor_families() {
  Lock lock(mutex_);
  return families_;
}

std::vector<Processor> FakeStore::processors() {
  Lock lock(mutex_);
  return processors_;
}

DistroArchRelease FakeStore::add_distro_arch_release(const NewDistroArchRelease& n) {
  Lock lock(mutex_);
  auto fam = std::find_if(families_.begin(), families_.end(),
                          [&](const auto& f) { return f.name == n.family; });
  if (fam == families_.end()) throw Error(ErrorCategory::kNotFound, "no family " + n.family);
  for (const auto& d : dars_) {
    if (d.distribution == n.distribution && d.release == n.release && d.arch_tag == n.arch_tag)
      throw Error(ErrorCategory::kConflict, "arch release exists: " + d.display_name());
  }
  if (n.chroot_file_id && !files_.count(*n.chroot_file_id))
    throw Error(ErrorCategory::kNotFound, "no library file " + std::to_string(*n.chroot_file_id));
  DistroArchRelease d;
  d.id = new_id();
  d.distribution = n.distribution;
  d.release = n.release;
  d.arch_tag = n.arch_tag;
  d.family_id = fam->id;
  d.chroot_file_id = n.chroot_file_id;
  d.official = n.official;
  dars_.push_back(d);
  return d;
}

std::vector<DistroArchRelease> FakeStore::distro_arch_releases() {
  Lock lock(mutex_);
  return dars_;
}

std::optional<DistroArchRelease> FakeStore::find_distro_arch_release(
    const std::string& distribution, const std::string& release, const std::string& arch_tag) {
  Lock lock(mutex_);
  for (const auto& d : dars_) {
    if (d.distribution == distribution && d.release == release && d.arch_tag == arch_tag) return d;
  }
  return std::nullopt;
}

void FakeStore::set_chroot(Id dar_id, Id file_id) {
  Lock lock(mutex_);
  if (!files_.count(file_id))
    throw Error(ErrorCategory::kNotFound, "no library file " + std::to_string(file_id));
  for (auto& d : dars_) {
    if (d.id == dar_id) {
      d.chroot_file_id = file_id;
      return;
    }
  }
  throw Error(ErrorCategory::kNotFound, "no arch release " + std::to_string(dar_id));
}

Builder FakeStore::add_builder(const NewBuilder& n) {
  Lock lock(mutex_);
  auto proc = std::find_if(processors_.begin(), processors_.end(),
                           [&](const auto& p) { return p.name == n.processor; });
  if (proc == processors_.end())
    throw Error(ErrorCategory::kNotFound, "no processor " + n.processor);
  Builder b;  // a removed builder's name brings it back: same id, fresh start
  b.name = n.name;
  b.url = n.url;
  b.processor_id = proc->id;
  b.family_id = proc->family_id;
  b.manual = n.manual;
  b.virtualized = n.virtualized;
  b.speed_index = n.speed_index;
  for (auto& existing : builders_) {
    if (existing.name != n.name) continue;
    if (!removed_.erase(existing.id))
      throw Error(ErrorCategory::kConflict, "builder exists: " + n.name);
    b.id = existing.id;
    existing = b;
    return b;
  }
  b.id = new_id();
  builders_.push_back(b);
  return b;
}

std::vector<Builder> FakeStore::builders() {
  Lock lock(mutex_);
  std::vector<Builder> out;
  for (const auto& b : builders_)
    if (!removed_.count(b.id)) out.push_back(b);
  return out;
}

std::vector<Builder> FakeStore::removed_builders() {
  Lock lock(mutex_);
  std::vector<Builder> out;
  for (const auto& b : builders_)
    if (removed_.count(b.id)) out.push_back(b);
  return out;
}

std::optional<Builder> FakeStore::find_builder(const std::string& name) {
  Lock lock(mutex_);
  for (const auto& b : builders_) {
    if (b.name == name && !removed_.count(b.id)) return b;
  }
  return std::nullopt;
}

void FakeStore::remove_builder(Id id) {
  Lock lock(mutex_);
  if (removed_.count(id) ||
      std::none_of(builders_.begin(), builders_.end(), [&](const auto& b) { return b.id == id; }))
    throw Error(ErrorCategory::kNotFound, "no builder " + std::to_string(id));
  for (const auto& [queue_id, e] : queue_) {
    if (e.builder_id == id)
      throw Error(ErrorCategory::kConflict,
                  "builder " + std::to_string(id) + " holds build " + std::to_string(e.build_id));
  }
  removed_.insert(id);
  leases_.erase(id);
}

void FakeStore::set_builder_ok(Id id, bool ok, const std::string& failnotes) {
  Lock lock(mutex_);
  for (auto& b : builders_) {
    if (b.id == id && !removed_.count(id)) {
      if (ok)
        b.disabled_at.reset();
      else if (b.builderok)
        b.disabled_at = Clock::now();
      b.builderok = ok;
      b.failnotes = failnotes;
      if (ok) b.failure_count = 0;
      return;
    }
  }
  throw Error(ErrorCategory::kNotFound, "no builder " + std::to_string(id));
}

void FakeStore::set_builder_url(Id id, const std::string& url) {
  Lock lock(mutex_);
  for (auto& b : builders_) {
    if (b.id == id) {
      b.url = url;
      return;
    }
  }
  throw Error(ErrorCategory::kNotFound, "no builder " + std::to_string(id));
}

void FakeStore::set_builder_slave_state(Id id, const std::string& state, TimePoint since) {
  Lock lock(mutex_);
  for (auto& b : builders_) {
    if (b.id == id) {
      b.slave_state = state;
      b.slave_state_since = since;
    }
  }
}

Build FakeStore::add_build(const NewBuild& n) {
  Lock lock(mutex_);
  if (std::none_of(dars_.begin(), dars_.end(),
                   [&](const auto& d) { return d.id == n.distro_arch_release_id; })) {
    throw Error(ErrorCategory::kNotFound,
                "no arch release " + std::to_string(n.distro_arch_release_id));
  }
  for (const auto& [name, id] : n.source_files) {
    if (!files_.count(id)) throw Error(ErrorCategory::kNotFound, "no library file for " + name);
  }
  Build b;
  b.id = new_id();
  b.source_name = n.source_name;
  b.source_version = n.source_version;
  b.distro_arch_release_id = n.distro_arch_release_id;
  b.component = n.component;
  b.pocket = n.pocket;
  b.urgency = n.urgency;
  b.archive = n.archive;
  b.created = Clock::now();
  builds_[b.id] = b;
  scores_[b.id] = {n.score, n.manual_score};
  sources_[b.id] = n.source_files;
  BuildQueueEntry e;
  e.id = new_id();
  e.build_id = b.id;
  e.score = n.score;
  e.manual = n.manual_score;
  queue_[e.id] = e;
  return b;
}

std::optional<Build> FakeStore::find_build(Id id) {
  Lock lock(mutex_);
  auto it = builds_.find(id);
  if (it == builds_.end()) return std::nullopt;
  return it->second;
}

std::vector<Build> FakeStore::list_builds(const BuildListQuery& q) {
  Lock lock(mutex_);
  std::vector<Build> out;
  std::size_t skipped = 0;
  for (auto it = builds_.rbegin(); it != builds_.rend(); ++it) {
    if (q.state && it->second.state != *q.state) continue;
    if (!q.source_name.empty() && it->second.source_name != q.source_name) continue;
    if (skipped++ < q.offset) continue;
    out.push_back(it->second);
    if (q.limit && out.size() == q.limit) break;
  }
  return out;
}

std::vector<Build> FakeStore::builds_by_builder(Id builder_id, std::size_t limit) {
  Lock lock(mutex_);
  std::vector<Build> out;
  for (auto it = builds_.rbegin(); it != builds_.rend(); ++it) {
    if (it->second.builder_id != builder_id) continue;
    out.push_back(it->second);
    if (limit && out.size() == limit) break;
  }
  return out;
}

std::vector<BuildFile> FakeStore::source_files(Id build_id) {
  Lock lock(mutex_);
  std::vector<BuildFile> out;
  for (const auto& [name, id] : sources_[build_id]) out.push_back(BuildFile{name, files_.at(id)});
  return out;
}

std::vector<BuildFile> FakeStore::result_files(Id build_id) {
  Lock lock(mutex_);
  std::vector<BuildFile> out;
  for (const auto& [name, id] : results_[build_id]) out.push_back(BuildFile{name, files_.at(id)});
  return out;
}

std::optional<BuildQueueEntry> FakeStore::queue_entry_for_build(Id build_id) {
  Lock lock(mutex_);
  for (const auto& [id, e] : queue_) {
    if (e.build_id == build_id) return e;
  }
  return std::nullopt;
}

Build& FakeStore::build_locked(Id build_id) {
  auto it = builds_.find(build_id);
  if (it == builds_.end())
    throw Error(ErrorCategory::kNotFound, "no build " + std::to_string(build_id));
  return it->second;
}

void FakeStore::retry_build(Id build_id) {
  Lock lock(mutex_);
  auto& b = build_locked(build_id);
  if (b.state == BuildState::kNeedsBuild || b.state == BuildState::kBuilding ||
      b.state == BuildState::kFullyBuilt || b.state == BuildState::kCancelling) {
    throw Error(ErrorCategory::kConflict, "build not retryable");
  }
  b.state = BuildState::kNeedsBuild;
  b.started.reset();
  b.built.reset();
  b.duration.reset();
  b.buildlog_id.reset();
  results_.erase(build_id);
  BuildQueueEntry e;
  e.id = new_id();
  e.build_id = build_id;
  e.score = scores_[build_id].first;
  e.manual = scores_[build_id].second;
  queue_[e.id] = e;
}

void FakeStore::rescore_build(Id build_id, int score) {
  Lock lock(mutex_);
  build_locked(build_id);
  for (auto& [id, e] : queue_) {
    if (e.build_id != build_id || e.builder_id) continue;
    e.score = score;
    e.manual = true;
    scores_[build_id] = {score, true};
    return;
  }
  throw Error(ErrorCategory::kConflict, "build " + std::to_string(build_id) + " is not waiting");
}

std::vector<Build> FakeStore::builds_of_source(const std::string& source_name,
                                               const std::string& source_version, Id dar) {
  Lock lock(mutex_);
  std::vector<Build> out;
  for (auto it = builds_.rbegin(); it != builds_.rend(); ++it) {
    const Build& b = it->second;
    if (b.source_name == source_name && b.source_version == source_version &&
        b.distro_arch_release_id == dar)
      out.push_back(b);
  }
  return out;
}

CancelOutcome FakeStore::cancel_build(Id build_id) {
  Lock lock(mutex_);
  auto& b = build_locked(build_id);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->second.build_id != build_id) continue;
    if (!it->second.builder_id) {
      queue_.erase(it);
      b.state = BuildState::kCancelled;
      return CancelOutcome::kCancelled;
    }
    b.state = BuildState::kCancelling;
    return CancelOutcome::kCancelling;
  }
  return CancelOutcome::kAlreadyFinal;
}

std::vector<QueuedBuild> FakeStore::join(bool active, const std::vector<Id>* dars,
                                         std::size_t limit) {
  std::vector<QueuedBuild> out;
  for (const auto& [id, e] : queue_) {
    const Build& b = builds_.at(e.build_id);
    if (active != e.builder_id.has_value()) continue;
    if (!active && b.state != BuildState::kNeedsBuild) continue;
    if (dars && std::find(dars->begin(), dars->end(), b.distro_arch_release_id) == dars->end()) {
      continue;
    }
    out.push_back(QueuedBuild{e, b});
  }
  if (!active) {
    std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
      if (x.entry.score != y.entry.score) return x.entry.score > y.entry.score;
      return x.entry.id < y.entry.id;
    });
  }
  if (limit && out.size() > limit) out.resize(limit);
  return out;
}

std::vector<QueuedBuild> FakeStore::active_jobs() {
  Lock lock(mutex_);
  return join(true, nullptr, 0);
}

std::vector<QueuedBuild> FakeStore::candidates(const std::vector<Id>& dars, std::size_t limit) {
  Lock lock(mutex_);
  candidate_limits.push_back(limit);
  return join(false, &dars, limit);
}

std::vector<QueuedBuild> FakeStore::waiting(std::size_t limit) {
  Lock lock(mutex_);
  return join(false, nullptr, limit);
}

bool FakeStore::claim(Id queue_id, Id build_id, Id builder_id, TimePoint now) {
  Lock lock(mutex_);
  if (refuse_claims) return false;
  auto it = queue_.find(queue_id);
  if (it == queue_.end() || it->second.builder_id || it->second.build_id != build_id) return false;
  if (removed_.count(builder_id)) return false;
  for (const auto& [id, e] : queue_) {
    if (e.builder_id == builder_id) return false;  // one active job per builder
  }
  auto& b = builds_.at(build_id);
  if (b.state != BuildState::kNeedsBuild) return false;
  it->second.builder_id = builder_id;
  it->second.buildstart = now;
  ++it->second.attempt;
  b.state = BuildState::kBuilding;
  b.started = now;
  b.builder_id = builder_id;
  return true;
}

bool FakeStore::reset_locked(const JobReset& r) {
  auto it = queue_.find(r.queue_id);
  auto& b = builds_.at(r.build_id);
  if (it == queue_.end() || !it->second.builder_id || b.state != BuildState::kBuilding ||
      (r.attempt != 0 && it->second.attempt != r.attempt)) {
    return false;
  }
  it->second.builder_id.reset();
  it->second.buildstart.reset();
  it->second.logtail.clear();
  it->second.abort_sent.reset();
  it->second.live_log_size = 0;
  live_logs_.erase(r.queue_id);
  b.state = BuildState::kNeedsBuild;
  b.started.reset();
  return true;
}

std::string FakeStore::live_log(Id queue_id, std::uint64_t offset, std::size_t max_bytes) {
  Lock lock(mutex_);
  auto it = live_logs_.find(queue_id);
  if (it == live_logs_.end() || offset >= it->second.size()) return {};
  return it->second.substr(offset, max_bytes);
}

CommitResult FakeStore::commit(const CycleChanges& c) {
  Lock lock(mutex_);
  if (fail_next_commit) {
    fail_next_commit = false;
    throw Error(ErrorCategory::kStore, "database is busy", true);
  }
  // All or nothing: every record the changes name must exist before any is
  // applied (the SQL stores roll back instead).
  auto file_exists = [&](Id id) { return files_.count(id) > 0; };
  for (const auto& u : c.builders) {
    if (std::none_of(builders_.begin(), builders_.end(),
                     [&](const auto& b) { return b.id == u.builder_id; }))
      throw Error(ErrorCategory::kNotFound, "no builder " + std::to_string(u.builder_id));
  }
  for (const auto& x : c.completions) {
    build_locked(x.build_id);
    // Id 0: a file to record in this commit.
    if (x.buildlog && x.buildlog->id != 0 && !file_exists(x.buildlog->id))
      throw Error(ErrorCategory::kNotFound, "no build log file");
    for (const auto& [name, file] : x.result_files) {
      if (file.id != 0 && !file_exists(file.id))
        throw Error(ErrorCategory::kNotFound, "no library file for " + name);
    }
  }
  for (const auto& u : c.counters) build_locked(u.build_id);
  commits.push_back(c);
  CommitResult result;
  auto active = [&](Id queue_id) {
    auto it = queue_.find(queue_id);
    return it != queue_.end() && it->second.builder_id ? &it->second : nullptr;
  };
  for (const auto& u : c.logtails) {
    if (auto* e = active(u.queue_id)) {
      e->logtail = u.logtail;
    } else {
      ++result.stale;
    }
  }
  for (const auto& a : c.live_logs) {
    auto* e = active(a.queue_id);
    if (a.bytes.empty()) continue;
    if (!e || e->attempt != a.attempt || e->live_log_size != a.offset) {
      ++result.stale;
      continue;
    }
    live_logs_[a.queue_id] += a.bytes;
    e->live_log_size += a.bytes.size();
  }
  for (const auto& a : c.aborts) {
    if (auto* e = active(a.queue_id)) {
      e->abort_sent = a.at;
    } else {
      ++result.stale;
    }
  }
  for (const auto& u : c.builders) {
    for (auto& b : builders_) {
      if (b.id != u.builder_id) continue;
      if (!u.builderok) {
        if (b.builderok) b.disabled_at = Clock::now();
        b.builderok = false;
        b.failnotes = u.failnotes;
      }
      if (u.reset_failures) b.failure_count = 0;
      b.failure_count += u.failure_delta;
    }
  }
  for (const auto& u : c.counters) {
    auto& b = builds_.at(u.build_id);
    b.failure_count += u.failure_delta;
    b.give_back_count += u.give_back_delta;
  }
  for (const auto& r : c.resets) result.stale += reset_locked(r) ? 0 : 1;
  for (const auto& x : c.completions) {
    auto it = queue_.find(x.queue_id);
    if (it == queue_.end() || it->second.build_id != x.build_id) {
      ++result.stale;
      continue;
    }
    queue_.erase(it);
    live_logs_.erase(x.queue_id);
    auto& b = builds_.at(x.build_id);
    b.state = x.state;
    b.built = x.built;
    b.duration = x.duration;
    if (x.builder_id) b.builder_id = x.builder_id;
    auto record = [&](const LibraryFile& file) {
      return file.id != 0 ? file.id : add_library_file_locked(file).id;
    };
    if (x.buildlog) b.buildlog_id = record(*x.buildlog);
    b.dependencies = x.dependencies;
    auto& results = results_[x.build_id];
    results.clear();
    for (const auto& [name, file] : x.result_files) results.emplace_back(name, record(file));
  }
  for (const auto& u : c.slave_states) {
    for (auto& b : builders_) {
      if (b.id != u.builder_id) continue;
      b.slave_state = u.state;
      b.slave_state_since = u.since;
    }
  }
  return result;
}

// Masters and leases, as the SQL stores keep them (leases.cpp).
MasterRegistration FakeStore::heartbeat(const std::string& master_id, const std::string& instance,
                                        TimePoint now, std::chrono::seconds ttl,
                                        const std::string& replacing) {
  Lock lock(mutex_);
  if (!replacing.empty()) {
    for (auto it = masters_.begin(); it != masters_.end();) {
      if (it->second.instance != replacing) {
        ++it;
        continue;
      }
      std::erase_if(leases_, [&](const auto& l) { return l.second.master_id == it->first; });
      it = masters_.erase(it);
    }
  }
  auto it = masters_.find(master_id);
  if (it != masters_.end() && it->second.instance != instance &&
      it->second.heartbeat >= now - ttl) {
    MasterRegistration refused;
    refused.held = false;
    refused.holder_id = master_id;
    refused.holder_instance = it->second.instance;
    refused.holder_heartbeat = it->second.heartbeat;
    return refused;
  }
  masters_[master_id] = MasterRow{instance, now};
  return {};
}

std::vector<std::string> FakeStore::live_masters(TimePoint now, std::chrono::seconds ttl) {
  Lock lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, m] : masters_) {
    if (m.heartbeat >= now - ttl) ids.push_back(id);
  }
  return ids;
}

std::vector<Id> FakeStore::balance_leases(const std::string& master_id, std::size_t target,
                                          TimePoint now, std::chrono::seconds ttl) {
  Lock lock(mutex_);
  std::vector<Id> held;
  for (auto& [builder, lease] : leases_) {
    if (lease.master_id != master_id) continue;
    lease.expires = now + ttl;
    held.push_back(builder);
  }
  while (held.size() > target) {
    leases_.erase(held.back());
    held.pop_back();
  }
  for (const auto& b : builders_) {
    if (held.size() >= target) break;
    if (removed_.count(b.id)) continue;
    auto it = leases_.find(b.id);
    if (it != leases_.end() && it->second.expires >= now) continue;
    leases_[b.id] = LeaseRow{master_id, now + ttl};
    held.push_back(b.id);
  }
  std::sort(held.begin(), held.end());
  return held;
}

void FakeStore::leave(const std::string& master_id, const std::string& instance) {
  Lock lock(mutex_);
  std::erase_if(leases_, [&](const auto& l) { return l.second.master_id == master_id; });
  auto it = masters_.find(master_id);
  if (it != masters_.end() && it->second.instance == instance) masters_.erase(it);
}

std::vector<bool> FakeStore::claim_all(const std::vector<Claim>& claims, TimePoint now) {
  {
    Lock lock(mutex_);
    claim_batches.push_back(claims.size());
  }
  std::this_thread::sleep_for(claim_delay);
  return BuildStore::claim_all(claims, now);
}

LibraryFile FakeStore::add_library_file(const LibraryFile& file) {
  Lock lock(mutex_);
  return add_library_file_locked(file);
}

LibraryFile FakeStore::add_library_file_locked(const LibraryFile& file) {
  LibraryFile f = file;
  f.id = new_id();
  if (f.created == TimePoint{}) f.created = Clock::now();
  files_[f.id] = f;
  return f;
}

std::optional<LibraryFile> FakeStore::find_library_file(Id id) {
  Lock lock(mutex_);
  auto it = files_.find(id);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

std::optional<LibraryFile> FakeStore::find_library_file_by_sha256(const std::string& sha256) {
  Lock lock(mutex_);
  for (const auto& [id, f] : files_) {
    if (f.sha256 == sha256) return f;
  }
  return std::nullopt;
}

Builder& FakeStore::builder(Id id) {
  Lock lock(mutex_);
  for (auto& b : builders_) {
    if (b.id == id) return b;
  }
  throw Error(ErrorCategory::kNotFound, "no builder");
}

Build& FakeStore::build(Id id) {
  Lock lock(mutex_);
  return builds_.at(id);
}

std::optional<BuildQueueEntry> FakeStore::entry(Id id) {
  Lock lock(mutex_);
  auto it = queue_.find(id);
  if (it == queue_.end()) return std::nullopt;
  return it->second;
}

void FakeStore::assign(Id queue_id, Id builder_id, TimePoint at) {
  Lock lock(mutex_);
  auto& e = queue_.at(queue_id);
  e.builder_id = builder_id;
  e.buildstart = at;
  auto& b = builds_.at(e.build_id);
  b.state = BuildState::kBuilding;
  b.started = at;
}

void FakeStore::set_enqueued(Id queue_id, TimePoint at) {
  Lock lock(mutex_);
  queue_.at(queue_id).created = at;
}

}  // namespace buildd::test
