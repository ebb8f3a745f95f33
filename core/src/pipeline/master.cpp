#include "buildd/pipeline/master.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "buildd/logging.hpp"
#include "buildd/net.hpp"
#include "worker_pool.hpp"

namespace buildd {
namespace {

// A registration "host:pid" left by a process of this host that is gone.
bool is_dead_local_instance(const std::string& instance) {
  const auto colon = instance.rfind(':');
  if (colon == std::string::npos || instance.substr(0, colon) != host_name()) return false;
  const long pid = std::strtol(instance.c_str() + colon + 1, nullptr, 10);
  return pid > 1 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// The slave of a builder whose URL the transport refused (a URL typed for
// another transport, or written to the database by hand): every call throws
// the refusal, so the probe disables the builder with it as the failnotes and
// the rest of the farm goes on.
class RefusedSlave : public Slave {
 public:
  RefusedSlave(std::string name, Error refusal)
      : name_(std::move(name)), refusal_(std::move(refusal)) {}
  const std::string& builder_name() const override { return name_; }
  WorkerInfo probe() override { throw refusal_; }
  SlaveStatus status() override { throw refusal_; }
  StartResult start(const JobSpec&) override { throw refusal_; }
  std::string abort() override { throw refusal_; }
  std::string clean() override { throw refusal_; }
  FetchedFile fetch_file(const std::string&, ByteSink&, std::uint64_t) override { throw refusal_; }

 private:
  std::string name_;
  Error refusal_;
};

}  // namespace

std::string CycleReport::summary() const {
  std::ostringstream out;
  out << "scanned=" << scanned << " completed=" << completed_total();
  for (const auto& [state, count] : completed) out << " " << name(state) << "=" << count;
  out << " dispatched=" << dispatched << " reset=" << reset
      << " failed_builders=" << failed_builders << " deferred=" << deferred
      << " reconciled=" << reconciled << " unreachable=" << unreachable
      << " duration_ms=" << std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  return out.str();
}

SetupError::SetupError(const DistroArchRelease& dar)
    : Error(ErrorCategory::kNotFound, "Unable to setup builder for " + dar.display_name() + ".") {}

BuilddMaster::BuilddMaster(BuildStore& store, SlaveTransport& transport, Librarian& librarian,
                           const TimeSource& time, MasterSettings settings)
    : store_(store),
      transport_(transport),
      librarian_(librarian),
      time_(time),
      settings_(std::move(settings)),
      scheduler_(std::make_shared<DefaultScheduler>()),
      instance_(host_name() + ":" + std::to_string(::getpid())),
      answers_(std::make_shared<BuilderAnswers>(time.now())) {}

void BuilddMaster::set_builder_answers(std::shared_ptr<BuilderAnswers> answers) {
  answers_ = std::move(answers);
}

void BuilddMaster::set_metrics(Metrics* metrics) {
  metrics_ = metrics;
  for (auto& [family, g] : groups_) g->metrics = metrics;
}

void BuilddMaster::set_scheduler(std::shared_ptr<const Scheduler> scheduler) {
  if (scheduler) scheduler_ = std::move(scheduler);
}

bool BuilddMaster::add_distro_arch_release(const DistroArchRelease& dar) {
  if (!dar.chroot_file_id) {
    logger("master")->debug("Disabling {}: No CHROOT found", dar.display_name());
    archreleases_.erase(dar.id);
    return false;
  }
  archreleases_[dar.id] = dar;
  return true;
}

BuilderGroup* BuilddMaster::group(Id family_id) {
  std::shared_lock lock(topology_mutex_);
  auto it = groups_.find(family_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

void BuilddMaster::probe(BuilderHandle& builder, const DistroArchRelease& dar) {
  builder.probed = true;
  std::string reason;
  try {
    const WorkerInfo info = builder.slave->probe();
    builder.last_answer = time_.now();
    builder.worker = info;
    if (info.arch_tag != dar.arch_tag)
      reason = "Architecture tag mismatch: " + info.arch_tag + " (expected " + dar.arch_tag + ")";
  } catch (const std::exception& e) {
    reason = e.what();
  }
  if (reason.empty()) return;
  logger("master")->error("{}: probe failed: {}", builder.name, reason);
  builder.builderok = false;
  builder.failnotes = reason;
  store_.set_builder_ok(builder.id, false, reason);
}

BuilderGroup& BuilddMaster::load_builders(const DistroArchRelease& dar,
                                          const std::vector<Builder>& rows) {
  std::unique_lock lock(topology_mutex_);
  auto& slot = groups_[dar.family_id];
  if (!slot) slot = std::make_unique<BuilderGroup>(dar.family_id, time_, settings_);
  slot->metrics = metrics_;
  BuilderGroup& group = *slot;
  auto connect = [this](const Builder& row) -> std::unique_ptr<Slave> {
    try {
      return transport_.open(row);
    } catch (const Error& e) {
      logger("master")->error("{}: the slave transport refuses {}: {}", row.name, row.url,
                              e.what());
      return std::make_unique<RefusedSlave>(
          row.name, Error(ErrorCategory::kProtocol,
                          "the slave transport refuses " + row.url + ": " + e.message()));
    }
  };
  // The group's handles by id, once per call: a find() per row made this
  // quadratic in the farm's size (50 million comparisons at 10,000 builders).
  std::unordered_map<Id, BuilderHandle*> by_id;
  for (auto& b : group.builders) by_id.emplace(b->id, b.get());
  for (const Builder& row : rows) {
    if (row.family_id != dar.family_id) continue;
    const auto found = by_id.find(row.id);
    BuilderHandle* handle = found == by_id.end() ? nullptr : found->second;
    if (!handle) {
      group.builders.push_back(std::make_unique<BuilderHandle>(row, connect(row)));
    } else if (!handle->polling) {
      // Operator changes (enable, manual, set-url) come from the database.
      // After an enable or a move the builder is probed again, and
      // reconciled before dispatch; a move also gets a new connection.
      const bool reenabled = row.builderok && !handle->builderok;
      const bool moved = row.url != handle->url;
      if (moved) {
        logger("master")->info("{}: moved from {} to {}", row.name, handle->url, row.url);
        handle->slave = connect(row);
      }
      static_cast<Builder&>(*handle) = row;
      if (reenabled || moved) {
        handle->probed = false;
        handle->transport_failures = 0;
        handle->unreachable_since.reset();
      }
    }
  }
  return group;
}

BuilderGroup& BuilddMaster::setup_builders(const DistroArchRelease& dar) {
  if (!find_archrelease(dar.id)) throw SetupError(dar);
  BuilderGroup& group = load_builders(dar, store_.builders());
  // The probes of a family run concurrently: a hung slave costs its own
  // deadline, not everyone's.
  std::vector<BuilderHandle*> unprobed;
  for (auto& b : group.builders) {
    if (b->builderok && !b->probed) unprobed.push_back(b.get());
  }
  detail::run_on_pool(unprobed.size(), settings_.max_in_flight,
                      [&](std::size_t i) { probe(*unprobed[i], dar); });
  const bool usable = std::any_of(group.builders.begin(), group.builders.end(),
                                  [](const auto& b) { return b->builderok; });
  if (!usable) throw SetupError(dar);
  return group;
}

void BuilddMaster::refresh() {
  // As the seed does: every arch release is offered, and one that cannot be
  // used (no chroot, no usable builder) says so. The builders are read once
  // per pass and probed by their own polls.
  const std::vector<DistroArchRelease> dars = store_.distro_arch_releases();
  const std::vector<Builder> rows = store_.builders();
  builder_count_ = rows.size();
  std::vector<DistroArchRelease> no_chroot;
  for (const auto& dar : dars) {
    {
      std::unique_lock lock(topology_mutex_);
      if (!add_distro_arch_release(dar)) {
        no_chroot.push_back(dar);
        continue;
      }
    }
    load_builders(dar, rows);
  }
  report_unusable(no_chroot);
}

void BuilddMaster::report_unusable(std::vector<DistroArchRelease> unusable) {
  // Once per arch release when it becomes unusable, not at every pass.
  std::vector<DistroArchRelease> usable;
  {
    std::shared_lock lock(topology_mutex_);
    for (const auto& [id, dar] : archreleases_) {
      auto g = groups_.find(dar.family_id);
      const bool ok =
          g != groups_.end() && std::any_of(g->second->builders.begin(), g->second->builders.end(),
                                            [](const auto& b) { return b->builderok; });
      (ok ? usable : unusable).push_back(dar);
    }
  }
  for (const auto& dar : usable) unusable_.erase(dar.id);
  for (const auto& dar : unusable) {
    const bool first = unusable_.insert(dar.id).second;
    logger("master")->log(first ? spdlog::level::warn : spdlog::level::debug, "{}",
                          SetupError(dar).what());
  }
}

std::vector<BuilderHandle*> BuilddMaster::builder_handles() {
  std::shared_lock lock(topology_mutex_);
  std::vector<BuilderHandle*> out;
  for (auto& [family, g] : groups_) {
    for (auto& b : g->builders) out.push_back(b.get());
  }
  lock.unlock();
  std::erase_if(out, [this](BuilderHandle* b) { return !holds(b->id); });
  // A builder whose lease went to another master is reported by that one.
  std::set<Id> held;
  for (const BuilderHandle* b : out) held.insert(b->id);
  answers_->retain(held);
  return out;
}

void BuilddMaster::renew_leases() {
  if (settings_.master_id.empty()) return;
  const TimePoint now = time_.now();
  const auto ttl = settings_.lease_ttl;
  MasterRegistration reg = store_.heartbeat(settings_.master_id, instance_, now, ttl);
  if (!reg.held && is_dead_local_instance(reg.holder_instance)) {
    logger("master")->info("taking over from {} ({}), which is no longer running", reg.holder_id,
                           reg.holder_instance);
    reg = store_.heartbeat(settings_.master_id, instance_, now, ttl, reg.holder_instance);
  }
  if (!reg.held) {
    {
      std::lock_guard lock(lease_mutex_);
      leased_.clear();
    }
    const std::string seen = reg.holder_heartbeat ? iso_utc(*reg.holder_heartbeat) : "?";
    throw Error(ErrorCategory::kConflict,
                reg.holder_id == settings_.master_id
                    ? "another buildd-master with id '" + reg.holder_id + "' (" +
                          reg.holder_instance + ", last heartbeat " + seen +
                          ") is running on this database; give each master its own master.id"
                    : "another buildd-master ('" + reg.holder_id + "', " + reg.holder_instance +
                          ", last heartbeat " + seen +
                          ") is running on this SQLite database, and SQLite allows one master");
  }
  const std::size_t masters = std::max<std::size_t>(1, store_.live_masters(now, ttl).size());
  std::size_t total = builder_count_;
  if (total == 0) total = store_.builders().size();
  const std::size_t target = (total + masters - 1) / masters;
  const std::vector<Id> held = store_.balance_leases(settings_.master_id, target, now, ttl);
  std::lock_guard lock(lease_mutex_);
  std::set<Id> fresh(held.begin(), held.end());
  if (fresh != leased_) {
    logger("master")->info("master {} holds {} of {} builders ({} live master(s))",
                           settings_.master_id, fresh.size(), total, masters);
  }
  leased_ = std::move(fresh);
  // Others may take a lease once it expires (now + ttl): stop a little
  // before, in case this master cannot renew.
  leases_valid_until_ = now + ttl * 2 / 3;
}

void BuilddMaster::leave() {
  if (settings_.master_id.empty()) return;
  {
    std::lock_guard lock(lease_mutex_);
    leased_.clear();
  }
  store_.leave(settings_.master_id, instance_);
}

bool BuilddMaster::holds(Id builder_id) {
  if (settings_.master_id.empty()) return true;
  std::lock_guard lock(lease_mutex_);
  return time_.now() < leases_valid_until_ && leased_.count(builder_id) > 0;
}

std::optional<DistroArchRelease> BuilddMaster::find_archrelease(Id id) {
  std::shared_lock lock(topology_mutex_);
  auto it = archreleases_.find(id);
  if (it == archreleases_.end()) return std::nullopt;
  return it->second;
}

std::vector<DistroArchRelease> BuilddMaster::family_archreleases(Id family_id) {
  std::shared_lock lock(topology_mutex_);
  std::vector<DistroArchRelease> out;
  for (const auto& [id, dar] : archreleases_) {
    if (dar.family_id == family_id) out.push_back(dar);
  }
  return out;
}

bool BuilddMaster::arch_indep(const DistroArchRelease& dar) {
  // The release's first architecture (lowest id) builds the arch-all
  // packages, as the nominated arch-independent one did in 2005.
  std::shared_lock lock(topology_mutex_);
  for (const auto& [id, other] : archreleases_) {
    if (other.distribution == dar.distribution && other.release == dar.release && id < dar.id) {
      return false;
    }
  }
  return true;
}

BuilddMaster::FamilyDispatch& BuilddMaster::family_dispatch(Id family_id) {
  std::lock_guard lock(family_dispatch_guard_);
  auto& slot = family_dispatch_[family_id];
  if (!slot) slot = std::make_unique<FamilyDispatch>();
  return *slot;
}

std::vector<QueuedBuild> BuilddMaster::scheduled_candidates(
    const std::vector<Id>& distro_arch_release_ids, std::size_t wanted, TimePoint now) {
  const std::size_t per_archive = scheduler_->candidates_per_archive();
  std::vector<QueuedBuild> rows;
  std::map<std::string, std::size_t> running;
  if (per_archive == 0) {
    rows = store_.candidates(distro_arch_release_ids, wanted);
  } else {
    rows = store_.candidates_per_archive(distro_arch_release_ids, per_archive);
    // Too few for `wanted` builders while some archive may hold more: read
    // again, enough of each archive for an even share of the builders (all
    // of them when one archive is all there is). Reading `wanted` of every
    // archive would cost archives x builders rows a pass.
    std::map<std::pair<Id, std::string>, std::size_t> per_group;
    for (const QueuedBuild& row : rows)
      ++per_group[{row.build.distro_arch_release_id, row.build.archive}];
    const bool truncated = std::any_of(per_group.begin(), per_group.end(),
                                       [&](const auto& g) { return g.second >= per_archive; });
    if (rows.size() < wanted && truncated) {
      std::set<std::string> archives;
      for (const auto& g : per_group) archives.insert(g.first.second);
      rows = store_.candidates_per_archive(
          distro_arch_release_ids, per_archive + (wanted + archives.size() - 1) / archives.size());
    }
    running = store_.running_per_archive();
  }
  if (rows.empty()) return rows;
  std::set<Id> given;
  for (const QueuedBuild& row : rows) given.insert(row.entry.id);
  std::vector<ScheduledBuild> ordered = scheduler_->order(std::move(rows), running, now);
  std::vector<QueuedBuild> out;
  out.reserve(ordered.size());
  for (ScheduledBuild& s : ordered) {
    // A plugin's answer is checked: each entry it was given, once.
    if (given.erase(s.job.entry.id) == 0)
      throw Error(ErrorCategory::kPlugin, "the scheduler's order() returned queue entry " +
                                              std::to_string(s.job.entry.id) +
                                              ", which it was not given or returned twice");
    out.push_back(std::move(s.job));
  }
  if (!given.empty())
    throw Error(ErrorCategory::kPlugin,
                "the scheduler's order() dropped " + std::to_string(given.size()) + " of the " +
                    std::to_string(out.size() + given.size()) + " candidates it was given");
  return out;
}

struct BuilddMaster::ClaimRequest {
  BuilderHandle* builder = nullptr;
  std::optional<QueuedBuild> job;
  std::exception_ptr error;
  bool done = false;
};

std::optional<QueuedBuild> BuilddMaster::claim_next_job(BuilderHandle& b) {
  FamilyDispatch& family = family_dispatch(b.family_id);
  ClaimRequest mine;
  mine.builder = &b;
  std::unique_lock lock(family.mutex);
  family.waiting.push_back(&mine);
  while (!mine.done) {
    if (family.serving) {
      family.served.wait(lock);
      continue;
    }
    // No batch is being claimed: this thread claims for every builder
    // waiting now, its own among them.
    family.serving = true;
    const std::vector<ClaimRequest*> batch = std::exchange(family.waiting, {});
    lock.unlock();
    std::exception_ptr error;
    try {
      claim_batch(b.family_id, batch);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    for (ClaimRequest* request : batch) {
      request->error = error;
      request->done = true;
    }
    family.serving = false;
    family.served.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
  return std::move(mine.job);
}

void BuilddMaster::claim_batch(Id family_id, const std::vector<ClaimRequest*>& batch) {
  std::vector<Id> dar_ids;
  for (const auto& dar : family_archreleases(family_id)) dar_ids.push_back(dar.id);
  if (dar_ids.empty()) return;
  const TimePoint now = time_.now();
  std::vector<QueuedBuild> rows =
      scheduled_candidates(dar_ids, batch.size() + settings_.candidate_lookahead, now);
  // Each builder is offered the best build left that it does not avoid; the
  // builders whose claim lost (another master took the build) are offered
  // the next ones, until the candidates run out.
  std::vector<bool> offered(rows.size(), false);
  std::vector<ClaimRequest*> pending = batch;
  while (!pending.empty()) {
    std::vector<Claim> claims;
    std::vector<std::pair<ClaimRequest*, std::size_t>> offers;
    for (ClaimRequest* request : pending) {
      const Id builder_id = request->builder->id;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (offered[i] || avoided(rows[i].build.id, builder_id)) continue;
        offered[i] = true;
        claims.push_back(Claim{rows[i].entry.id, rows[i].build.id, builder_id});
        offers.emplace_back(request, i);
        break;
      }
    }
    if (claims.empty()) return;
    const std::vector<bool> won = store_.claim_all(claims, now);
    pending.clear();
    for (std::size_t k = 0; k < offers.size(); ++k) {
      auto [request, i] = offers[k];
      if (k >= won.size() || !won[k]) {
        pending.push_back(request);
        continue;
      }
      QueuedBuild row = rows[i];
      row.entry.builder_id = request->builder->id;
      row.entry.buildstart = now;
      ++row.entry.attempt;
      request->job = std::move(row);
    }
  }
}

void BuilddMaster::avoid(Id build_id, Id builder_id) {
  std::lock_guard lock(avoid_mutex_);
  avoid_[build_id] = {builder_id, time_.now()};
}

bool BuilddMaster::avoided(Id build_id, Id builder_id) {
  std::lock_guard lock(avoid_mutex_);
  auto it = avoid_.find(build_id);
  if (it == avoid_.end()) return false;
  // Long enough for every other builder of the family to be polled twice;
  // after that the build may go back to the same builder (it may be alone).
  if (time_.now() - it->second.second > 2 * settings_.scan_interval) {
    avoid_.erase(it);
    return false;
  }
  return it->second.first == builder_id;
}

CycleReport BuilddMaster::scan_active_builders() {
  CycleReport report;
  std::vector<QueuedBuild> jobs = store_.active_jobs();
  std::vector<QueueItem> items;
  std::vector<BuilderGroup*> item_groups;
  for (auto& group : groups_) {
    for (auto& b : group.second->builders) b->has_job = false;
  }
  for (const auto& job : jobs) {
    auto dar = archreleases_.find(job.build.distro_arch_release_id);
    if (dar == archreleases_.end() || !job.entry.builder_id) continue;
    BuilderGroup* group = this->group(dar->second.family_id);
    BuilderHandle* builder = group ? group->find(*job.entry.builder_id) : nullptr;
    if (!builder) continue;  // no group for it this run: the 2005 scanner skipped it too
    builder->has_job = true;
    items.push_back(QueueItem::from(job, builder, dar->second));
    item_groups.push_back(group);
  }

  // Each item has its own builder, so items are independent: a bounded pool
  // of workers takes them in turn, and a hung builder holds one worker only
  // (for its own per-call deadline).
  detail::run_on_pool(items.size(), settings_.max_in_flight, [&](std::size_t i) {
    try {
      item_groups[i]->update_build(items[i], librarian_);
    } catch (const std::exception& e) {
      logger("scan")->error("{}: build {}: {}", items[i].builder ? items[i].builder->name : "-",
                            items[i].build.id, e.what());
      items[i].deferred = true;
    }
  });

  std::set<Id> failed;
  std::vector<QueueItem*> done;
  for (auto& item : items) {
    ++report.scanned;
    const auto& c = item.changes;
    for (const auto& x : c.completions) ++report.completed[x.state];
    report.reset += c.resets.size();
    report.deferred += item.deferred ? 1 : 0;
    for (const auto& b : c.builders) {
      if (!b.builderok) failed.insert(b.builder_id);
    }
    done.push_back(&item);
  }
  report.failed_builders = failed.size();
  BuilderGroup::commit_then_clean(commits_, std::move(done));
  return report;
}

std::map<Id, std::vector<QueuedBuild>> BuilddMaster::sort_and_split_by_processor() {
  std::map<Id, std::vector<QueuedBuild>> result;
  std::map<Id, std::vector<Id>> dars_by_family;
  for (const auto& [id, dar] : archreleases_) dars_by_family[dar.family_id].push_back(id);
  const TimePoint now = time_.now();
  for (const auto& [family, dar_ids] : dars_by_family) {
    std::size_t usable = 0;
    if (auto* g = group(family)) {
      for (const auto& b : g->builders) usable += (b->builderok && !b->manual && !b->has_job);
    }
    auto rows = scheduled_candidates(dar_ids, usable + settings_.candidate_lookahead, now);
    if (rows.empty()) continue;
    result[family] = std::move(rows);
  }
  return result;
}

bool BuilddMaster::start_build(BuilderGroup& group, BuilderHandle& builder, const QueuedBuild& row,
                               const std::optional<LibraryFile>& chroot, CycleChanges& changes,
                               CycleReport& report) {
  auto log = logger("dispatch");
  const std::optional<DistroArchRelease> found = find_archrelease(row.build.distro_arch_release_id);
  if (!found || !chroot) {
    // Claimed, then its arch release lost its chroot: back to the queue.
    log->warn("Missing CHROOT for build {}", row.build.id);
    changes.resets.push_back(JobReset{row.entry.id, row.build.id, row.entry.attempt});
    return false;
  }
  const DistroArchRelease& dar = *found;
  const std::string cookie = build_cookie(row.build.id, row.entry.id, row.entry.attempt);
  builder.has_job = true;
  QueueItem item = QueueItem::from(row, &builder, dar);
  item.buildstart = row.entry.buildstart;
  item.build.state = BuildState::kBuilding;
  // The job goes back to the queue, and nobody is blamed.
  auto put_back = [&] {
    builder.has_job = false;
    changes.resets.push_back(JobReset{row.entry.id, row.build.id, row.entry.attempt});
    ++report.reset;
    return false;
  };
  try {
    JobSpec job;
    job.job_id = cookie;
    job.chroot = {chroot->filename, chroot->sha1, librarian_.url_for(*chroot)};
    for (const auto& f : store_.source_files(row.build.id))
      job.sources.push_back({f.filename, f.file.sha1, librarian_.url_for(f.file)});
    job.source_name = row.build.source_name;
    job.source_version = row.build.source_version;
    job.release = dar.release;
    job.pocket = row.build.pocket;
    job.component = row.build.component;
    job.arch_tag = dar.arch_tag;
    job.arch_indep = arch_indep(dar);
    job.protocol_args = settings_.job_args_for(dar.display_name());
    const StartResult r = builder.slave->start(job);
    if (!r.started) {
      log->warn("{}: build {} not started ({}); it goes back to the queue", builder.name, cookie,
                r.not_now);
      return put_back();
    }
  } catch (const Error& e) {
    log->error("{}: dispatching build {} failed: {}", builder.name, cookie, e.what());
    if (metrics_)
      metrics_->inc(kMetricSlaveErrors,
                    {{"builder", builder.name}, {"kind", category_name(e.category())}});
    group.handle_failure(item, e, false);
    if (item.changes.resets.empty() && !item.removed) {
      changes.resets.push_back(JobReset{row.entry.id, row.build.id, row.entry.attempt});
    }
    builder.has_job = false;
    changes.append(std::move(item.changes));
    report.reset += 1;
    if (!builder.builderok) ++report.failed_builders;
    return false;
  }
  if (metrics_)
    metrics_->observe(kMetricDispatchLatency, {},
                      std::chrono::duration<double>(time_.now() - row.entry.created).count());
  log->info("{}: dispatched build {} ({} {} on {})", builder.name, cookie, row.build.source_name,
            row.build.source_version, dar.display_name());
  return true;
}

std::size_t BuilddMaster::dispatch_by_processor(Id family_id,
                                                const std::vector<QueuedBuild>& items) {
  BuilderGroup* g = group(family_id);
  if (!g) return 0;
  CycleReport report;
  std::vector<const QueuedBuild*> queue;
  for (const auto& row : items) {
    if (archreleases_.count(row.build.distro_arch_release_id)) queue.push_back(&row);
  }

  // Each round pairs the available builders, in first_available() order,
  // with the best builds left, and starts every pair concurrently (a builder
  // is in one pair only, so its Slave stays on one thread). A builder whose
  // start failed without failing it is offered again in the next round, as
  // the sequential first_available() loop would have offered it.
  // One chroot lookup per arch release, not one per build.
  std::map<Id, std::optional<LibraryFile>> chroots;
  for (const QueuedBuild* row : queue) {
    const Id dar_id = row->build.distro_arch_release_id;
    if (chroots.count(dar_id)) continue;
    const auto& chroot_id = archreleases_.at(dar_id).chroot_file_id;
    chroots[dar_id] = chroot_id ? store_.find_library_file(*chroot_id) : std::nullopt;
  }
  struct Attempt {
    CycleChanges changes;
    CycleReport report;
    bool started = false;
    std::exception_ptr error;
  };
  CycleChanges changes;
  std::exception_ptr error;
  std::size_t started = 0;
  std::size_t next = 0;
  while (next < queue.size() && !error) {
    const std::vector<BuilderHandle*> free =
        g->available_builders(queue.size() - next, settings_.max_in_flight);
    if (free.empty()) break;
    std::vector<Attempt> attempts(free.size());
    detail::run_on_pool(free.size(), settings_.max_in_flight, [&](std::size_t i) {
      Attempt& a = attempts[i];
      try {
        QueuedBuild row = *queue[next + i];
        const auto& chroot = chroots.at(row.build.distro_arch_release_id);
        if (!chroot) {
          logger("dispatch")->warn("Missing CHROOT for build {}", row.build.id);
          return;
        }
        const TimePoint now = time_.now();
        if (!store_.claim(row.entry.id, row.build.id, free[i]->id, now)) {
          logger("dispatch")
              ->info("{}: build {} was taken by someone else", free[i]->name, row.build.id);
          return;
        }
        row.entry.builder_id = free[i]->id;
        row.entry.buildstart = now;
        ++row.entry.attempt;
        a.started = start_build(*g, *free[i], row, chroot, a.changes, a.report);
      } catch (...) {
        // A store error: the cycle lets it escape once the pairs are done.
        a.error = std::current_exception();
      }
    });
    for (auto& a : attempts) {
      started += a.started ? 1 : 0;
      report.reset += a.report.reset;
      report.failed_builders += a.report.failed_builders;
      changes.append(std::move(a.changes));
      if (a.error && !error) error = a.error;
    }
    next += free.size();
  }
  report.dispatched += started;
  // The builds already started are committed even when another pair's store
  // call failed: their slaves are building them.
  if (!changes.empty()) commits_.commit(std::move(changes));
  if (error) std::rethrow_exception(error);
  return started;
}

namespace {

void merge(CycleReport& into, const CycleReport& from) {
  into.scanned += from.scanned;
  for (const auto& [state, count] : from.completed) into.completed[state] += count;
  into.dispatched += from.dispatched;
  into.reset += from.reset;
  into.failed_builders += from.failed_builders;
  into.deferred += from.deferred;
  into.reconciled += from.reconciled;
  into.unreachable += from.unreachable;
}

}  // namespace

std::optional<SlaveStateUpdate> BuilddMaster::slave_state_change(
    const BuilderHandle& builder) const {
  if (builder.observed_state.empty() || builder.observed_state == builder.slave_state)
    return std::nullopt;
  return SlaveStateUpdate{builder.id, builder.observed_state, time_.now()};
}

void BuilddMaster::slave_state_recorded(BuilderHandle& builder, const SlaveStateUpdate& update) {
  builder.slave_state = update.state;
  builder.slave_state_since = update.since;
}

void BuilddMaster::record_slave_state(BuilderHandle& builder) {
  const std::optional<SlaveStateUpdate> update = slave_state_change(builder);
  if (!update) return;
  // In a (group) commit with other builders' changes, not a transaction of
  // its own: a build changes its slave's state three or four times.
  CycleChanges changes;
  changes.slave_states.push_back(*update);
  commits_.commit(std::move(changes));
  slave_state_recorded(builder, *update);
}

std::optional<SlaveStatus> BuilddMaster::poll_status(BuilderHandle& b, CycleReport& report) {
  try {
    SlaveStatus status = b.slave->status();
    b.note_status(status, time_.now());
    return status;
  } catch (const Error& e) {
    if (metrics_)
      metrics_->inc(kMetricSlaveErrors,
                    {{"builder", b.name}, {"kind", category_name(e.category())}});
    ++report.unreachable;
    b.note_status_failure(e, time_.now(), "");
    if (!transport_grace_exhausted(b.transport_failures, settings_)) return std::nullopt;
    ++b.failure_count;
    if (b.failure_count >= settings_.builder_failure_threshold) {
      b.builderok = false;
      b.failnotes = "status() failed " + std::to_string(b.transport_failures) +
                    " times in a row since " + iso_utc(*b.unreachable_since) + ": " +
                    capped_slave_text(e.what(), 300);
      logger("scan")->error("{}: builder disabled: {}", b.name, b.failnotes);
      ++report.failed_builders;
    }
    CycleChanges changes;
    changes.builders.push_back(BuilderUpdate{b.id, b.builderok, b.failnotes, 1});
    commits_.commit(std::move(changes));
    return std::nullopt;
  }
}

void BuilddMaster::reconcile(BuilderHandle& b, const SlaveStatus& status, CycleReport& report) {
  auto log = logger("scan");
  const ReconcileAction action = decide_reconcile(status);
  switch (action) {
    case ReconcileAction::kReady:
      if (!b.manual) dispatch_to(b, report);
      return;
    case ReconcileAction::kWaitAborting:
      log->debug("{}: slave is {}: waiting for it to stop", b.name, b.observed_state);
      return;
    case ReconcileAction::kUnknownState: {
      b.builderok = false;
      b.failnotes = "Unknown status code (" + capped_slave_text(status.state_text, 300) +
                    ") returned from status() probe";
      log->critical("{}: {}", b.name, b.failnotes);
      CycleChanges changes;
      changes.builders.push_back(BuilderUpdate{b.id, false, b.failnotes});
      commits_.commit(std::move(changes));
      ++report.failed_builders;
      return;
    }
    case ReconcileAction::kClean:
    case ReconcileAction::kAbort:
      break;
  }
  // The database may have given the builder a job since this poll read it
  // (a dispatch of another master): then it is not ours to clean.
  if (store_.active_job_for_builder(b.id)) return;
  const bool clean = action == ReconcileAction::kClean;
  log->warn("{}: slave is {} with no job of ours: {}", b.name, b.observed_state,
            clean ? "cleaning it" : "aborting it (it is cleaned once it stops)");
  try {
    if (clean) {
      b.slave->clean();
    } else {
      b.slave->abort();
    }
  } catch (const Error& e) {
    log->warn("{}: {}() failed: {}", b.name, clean ? "clean" : "abort", e.what());
    if (metrics_)
      metrics_->inc(kMetricSlaveErrors,
                    {{"builder", b.name}, {"kind", category_name(e.category())}});
    return;
  }
  ++report.reconciled;
  if (metrics_) metrics_->inc(kMetricReconcileActions, {{"action", clean ? "clean" : "abort"}});
  if (!clean || b.manual) return;
  // clean() leaves launchpad-buildd IDLE: feed it now rather than next poll.
  if (auto again = poll_status(b, report); again && again->state == BuilderState::kIdle) {
    dispatch_to(b, report);
  }
}

bool BuilddMaster::dispatch_to(BuilderHandle& b, CycleReport& report) {
  BuilderGroup* g = group(b.family_id);
  if (!g) return false;
  std::map<Id, std::optional<Id>> chroot_ids;
  for (const auto& dar : family_archreleases(b.family_id)) chroot_ids[dar.id] = dar.chroot_file_id;
  if (chroot_ids.empty()) return false;
  const std::optional<QueuedBuild> chosen = claim_next_job(b);
  if (!chosen) return false;
  const auto& chroot_id = chroot_ids[chosen->build.distro_arch_release_id];
  const std::optional<LibraryFile> chroot =
      chroot_id ? store_.find_library_file(*chroot_id) : std::nullopt;
  CycleChanges changes;
  const bool started = start_build(*g, b, *chosen, chroot, changes, report);
  commits_.commit(std::move(changes));
  report.dispatched += started ? 1 : 0;
  return started;
}

CycleReport BuilddMaster::poll_builder(BuilderHandle& b) {
  CycleReport report;
  if (!holds(b.id)) return report;
  answers_->polling(b.id, b.name, b.builderok && b.slave);
  if (!b.slave || !b.builderok) return report;
  // Recorded however the poll ends (a store error may escape it).
  struct RecordAnswer {
    BuilderHandle& b;
    BuilderAnswers& answers;
    ~RecordAnswer() {
      if (b.last_answer) answers.answered(b.id, *b.last_answer);
    }
  } record{b, *answers_};
  const std::vector<DistroArchRelease> dars = family_archreleases(b.family_id);
  BuilderGroup* g = group(b.family_id);
  if (dars.empty() || !g) return report;
  if (!b.probed) {
    probe(b, dars.front());
    if (!b.builderok) {
      ++report.failed_builders;
      return report;
    }
  }
  poll_step(b, *g, report);
  // Counted once the step has ended without an escaping error: its rate is
  // the master's scan capacity (buildd-bench multimaster sums it over masters).
  if (metrics_) metrics_->inc(kMetricBuilderPolls);
  return report;
}

void BuilddMaster::poll_step(BuilderHandle& b, BuilderGroup& group, CycleReport& report) {
  // From here on this process has looked at the builder (see first_look).
  struct MarkPolled {
    BuilderHandle& b;
    ~MarkPolled() { b.polled = true; }
  } mark{b};
  b.cleaned.reset();
  if (auto job = store_.active_job_for_builder(b.id)) {
    b.has_job = true;
    const auto dar = find_archrelease(job->build.distro_arch_release_id);
    if (!dar) return;  // its arch release is gone: left as the 2005 scanner did
    QueueItem item = QueueItem::from(*job, &b, *dar);
    item.first_look = !b.polled;
    group.update_build(item, librarian_);
    if (!item.builder || item.removed) b.observed_state.clear();  // a fresh look follows
    ++report.scanned;
    for (const auto& x : item.changes.completions) ++report.completed[x.state];
    report.reset += item.changes.resets.size();
    report.deferred += item.deferred ? 1 : 0;
    for (const auto& u : item.changes.builders) report.failed_builders += u.builderok ? 0 : 1;
    // A job still running: the slave's state goes in the same commit as the
    // job's changes (one transaction per poll, not two).
    const bool still_running = item.builder && !item.removed;
    const std::optional<SlaveStateUpdate> state =
        still_running ? slave_state_change(b) : std::nullopt;
    if (state) item.changes.slave_states.push_back(*state);
    BuilderGroup::commit_then_clean(commits_, {&item});
    if (state) slave_state_recorded(b, *state);
    if (item.lost) avoid(item.build.id, b.id);
    if (still_running) return;
    b.has_job = false;
    if (!b.builderok) return;
    // The job is over: reconcile and feed the builder in the same poll.
  }
  b.has_job = false;
  if (b.cleaned) {
    // Just cleaned: IDLE, as clean() said (one status() round trip fewer
    // per build).
    SlaveStatus idle;
    idle.state = BuilderState::kIdle;
    idle.state_text = *b.cleaned;
    b.note_status(idle, time_.now());
    reconcile(b, idle, report);
  } else if (auto status = poll_status(b, report)) {
    reconcile(b, *status, report);
  }
  record_slave_state(b);
}

CycleReport BuilddMaster::run_cycle() {
  const auto begin = std::chrono::steady_clock::now();
  refresh();
  renew_leases();
  const std::vector<BuilderHandle*> handles = builder_handles();
  CycleReport report;
  std::mutex report_mutex;
  std::exception_ptr store_error;
  detail::run_on_pool(handles.size(), settings_.max_in_flight, [&](std::size_t i) {
    CycleReport one;
    try {
      one = poll_builder(*handles[i]);
    } catch (const Error& e) {
      logger("scan")->error("{}: {}", handles[i]->name, e.what());
      std::lock_guard lock(report_mutex);
      if (e.category() == ErrorCategory::kStore && !store_error)
        store_error = std::current_exception();
    } catch (const std::exception& e) {
      logger("scan")->error("{}: unexpected error: {}", handles[i]->name, e.what());
    }
    std::lock_guard lock(report_mutex);
    merge(report, one);
  });
  // A store outage reaches the caller once every builder has had its step.
  if (store_error) std::rethrow_exception(store_error);
  report_unusable({});  // the polls probed: some builders may have failed theirs
  report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - begin);
  if (metrics_) {
    metrics_->inc(kMetricCycles);
    metrics_->observe(kMetricCycleDuration, {},
                      std::chrono::duration<double>(report.duration).count());
    for (const auto& [state, count] : report.completed)
      metrics_->inc(kMetricBuildsFinished, {{"state", std::string(name(state))}},
                    static_cast<double>(count));
  }
  // Quiet passes (nothing scanned, moved or failed) only at debug level.
  const bool eventful = report.scanned || report.dispatched || report.reset ||
                        report.failed_builders || report.completed_total() || report.reconciled;
  logger("master")->log(eventful ? spdlog::level::info : spdlog::level::debug, "cycle: {}",
                        report.summary());
  return report;
}

}  // namespace buildd
