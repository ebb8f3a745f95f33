// LogFollower: merging successive log tails into a log printed once, and
// finishing from the stored log.

#include "buildd/log_follow.hpp"

#include <gtest/gtest.h>

#include <random>

#include "buildd/pipeline/decisions.hpp"

namespace buildd {
namespace {

// The tail the master would store when the log is `log[0, end)` and the
// slave sends its last `window` bytes.
std::string tail_of(const std::string& log, std::size_t end, std::size_t window) {
  const std::size_t begin = end > window ? end - window : 0;
  return decode_logtail(std::string_view(log).substr(begin, end - begin));
}

std::string numbered_log(int lines, const std::string& body = " compiling something\n") {
  std::string log;
  for (int i = 1; i <= lines; ++i) log += "line " + std::to_string(i) + body;
  return log;
}

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(LogFollower, PrintsWholeLinesOnceAsTheTailGrows) {
  LogFollower f;
  EXPECT_EQ(f.next(""), "");
  EXPECT_EQ(f.next("a\n"), "a\n");
  EXPECT_EQ(f.next("a\n"), "");  // unchanged
  EXPECT_EQ(f.next("a\nb\nunfinished"), "b\n");
  EXPECT_EQ(f.next("a\nb\nunfinished line\n"), "unfinished line\n");
  EXPECT_EQ(f.next("a\nb\nunfinished line\nc\n"), "c\n");
  EXPECT_EQ(f.printed_bytes(), std::string("a\nb\nunfinished line\nc\n").size());
}

TEST(LogFollower, ATailCutMidLineOverlapsWhatWasPrinted) {
  LogFollower f;
  EXPECT_EQ(f.next("first line\nsecond line\nthird line\n"),
            "first line\nsecond line\nthird line\n");
  // The window slid: the tail starts in the middle of "second line".
  EXPECT_EQ(f.next("ond line\nthird line\nfourth\n"), "fourth\n");
  EXPECT_EQ(f.next("ne\nfourth\nfifth\n"), "fifth\n");  // the whole line "fourth"
}

// Logs are full of lines that end alike: an overlap that is only the end of
// the last printed line does not prove the log did not move on.
TEST(LogFollower, AnOverlapOfPartOfOneLineIsAGap) {
  LogFollower f;
  EXPECT_EQ(f.next("line 1 compiling x\nline 2 compiling x\n"),
            "line 1 compiling x\nline 2 compiling x\n");
  EXPECT_EQ(f.next("ompiling x\nline 9 compiling x\n"),
            std::string(kGapMarker) + "ompiling x\nline 9 compiling x\n");
  // A whole line is enough.
  EXPECT_EQ(f.next("line 9 compiling x\nline 10\n"), "line 10\n");
}

TEST(LogFollower, ALogThatMovedOnPastTheWindowShowsAGap) {
  LogFollower f;
  EXPECT_EQ(f.next("a1\na2\n"), "a1\na2\n");
  const std::string out = f.next("b7\nb8\n");
  EXPECT_EQ(out, std::string(kGapMarker) + "b7\nb8\n");
  EXPECT_EQ(f.next("b8\nb9\n"), "b9\n");  // and follows on from the new tail
}

TEST(LogFollower, IdenticalLinesAreMatchedByTheLongestOverlap) {
  LogFollower f;
  EXPECT_EQ(f.next("x\nx\n"), "x\nx\n");
  EXPECT_EQ(f.next("x\nx\nx\n"), "x\n");
  EXPECT_EQ(f.next("x\nx\nx\ny\n"), "y\n");
}

TEST(LogFollower, AUtf8SequenceSplitByTheCutIsIgnored) {
  const std::string log = "gcc: warning: \xE2\x80\x98x\xE2\x80\x99 unused\nnext step\ndone\n";
  const std::size_t done = log.find("done");
  LogFollower f;
  EXPECT_EQ(f.next(tail_of(log, done, 1000)), log.substr(0, done));
  // The window now starts inside the 3-byte quote: the master stores U+FFFD.
  const std::string cut = tail_of(log, log.size(), log.size() - 15);
  ASSERT_EQ(cut.substr(0, 3), "\xEF\xBF\xBD");
  EXPECT_EQ(f.next(cut), "done\n");
  EXPECT_EQ(f.finish(decode_logtail(log + "end\n")), "end\n");
}

// A log growing by random steps smaller than the window, polled after each
// step: the output is the log, each line once, with no gap marker.
TEST(LogFollower, RandomGrowthWithinTheWindowPrintsTheLogExactlyOnce) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    const std::string log = numbered_log(400);
    const std::size_t window = 200 + rng() % 600;
    LogFollower f(0);  // remember no more than the largest tail
    std::string out;
    std::size_t end = 0;
    while (end < log.size()) {
      end = std::min(log.size(), end + rng() % (window / 2));
      out += f.next(tail_of(log, end, window));
    }
    out += f.finish(log);
    ASSERT_EQ(out, log) << "window " << window;
  }
}

TEST(LogFollower, GrowthBeyondTheWindowMarksEachGapAndRepeatsNothing) {
  const std::string log = numbered_log(300);
  const std::size_t window = 300;
  LogFollower f;
  std::string out;
  for (std::size_t end = 0; end < log.size(); end += 1000) out += f.next(tail_of(log, end, window));
  out += f.finish(log);
  EXPECT_GE(count(out, kGapMarker), 5u);
  EXPECT_EQ(count(out, kRestartMarker), 0u);
  for (int i = 1; i <= 300; ++i) EXPECT_LE(count(out, "line " + std::to_string(i) + " "), 1u) << i;
  EXPECT_EQ(count(out, "line 300 "), 1u);
  EXPECT_EQ(out.substr(out.size() - 40), log.substr(log.size() - 40));
}

TEST(LogFollower, FinishPrintsTheRestOfTheStoredLog) {
  LogFollower f;
  f.next("a\nb\nc\nhalf a li");
  EXPECT_EQ(f.finish("a\nb\nc\nhalf a line\nd\n"), "half a line\nd\n");
}

TEST(LogFollower, FinishWithNothingPrintedIsTheWholeLog) {
  LogFollower f;
  f.next("only a partial line");
  EXPECT_EQ(f.finish("only a partial line\n"), "only a partial line\n");
}

TEST(LogFollower, FinishSkipsEarlierCopiesOfThePrintedLines) {
  // "x\n" is everywhere; what was printed (3 lines from the start) ends at
  // byte 6, not at the first "x\n".
  LogFollower f;
  f.next("x\nx\nx\n");
  EXPECT_EQ(f.finish("x\nx\nx\nx\nend\n"), "x\nend\n");
}

TEST(LogFollower, FinishWhenThePrintedLinesAreNotInTheStoredLog) {
  LogFollower f;
  f.next("attempt 1\n");
  EXPECT_EQ(f.finish("attempt 2\n"), std::string(kRestartMarker) + "attempt 2\n");
}

TEST(LogFollower, HostileBytesNeverCrashIt) {
  std::mt19937 rng(7);
  LogFollower f(64);
  for (int i = 0; i < 2000; ++i) {
    std::string tail(rng() % 200, '\0');
    for (char& c : tail) c = static_cast<char>(rng() % 4 == 0 ? '\n' : rng() % 256);
    f.next(tail);
  }
  std::string log(5000, '\n');
  EXPECT_NO_THROW(f.finish(log));
}

}  // namespace
}  // namespace buildd
