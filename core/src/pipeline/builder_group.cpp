#include "buildd/pipeline/builder_group.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "buildd/error.hpp"
#include "buildd/logging.hpp"
#include "worker_pool.hpp"

namespace buildd {
namespace {

std::string mime_for(const std::string& filename) {
  auto ends_with = [&](std::string_view suffix) {
    return filename.size() >= suffix.size() &&
           filename.compare(filename.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".deb") || ends_with(".udeb")) return "application/vnd.debian.binary-package";
  if (ends_with(".changes") || ends_with(".txt")) return "text/plain";
  return "application/octet-stream";
}

}  // namespace

QueueItem QueueItem::from(const QueuedBuild& row, BuilderHandle* builder,
                          const DistroArchRelease& dar) {
  QueueItem item;
  item.id = row.entry.id;
  item.build = BuildRecord(row.build);
  item.builder = builder;
  item.dispatched_to = builder;
  item.buildstart = row.entry.buildstart;
  item.logtail = row.entry.logtail;
  item.live_log_size = row.entry.live_log_size;
  item.score = row.entry.score;
  item.manual = row.entry.manual;
  item.abort_sent = row.entry.abort_sent;
  item.attempt = std::max(1, row.entry.attempt);
  item.dar = dar;
  return item;
}

JobView QueueItem::job_view(const MasterSettings& settings) const {
  JobView view;
  view.build_id = build.id;
  view.queue_id = id;
  view.state = build.state;
  view.give_back_count = build.give_back_count;
  view.abort_sent = abort_sent;
  view.attempt = attempt;
  view.started = buildstart;
  if (builder && builder->tail_queue_id == id) view.tail_changed = builder->tail_changed;
  view.timeouts = settings.timeouts_for(dar.display_name());
  return view;
}

BuilderGroup::BuilderGroup(Id family_id, const TimeSource& time, MasterSettings settings)
    : family_id_(family_id), time_(time), settings_(std::move(settings)) {}

bool BuilderGroup::is_candidate(const BuilderHandle& builder) {
  return builder.builderok && !builder.manual && !builder.has_job && builder.slave;
}

bool BuilderGroup::answers_idle(BuilderHandle& builder) {
  try {
    return builder.slave->status().state == BuilderState::kIdle;
  } catch (const std::exception& e) {
    logger("dispatch")->debug("{}: status() failed: {}", builder.name, e.what());
    return false;
  }
}

bool BuilderGroup::is_available(BuilderHandle& builder) {
  return is_candidate(builder) && answers_idle(builder);
}

BuilderHandle* BuilderGroup::first_available() {
  for (auto& builder : builders) {
    if (is_available(*builder)) return builder.get();
  }
  return nullptr;
}

std::size_t BuilderGroup::count_available() {
  std::size_t n = 0;
  for (auto& builder : builders) n += is_available(*builder) ? 1 : 0;
  return n;
}

std::vector<BuilderHandle*> BuilderGroup::available_builders(std::size_t wanted,
                                                             std::size_t max_in_flight) {
  std::vector<BuilderHandle*> candidates;
  for (auto& builder : builders) {
    if (is_candidate(*builder)) candidates.push_back(builder.get());
  }
  std::vector<BuilderHandle*> found;
  std::size_t next = 0;
  while (found.size() < wanted && next < candidates.size()) {
    // A wave never exceeds what is still wanted, so `found` cannot either.
    const std::size_t wave = std::min(wanted - found.size(), candidates.size() - next);
    std::vector<char> idle(wave, 0);
    detail::run_on_pool(wave, max_in_flight,
                        [&](std::size_t i) { idle[i] = answers_idle(*candidates[next + i]); });
    for (std::size_t i = 0; i < wave; ++i) {
      if (idle[i]) found.push_back(candidates[next + i]);
    }
    next += wave;
  }
  return found;
}

BuilderHandle* BuilderGroup::find(Id builder_id) {
  for (auto& builder : builders) {
    if (builder->id == builder_id) return builder.get();
  }
  return nullptr;
}

namespace {

// The builder's flag and notes as they are now, and what happened to its
// failure count since the step began (+1 per failure; zeroed when a build
// came back), merged into the one update of this builder in the step.
void record_builder(QueueItem& item, const BuilderHandle& b, int failure_delta = 0,
                    bool reset_failures = false) {
  BuilderUpdate* update = nullptr;
  for (auto& existing : item.changes.builders) {
    if (existing.builder_id == b.id) update = &existing;
  }
  if (!update) update = &item.changes.builders.emplace_back(BuilderUpdate{b.id});
  update->builderok = b.builderok;
  update->failnotes = b.failnotes;
  if (reset_failures) {
    update->reset_failures = true;
    update->failure_delta = 0;
  }
  update->failure_delta += failure_delta;
}

void record_counters(QueueItem& item, int failure_delta, int give_back_delta) {
  for (auto& existing : item.changes.counters) {
    if (existing.build_id == item.build.id) {
      existing.failure_delta += failure_delta;
      existing.give_back_delta += give_back_delta;
      return;
    }
  }
  item.changes.counters.push_back(
      BuildCountersUpdate{item.build.id, failure_delta, give_back_delta});
}

}  // namespace

void BuilderGroup::reset_job(QueueItem& item) {
  if (item.builder) item.builder->has_job = false;
  item.builder = nullptr;
  item.buildstart.reset();
  item.logtail.clear();
  item.live_log_size = 0;
  item.abort_sent.reset();
  item.build.state = BuildState::kNeedsBuild;
  item.build.started.reset();
  item.changes.resets.push_back(JobReset{item.id, item.build.id, item.attempt});
}

// Appends the log's new bytes, from a worker that reads its log from an
// offset, to the item's live log in its changes, up to
// settings_.live_log_bytes in all. When `status` says where its tail ends
// and the tail holds every new byte, they come from the tail (no call: the
// usual case for a poll every few seconds); otherwise they are read, up to
// kLiveLogBytesPerPoll per poll. The live log is for people following the
// build: a failed read is logged and changes nothing else (the whole log is
// collected when the build ends).
void BuilderGroup::read_live_log(QueueItem& item, const SlaveStatus& status) {
  // 256 KiB per call: base64 in a reply well under max_xml_bytes' 1 MiB.
  constexpr std::size_t kReadBytes = 256 * 1024;
  constexpr std::uint64_t kLiveLogBytesPerPoll = 4 * kReadBytes;
  BuilderHandle& b = *item.builder;
  if (!b.worker.reads_log_from_offset || item.live_log_size >= settings_.live_log_bytes) return;
  if (status.log_size && status.logtail.size() <= *status.log_size) {
    const std::uint64_t tail_begin = *status.log_size - status.logtail.size();
    if (item.live_log_size >= tail_begin && item.live_log_size <= *status.log_size) {
      std::string fresh = status.logtail.substr(item.live_log_size - tail_begin);
      fresh.resize(
          std::min<std::uint64_t>(fresh.size(), settings_.live_log_bytes - item.live_log_size));
      if (fresh.empty()) return;
      const std::size_t n = fresh.size();
      item.changes.live_logs.push_back(
          LiveLogAppend{item.id, item.attempt, item.live_log_size, std::move(fresh)});
      item.live_log_size += n;
      return;
    }
  }
  std::uint64_t read_now = 0;
  while (item.live_log_size < settings_.live_log_bytes && read_now < kLiveLogBytesPerPoll) {
    const auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>(kReadBytes, settings_.live_log_bytes - item.live_log_size));
    LogRead read;
    try {
      read = b.slave->read_log(item.live_log_size, want);
    } catch (const Error& e) {
      logger("scan")->warn("{}: build {}: live log not read: {}", b.name, item.cookie(), e.what());
      return;
    }
    if (read.bytes.empty()) return;
    const std::size_t n = read.bytes.size();
    item.changes.live_logs.push_back(
        LiveLogAppend{item.id, item.attempt, item.live_log_size, std::move(read.bytes)});
    item.live_log_size += n;
    read_now += n;
    if (item.live_log_size >= read.log_size) return;
  }
}

