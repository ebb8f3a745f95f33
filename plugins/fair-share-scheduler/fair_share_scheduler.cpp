#include "fair_share_scheduler.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>

#include "buildd/error.hpp"

namespace buildd {
namespace {

[[noreturn]] void refuse(const PluginConfig& config, const std::string& message) {
  throw Error(ErrorCategory::kConfig, config.origin() + ": " + message);
}

long long at_least(const PluginConfig& config, const std::string& key, long long minimum) {
  const long long value = config.get_int(key);
  if (value < minimum)
    refuse(config,
           key + " must be at least " + std::to_string(minimum) + ", not " + std::to_string(value));
  return value;
}

// A waiting build with the parts of its priority that do not depend on the
// order: its score and its aging.
struct Item {
  QueuedBuild job;
  long long base = 0;  // score + aging
  std::string score_explain;
  long long aging = 0;
  std::string waited;  // "2h 05m"
};

std::string waited_text(std::chrono::seconds waited) {
  const long long s = waited.count();
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
  else
    std::snprintf(buf, sizeof buf, "%lldm", s / 60);
  return buf;
}

}  // namespace

FairShareOptions fair_share_options_from(const PluginConfig& config) {
  FairShareOptions o;
  o.default_weight = at_least(config, "default_weight", 1);
  o.share_penalty = at_least(config, "share_penalty", 0);
  o.aging_per_hour = at_least(config, "aging_per_hour", 0);
  o.candidates_per_archive =
      static_cast<std::size_t>(at_least(config, "candidates_per_archive", 1));
  if (config.has("weights")) {
    for (const std::string& entry : config.get_string_list("weights")) {
      const auto eq = entry.find('=');
      long long weight = 0;
      const char* first = entry.data() + (eq == std::string::npos ? entry.size() : eq + 1);
      const char* last = entry.data() + entry.size();
      const auto [end, ec] = std::from_chars(first, last, weight);
      const std::string archive = entry.substr(0, eq);
      bool named = true;
      try {
        check_object_name("archive name", archive);
      } catch (const Error&) {
        named = false;
      }
      if (eq == std::string::npos || !named || ec != std::errc() || end != last || first == last ||
          weight < 1)
        refuse(config, "weights entry '" + entry.substr(0, 80) +
                           "' is not ARCHIVE=WEIGHT with an archive name and a weight of at "
                           "least 1 (\"primary=3\")");
      if (!o.weights.emplace(archive, weight).second)
        refuse(config, "weights names archive '" + archive + "' twice");
    }
  }
  return o;
}

FairShareScheduler::FairShareScheduler(FairShareOptions options) : options_(std::move(options)) {}

std::size_t FairShareScheduler::candidates_per_archive() const {
  return options_.candidates_per_archive;
}

long long FairShareScheduler::weight(const std::string& archive) const {
  auto it = options_.weights.find(archive);
  return it == options_.weights.end() ? options_.default_weight : it->second;
}

std::vector<ScheduledBuild> FairShareScheduler::order(
    std::vector<QueuedBuild> candidates, const std::map<std::string, std::size_t>& running,
    TimePoint now) const {
  // Each archive's builds, best first: within an archive the order does not
  // depend on the share, which only decides which archive goes next.
  std::map<std::string, std::vector<Item>> by_archive;
  for (QueuedBuild& job : candidates) {
    Item item;
    const ScoreExplained score = explain_default_score(job.build, job.entry, now);
    const auto waited =
        std::max(std::chrono::seconds::zero(),
                 std::chrono::duration_cast<std::chrono::seconds>(now - job.entry.created));
    item.aging = options_.aging_per_hour * waited.count() / 3600;
    item.base = score.score + item.aging;
    item.score_explain = "score " + std::to_string(score.score) + " (" + score.explain + ")";
    item.waited = waited_text(waited);
    item.job = std::move(job);
    by_archive[item.job.build.archive].push_back(std::move(item));
  }
  for (auto& [archive, items] : by_archive) {
    // Reversed (worst first) so that the best is taken from the back.
    std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
      if (x.base != y.base) return x.base < y.base;
      return x.job.entry.id > y.job.entry.id;
    });
  }
  std::map<std::string, std::size_t> dispatched;
  for (const auto& [archive, items] : by_archive) {
    auto it = running.find(archive);
    dispatched[archive] = it == running.end() ? 0 : it->second;
  }
  auto share = [&](const std::string& archive) {
    return options_.share_penalty * static_cast<long long>(dispatched[archive]) / weight(archive);
  };
  std::vector<ScheduledBuild> out;
  out.reserve(candidates.size());
  for (;;) {
    const std::string* best = nullptr;
    long long best_priority = 0;
    for (auto& [archive, items] : by_archive) {
      if (items.empty()) continue;
      const Item& head = items.back();
      const long long priority = head.base - share(archive);
      if (!best || priority > best_priority ||
          (priority == best_priority &&
           head.job.entry.id < by_archive[*best].back().job.entry.id)) {
        best = &archive;
        best_priority = priority;
      }
    }
    if (!best) break;
    Item item = std::move(by_archive[*best].back());
    by_archive[*best].pop_back();
    const std::string& archive = *best;
    std::string explain = "priority " + std::to_string(best_priority) + " = " + item.score_explain;
    if (item.aging != 0) explain += " + waited " + item.waited + " " + std::to_string(item.aging);
    explain += " - share " + std::to_string(share(archive)) + " (archive " + archive + ": " +
               std::to_string(dispatched[archive]) + " dispatched before it, weight " +
               std::to_string(weight(archive)) + ")";
    ++dispatched[archive];
    item.job.entry.score = static_cast<int>(std::clamp<long long>(
        best_priority, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
    out.push_back({std::move(item.job), std::move(explain)});
  }
  return out;
}

}  // namespace buildd
