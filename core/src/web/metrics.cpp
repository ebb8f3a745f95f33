#include "buildd/web/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace buildd {
namespace {

const std::vector<double> kDefaultBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,    2.5,   5,    10};

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Shortest form that round-trips is not needed; trim the common integral case.
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string label_text(const MetricLabels& labels, const std::string& extra_name = {},
                       const std::string& extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label_value(v) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name + "=\"" + escape_label_value(extra_value) + "\"";
  }
  return out + "}";
}

}  // namespace

Metrics::Family& Metrics::family(const std::string& name, MetricType type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    if (type == MetricType::kHistogram) it->second.buckets = kDefaultBuckets;
  }
  return it->second;
}

void Metrics::describe(const std::string& name, MetricType type, const std::string& help,
                       std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = families_.try_emplace(name);
  Family& f = it->second;
  f.help = help;
  if (inserted) {
    f.type = type;
    if (type == MetricType::kHistogram) f.buckets = buckets.empty() ? kDefaultBuckets : buckets;
  }
}

void Metrics::inc(const std::string& name, const MetricLabels& labels, double by) {
  std::lock_guard lock(mutex_);
  family(name, MetricType::kCounter).series[labels].value += by;
}

void Metrics::set(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name, MetricType::kGauge).series[labels].value = value;
}

void Metrics::observe(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, MetricType::kHistogram);
  Series& s = f.series[labels];
  if (s.bucket_counts.size() != f.buckets.size()) s.bucket_counts.assign(f.buckets.size(), 0);
  s.value += value;
  ++s.count;
  for (std::size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) {
      ++s.bucket_counts[i];
      break;
    }
  }
}

void Metrics::clear(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.clear();
}

double Metrics::value(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(labels);
  if (s == it->second.series.end()) return 0;
  return it->second.type == MetricType::kHistogram ? static_cast<double>(s->second.count)
                                                   : s->second.value;
}

void Metrics::add_collector(const std::string& key, std::function<void(Metrics&)> collect) {
  std::lock_guard lock(collectors_mutex_);
  collectors_[key] = std::move(collect);
}

void Metrics::remove_collector(const std::string& key) {
  std::lock_guard lock(collectors_mutex_);
  collectors_.erase(key);
}

std::string Metrics::render() {
  {
    // Held while the collectors run, so that remove_collector() returns only
    // once none of them runs any more (their owner may then go away). They
    // record through set()/clear(), which take mutex_ only.
    std::lock_guard collectors_lock(collectors_mutex_);
    for (const auto& [key, collect] : collectors_) collect(*this);
  }
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out << "# HELP " << name << ' ' << escape_help(f.help) << '\n';
    out << "# TYPE " << name << ' ' << type_name(f.type) << '\n';
    for (const auto& [labels, s] : f.series) {
      if (f.type != MetricType::kHistogram) {
        out << name << label_text(labels) << ' ' << format_number(s.value) << '\n';
        continue;
      }
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += i < s.bucket_counts.size() ? s.bucket_counts[i] : 0;
        out << name << "_bucket" << label_text(labels, "le", format_number(f.buckets[i])) << ' '
            << cumulative << '\n';
      }
      out << name << "_bucket" << label_text(labels, "le", "+Inf") << ' ' << s.count << '\n';
      out << name << "_sum" << label_text(labels) << ' ' << format_number(s.value) << '\n';
      out << name << "_count" << label_text(labels) << ' ' << s.count << '\n';
    }
  }
  return out.str();
}

Metrics& Metrics::global() {
  static Metrics* registry = [] {
    auto* m = new Metrics;  // never destroyed: recorded into until the process exits
    describe_farm_metrics(*m);
    return m;
  }();
  return *registry;
}

void describe_farm_metrics(Metrics& m) {
  m.describe(
      kMetricBuilders, MetricType::kGauge,
      "Builders by processor family and state (idle, building, dirty, unreachable, disabled).");
  m.describe(kMetricQueueDepth, MetricType::kGauge, "Builds waiting for a builder, by family.");
  m.describe(kMetricBuildsFinished, MetricType::kCounter,
             "Builds that reached a final state, by state.");
  m.describe(kMetricCycleDuration, MetricType::kHistogram,
             "Duration of one scan, collect and dispatch cycle.",
             {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  m.describe(kMetricSlaveErrors, MetricType::kCounter,
             "Failed calls to slaves, by builder and error kind.");
  m.describe(kMetricDispatchLatency, MetricType::kHistogram,
             "Time from a build's enqueueing to the slave accepting build().",
             {1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600});
  m.describe(kMetricCycles, MetricType::kCounter, "Cycles run by the pipeline.");
  m.describe(kMetricBuilderPolls, MetricType::kCounter,
             "Builder polls completed: a held, usable builder's job scanned or its slave's "
             "status read (the scan capacity, summed over masters, is its rate).");
  m.describe(kMetricReconcileActions, MetricType::kCounter,
             "Slaves with no job of ours that the master cleaned or aborted, by action.");
  m.describe(kMetricStoreOutages, MetricType::kCounter,
             "Times the database became unavailable to the daemon (it retries until it is back).");
  m.describe(kMetricInternalErrors, MetricType::kCounter,
             "Unexpected errors caught at a boundary (one builder's poll, one HTTP request) "
             "that would otherwise have ended the daemon, by where.");
  m.describe(kMetricBuildInfo, MetricType::kGauge,
             "Always 1; its version label is the version of the running buildd-master.");
  m.describe(kMetricQueueOldest, MetricType::kGauge,
             "Age of the oldest build waiting for a builder, by family (0 when none waits).");
  m.describe(kMetricBuilderLastAnswerAge, MetricType::kGauge,
             "Seconds since the builder last answered a call from this master (since the "
             "master started when it has not answered yet), for each usable builder this "
             "master polls.");
}

void set_build_info(Metrics& m, const std::string& version) {
  m.clear(kMetricBuildInfo);
  m.set(kMetricBuildInfo, {{"version", version}}, 1);
}

}  // namespace buildd