void BuilderGroup::fail_builder(QueueItem& item, BuilderHandle& builder, const std::string& notes) {
  logger("scan")->error("{}: builder failed: {}", builder.name, notes);
  builder.builderok = false;
  builder.failnotes = notes;
  record_builder(item, builder);
}

void BuilderGroup::complete(QueueItem& item, BuildState state, std::optional<LibraryFile> log,
                            std::vector<std::pair<std::string, LibraryFile>> files,
                            std::string dependencies) {
  const TimePoint now = time_.now();
  item.build.state = state;
  item.build.built = now;
  const auto start = item.buildstart ? item.buildstart : item.build.started;
  item.build.duration =
      start ? std::chrono::duration_cast<Duration>(now - *start) : Duration::zero();
  if (item.builder) {
    item.build.builder_id = item.builder->id;
    item.builder->has_job = false;
  }
  if (log) item.build.buildlog = log;
  item.build.dependencies = std::move(dependencies);
  item.build.result_files = std::move(files);
  item.removed = true;

  BuildCompletion c;
  c.build_id = item.build.id;
  c.queue_id = item.id;
  c.state = state;
  c.built = item.build.built;
  c.duration = item.build.duration;
  c.builder_id = item.build.builder_id;
  c.buildlog = item.build.buildlog;
  c.dependencies = item.build.dependencies;
  c.result_files = item.build.result_files;
  item.changes.completions.push_back(std::move(c));
  logger("scan")->info("{}: build {} ({} {}) is {}", item.builder ? item.builder->name : "-",
                       item.cookie(), item.build.source_name, item.build.source_version,
                       title(state));
}

