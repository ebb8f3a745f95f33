#include "buildd/pipeline/decisions.hpp"

#include <chrono>

namespace buildd {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
// How much of the unsafe result names a failed build's note quotes.
constexpr std::size_t kMaxUnsafeNamesBytes = 500;

bool is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

BuildState collected_state(BuildResult result) {
  switch (result) {
    case BuildResult::kOk:
      return BuildState::kFullyBuilt;
    case BuildResult::kPackageFail:
      return BuildState::kFailedToBuild;
    case BuildResult::kDepFail:
      return BuildState::kManualDepWait;
    default:
      return BuildState::kChrootWait;
  }
}

bool past_deadline(const JobView& job, const MasterSettings& settings, TimePoint now) {
  return job.abort_sent && now - *job.abort_sent > settings.cancel_timeout;
}

}  // namespace

std::string decode_logtail(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == 0) {
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned int cp = 0;
    unsigned int min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07, min = 0x10000;
    }
    bool ok = len > 0 && i + len <= raw.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(raw[i + k]);
      if (!is_cont(cc)) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.append(raw.substr(i, len));
      i += len;
    } else {
      // One replacement per maximal invalid prefix: skip the lead byte and
      // any continuation bytes that follow it.
      out.append(kReplacement);
      ++i;
      while (i < raw.size() && is_cont(static_cast<unsigned char>(raw[i]))) ++i;
    }
  }
  return out;
}

std::string build_log_filename(const DistroArchRelease& dar, const Build& build, BuildState state) {
  return "buildlog_" + dar.distribution + "-" + dar.release + "-" + dar.arch_tag + "." +
         build.source_name + "_" + build.source_version + "_" + std::string(name(state)) +
         ".txt.gz";
}

ScanDecision decide_scan(const JobView& job, const SlaveStatus& status,
                         const MasterSettings& settings, TimePoint now) {
  ScanDecision d;
  const std::string cookie = job.cookie();
  const bool cancelling = job.state == BuildState::kCancelling;
  switch (status.state) {
    case BuilderState::kIdle:
      d.action = cancelling ? ScanAction::kCancelledIdle : ScanAction::kResetLost;
      d.new_state = BuildState::kCancelled;
      return d;
    case BuilderState::kBuilding:
      if (status.build_id != cookie) {
        d.action = ScanAction::kAbortLost;
        d.note = "slave is building " + status.build_id + ", expected " + cookie;
        return d;
      }
      if (cancelling && !job.abort_sent) {
        d.action = ScanAction::kSendAbort;
        return d;
      }
      if (cancelling && past_deadline(job, settings, now)) {
        d.action = ScanAction::kAbortTimeout;
        d.new_state = BuildState::kCancelled;
        d.note = "Build " + cookie + " was not aborted within the cancel timeout";
        return d;
      }
      if (!cancelling && !job.abort_sent && job.started) {
        // A build that stopped moving is aborted once; the abort's own
        // deadline (cancel_timeout) then applies.
        if (now - *job.started > job.timeouts.max_duration) {
          d.action = ScanAction::kTimeoutAbort;
          d.note = "Build " + cookie + " ran longer than " +
                   std::to_string(job.timeouts.max_duration.count()) + " s";
          return d;
        }
        const TimePoint quiet_since = job.tail_changed ? *job.tail_changed : *job.started;
        if (now - quiet_since > job.timeouts.log_silence) {
          d.action = ScanAction::kTimeoutAbort;
          d.note = "Build " + cookie + ": log silent for more than " +
                   std::to_string(job.timeouts.log_silence.count()) + " s";
          return d;
        }
      }
      if (!cancelling && job.abort_sent && past_deadline(job, settings, now)) {
        d.action = ScanAction::kAbortTimeout;
        d.new_state = BuildState::kNeedsBuild;
        d.note = "Build " + cookie + " was not aborted within the cancel timeout";
        return d;
      }
      d.action = ScanAction::kLogTail;
      d.logtail = decode_logtail(status.logtail);
      return d;
    case BuilderState::kAborting:
      if (past_deadline(job, settings, now)) {
        d.action = ScanAction::kAbortTimeout;
        d.new_state = cancelling ? BuildState::kCancelled : BuildState::kNeedsBuild;
        d.note = "Slave stuck ABORTING " + cookie + " beyond the cancel timeout";
        return d;
      }
      d.action = ScanAction::kLogTail;
      d.logtail = std::string(kAbortingLogTail);
      return d;
    case BuilderState::kAborted:
      d.action = cancelling ? ScanAction::kCancelled : ScanAction::kCleanAndReset;
      d.new_state = BuildState::kCancelled;
      return d;
    case BuilderState::kWaiting:
      break;
    case BuilderState::kUnknown:
      d.action = ScanAction::kUnknownState;
      d.note = "Unknown status code (" + status.state_text + ") returned from status() probe";
      return d;
  }

  // WAITING
  if (status.build_id != cookie) {
    d.action = ScanAction::kCleanLost;
    d.note = "slave holds " + status.build_id + ", expected " + cookie;
    return d;
  }
  if (cancelling) {
    d.action = ScanAction::kCancelled;
    d.new_state = BuildState::kCancelled;
    return d;
  }
  switch (status.result) {
    case BuildResult::kOk:
    case BuildResult::kPackageFail:
    case BuildResult::kDepFail:
    case BuildResult::kChrootFail: {
      d.action = ScanAction::kCollect;
      d.new_state = collected_state(status.result);
      if (status.result == BuildResult::kDepFail) d.dependencies = status.dependencies;
      if (status.result != BuildResult::kOk) return d;
      // Counted, not judged by the text: an empty name is unsafe too and
      // adds nothing to a plain list. Quoted so that it still shows.
      std::string unsafe;
      std::size_t unsafe_count = 0;
      for (const auto& [file, sha1] : status.filemap) {
        if (!is_safe_result_filename(file)) {
          unsafe += (unsafe_count++ == 0 ? "'" : ", '") + file + "'";
        } else {
          d.files.emplace_back(file, sha1);
        }
      }
      if (unsafe_count != 0) {
        d.new_state = BuildState::kFailedToBuild;
        d.files.clear();
        // The names are the slave's: made valid UTF-8 and capped, as every
        // slave text that is stored (the note becomes the build's text).
        d.note = "Unsafe result file name(s) from the slave: " +
                 capped_slave_text(unsafe, kMaxUnsafeNamesBytes);
      }
      return d;
    }
    case BuildResult::kBuilderFail:
      d.action = ScanAction::kBuilderFail;
      d.note = std::string(kBuilderFailNotes);
      return d;
    case BuildResult::kGivenBack:
      if (job.give_back_count + 1 > settings.give_back_limit) {
        d.action = ScanAction::kGiveBackLimit;
        d.new_state = BuildState::kFailedToBuild;
        d.note = "Given back " + std::to_string(job.give_back_count + 1) + " times (limit " +
                 std::to_string(settings.give_back_limit) + ")";
      } else {
        d.action = ScanAction::kGiveBack;
      }
      return d;
    case BuildResult::kAborted:
      d.action = ScanAction::kCleanAndReset;
      return d;
    default:
      d.action = ScanAction::kNothing;
      d.note = "Unknown build status (" + status.result_text + ")";
      return d;
  }
}

