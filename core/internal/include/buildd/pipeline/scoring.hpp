#pragma once

// Build scoring: higher is dispatched first. The policy is replaceable; the
// default is Launchpad's late-2005 formula with the 2009 pocket values.
// Pure functions, thread-safe.

#include <optional>
#include <string_view>

#include "buildd/domain.hpp"
#include "buildd/export.hpp"

namespace buildd {

// component (multiverse 0, universe 250, restricted 750, main 1000, unknown 0)
// + urgency (low 5, medium 10, high 15, emergency 20)
// + pocket (backports 0, release 1500, proposed 3000, updates 3000, security 4500)
// + time in queue (first step matched: >4h 100, >2h 50, >1h 20, >30m 15,
//   >15m 10, >5m 5). Names are case-insensitive. The CLI's `build add` uses it
// with queued = 0.
BUILDD_API int default_score(std::string_view component, std::string_view urgency,
                             std::string_view pocket, Duration queued);

class BUILDD_API ScoringPolicy {
 public:
  virtual ~ScoringPolicy() = default;
  // The score of a waiting entry now; nullopt leaves the stored score alone
  // (always for a manual, pinned score).
  virtual std::optional<int> score(const Build& build, const BuildQueueEntry& entry,
                                   TimePoint now) const = 0;
};

class BUILDD_API DefaultScoringPolicy final : public ScoringPolicy {
 public:
  std::optional<int> score(const Build& build, const BuildQueueEntry& entry,
                           TimePoint now) const override;
};

}  // namespace buildd
