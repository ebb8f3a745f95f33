#pragma once

// A small metrics registry in the Prometheus text exposition format (0.0.4):
// counters, gauges and histograms with fixed buckets, each family keyed by
// its label values. No client library: the master needs a handful of
// families and one text page (/metrics).
//
// Threading: every method is thread-safe (one mutex); the pipeline's worker
// threads record while the HTTP server's threads render.
// Ownership: plain value storage; Metrics::global() lives for the process.
// Errors: none. A call on an undescribed family creates it (type from the
// call, default buckets for histograms); describe() names and documents it.
// Metric and label names must match [a-zA-Z_:][a-zA-Z0-9_:]* (programmer
// constants); label values are escaped on output.
// Collectors (add_collector) run at the start of every render(), outside the
// registry's lock: they fill gauges from state that lives elsewhere (the
// pipeline's memory of its builders), so those are fresh at each scrape.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "buildd/export.hpp"

namespace buildd {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram };

class BUILDD_API Metrics {
 public:
  // Registers (or updates the help of) a family. Histograms keep the buckets
  // (upper bounds, ascending; +Inf is implicit) of their first description.
  void describe(const std::string& name, MetricType type, const std::string& help,
                std::vector<double> buckets = {});

  void inc(const std::string& name, const MetricLabels& labels = {}, double by = 1);
  void set(const std::string& name, const MetricLabels& labels, double value);
  void observe(const std::string& name, const MetricLabels& labels, double value);
  // Drops every series of a family (gauges recomputed at scrape time).
  void clear(const std::string& name);

  // Current value of a counter or gauge series (0 when absent); for a
  // histogram, its count.
  double value(const std::string& name, const MetricLabels& labels = {}) const;

  // Runs `collect` at the start of every render(); a second collector under
  // the same key replaces the first. The callable must stay valid until
  // remove_collector(key) (it runs on the thread that renders).
  void add_collector(const std::string& key, std::function<void(Metrics&)> collect);
  void remove_collector(const std::string& key);

  // Runs the collectors, then returns the exposition text: HELP and TYPE then
  // the series of each family, in name order.
  std::string render();

  // The process-wide registry the pipeline records into, with the farm's
  // families described.
  static Metrics& global();

 private:
  struct Series {
    double value = 0;  // counter/gauge; histogram sum
    std::uint64_t count = 0;
    std::vector<std::uint64_t> bucket_counts;  // per bound, not cumulative
  };
  struct Family {
    MetricType type = MetricType::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<MetricLabels, Series> series;
  };
  Family& family(const std::string& name, MetricType type);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::mutex collectors_mutex_;  // never held with mutex_ while a collector runs
  std::map<std::string, std::function<void(Metrics&)>> collectors_;
};

// The farm's metric names (recorded by the pipeline and the status pages).
inline constexpr const char* kMetricBuilders = "buildd_builders";
inline constexpr const char* kMetricQueueDepth = "buildd_queue_depth";
inline constexpr const char* kMetricBuildsFinished = "buildd_builds_finished_total";
inline constexpr const char* kMetricCycleDuration = "buildd_cycle_duration_seconds";
inline constexpr const char* kMetricSlaveErrors = "buildd_slave_call_errors_total";
inline constexpr const char* kMetricDispatchLatency = "buildd_dispatch_latency_seconds";
inline constexpr const char* kMetricCycles = "buildd_cycles_total";
inline constexpr const char* kMetricBuilderPolls = "buildd_builder_polls_total";
inline constexpr const char* kMetricReconcileActions = "buildd_reconcile_actions_total";
inline constexpr const char* kMetricStoreOutages = "buildd_store_outages_total";
inline constexpr const char* kMetricInternalErrors = "buildd_internal_errors_total";
// 1, labelled with the running program's version (as prometheus_build_info).
inline constexpr const char* kMetricBuildInfo = "buildd_build_info";
// Age of the oldest build waiting for a builder, by family (0 when none waits).
inline constexpr const char* kMetricQueueOldest = "buildd_queue_oldest_seconds";
// Seconds since each builder this master polls last answered one of its calls.
inline constexpr const char* kMetricBuilderLastAnswerAge = "buildd_builder_last_answer_age_seconds";

// Describes the families above on `metrics` (idempotent).
BUILDD_API void describe_farm_metrics(Metrics& metrics);

// Sets buildd_build_info{version=`version`} to 1, the only series of the
// family. The executable calls it with its version: the core does not know it.
BUILDD_API void set_build_info(Metrics& metrics, const std::string& version);

}  // namespace buildd
