#include "buildd/pipeline/poller.hpp"

#include <algorithm>
#include <exception>

#include "buildd/logging.hpp"
#include "buildd/web/metrics.hpp"

namespace buildd {

BuilderPoller::BuilderPoller(BuilddMaster& master) : master_(master) {}

BuilderPoller::~BuilderPoller() {
  stop();
}

void BuilderPoller::start() {
  std::lock_guard lock(mutex_);
  if (scheduler_.joinable()) return;
  stopping_ = false;
  const std::size_t workers = std::max<std::size_t>(1, master_.settings().max_in_flight);
  for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
  scheduler_ = std::thread([this] { schedule(); });
}

void BuilderPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  schedule_cv_.notify_all();
  work_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  std::lock_guard lock(mutex_);
  for (BuilderHandle* b : ready_) b->polling = false;
  ready_.clear();
}

void BuilderPoller::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  schedule_cv_.notify_all();
}

void BuilderPoller::note_store(bool failed, const std::string& what) {
  std::lock_guard lock(mutex_);
  if (failed == store_down_) return;
  store_down_ = failed;
  if (failed) {
    Metrics::global().inc(kMetricStoreOutages);
    logger("master")->error("the database is unavailable: {}", what);
  } else {
    logger("master")->info("the database answers again");
  }
}

void BuilderPoller::schedule() {
  // The builder list is re-read every scan interval, and the leases renewed
  // at least every third of their TTL.
  const auto interval = std::min<std::chrono::steady_clock::duration>(
      master_.settings().scan_interval, master_.settings().lease_ttl / 3);
  SteadyTime next_refresh{};
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const SteadyTime now = std::chrono::steady_clock::now();
    const bool woken = std::exchange(woken_, false);
    if (woken || now >= next_refresh) {
      lock.unlock();
      try {
        master_.refresh();
        master_.renew_leases();
        note_store(false, "");
      } catch (const Error& e) {
        if (e.category() == ErrorCategory::kConflict) {
          // Another process took this master's id: poll nothing until the
          // registration is ours again.
          logger("master")->error("{}", e.what());
        } else {
          note_store(true, e.what());
        }
      } catch (const std::exception& e) {
        note_store(true, e.what());
      }
      const std::vector<BuilderHandle*> handles = master_.builder_handles();
      lock.lock();
      next_refresh = now + interval;
      for (BuilderHandle* b : handles) {
        auto it = due_.emplace(b, now).first;
        // A wake-up feeds the builders without a job at once.
        if (woken && !b->polling && !b->has_job) it->second = std::min(it->second, now);
      }
    }
    SteadyTime next = next_refresh;
    for (auto& [b, at] : due_) {
      if (b->polling) continue;
      if (at <= now) {
        b->polling = true;
        ready_.push_back(b);
      } else {
        next = std::min(next, at);
      }
    }
    if (!ready_.empty()) work_cv_.notify_all();
    schedule_cv_.wait_until(lock, next, [this] { return stopping_ || woken_; });
  }
}

void BuilderPoller::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    BuilderHandle* b = ready_.front();
    ready_.pop_front();
    lock.unlock();
    poll(*b);
    const auto next = next_poll_in(*b);
    lock.lock();
    due_[b] = std::chrono::steady_clock::now() + next;
    b->polling = false;
    schedule_cv_.notify_all();
  }
}

std::chrono::milliseconds BuilderPoller::next_poll_in(const BuilderHandle& builder) const {
  // A builder that does not answer is polled less and less often (doubling,
  // up to 8 intervals or a minute): hung slaves hold a worker for their
  // whole call deadline, and many of them must not take every worker from
  // the healthy ones.
  const auto interval = master_.settings().scan_interval;
  if (builder.transport_failures <= 1) return interval;
  const int doublings = std::min(builder.transport_failures - 1, 3);
  return std::max(interval, std::min(interval * (1 << doublings),
                                     std::chrono::milliseconds(std::chrono::minutes(1))));
}

void BuilderPoller::poll(BuilderHandle& builder) {
  try {
    master_.poll_builder(builder);
    note_store(false, "");
  } catch (const Error& e) {
    if (e.category() == ErrorCategory::kStore) {
      note_store(true, e.what());
    } else {
      logger("master")->error("{}: poll failed: {}", builder.name, e.what());
    }
  } catch (const std::exception& e) {
    // One builder's trouble never ends the daemon.
    logger("master")->error("{}: poll failed: {}", builder.name, e.what());
    Metrics::global().inc(kMetricInternalErrors, {{"where", "poll"}});
  } catch (...) {
    logger("master")->error("{}: poll failed with an exception of unknown type", builder.name);
    Metrics::global().inc(kMetricInternalErrors, {{"where", "poll"}});
  }
}

}  // namespace buildd
