#pragma once

// The per-builder decisions of a scan: pure functions of (database row, slave
// reply, settings, now), with no I/O, so that every rule is unit-tested
// without sockets. BuilderGroup::update_build carries the decisions out.
// Thread-safe (no state).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "buildd/domain.hpp"
#include "buildd/export.hpp"
#include "buildd/pipeline/settings.hpp"
#include "buildd/slave_transport.hpp"

namespace buildd {

// The seed's ABORTING log tail.
inline constexpr std::string_view kAbortingLogTail = "Waiting slave process to be terminated";
inline constexpr std::string_view kBuilderFailNotes =
    "Builder returned BUILDERFAIL when asked for its status";

// What the scan knows of the job it expects on a builder.
struct JobView {
  Id build_id = 0;
  Id queue_id = 0;
  BuildState state = BuildState::kBuilding;
  int give_back_count = 0;
  std::optional<TimePoint> abort_sent;    // abort() sent, or ABORTING first seen
  int attempt = 1;                        // dispatch attempt: part of the cookie
  std::optional<TimePoint> started;       // dispatched at
  std::optional<TimePoint> tail_changed;  // the log tail last changed (seen by this master)
  // The build timeouts of its arch release (MasterSettings::timeouts_for).
  BuildTimeouts timeouts;

  std::string cookie() const { return build_cookie(build_id, queue_id, attempt); }
};

enum class ScanAction {
  kNothing,        // leave everything (e.g. an unknown WAITING result)
  kLogTail,        // BUILDING / ABORTING: store `logtail`
  kResetLost,      // IDLE: the slave forgot the job; reset it
  kAbortLost,      // BUILDING someone else's cookie: abort() the slave, reset ours
  kCleanLost,      // WAITING with someone else's cookie: clean() the slave, reset ours
  kCleanAndReset,  // ABORTED (not cancelling): clean(), reset
  kCollect,        // WAITING OK/PACKAGEFAIL/DEPFAIL/CHROOTFAIL: log (+files), `new_state`
  kCancelled,      // cancelling build stopped: store the log, clean(), CANCELLED
  kCancelledIdle,  // cancelling build, slave IDLE: CANCELLED without a log
  kSendAbort,      // cancelling build still BUILDING: abort() once
  kAbortTimeout,   // abort did not finish within cancel_timeout: fail builder, CANCELLED
  kBuilderFail,    // WAITING/BUILDERFAIL: builder not OK, job reset, no clean
  kGiveBack,       // WAITING/GIVENBACK under the limit: clean(), reset, count
  kGiveBackLimit,  // WAITING/GIVENBACK over the limit: collect as FAILEDTOBUILD
  kUnknownState,   // builder not OK ("Unknown status code"), job reset
  kTimeoutAbort,   // BUILDING too long or its log silent too long: abort() once, give back
};

struct ScanDecision {
  ScanAction action = ScanAction::kNothing;
  BuildState new_state = BuildState::kBuilding;  // kCollect / kGiveBackLimit / cancels
  std::string logtail;                           // kLogTail
  std::string note;                              // failnotes for the builder, or why a build failed
  std::string dependencies;                      // DEPFAIL
  std::vector<std::pair<std::string, std::string>> files;  // result name, sha1 (OK, all safe)
};

// UTF-8 with every invalid sequence replaced by U+FFFD, NUL bytes removed.
BUILDD_API std::string decode_logtail(std::string_view raw);

// buildlog_<distro>-<release>-<arch>.<source>_<version>_<STATE>.txt.gz
BUILDD_API std::string build_log_filename(const DistroArchRelease& dar, const Build& build,
                                          BuildState state);

// The state handlers: what to do with the slave's reply for this job.
// Result file names that fail is_safe_result_filename turn an OK into
// FAILEDTOBUILD (the log is still stored; `note` names the files, and is
// recorded as the build's `dependencies` text, the only free-text field of a
// build) and nothing is fetched.
BUILDD_API ScanDecision decide_scan(const JobView& job, const SlaveStatus& status,
                                    const MasterSettings& settings, TimePoint now);

// ---- reconciliation of a builder that holds no job of ours ----

enum class ReconcileAction {
  kReady,         // IDLE: clean, a build may be dispatched to it
  kClean,         // WAITING or ABORTED with no job of ours: clean()
  kAbort,         // BUILDING a cookie we do not own: abort(), cleaned once it stops
  kWaitAborting,  // ABORTING: wait until it has stopped
  kUnknownState,  // a state the protocol does not have: the builder fails
};

// Launchpad's cleanSlave for non-virtual builders, applied to every slave
// whose job the database does not know (a lost result, a refused one, a
// BUILDERFAIL re-enabled by an operator, the other side of a crash).
BUILDD_API ReconcileAction decide_reconcile(const SlaveStatus& status);

// A text from a slave made fit to store and show: valid UTF-8 (as
// decode_logtail), at most `max_bytes` of it, then "…".
BUILDD_API std::string capped_slave_text(std::string_view text, std::size_t max_bytes);

// "IDLE", "BUILDING 5-12", "WAITING PACKAGEFAIL 5-12", "ABORTING 5-12": what
// the pages and `builder show` print as the slave's state.
BUILDD_API std::string describe_slave_state(const SlaveStatus& status);

// ---- failure counting (modern Launchpad, §2.3) ----

enum class BuilderVerdict { kNone, kFail };
enum class JobVerdict { kNone, kReset, kFail };

struct FailureJudgement {
  BuilderVerdict builder = BuilderVerdict::kNone;
  JobVerdict job = JobVerdict::kNone;
};

// Counts already include the failure being judged. `retry` is true for scan
// errors, false for dispatch errors (the job is then requeued at once).
BUILDD_API FailureJudgement judge_failure(int builder_failures, int job_failures, bool retry,
                                          const MasterSettings& settings);

// Whether a builder that could not be reached this scan (after
// `consecutive_failures` failed scans, this one included) is judged now.
BUILDD_API bool transport_grace_exhausted(int consecutive_failures, const MasterSettings& settings);

}  // namespace buildd
