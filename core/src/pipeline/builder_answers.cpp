#include "buildd/pipeline/builder_answers.hpp"

#include <algorithm>
#include <chrono>

namespace buildd {

void BuilderAnswers::polling(Id builder_id, const std::string& name, bool usable) {
  std::lock_guard lock(mutex_);
  Entry& e = builders_[builder_id];
  e.name = name;
  e.usable = usable;
}

void BuilderAnswers::answered(Id builder_id, TimePoint at) {
  std::lock_guard lock(mutex_);
  auto it = builders_.find(builder_id);
  if (it == builders_.end()) return;  // not (or no longer) polled by this master
  auto& last = it->second.last_answer;
  if (!last || *last < at) last = at;
}

void BuilderAnswers::retain(const std::set<Id>& builder_ids) {
  std::lock_guard lock(mutex_);
  std::erase_if(builders_, [&](const auto& e) { return !builder_ids.count(e.first); });
}

std::map<std::string, double> BuilderAnswers::ages(TimePoint now) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, double> out;
  for (const auto& [id, e] : builders_) {
    if (!e.usable) continue;
    const TimePoint since = e.last_answer.value_or(started_);
    out[e.name] = std::max(0.0, std::chrono::duration<double>(now - since).count());
  }
  return out;
}

void BuilderAnswers::export_to(Metrics& metrics, TimePoint now) const {
  const auto by_name = ages(now);
  metrics.clear(kMetricBuilderLastAnswerAge);
  for (const auto& [name, age] : by_name)
    metrics.set(kMetricBuilderLastAnswerAge, {{"builder", name}}, age);
}

}  // namespace buildd