void BuilderGroup::collect(QueueItem& item, const ScanDecision& decision, Librarian& librarian) {
  BuilderHandle& b = *item.builder;
  const BuildState old_state = item.build.state;
  // The state comes first: its name is part of the log's file name.
  item.build.state = decision.new_state;
  std::optional<LibraryFile> log;
  std::vector<std::pair<std::string, LibraryFile>> files;
  try {
    // Each file is downloaded, hashed, compressed (the log) and written into
    // the archive in one pass; the records are made by the completion's
    // commit, not a transaction per file.
    log = librarian.archive_streamed(
        build_log_filename(item.dar, item.build, decision.new_state), "application/gzip",
        ContentWriter::Encoding::kGzip,
        [&](ByteSink& sink) { b.slave->fetch_file("buildlog", sink, settings_.max_log_bytes); });
    for (const auto& [filename, file_sha1] : decision.files) {
      const std::string& sha1 = file_sha1;  // clang 14 cannot capture a structured binding
      files.emplace_back(
          filename, librarian.archive_streamed(filename, mime_for(filename),
                                               ContentWriter::Encoding::kAsIs, [&](ByteSink& sink) {
                                                 b.slave->fetch_file(sha1, sink,
                                                                     settings_.max_result_bytes);
                                               }));
    }
  } catch (...) {
    item.build.state = old_state;
    throw;
  }
  std::string dependencies = decision.note.empty() ? decision.dependencies : decision.note;
  if (!decision.note.empty()) {
    logger("scan")->warn("{}: build {}: {}", b.name, item.cookie(), decision.note);
  }
  complete(item, decision.new_state, std::move(log), std::move(files), std::move(dependencies));
  // The slave keeps everything until the completion is committed.
  item.clean_after_commit = true;
  if (decision.action == ScanAction::kCollect && b.failure_count != 0) {
    b.failure_count = 0;  // a build came back: the builder works
    record_builder(item, b, 0, true);
  }
}

void BuilderHandle::note_status(const SlaveStatus& status, TimePoint now) {
  last_answer = now;
  if (transport_failures > 0) {
    logger("scan")->info("{}: answers again after {} failed status() calls", name,
                         transport_failures);
  }
  transport_failures = 0;
  unreachable_since.reset();
  observed_state = describe_slave_state(status);
}

