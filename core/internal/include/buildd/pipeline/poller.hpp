#pragma once

// BuilderPoller: the daemon's clock. Each builder is polled on its own timer
// (BuilddMaster::poll_builder every scan_interval), on a pool of at most
// max_in_flight worker threads, so a slow or hung slave holds one worker for
// its own call deadlines and delays nobody else. There is no farm-wide cycle:
// a builder that finishes is collected and fed within its own poll.
//
// The builder list and arch releases are re-read, and the builder leases
// renewed (BuilddMaster::renew_leases), every scan_interval (at least every
// third of lease_ttl) and on wake(); wake() also polls every builder without
// a job at once, so that `build add` dispatches at once. Only the builders
// this master holds are polled.
//
// A builder whose status() keeps failing is polled less often (the interval
// doubles per failure, up to 8 intervals or a minute), so that hung slaves
// cannot hold every worker.
//
// Threading: start(), wake() and stop() may be called from any thread.
// Errors: a failed poll is logged with the builder's name and counted; it
// never stops the poller. A store outage is logged once when it starts and
// once when it ends.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "buildd/export.hpp"
#include "buildd/pipeline/master.hpp"

namespace buildd {

class BUILDD_API BuilderPoller {
 public:
  explicit BuilderPoller(BuilddMaster& master);
  ~BuilderPoller();
  BuilderPoller(const BuilderPoller&) = delete;
  BuilderPoller& operator=(const BuilderPoller&) = delete;

  void start();
  // Returns once every poll under way has ended.
  void stop();
  void wake();

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  void schedule();
  void work();
  void poll(BuilderHandle& builder);
  std::chrono::milliseconds next_poll_in(const BuilderHandle& builder) const;
  void note_store(bool failed, const std::string& what);

  BuilddMaster& master_;
  std::mutex mutex_;
  std::condition_variable schedule_cv_;
  std::condition_variable work_cv_;
  std::map<BuilderHandle*, SteadyTime> due_;  // next poll of each builder
  std::deque<BuilderHandle*> ready_;          // due, waiting for a worker
  bool stopping_ = false;
  bool woken_ = false;
  bool store_down_ = false;
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace buildd
