#pragma once

// The scheduling interface: in which order waiting builds go to idle
// builders, and why.
//
// For each batch of idle builders of one processor family the pipeline reads
// candidates from the store (BuildStore::candidates(), or, when the
// scheduler asks for them, candidates_per_archive() and the farm's
// running_per_archive()), has the scheduler order them, and offers them in
// that order: the first to the first builder, and so on, skipping a build
// a builder must avoid. The queue page and `queue list` show the same order
// with each build's `explain`.
//
// A scheduler is a plugin kind (section `scheduler:` of the config); with no
// section the core's DefaultScheduler is used: Launchpad's score, best
// first. The fair-share plugin (plugins/fair-share-scheduler) shares the
// builders between archives.
//
// Threading: order() is called from several pipeline threads at once (one
// per processor family) and from the web server's: it must be thread-safe
// (a pure function of its arguments and the plugin's config).
// Ownership: order() takes the candidates and hands them back, reordered,
// none added or dropped.
// Errors: order() may throw buildd::Error; nothing is dispatched to that
// family in that pass, and the next pass asks again.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/domain.hpp"
#include "buildd/export.hpp"
#include "buildd/plugin.hpp"

namespace buildd {

// A candidate in its place, and why it is there ("score 2510: main 1000 +
// release 1500 + medium 10").
struct ScheduledBuild {
  QueuedBuild job;  // job.entry.score is the score the scheduler gave it
  std::string explain;
};

class BUILDD_API Scheduler : public PluginObject {
 public:
  // How many candidates of each archive the scheduler needs to see: 0 (the
  // default) means the best of the family's arch releases by stored score,
  // whatever their archive; n > 0 means the best n of every archive with
  // waiting builds (more when that is too few for the idle builders: n plus
  // an even share of them), and `running` filled in for order().
  virtual std::size_t candidates_per_archive() const { return 0; }

  // `candidates` in dispatch order, best first, as if each were dispatched
  // in turn. `running` is how many builds of each archive are dispatched now,
  // farm-wide (empty unless candidates_per_archive() > 0).
  virtual std::vector<ScheduledBuild> order(std::vector<QueuedBuild> candidates,
                                            const std::map<std::string, std::size_t>& running,
                                            TimePoint now) const = 0;
};

// Launchpad's score (late 2005 formula, 2009 pocket values), higher first:
// component (multiverse 0, universe 250, restricted 750, main 1000, unknown 0)
// + urgency (low 5, medium 10, high 15, emergency 20)
// + pocket (backports 0, release 1500, proposed 3000, updates 3000, security 4500)
// + time in queue (first step matched: >4h 100, >2h 50, >1h 20, >30m 15,
//   >15m 10, >5m 5). Names are case-insensitive. The CLI's `build add` uses it
// with queued = 0.
BUILDD_API int default_score(std::string_view component, std::string_view urgency,
                             std::string_view pocket, Duration queued);

// The score of a waiting entry now and how it is made up: the stored score
// when an operator pinned it, else default_score() of the build.
struct ScoreExplained {
  int score = 0;
  std::string explain;  // "main 1000 + release 1500 + medium 10 + queued 1h 20" or "pinned"
};
BUILDD_API ScoreExplained explain_default_score(const Build& build, const BuildQueueEntry& entry,
                                                TimePoint now);

// Today's behaviour: every entry gets its default score (a pinned one keeps
// its own), best first, then the oldest entry.
class BUILDD_API DefaultScheduler final : public Scheduler {
 public:
  std::vector<ScheduledBuild> order(std::vector<QueuedBuild> candidates,
                                    const std::map<std::string, std::size_t>& running,
                                    TimePoint now) const override;
};

}  // namespace buildd
