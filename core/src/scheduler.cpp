#include "buildd/scheduler.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

namespace buildd {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

int component_score(const std::string& component) {
  if (component == "main") return 1000;
  if (component == "restricted") return 750;
  if (component == "universe") return 250;
  return 0;  // multiverse and anything unknown
}

int urgency_score(const std::string& urgency) {
  if (urgency == "low") return 5;
  if (urgency == "medium") return 10;
  if (urgency == "high") return 15;
  if (urgency == "emergency") return 20;
  return 0;
}

int pocket_score(const std::string& pocket) {
  if (pocket == "release") return 1500;
  if (pocket == "proposed" || pocket == "updates") return 3000;
  if (pocket == "security") return 4500;
  return 0;  // backports
}

struct QueueTimeStep {
  long long after_seconds;
  int score;
  const char* label;
};
constexpr QueueTimeStep kQueueTimeSteps[] = {
    {14400, 100, ">4h"}, {7200, 50, ">2h"}, {3600, 20, ">1h"},
    {1800, 15, ">30m"},  {900, 10, ">15m"}, {300, 5, ">5m"},
};

const QueueTimeStep* queue_time_step(Duration queued) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(queued).count();
  for (const QueueTimeStep& step : kQueueTimeSteps)
    if (seconds > step.after_seconds) return &step;
  return nullptr;
}

// The four terms of default_score(), kept apart for the explanation.
struct ScoreParts {
  int component = 0;
  int pocket = 0;
  int urgency = 0;
  const QueueTimeStep* queued = nullptr;  // none: queued 5 minutes or less
  int total() const { return component + pocket + urgency + (queued ? queued->score : 0); }
};

ScoreParts score_parts(std::string_view component, std::string_view urgency,
                       std::string_view pocket, Duration queued) {
  return {component_score(lower(component)), pocket_score(lower(pocket)),
          urgency_score(lower(urgency)), queue_time_step(queued)};
}

Duration queued_for(const BuildQueueEntry& entry, TimePoint now) {
  const auto queued = std::chrono::duration_cast<Duration>(now - entry.created);
  return queued.count() > 0 ? queued : Duration::zero();
}

}  // namespace

int default_score(std::string_view component, std::string_view urgency, std::string_view pocket,
                  Duration queued) {
  return score_parts(component, urgency, pocket, queued).total();
}

ScoreExplained explain_default_score(const Build& build, const BuildQueueEntry& entry,
                                     TimePoint now) {
  if (entry.manual) return {entry.score, "pinned by an operator"};
  const ScoreParts parts =
      score_parts(build.component, build.urgency, build.pocket, queued_for(entry, now));
  std::string explain = build.component + " " + std::to_string(parts.component) + " + " +
                        build.pocket + " " + std::to_string(parts.pocket) + " + " + build.urgency +
                        " " + std::to_string(parts.urgency);
  if (parts.queued)
    explain +=
        " + queued " + std::string(parts.queued->label) + " " + std::to_string(parts.queued->score);
  return {parts.total(), explain};
}

std::vector<ScheduledBuild> DefaultScheduler::order(
    std::vector<QueuedBuild> candidates, const std::map<std::string, std::size_t>& /*running*/,
    TimePoint now) const {
  std::vector<ScheduledBuild> out;
  out.reserve(candidates.size());
  for (QueuedBuild& job : candidates) {
    ScoreExplained score = explain_default_score(job.build, job.entry, now);
    job.entry.score = score.score;
    out.push_back({std::move(job), "score " + std::to_string(score.score) + ": " + score.explain});
  }
  std::stable_sort(out.begin(), out.end(), [](const ScheduledBuild& x, const ScheduledBuild& y) {
    if (x.job.entry.score != y.job.entry.score) return x.job.entry.score > y.job.entry.score;
    return x.job.entry.id < y.job.entry.id;
  });
  return out;
}

}  // namespace buildd