void BuilderHandle::note_status_failure(const Error& error, TimePoint now,
                                        const std::string& context) {
  ++transport_failures;
  if (!unreachable_since) unreachable_since = now;
  observed_state = "unreachable: " + capped_slave_text(error.what(), 300);
  // Once per transition at warning level, not at every poll.
  logger("scan")->log(transport_failures == 1 ? spdlog::level::warn : spdlog::level::debug,
                      "{}: {}status() failed ({} in a row since {}): {}", name, context,
                      transport_failures, iso_utc(*unreachable_since), error.what());
}

void BuilderGroup::update_build(QueueItem& item, Librarian& librarian) {
  if (!item.builder || !item.builder->slave) return;
  BuilderHandle& b = *item.builder;
  SlaveStatus status;
  try {
    status = b.slave->status();
  } catch (const Error& e) {
    if (metrics)
      metrics->inc(kMetricSlaveErrors,
                   {{"builder", b.name}, {"kind", category_name(e.category())}});
    b.note_status_failure(e, time_.now(), "build " + item.cookie() + ": ");
    if (!transport_grace_exhausted(b.transport_failures, settings_)) {
      item.deferred = true;
      return;
    }
    handle_failure(item, e, true);
    return;
  }
  b.note_status(status, time_.now());
  apply_status(item, status, librarian);
}

void BuilderGroup::apply_status(QueueItem& item, const SlaveStatus& status, Librarian& librarian) {
  BuilderHandle& b = *item.builder;
  const TimePoint now = time_.now();
  const ScanDecision d = decide_scan(item.job_view(settings_), status, settings_, now);
  const std::string cookie = item.cookie();
  auto log = logger("scan");
  try {
    switch (d.action) {
      case ScanAction::kNothing:
        log->critical("{}: build {}: {}", b.name, cookie, d.note);
        break;
      case ScanAction::kLogTail:
        if (status.state == BuilderState::kAborting && !item.abort_sent) {
          // The cancel deadline runs from the first ABORTING seen.
          item.abort_sent = now;
          item.changes.aborts.push_back(AbortSent{item.id, now});
        }
        if (b.tail_queue_id != item.id || b.tail_seen != d.logtail) {
          b.tail_queue_id = item.id;
          b.tail_seen = d.logtail;
          b.tail_changed = now;
          // The log grew (or this process has not read it yet): its new
          // bytes go to the live log, from workers that can read them.
          if (status.state == BuilderState::kBuilding) read_live_log(item, status);
        }
        // The stored tail is written only when it moved: a long build's
        // unchanged tail would otherwise cost one UPDATE per poll.
        if (d.logtail != item.logtail) {
          item.logtail = d.logtail;
          item.changes.logtails.push_back(LogTailUpdate{item.id, item.logtail});
        }
        break;
      case ScanAction::kResetLost:
        if (item.first_look) {
          log->info("{}: IDLE, build {} was claimed by an earlier run: it goes back to the queue",
                    b.name, cookie);
          reset_job(item);
          break;
        }
        // Lost work costs the builder and the job a failure each (Launchpad
        // judges it like any other scan failure).
        item.lost = true;
        handle_failure(
            item,
            Error(ErrorCategory::kProtocol, "slave forgot build " + cookie + " (it answers IDLE)"),
            false);
        break;
      case ScanAction::kAbortLost:
        log->warn("{}: {}: aborting it and resetting ours", b.name, d.note);
        b.slave->abort();
        reset_job(item);
        break;
      case ScanAction::kCleanLost:
        log->warn("{}: {}: resetting ours, then cleaning the slave", b.name, d.note);
        reset_job(item);
        item.clean_after_commit = true;
        break;
      case ScanAction::kCleanAndReset:
        log->info("{}: build {} was aborted: resetting it", b.name, cookie);
        reset_job(item);
        item.clean_after_commit = true;
        break;
      case ScanAction::kCollect:
      case ScanAction::kCancelled:
      case ScanAction::kGiveBackLimit:
        collect(item, d, librarian);
        break;
      case ScanAction::kCancelledIdle:
        complete(item, BuildState::kCancelled, std::nullopt, {}, "");
        break;
      case ScanAction::kSendAbort:
        log->info("{}: cancelling build {}: abort()", b.name, cookie);
        b.slave->abort();
        item.abort_sent = now;
        item.changes.aborts.push_back(AbortSent{item.id, now});
        break;
      case ScanAction::kTimeoutAbort:
        log->warn("{}: {}: aborting it; it goes back to the queue", b.name, d.note);
        b.slave->abort();
        item.abort_sent = now;
        item.changes.aborts.push_back(AbortSent{item.id, now});
        ++item.build.give_back_count;
        record_counters(item, 0, 1);
        break;
      case ScanAction::kAbortTimeout:
        fail_builder(item, b, d.note);
        if (d.new_state == BuildState::kCancelled) {
          complete(item, BuildState::kCancelled, std::nullopt, {}, "");
        } else {
          reset_job(item);
        }
        break;
      case ScanAction::kBuilderFail:
      case ScanAction::kUnknownState:
        if (d.action == ScanAction::kUnknownState) log->critical("{}: {}", b.name, d.note);
        fail_builder(item, b, d.note);
        reset_job(item);
        break;
      case ScanAction::kGiveBack:
        log->info("{}: build {} given back", b.name, cookie);
        reset_job(item);
        item.clean_after_commit = true;
        ++item.build.give_back_count;
        record_counters(item, 0, 1);
        break;
    }
  } catch (const Error& e) {
    if (metrics)
      metrics->inc(kMetricSlaveErrors,
                   {{"builder", b.name}, {"kind", category_name(e.category())}});
    if (e.retryable()) {
      log->warn("{}: build {}: {} (collected again at the next poll)", b.name, cookie, e.what());
      item.deferred = true;
      return;
    }
    handle_failure(item, e, true);
  }
}

