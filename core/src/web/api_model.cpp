#include "buildd/web/api_model.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "buildd/error.hpp"

namespace buildd::api {
namespace {

using nlohmann::json;

json iso_or_null(const std::optional<TimePoint>& t) {
  return t ? json(iso_utc(*t)) : json(nullptr);
}

json text_or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

double seconds_between(TimePoint from, TimePoint to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

json document(const char* kind, TimePoint now) {
  return {{"schema_version", kJsonSchemaVersion}, {"kind", kind}, {"generated", iso_utc(now)}};
}

// Names of the records that rows refer to by id (removed builders included:
// they still label the builds they built).
struct Names {
  std::map<Id, std::string> families, processors;
  std::map<Id, DistroArchRelease> dars;
  std::map<Id, Builder> builders;  // live ones
  std::map<Id, std::string> builder_names;

  explicit Names(BuildStore& store) {
    for (const auto& f : store.processor_families()) families[f.id] = f.name;
    for (const auto& p : store.processors()) processors[p.id] = p.name;
    for (const auto& d : store.distro_arch_releases()) dars[d.id] = d;
    for (auto& b : store.builders()) {
      builder_names[b.id] = b.name;
      builders.emplace(b.id, std::move(b));
    }
    for (const auto& b : store.removed_builders()) builder_names[b.id] = b.name;
  }
  std::string family(Id id) const {
    auto it = families.find(id);
    return it == families.end() ? std::to_string(id) : it->second;
  }
  json processor(Id id) const {
    auto it = processors.find(id);
    return it == processors.end() ? json(nullptr) : json(it->second);
  }
  std::string arch_release(Id id) const {
    auto it = dars.find(id);
    return it == dars.end() ? std::to_string(id) : it->second.display_name();
  }
  std::optional<Id> family_of(Id dar) const {
    auto it = dars.find(dar);
    return it == dars.end() ? std::nullopt : std::optional<Id>(it->second.family_id);
  }
  json builder(const std::optional<Id>& id) const {
    if (!id) return nullptr;
    auto it = builder_names.find(*id);
    return it == builder_names.end() ? json(std::to_string(*id)) : json(it->second);
  }
};

json build_json(const Build& b, const Names& n) {
  auto family = n.family_of(b.distro_arch_release_id);
  return {{"id", b.id},
          {"source_name", b.source_name},
          {"source_version", b.source_version},
          {"arch_release", n.arch_release(b.distro_arch_release_id)},
          {"family", family ? json(n.family(*family)) : json(nullptr)},
          {"state", std::string(name(b.state))},
          {"state_title", std::string(title(b.state))},
          {"state_value", static_cast<int>(b.state)},
          {"builder", n.builder(b.builder_id)},
          {"created", iso_utc(b.created)},
          {"started", iso_or_null(b.started)},
          {"built", iso_or_null(b.built)},
          {"duration_seconds",
           b.duration ? json(std::chrono::duration<double>(*b.duration).count()) : json(nullptr)},
          {"component", b.component},
          {"pocket", b.pocket},
          {"urgency", b.urgency},
          {"archive", b.archive},
          {"dependencies", text_or_null(b.dependencies)},
          {"failure_count", b.failure_count},
          {"give_back_count", b.give_back_count}};
}

// A queue entry with its build: a running job, or a waiting build.
json job_json(const QueuedBuild& q, const Names& n, TimePoint now) {
  auto family = n.family_of(q.build.distro_arch_release_id);
  return {{"queue_id", q.entry.id},
          {"build_id", q.build.id},
          {"source_name", q.build.source_name},
          {"source_version", q.build.source_version},
          {"arch_release", n.arch_release(q.build.distro_arch_release_id)},
          {"family", family ? json(n.family(*family)) : json(nullptr)},
          {"state", std::string(name(q.build.state))},
          {"state_title", std::string(title(q.build.state))},
          {"archive", q.build.archive},
          {"score", q.entry.score},
          {"score_pinned", q.entry.manual},
          {"created", iso_utc(q.entry.created)},
          {"builder", n.builder(q.entry.builder_id)},
          {"started", iso_or_null(q.entry.buildstart)},
          {"elapsed_seconds",
           q.entry.buildstart ? json(seconds_between(*q.entry.buildstart, now)) : json(nullptr)},
          {"logtail", q.entry.logtail},
          {"live_log_bytes", q.entry.live_log_size}};
}

std::map<Id, QueuedBuild> jobs_by_builder(BuildStore& store) {
  std::map<Id, QueuedBuild> out;
  for (auto& q : store.active_jobs())
    if (q.entry.builder_id) out.emplace(*q.entry.builder_id, std::move(q));
  return out;
}

json builder_json(const Builder& b, const Names& n, const std::map<Id, QueuedBuild>& jobs,
                  TimePoint now) {
  auto job = jobs.find(b.id);
  return {{"id", b.id},
          {"name", b.name},
          {"url", b.url},
          {"processor", n.processor(b.processor_id)},
          {"family", n.family(b.family_id)},
          {"builderok", b.builderok},
          {"failnotes", text_or_null(b.failnotes)},
          {"disabled_at", iso_or_null(b.disabled_at)},
          {"manual", b.manual},
          {"virtualized", b.virtualized},
          {"speed_index", b.speed_index},
          {"failure_count", b.failure_count},
          {"state", builder_state(b, job != jobs.end())},
          {"slave_state", text_or_null(b.slave_state)},
          {"slave_state_since", iso_or_null(b.slave_state_since)},
          {"job", job == jobs.end() ? json(nullptr) : job_json(job->second, n, now)}};
}

json file_json(const BuildFile& f, Librarian& librarian) {
  return {{"filename", f.filename},
          {"size", f.file.size},
          {"sha1", f.file.sha1},
          {"url", librarian.url_for(f.file)}};
}

// What the builders of one family can take, for "why it waits".
struct FamilyBuilders {
  int total = 0, usable = 0, idle = 0, disabled = 0;
  std::vector<std::string> troubles;  // "amd64-1 dirty (WAITING OK 5-12), cleaning"
};

std::map<Id, FamilyBuilders> family_builders(const Names& n,
                                             const std::map<Id, QueuedBuild>& jobs) {
  std::map<Id, FamilyBuilders> fam;
  for (const auto& [id, b] : n.builders) {
    auto& f = fam[b.family_id];
    ++f.total;
    const std::string state = builder_state(b, jobs.count(b.id) > 0);
    if (state == "disabled") ++f.disabled;
    if (!b.builderok || b.manual) continue;
    ++f.usable;
    const std::string since = b.slave_state_since ? " since " + iso_utc(*b.slave_state_since) : "";
    if (state == "idle") {
      ++f.idle;
    } else if (state == "dirty") {
      f.troubles.push_back(b.name + " dirty (" + b.slave_state + "), cleaning");
    } else if (state == "unreachable") {
      f.troubles.push_back(b.name + " unreachable" + since);
    }
  }
  return fam;
}

// Why a waiting build is not dispatched yet; `ahead` counts the dispatchable
// builds of the same family before it.
std::string wait_reason(const DistroArchRelease* dar, const std::string& dar_name,
                        const std::string& family, const FamilyBuilders& f, int ahead) {
  if (!dar || !dar->chroot_file_id) return "no chroot for " + dar_name;
  if (f.total == 0) return "no builder of family " + family;
  if (f.usable == 0) return "all builders of family " + family + " are disabled or manual";
  if (f.idle == 0 && f.troubles.empty())
    return "all " + std::to_string(f.usable) + " builders of family " + family + " are busy";
  if (f.idle == 0) {
    std::string reason = family + ": ";
    for (const auto& t : f.troubles) reason += t + "; ";
    const int busy = f.usable - static_cast<int>(f.troubles.size());
    if (busy > 0) reason += std::to_string(busy) + " busy; ";
    if (f.disabled > 0) reason += std::to_string(f.disabled) + " disabled; ";
    reason.resize(reason.size() - 2);
    return reason;
  }
  return ahead < f.idle ? "next poll: an idle builder of family " + family + " is free"
                        : std::to_string(ahead) + " earlier builds of family " + family +
                              " take the " + std::to_string(f.idle) + " idle builders";
}

}  // namespace

std::string builder_state(const Builder& b, bool has_job) {
  if (has_job) return "building";
  if (!b.builderok) return "disabled";
  if (b.slave_state.rfind("unreachable", 0) == 0) return "unreachable";
  if (!b.slave_state.empty() && b.slave_state != "IDLE") return "dirty";
  return "idle";
}

std::string last_lines(const std::string& text, std::size_t n) {
  std::size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  std::size_t pos = end;
  for (std::size_t lines = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++lines == n) break;
  }
  return text.substr(pos, end - pos);
}

namespace {
BuilderCounts count_builders(const Names& n, const std::map<Id, QueuedBuild>& jobs) {
  BuilderCounts counts;
  for (const auto& [id, name] : n.families)
    counts[name] = {
        {"idle", 0}, {"building", 0}, {"disabled", 0}, {"dirty", 0}, {"unreachable", 0}};
  for (const auto& [id, b] : n.builders)
    ++counts[n.family(b.family_id)][builder_state(b, jobs.count(b.id) > 0)];
  return counts;
}
}  // namespace

BuilderCounts builder_counts(BuildStore& store) {
  return count_builders(Names(store), jobs_by_builder(store));
}

json builders_document(BuildStore& store, TimePoint now) {
  Names n(store);
  auto jobs = jobs_by_builder(store);
  json builders = json::array();
  for (const auto& [id, b] : n.builders) builders.push_back(builder_json(b, n, jobs, now));
  json families = json::array();
  for (const auto& [name, c] : count_builders(n, jobs)) {
    json f = {{"name", name}};
    for (const auto& [state, count] : c) f[state] = count;
    families.push_back(f);
  }
  json j = document("builders", now);
  j["families"] = families;
  j["builders"] = builders;
  return j;
}

json builder_document(BuildStore& store, const std::string& builder_name, TimePoint now,
                      std::size_t history_limit) {
  Names n(store);
  const Builder* found = nullptr;
  for (const auto& [id, b] : n.builders)
    if (b.name == builder_name) found = &b;
  if (!found) throw Error(ErrorCategory::kNotFound, "no builder " + builder_name);
  json j = document("builder", now);
  j.update(builder_json(*found, n, jobs_by_builder(store), now));
  std::map<std::string, int> by_state;
  int failures = 0;
  json history = json::array();
  for (const Build& b : store.builds_by_builder(found->id, 0)) {
    ++by_state[std::string(name(b.state))];
    if (b.state != BuildState::kFullyBuilt && is_final(b.state)) ++failures;
    if (history.size() < history_limit) history.push_back(build_json(b, n));
  }
  j["builds_by_state"] = by_state;
  j["failed_builds"] = failures;
  j["history"] = history;
  return j;
}

json queue_document(BuildStore& store, const Scheduler& scheduler, TimePoint now,
                    std::size_t limit) {
  Names n(store);
  auto jobs = jobs_by_builder(store);
  const auto fam = family_builders(n, jobs);
  json running = json::array();
  for (const auto& q : store.active_jobs()) running.push_back(job_json(q, n, now));
  std::map<Id, int> ahead;  // dispatchable waiting builds of a family seen so far
  std::map<std::string, int> by_family;
  std::map<std::string, std::string> stalled;  // family -> why none of its builds can go
  json waiting = json::array();
  // The scheduler's order (the dispatch offers them so), with its why; the
  // first `limit` by stored score when the queue is longer.
  std::vector<ScheduledBuild> rows =
      scheduler.order(store.waiting(limit),
                      scheduler.candidates_per_archive() > 0 ? store.running_per_archive()
                                                             : std::map<std::string, std::size_t>{},
                      now);
  int position = 0;
  for (const auto& [q, explain] : rows) {
    ++position;
    auto dar = n.dars.find(q.build.distro_arch_release_id);
    const DistroArchRelease* d = dar == n.dars.end() ? nullptr : &dar->second;
    const Id family_id = d ? d->family_id : 0;
    const std::string family = n.family(family_id);
    auto f = fam.find(family_id);
    const FamilyBuilders none;
    const FamilyBuilders& builders = f == fam.end() ? none : f->second;
    ++by_family[family];
    json w = job_json(q, n, now);
    w["position"] = position;
    w["explain"] = explain;
    w["age_seconds"] = seconds_between(q.entry.created, now);
    w["reason"] = wait_reason(d, n.arch_release(q.build.distro_arch_release_id), family, builders,
                              ahead[family_id]);
    if (builders.usable == 0) stalled.emplace(family, w["reason"].get<std::string>());
    if (d && d->chroot_file_id) ++ahead[family_id];
    waiting.push_back(std::move(w));
  }
  json stalled_families = json::array();
  for (const auto& [family, reason] : stalled)
    stalled_families.push_back(
        {{"family", family}, {"queued", by_family[family]}, {"reason", reason}});
  json j = document("queue", now);
  j["running"] = running;
  j["waiting"] = waiting;
  j["waiting_total"] = rows.size();
  j["truncated"] = limit != 0 && rows.size() == limit;
  j["waiting_by_family"] = by_family;
  j["stalled_families"] = stalled_families;
  return j;
}

json builds_document(BuildStore& store, const BuildListQuery& query, TimePoint now) {
  Names n(store);
  // One row more than asked says whether there is a next page.
  BuildListQuery q = query;
  if (q.limit != 0) ++q.limit;
  auto rows = store.list_builds(q);
  const bool more = query.limit != 0 && rows.size() > query.limit;
  if (more) rows.pop_back();
  json builds = json::array();
  for (const Build& b : rows) builds.push_back(build_json(b, n));
  json j = document("builds", now);
  j["state"] = query.state ? json(std::string(name(*query.state))) : json(nullptr);
  j["source_name"] = text_or_null(query.source_name);
  j["offset"] = query.offset;
  j["limit"] = query.limit;
  j["more"] = more;
  j["builds"] = builds;
  return j;
}

json build_document(BuildStore& store, Librarian& librarian, Id id, TimePoint now) {
  auto build = store.find_build(id);
  if (!build) throw Error(ErrorCategory::kNotFound, "no build " + std::to_string(id));
  Names n(store);
  json j = document("build", now);
  j.update(build_json(*build, n));
  j["log"] = nullptr;
  if (build->buildlog_id) {
    if (auto f = store.find_library_file(*build->buildlog_id))
      j["log"] = file_json(BuildFile{f->filename, *f}, librarian);
  }
  j["source_files"] = json::array();
  for (const auto& f : store.source_files(id)) j["source_files"].push_back(file_json(f, librarian));
  j["result_files"] = json::array();
  for (const auto& f : store.result_files(id)) j["result_files"].push_back(file_json(f, librarian));
  j["queue"] = nullptr;
  if (auto e = store.queue_entry_for_build(id)) j["queue"] = job_json({*e, *build}, n, now);
  return j;
}

json families_document(BuildStore& store, TimePoint now) {
  Names n(store);
  json families = json::array();
  for (const auto& f : store.processor_families()) {
    json processors = json::array();
    for (const auto& p : store.processors())
      if (p.family_id == f.id) processors.push_back(p.name);
    int usable = 0, total = 0, releases = 0;
    for (const auto& [id, b] : n.builders) {
      if (b.family_id != f.id) continue;
      ++total;
      usable += b.builderok && !b.manual;
    }
    for (const auto& [id, d] : n.dars) releases += d.family_id == f.id;
    families.push_back({{"id", f.id},
                        {"name", f.name},
                        {"processors", processors},
                        {"builders", total},
                        {"usable_builders", usable},
                        {"arch_releases", releases}});
  }
  json j = document("families", now);
  j["families"] = families;
  return j;
}

json archreleases_document(BuildStore& store, TimePoint now) {
  Names n(store);
  json out = json::array();
  for (const auto& [id, d] : n.dars) {
    json chroot = nullptr;
    if (d.chroot_file_id) {
      if (auto f = store.find_library_file(*d.chroot_file_id))
        chroot = {{"id", f->id}, {"filename", f->filename}, {"size", f->size}, {"sha1", f->sha1}};
    }
    out.push_back({{"id", d.id},
                   {"name", d.display_name()},
                   {"distribution", d.distribution},
                   {"release", d.release},
                   {"arch_tag", d.arch_tag},
                   {"family", n.family(d.family_id)},
                   {"chroot", chroot},
                   {"official", d.official}});
  }
  json j = document("archreleases", now);
  j["arch_releases"] = out;
  return j;
}

}  // namespace buildd::api
