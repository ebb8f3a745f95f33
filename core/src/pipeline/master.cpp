#include "buildd/pipeline/master.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iterator>
#include <set>
#include <sstream>

#include "buildd/logging.hpp"
#include "worker_pool.hpp"

namespace buildd {
namespace {

template <typename T>
void append(std::vector<T>& into, std::vector<T>&& from) {
  into.insert(into.end(), std::make_move_iterator(from.begin()),
              std::make_move_iterator(from.end()));
}

void append(CycleChanges& into, CycleChanges&& from) {
  append(into.logtails, std::move(from.logtails));
  append(into.resets, std::move(from.resets));
  append(into.completions, std::move(from.completions));
  append(into.builders, std::move(from.builders));
  append(into.counters, std::move(from.counters));
  append(into.aborts, std::move(from.aborts));
}

}  // namespace

std::string CycleReport::summary() const {
  std::ostringstream out;
  out << "scanned=" << scanned << " completed=" << completed_total();
  for (const auto& [state, count] : completed) out << " " << name(state) << "=" << count;
  out << " dispatched=" << dispatched << " reset=" << reset
      << " failed_builders=" << failed_builders << " deferred=" << deferred
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
      scoring_(std::make_unique<DefaultScoringPolicy>()) {}

void BuilddMaster::set_metrics(Metrics* metrics) {
  metrics_ = metrics;
  for (auto& [family, g] : groups_) g->metrics = metrics;
}

void BuilddMaster::set_scoring_policy(std::unique_ptr<ScoringPolicy> policy) {
  scoring_ = std::move(policy);
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
  auto it = groups_.find(family_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

void BuilddMaster::probe(BuilderHandle& builder, const DistroArchRelease& dar) {
  builder.probed = true;
  std::string reason;
  try {
    auto echoed = builder.slave->echo({"Test"});
    SlaveInfo info;
    if (echoed != std::vector<std::string>{"Test"}) {
      reason = "echo(\"Test\") did not return [\"Test\"]";
    } else if ((info = builder.slave->info()).protocol_version != "1.0") {
      reason = "Protocol version mismatch: " + info.protocol_version + " (expected 1.0)";
    } else if (info.arch_tag != dar.arch_tag) {
      reason = "Architecture tag mismatch: " + info.arch_tag + " (expected " + dar.arch_tag + ")";
    } else {
      builder.builder_types = info.builder_types;
    }
  } catch (const std::exception& e) {
    reason = e.what();
  }
  if (reason.empty()) return;
  logger("master")->error("{}: probe failed: {}", builder.name, reason);
  builder.builderok = false;
  builder.failnotes = reason;
  store_.set_builder_ok(builder.id, false, reason);
}

BuilderGroup& BuilddMaster::setup_builders(const DistroArchRelease& dar) {
  if (!archreleases_.count(dar.id)) throw SetupError(dar);
  auto& slot = groups_[dar.family_id];
  if (!slot) slot = std::make_unique<BuilderGroup>(dar.family_id, time_, settings_);
  slot->metrics = metrics_;
  BuilderGroup& group = *slot;
  for (const Builder& row : store_.builders()) {
    if (row.family_id != dar.family_id) continue;
    BuilderHandle* handle = group.find(row.id);
    if (!handle) {
      group.builders.push_back(std::make_unique<BuilderHandle>(row, transport_.connect(row)));
      handle = group.builders.back().get();
    } else {
      // Operator changes (enable, manual) come from the database.
      const bool reenabled = row.builderok && !handle->builderok;
      static_cast<Builder&>(*handle) = row;
      if (reenabled) handle->probed = false;
    }
    if (handle->builderok && !handle->probed) probe(*handle, dar);
  }
  const bool usable = std::any_of(group.builders.begin(), group.builders.end(),
                                  [](const auto& b) { return b->builderok; });
  if (!usable) throw SetupError(dar);
  return group;
}

void BuilddMaster::refresh() {
  // As the seed does: every arch release is offered, and one that cannot be
  // used (no chroot, no usable builder) says so — once, not every cycle.
  for (const auto& dar : store_.distro_arch_releases()) {
    add_distro_arch_release(dar);
    try {
      setup_builders(dar);
      unusable_.erase(dar.id);
    } catch (const SetupError& e) {
      const bool first = unusable_.insert(dar.id).second;
      logger("master")->log(first ? spdlog::level::warn : spdlog::level::debug, "{}", e.what());
    }
  }
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

  CycleChanges all;
  std::set<Id> failed;
  for (auto& item : items) {
    ++report.scanned;
    auto& c = item.changes;
    for (auto& x : c.completions) ++report.completed[x.state];
    report.reset += c.resets.size();
    report.deferred += item.deferred ? 1 : 0;
    for (auto& b : c.builders) {
      if (!b.builderok) failed.insert(b.builder_id);
    }
    append(all, std::move(c));
  }
  report.failed_builders = failed.size();
  if (!all.empty()) store_.commit(all);
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
    auto rows = store_.candidates(dar_ids, usable + settings_.candidate_lookahead);
    if (rows.empty()) continue;
    // Rescore in memory so that time in queue counts; a pinned score stays.
    for (auto& row : rows) {
      if (auto s = scoring_->score(row.build, row.entry, now)) row.entry.score = *s;
    }
    std::stable_sort(rows.begin(), rows.end(), [](const QueuedBuild& a, const QueuedBuild& b) {
      if (a.entry.score != b.entry.score) return a.entry.score > b.entry.score;
      return a.entry.id < b.entry.id;
    });
    result[family] = std::move(rows);
  }
  return result;
}

bool BuilddMaster::start_build(BuilderGroup& group, BuilderHandle& builder, const QueuedBuild& row,
                               const std::optional<LibraryFile>& chroot, CycleChanges& changes,
                               CycleReport& report) {
  auto log = logger("dispatch");
  const DistroArchRelease& dar = archreleases_.at(row.build.distro_arch_release_id);
  const std::string cookie = build_cookie(row.build.id, row.entry.id);
  if (!chroot) {
    log->warn("Missing CHROOT for {}", dar.display_name());
    return false;
  }
  const TimePoint now = time_.now();
  if (!store_.claim(row.entry.id, row.build.id, builder.id, now)) {
    log->info("{}: build {} was taken by someone else", builder.name, cookie);
    return false;
  }
  builder.has_job = true;
  QueueItem item = QueueItem::from(row, &builder, dar);
  item.buildstart = now;
  item.build.buildstate = BuildState::kBuilding;
  try {
    auto send = [&](const LibraryFile& file) {
      auto r = builder.slave->ensure_present(file.sha1, librarian_.url_for(file), "", "");
      if (!r.present) {
        throw Error(ErrorCategory::kProtocol,
                    "slave refused " + file.filename + " (" + file.sha1 + "): " + r.info);
      }
    };
    send(*chroot);
    std::map<std::string, std::string> filemap;
    for (const auto& f : store_.source_files(row.build.id)) {
      send(f.file);
      filemap[f.filename] = f.file.sha1;
    }
    // build() on a busy launchpad-buildd wipes its log and renames its job.
    if (builder.slave->status().state != BuilderState::kIdle) {
      log->warn("{}: no longer IDLE; build {} goes back to the queue", builder.name, cookie);
      builder.has_job = false;
      changes.resets.push_back(JobReset{row.entry.id, row.build.id});
      ++report.reset;
      return false;
    }
    const bool binarypackage = std::find(builder.builder_types.begin(), builder.builder_types.end(),
                                         "binarypackage") != builder.builder_types.end();
    BuildArgs args;
    args["series"] = dar.release;
    args["suite"] =
        row.build.pocket == "release" ? dar.release : dar.release + "-" + row.build.pocket;
    args["ogrecomponent"] = row.build.component;
    args["arch_tag"] = dar.arch_tag;
    // The release's first architecture (lowest id) builds the arch-all
    // packages, as the nominated arch-independent one did in 2005.
    bool arch_indep = true;
    for (const auto& [id, other] : archreleases_) {
      if (other.distribution == dar.distribution && other.release == dar.release && id < dar.id) {
        arch_indep = false;
      }
    }
    args["arch_indep"] = arch_indep;
    auto r = builder.slave->build(cookie, binarypackage ? "binarypackage" : "debian", chroot->sha1,
                                  filemap, args);
    if (r.status != BuildStartStatus::kBuilding) {
      throw Error(ErrorCategory::kProtocol, "build() answered " + r.status_text + ": " + r.info);
    }
  } catch (const Error& e) {
    log->error("{}: dispatching build {} failed: {}", builder.name, cookie, e.what());
    if (metrics_)
      metrics_->inc(kMetricSlaveErrors,
                    {{"builder", builder.name}, {"kind", category_name(e.category())}});
    group.handle_failure(item, e, false);
    if (item.changes.resets.empty() && !item.removed) {
      changes.resets.push_back(JobReset{row.entry.id, row.build.id});
    }
    builder.has_job = false;
    auto& c = item.changes;
    changes.resets.insert(changes.resets.end(), c.resets.begin(), c.resets.end());
    changes.completions.insert(changes.completions.end(), c.completions.begin(),
                               c.completions.end());
    changes.builders.insert(changes.builders.end(), c.builders.begin(), c.builders.end());
    changes.counters.insert(changes.counters.end(), c.counters.begin(), c.counters.end());
    report.reset += 1;
    if (!builder.builderok) ++report.failed_builders;
    return false;
  }
  if (metrics_)
    metrics_->observe(kMetricDispatchLatency, {},
                      std::chrono::duration<double>(time_.now() - row.entry.created).count());
  log->info("{}: dispatched build {} ({} {} on {})", builder.name, cookie, row.build.source_name,
            row.build.source_version, dar.display_name());
  if (builder.failure_count != 0) {
    builder.failure_count = 0;
    changes.builders.push_back(BuilderUpdate{builder.id, builder.builderok, builder.failnotes, 0});
  }
  return true;
}

std::size_t BuilddMaster::dispatch_by_processor(Id family_id,
                                                const std::vector<QueuedBuild>& items) {
  BuilderGroup* g = group(family_id);
  if (!g) return 0;
  CycleReport local;
  CycleReport& report = report_ ? *report_ : local;
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
        const QueuedBuild& row = *queue[next + i];
        a.started = start_build(*g, *free[i], row, chroots.at(row.build.distro_arch_release_id),
                                a.changes, a.report);
      } catch (...) {
        // A store error: the cycle lets it escape once the pairs are done.
        a.error = std::current_exception();
      }
    });
    for (auto& a : attempts) {
      started += a.started ? 1 : 0;
      report.reset += a.report.reset;
      report.failed_builders += a.report.failed_builders;
      append(changes, std::move(a.changes));
      if (a.error && !error) error = a.error;
    }
    next += free.size();
  }
  report.dispatched += started;
  // The builds already started are committed even when another pair's store
  // call failed: their slaves are building them.
  if (!changes.empty()) store_.commit(changes);
  if (error) std::rethrow_exception(error);
  return started;
}

CycleReport BuilddMaster::run_cycle() {
  const auto begin = std::chrono::steady_clock::now();
  refresh();
  CycleReport report = scan_active_builders();
  report_ = &report;
  try {
    for (const auto& [family, items] : sort_and_split_by_processor()) {
      dispatch_by_processor(family, items);
    }
  } catch (...) {
    report_ = nullptr;
    throw;
  }
  report_ = nullptr;
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
  // Quiet cycles (nothing scanned, moved or failed) only at debug level.
  const bool eventful = report.scanned || report.dispatched || report.reset ||
                        report.failed_builders || report.completed_total();
  logger("master")->log(eventful ? spdlog::level::info : spdlog::level::debug, "cycle: {}",
                        report.summary());
  return report;
}

}  // namespace buildd