ReconcileAction decide_reconcile(const SlaveStatus& status) {
  switch (status.state) {
    case BuilderState::kIdle:
      return ReconcileAction::kReady;
    case BuilderState::kWaiting:
    case BuilderState::kAborted:
      return ReconcileAction::kClean;
    case BuilderState::kBuilding:
      return ReconcileAction::kAbort;
    case BuilderState::kAborting:
      return ReconcileAction::kWaitAborting;
    case BuilderState::kUnknown:
      break;
  }
  return ReconcileAction::kUnknownState;
}

std::string describe_slave_state(const SlaveStatus& status) {
  std::string text = status.state == BuilderState::kUnknown ? "unknown state " + status.state_text
                                                            : to_string(status.state);
  if (status.state == BuilderState::kWaiting) {
    text += " ";
    text += status.result == BuildResult::kUnknown ? status.result_text : to_string(status.result);
  }
  if (!status.build_id.empty()) text += " " + status.build_id;
  return capped_slave_text(text, 200);
}

std::string capped_slave_text(std::string_view text, std::size_t max_bytes) {
  // Slave replies are untrusted: what is stored and shown stays small.
  if (text.size() <= max_bytes) return decode_logtail(text);
  return decode_logtail(text.substr(0, max_bytes)) + "…";
}

FailureJudgement judge_failure(int builder_failures, int job_failures, bool retry,
                               const MasterSettings& settings) {
  FailureJudgement j;
  if (builder_failures == job_failures) {
    if (!retry || job_failures >= settings.job_reset_threshold) j.job = JobVerdict::kReset;
  } else if (builder_failures > job_failures) {
    j.job = JobVerdict::kReset;
    if (builder_failures >= settings.builder_failure_threshold) j.builder = BuilderVerdict::kFail;
  } else {
    j.job = JobVerdict::kFail;
  }
  return j;
}

bool transport_grace_exhausted(int consecutive_failures, const MasterSettings& settings) {
  return consecutive_failures >= settings.transport_grace_scans;
}

}  // namespace buildd
