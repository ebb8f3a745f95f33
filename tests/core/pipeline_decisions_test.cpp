// The pure state handlers, scoring and failure judging: no fakes, no I/O.

#include <gtest/gtest.h>

#include "buildd/pipeline/decisions.hpp"
#include "buildd/scheduler.hpp"
#include "fakes/fake_slave.hpp"

namespace buildd {
namespace {

using namespace buildd::test;
using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::seconds(1700000000));
JobView job(BuildState state = BuildState::kBuilding, int give_backs = 0) {
  JobView view;
  view.build_id = 7;
  view.queue_id = 9;
  view.state = state;
  view.give_back_count = give_backs;
  return view;
}

TEST(Decisions, LogtailIsUtf8WithReplacementAndNoNul) {
  EXPECT_EQ(decode_logtail(std::string("ok\0 \xff"
                                       "x\xc3\xa9",
                                       8)),
            "ok \xEF\xBF\xBDx\xC3\xA9");
  EXPECT_EQ(decode_logtail("\xed\xa0\x80"), "\xEF\xBF\xBD");  // a surrogate is invalid
}

TEST(Decisions, IdleMeansLostJob) {
  EXPECT_EQ(decide_scan(job(), idle_status(), {}, kNow).action, ScanAction::kResetLost);
}

TEST(Decisions, CookieMismatchAbortsOrCleans) {
  EXPECT_EQ(decide_scan(job(), building_status("1-1", ""), {}, kNow).action,
            ScanAction::kAbortLost);
  EXPECT_EQ(decide_scan(job(), waiting_status(BuildResult::kOk, "1-1"), {}, kNow).action,
            ScanAction::kCleanLost);
  EXPECT_EQ(decide_scan(job(), building_status("7-9", "x"), {}, kNow).action, ScanAction::kLogTail);
}

TEST(Decisions, WaitingResults) {
  auto d = decide_scan(job(), waiting_status(BuildResult::kPackageFail, "7-9"), {}, kNow);
  EXPECT_EQ(d.new_state, BuildState::kFailedToBuild);
  auto dep = waiting_status(BuildResult::kDepFail, "7-9");
  dep.dependencies = "libfoo (>= 2)";
  d = decide_scan(job(), dep, {}, kNow);
  EXPECT_EQ(d.new_state, BuildState::kManualDepWait);
  EXPECT_EQ(d.dependencies, "libfoo (>= 2)");
  EXPECT_EQ(decide_scan(job(), waiting_status(BuildResult::kChrootFail, "7-9"), {}, kNow).new_state,
            BuildState::kChrootWait);
  d = decide_scan(job(), waiting_status(BuildResult::kBuilderFail, "7-9"), {}, kNow);
  EXPECT_EQ(d.action, ScanAction::kBuilderFail);
  EXPECT_EQ(d.note, "Builder returned BUILDERFAIL when asked for its status");
}

TEST(Decisions, UnsafeResultNameFailsTheBuild) {
  auto d = decide_scan(
      job(), waiting_status(BuildResult::kOk, "7-9", {{"../evil.deb", "a"}, {"ok.deb", "b"}}), {},
      kNow);
  EXPECT_EQ(d.action, ScanAction::kCollect);
  EXPECT_EQ(d.new_state, BuildState::kFailedToBuild);
  EXPECT_TRUE(d.files.empty());
  EXPECT_NE(d.note.find("../evil.deb"), std::string::npos);
}

// Found by tests/fuzz/result_filename_fuzz: an empty name added nothing to
// the list of unsafe names, so the build passed as FULLYBUILT without it.
TEST(Decisions, EmptyResultNameFailsTheBuild) {
  auto d = decide_scan(job(), waiting_status(BuildResult::kOk, "7-9", {{"", "a"}, {"ok.deb", "b"}}),
                       {}, kNow);
  EXPECT_EQ(d.action, ScanAction::kCollect);
  EXPECT_EQ(d.new_state, BuildState::kFailedToBuild);
  EXPECT_TRUE(d.files.empty());
  EXPECT_EQ(d.note, "Unsafe result file name(s) from the slave: ''");
}

TEST(Decisions, UnsafeResultNamesInTheNoteAreCapped) {
  const std::string long_name = std::string(100000, '/') + "\xff";
  auto d =
      decide_scan(job(), waiting_status(BuildResult::kOk, "7-9", {{long_name, "a"}}), {}, kNow);
  EXPECT_EQ(d.new_state, BuildState::kFailedToBuild);
  EXPECT_LT(d.note.size(), 600u);
  EXPECT_EQ(d.note.rfind("Unsafe result file name(s) from the slave: '//", 0), 0u) << d.note;
}

TEST(Decisions, GiveBackLimit) {
  MasterSettings s;
  s.give_back_limit = 2;
  auto given = waiting_status(BuildResult::kGivenBack, "7-9");
  EXPECT_EQ(decide_scan(job(BuildState::kBuilding, 1), given, s, kNow).action,
            ScanAction::kGiveBack);
  auto d = decide_scan(job(BuildState::kBuilding, 2), given, s, kNow);
  EXPECT_EQ(d.action, ScanAction::kGiveBackLimit);
  EXPECT_EQ(d.new_state, BuildState::kFailedToBuild);
}

TEST(Decisions, UnknownStateFailsBuilder) {
  SlaveStatus s;
  s.state = BuilderState::kUnknown;
  s.state_text = "BuilderStatus.FROBNICATING";
  auto d = decide_scan(job(), s, {}, kNow);
  EXPECT_EQ(d.action, ScanAction::kUnknownState);
  EXPECT_EQ(d.note,
            "Unknown status code (BuilderStatus.FROBNICATING) returned from status() probe");
}

TEST(Decisions, CancelAbortsOnceThenTimesOut) {
  auto j = job(BuildState::kCancelling);
  EXPECT_EQ(decide_scan(j, building_status("7-9", ""), {}, kNow).action, ScanAction::kSendAbort);
  j.abort_sent = kNow;
  EXPECT_EQ(decide_scan(j, aborting_status("7-9"), {}, kNow + 179s).action, ScanAction::kLogTail);
  auto d = decide_scan(j, aborting_status("7-9"), {}, kNow + 181s);
  EXPECT_EQ(d.action, ScanAction::kAbortTimeout);
  EXPECT_EQ(d.new_state, BuildState::kCancelled);
  EXPECT_EQ(decide_scan(j, waiting_status(BuildResult::kAborted, "7-9"), {}, kNow).action,
            ScanAction::kCancelled);
  EXPECT_EQ(decide_scan(job(), waiting_status(BuildResult::kAborted, "7-9"), {}, kNow).action,
            ScanAction::kCleanAndReset);
}

TEST(Decisions, JudgeFailure) {
  MasterSettings s;
  EXPECT_EQ(judge_failure(1, 1, true, s).job, JobVerdict::kNone);
  EXPECT_EQ(judge_failure(3, 3, true, s).job, JobVerdict::kReset);
  EXPECT_EQ(judge_failure(1, 1, false, s).job, JobVerdict::kReset);
  EXPECT_EQ(judge_failure(4, 1, true, s).builder, BuilderVerdict::kNone);
  auto j = judge_failure(5, 1, true, s);
  EXPECT_EQ(j.builder, BuilderVerdict::kFail);
  EXPECT_EQ(j.job, JobVerdict::kReset);
  EXPECT_EQ(judge_failure(1, 2, true, s).job, JobVerdict::kFail);
  EXPECT_FALSE(transport_grace_exhausted(4, s));
  EXPECT_TRUE(transport_grace_exhausted(5, s));
}

TEST(Scoring, LateTwentyOhFive) {
  EXPECT_EQ(default_score("main", "medium", "release", Duration::zero()), 1000 + 10 + 1500);
  EXPECT_EQ(default_score("universe", "low", "backports", std::chrono::hours(5)), 250 + 5 + 100);
  EXPECT_EQ(default_score("multiverse", "emergency", "security", std::chrono::minutes(20)),
            20 + 4500 + 10);
  Build b;
  BuildQueueEntry e;
  e.created = kNow - 1h;
  e.manual = true;
  e.score = 7;
  ScoreExplained pinned = explain_default_score(b, e, kNow);
  EXPECT_EQ(pinned.score, 7);
  EXPECT_EQ(pinned.explain, "pinned by an operator");
  e.manual = false;
  ScoreExplained scored = explain_default_score(b, e, kNow);
  EXPECT_EQ(scored.score, 1000 + 10 + 1500 + 15);
  EXPECT_EQ(scored.explain, "main 1000 + release 1500 + medium 10 + queued >30m 15");
}

// The default scheduler: each entry rescored now (time in queue counts, a
// pinned score stays), best first, then the oldest entry; each with its why.
TEST(Scoring, TheDefaultSchedulerOrdersByScoreThenAge) {
  auto queued = [](Id id, std::string pocket, int pinned = -1) {
    QueuedBuild q;
    q.entry.id = id;
    q.entry.created = kNow;
    q.build.id = id;
    q.build.pocket = std::move(pocket);
    if (pinned >= 0) {
      q.entry.manual = true;
      q.entry.score = pinned;
    }
    return q;
  };
  std::vector<QueuedBuild> rows = {queued(3, "release"), queued(1, "release"),
                                   queued(2, "security"), queued(4, "backports", 9000)};
  const auto ordered = DefaultScheduler().order(rows, {}, kNow);
  ASSERT_EQ(ordered.size(), 4u);
  EXPECT_EQ(ordered[0].job.entry.id, 4);  // pinned 9000
  EXPECT_EQ(ordered[0].explain, "score 9000: pinned by an operator");
  EXPECT_EQ(ordered[1].job.entry.id, 2);  // security 5510
  EXPECT_EQ(ordered[1].job.entry.score, 5510);
  EXPECT_EQ(ordered[2].job.entry.id, 1);  // release 2510, the older entry first
  EXPECT_EQ(ordered[3].job.entry.id, 3);
  EXPECT_EQ(ordered[3].explain, "score 2510: main 1000 + release 1500 + medium 10");
}

TEST(Decisions, LogFilename) {
  DistroArchRelease dar{1, "ubuntu", "dapper", "i386", 1, std::nullopt, true};
  Build b;
  b.source_name = "foo";
  b.source_version = "1.0-1";
  EXPECT_EQ(build_log_filename(dar, b, BuildState::kFullyBuilt),
            "buildlog_ubuntu-dapper-i386.foo_1.0-1_FULLYBUILT.txt.gz");
}

}  // namespace
}  // namespace buildd
