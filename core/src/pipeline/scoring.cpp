#include "buildd/pipeline/scoring.hpp"

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

int queue_time_score(Duration queued) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(queued).count();
  if (seconds > 14400) return 100;
  if (seconds > 7200) return 50;
  if (seconds > 3600) return 20;
  if (seconds > 1800) return 15;
  if (seconds > 900) return 10;
  if (seconds > 300) return 5;
  return 0;
}

}  // namespace

int default_score(std::string_view component, std::string_view urgency, std::string_view pocket,
                  Duration queued) {
  return component_score(lower(component)) + urgency_score(lower(urgency)) +
         pocket_score(lower(pocket)) + queue_time_score(queued);
}

std::optional<int> DefaultScoringPolicy::score(const Build& build, const BuildQueueEntry& entry,
                                               TimePoint now) const {
  if (entry.manual) return std::nullopt;
  const auto queued = std::chrono::duration_cast<Duration>(now - entry.created);
  return default_score(build.component, build.urgency, build.pocket,
                       queued.count() > 0 ? queued : Duration::zero());
}

}  // namespace buildd
