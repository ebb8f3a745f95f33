#pragma once

// BuilderAnswers: when each builder this master polls last answered it, for
// the buildd_builder_last_answer_age_seconds gauge (an alert on a builder
// that has gone silent). Memory only, one per master process: several
// masters on one database each report the builders they hold, and a master
// that rebuilds its pipeline (SIGHUP) keeps the instance, so a silent
// builder's age does not start again from zero.
//
// A builder is reported once a poll of it has begun (polling()) and while it
// is usable and held (retain()). One that has not answered since the master
// started is as old as the master: its silence is at least that long.
//
// Threading: every method is thread-safe (one mutex); polls record while the
// HTTP server's threads export.

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "buildd/domain.hpp"
#include "buildd/export.hpp"
#include "buildd/web/metrics.hpp"

namespace buildd {

class BUILDD_API BuilderAnswers {
 public:
  // `started`: when the master started (the age of a builder never answered).
  explicit BuilderAnswers(TimePoint started) : started_(started) {}

  // A poll of the builder begins; `usable` is false for a disabled builder
  // (it is not polled, so its silence says nothing: it is not reported).
  void polling(Id builder_id, const std::string& name, bool usable);
  // The builder answered a call at `at` (an earlier time than the one known
  // is ignored).
  void answered(Id builder_id, TimePoint at);
  // Forgets every builder but these (the ones this master holds now).
  void retain(const std::set<Id>& builder_ids);

  // Seconds since each reported builder last answered, by builder name.
  std::map<std::string, double> ages(TimePoint now) const;
  // Replaces the series of kMetricBuilderLastAnswerAge with ages(now).
  void export_to(Metrics& metrics, TimePoint now) const;

 private:
  struct Entry {
    std::string name;
    bool usable = true;
    std::optional<TimePoint> last_answer;
  };
  const TimePoint started_;
  mutable std::mutex mutex_;
  std::map<Id, Entry> builders_;
};

}  // namespace buildd
