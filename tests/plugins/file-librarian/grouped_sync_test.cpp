// GroupedSync, the file-librarian's group commit: callers that wait at the
// same time share one sync, and none returns before a sync that began after
// it was called.
#include "grouped_sync.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "buildd/error.hpp"

namespace buildd::test {
namespace {

using namespace std::chrono_literals;

TEST(GroupedSyncTest, CallersWaitingTogetherShareOneSync) {
  constexpr int kCallers = 16;
  GroupedSync group([] {
    std::this_thread::sleep_for(100ms);
    return 0;
  });
  std::latch ready(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      ready.arrive_and_wait();
      group.sync("file");
    });
  }
  for (auto& t : callers) t.join();
  // One sync is begun by the first caller, and one more serves everyone who
  // came while it ran; a sync each would be 16.
  EXPECT_GE(group.syncs(), 1u);
  EXPECT_LE(group.syncs(), 4u);
}

TEST(GroupedSyncTest, EachCallerIsCoveredByASyncThatBeganAfterIt) {
  // One clock for calls and syncs: a caller's tick is taken before it calls,
  // a sync's when it begins. A caller must see a sync with a later tick end.
  std::atomic<std::uint64_t> clock{0};
  std::mutex mu;
  std::uint64_t latest_finished_begin = 0;
  GroupedSync group([&] {
    const std::uint64_t begun = ++clock;
    std::this_thread::sleep_for(2ms);
    std::lock_guard lock(mu);
    latest_finished_begin = std::max(latest_finished_begin, begun);
    return 0;
  });
  std::atomic<int> uncovered{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&, i] {
      for (int n = 0; n < 40; ++n) {
        std::this_thread::sleep_for(std::chrono::microseconds(100 * ((i + n) % 7)));
        const std::uint64_t called = ++clock;
        group.sync("file");
        std::lock_guard lock(mu);
        if (latest_finished_begin < called) ++uncovered;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(uncovered.load(), 0);
  EXPECT_LT(group.syncs(), 8u * 40u);  // shared, or this is one fsync per file again
}

TEST(GroupedSyncTest, AFailedSyncFailsItsCallersRetryably) {
  int failures_left = 1;
  GroupedSync group([&] { return failures_left-- > 0 ? EIO : 0; });
  try {
    group.sync("/archive/ab/abc");
    FAIL() << "a failed sync was reported as durable";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kArchive);
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("cannot sync /archive/ab/abc"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(group.sync("/archive/ab/abc"));  // the next sync worked
  EXPECT_EQ(group.syncs(), 2u);
}

}  // namespace
}  // namespace buildd::test