CommitResult BuilderGroup::commit_then_clean(CommitBatcher& committer,
                                             std::vector<QueueItem*> items) {
  CycleChanges all;
  std::vector<BuilderHandle*> to_clean;
  for (QueueItem* item : items) {
    all.append(std::move(item->changes));
    if (item->clean_after_commit && item->dispatched_to) {
      to_clean.push_back(item->dispatched_to);
    }
  }
  CommitResult result = committer.commit(std::move(all));
  if (result.stale > 0) {
    // Someone else (an operator, another master) moved these rows on; the
    // slave is left as it is, and its next poll reconciles it.
    logger("scan")->info("{} change(s) were stale (the rows had moved on) and were dropped",
                         result.stale);
    return result;
  }
  for (BuilderHandle* b : to_clean) {
    try {
      b->cleaned = b->slave->clean();
    } catch (const std::exception& e) {
      logger("scan")->warn("{}: clean() failed: {} (the next poll cleans it)", b->name, e.what());
    }
  }
  return result;
}

void BuilderGroup::handle_failure(QueueItem& item, const Error& error, bool retry) {
  if (!item.builder) return;
  BuilderHandle& b = *item.builder;
  const std::string cookie = item.cookie();
  ++b.failure_count;
  ++item.build.failure_count;
  record_counters(item, 1, 0);
  bool builder_works = false;  // the job is failed instead: the builder's count is cleared
  const FailureJudgement j =
      judge_failure(b.failure_count, item.build.failure_count,
                    retry && item.build.state != BuildState::kCancelling, settings_);
  logger("scan")->warn("{}: build {}: {} (builder failures {}, job failures {})", b.name, cookie,
                       error.what(), b.failure_count, item.build.failure_count);
  if (j.builder == BuilderVerdict::kFail) {
    b.builderok = false;
    b.failnotes = error.what();
  }
  if (item.build.state == BuildState::kCancelling) {
    complete(item, BuildState::kCancelled, std::nullopt, {}, "");
  } else if (j.job == JobVerdict::kFail) {
    complete(item, BuildState::kFailedToBuild, std::nullopt, {},
             std::string("Failed by the build farm: ") + error.what());
    b.failure_count = 0;
    builder_works = true;
  } else if (j.job == JobVerdict::kReset) {
    reset_job(item);
  } else {
    item.deferred = true;
  }
  record_builder(item, b, builder_works ? 0 : 1, builder_works);
}

}  // namespace buildd
