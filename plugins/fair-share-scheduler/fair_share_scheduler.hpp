#pragma once

// Fair share between archives, with aging: one archive's 50,000-build
// rebuild cannot starve another archive's security upload.
//
// Each waiting build has a priority:
//
//   its score (Launchpad's, or the operator's pinned one)
//   + aging_per_hour for each hour it has waited
//   - share_penalty x (builds of its archive dispatched before it) / weight
//
// where "dispatched before it" counts the archive's running builds and those
// this order places ahead of it. The order is built one build at a time: the
// next is the best priority among the best waiting build of each archive
// (ties: the oldest entry). So an archive with nothing running goes ahead of
// one with several running unless the scores differ by more than the
// penalty; an archive of weight 3 gets three builders for every one of an
// archive of weight 1 when both have work; and a build that keeps losing
// gains aging_per_hour each hour until it wins.
//
// Thread-safe: order() is a pure function of its arguments and the options.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "buildd/plugin.hpp"
#include "buildd/scheduler.hpp"

namespace buildd {

inline constexpr ConfigKey kFairShareConfigKeys[] = {
    {"weights", ConfigType::kStringList, false, nullptr,
     "ARCHIVE=WEIGHT entries (\"primary=3\"): an archive's share of the builders against the "
     "others' (a positive integer)"},
    {"default_weight", ConfigType::kInteger, false, "1", "the weight of an archive not listed"},
    {"share_penalty", ConfigType::kInteger, false, "500",
     "points a build loses for each build of its archive dispatched before it, divided by the "
     "archive's weight (500 is more than a component or urgency step, less than a pocket step)"},
    {"aging_per_hour", ConfigType::kInteger, false, "60",
     "points a waiting build gains per hour it has waited (a day is 1,440: more than a pocket "
     "step)"},
    {"candidates_per_archive", ConfigType::kInteger, false, "32",
     "how many of each archive's best waiting builds each dispatch looks at (at least the number "
     "of idle builders)"},
};

struct FairShareOptions {
  std::map<std::string, long long> weights;
  long long default_weight = 0;
  long long share_penalty = 0;
  long long aging_per_hour = 0;
  std::size_t candidates_per_archive = 0;
};

// Reads a config validated against kFairShareConfigKeys. Throws
// Error(kConfig) naming the entry for a malformed weight, a weight or
// default_weight below 1, a negative penalty or aging, a zero
// candidates_per_archive.
FairShareOptions fair_share_options_from(const PluginConfig& config);

class FairShareScheduler final : public Scheduler {
 public:
  explicit FairShareScheduler(FairShareOptions options);

  std::size_t candidates_per_archive() const override;
  std::vector<ScheduledBuild> order(std::vector<QueuedBuild> candidates,
                                    const std::map<std::string, std::size_t>& running,
                                    TimePoint now) const override;

  long long weight(const std::string& archive) const;

 private:
  FairShareOptions options_;
};

}  // namespace buildd
