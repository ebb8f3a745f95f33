#pragma once

// BuilddMaster: the cycle of the build farm (the seed's BuilddMaster).
// run_cycle() = refresh builders and arch releases, scan every builder with a
// job (concurrently, at most max_in_flight at once), commit the scan's
// changes in one transaction, then dispatch waiting builds to idle builders
// (concurrently too: one commit per processor family).
//
// Threading: one thread calls the master's methods; run_cycle() uses its own
// worker threads for the scan and the dispatch, never two at once on one
// builder's Slave. Ownership: the master keeps references to the
// store, transport, librarian and time source, which must outlive it.
// Errors: setup_builders() throws SetupError; run_cycle() lets a store error
// of its reads or of the commit escape (nothing of the cycle is then
// written; a slave was perhaps cleaned, which the next scan sees as IDLE and
// resets); slave and archive errors never escape (see builder_group.hpp).

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/clock.hpp"
#include "buildd/error.hpp"
#include "buildd/export.hpp"
#include "buildd/librarian.hpp"
#include "buildd/pipeline/builder_group.hpp"
#include "buildd/pipeline/scoring.hpp"
#include "buildd/pipeline/settings.hpp"
#include "buildd/slave_transport.hpp"
#include "buildd/web/metrics.hpp"

namespace buildd {

// No usable builder for an arch release (the seed's KeyError); what() is
// "Unable to setup builder for ubuntu/warty/i386."
class BUILDD_API SetupError : public Error {
 public:
  explicit SetupError(const DistroArchRelease& dar);
};

class BUILDD_API BuilddMaster {
 public:
  BuilddMaster(BuildStore& store, SlaveTransport& transport, Librarian& librarian,
               const TimeSource& time, MasterSettings settings = {});

  void set_scoring_policy(std::unique_ptr<ScoringPolicy> policy);
  const MasterSettings& settings() const { return settings_; }
  // Where cycle durations, finished builds, dispatch latencies and slave call
  // errors are recorded (default Metrics::global(); nullptr records nothing).
  void set_metrics(Metrics* metrics);

  // Registers the arch release when it has a chroot; false (logged) otherwise.
  bool add_distro_arch_release(const DistroArchRelease& dar);
  // Builds (once) the group of the release's processor family and probes its
  // OK builders (echo, info protocol "1.0", arch tag); a failed probe marks the
  // builder not OK with the reason. Throws SetupError when the release is not
  // registered or no usable builder is left.
  BuilderGroup& setup_builders(const DistroArchRelease& dar);
  const std::map<Id, DistroArchRelease>& archreleases() const { return archreleases_; }
  BuilderGroup* group(Id family_id);

  // update_build for every queue entry that has a builder of a set-up group;
  // the changes are committed in one transaction.
  CycleReport scan_active_builders();
  // Waiting entries of registered releases, per processor family, best score
  // first then oldest; at most (usable builders + look-ahead) per family.
  std::map<Id, std::vector<QueuedBuild>> sort_and_split_by_processor();
  // Pairs the available builders (in first_available() order) with the
  // items, best first, and starts the pairs concurrently (at most
  // max_in_flight at once); the changes are committed in one transaction.
  // Returns how many builds were started.
  std::size_t dispatch_by_processor(Id family_id, const std::vector<QueuedBuild>& items);

  CycleReport run_cycle();

 private:
  void refresh();
  bool start_build(BuilderGroup& group, BuilderHandle& builder, const QueuedBuild& item,
                   const std::optional<LibraryFile>& chroot, CycleChanges& changes,
                   CycleReport& report);
  void probe(BuilderHandle& builder, const DistroArchRelease& dar);

  BuildStore& store_;
  SlaveTransport& transport_;
  Librarian& librarian_;
  const TimeSource& time_;
  MasterSettings settings_;
  std::unique_ptr<ScoringPolicy> scoring_;
  std::map<Id, DistroArchRelease> archreleases_;
  std::map<Id, std::unique_ptr<BuilderGroup>> groups_;  // by family id
  std::set<Id> unusable_;          // arch releases already reported as unusable
  CycleReport* report_ = nullptr;  // the report of the cycle under way
  Metrics* metrics_ = &Metrics::global();
};

}  // namespace buildd
