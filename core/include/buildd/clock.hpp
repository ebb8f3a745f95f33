#pragma once

// The time source of the pipeline. Production uses the system clock; tests use
// a ManualClock so that time-dependent rules (durations, cancel deadlines) are
// tested without sleeping. Thread-safe.

#include <atomic>
#include <string>

#include "buildd/domain.hpp"
#include "buildd/export.hpp"

namespace buildd {

// "2026-11-30T12:03:04Z": how pages, the API and messages print a time.
BUILDD_API std::string iso_utc(TimePoint t);

class BUILDD_API TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
};

class BUILDD_API SystemTimeSource final : public TimeSource {
 public:
  TimePoint now() const override { return Clock::now(); }
};

class BUILDD_API ManualTimeSource final : public TimeSource {
 public:
  explicit ManualTimeSource(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Clock::duration(now_.load())); }
  void advance(Clock::duration by) { now_ += by.count(); }
  void set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<Clock::rep> now_;
};

}  // namespace buildd
