#include "buildd/web/status_pages.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "buildd/build_state.hpp"
#include "buildd/compression.hpp"
#include "buildd/error.hpp"
#include "buildd/pipeline/decisions.hpp"

// Each page is built once as JSON (the API's answer) and the HTML is rendered
// from that JSON, so the two cannot drift apart.

namespace buildd {
namespace {

using nlohmann::json;

constexpr std::size_t kLogTailLines = 5;
constexpr std::size_t kDefaultBuildsLimit = 100;
constexpr std::size_t kMaxBuildsLimit = 1000;
constexpr std::size_t kQueueLimit = 1000;
constexpr std::size_t kHistoryLimit = 100;

struct Sources {
  BuildStore& store;
  Librarian& librarian;
  Metrics& metrics;
  const TimeSource& time;
};

// ---- small formatting helpers ----------------------------------------------

json iso_or_null(const std::optional<TimePoint>& t) {
  return t ? json(iso_utc(*t)) : json(nullptr);
}

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

double seconds_between(TimePoint from, TimePoint to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

std::string human_duration(double secs) {
  auto s = static_cast<long long>(secs);
  char buf[48];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", s / 86400, (s % 86400) / 3600);
  else if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm %02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", secs);
  return buf;
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

// Percent-encodes a path segment (builder names in links).
std::string url_segment(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ---- the model ---------------------------------------------------------------

struct Lookup {
  std::map<Id, std::string> families;  // id -> name
  std::map<Id, std::string> processors;
  std::map<Id, DistroArchRelease> dars;
  std::map<Id, Builder> builders;

  explicit Lookup(BuildStore& store) {
    for (const auto& f : store.processor_families()) families[f.id] = f.name;
    for (const auto& p : store.processors()) processors[p.id] = p.name;
    for (const auto& d : store.distro_arch_releases()) dars[d.id] = d;
    for (const auto& b : store.builders()) builders[b.id] = b;
  }
  std::string family(Id id) const {
    auto it = families.find(id);
    return it == families.end() ? std::to_string(id) : it->second;
  }
  std::string dar_name(Id id) const {
    auto it = dars.find(id);
    return it == dars.end() ? std::to_string(id) : it->second.display_name();
  }
  json builder_name(const std::optional<Id>& id) const {
    if (!id) return nullptr;
    auto it = builders.find(*id);
    return it == builders.end() ? json(std::to_string(*id)) : json(it->second.name);
  }
};

json build_summary(const Build& b, const Lookup& l) {
  json j = {{"id", b.id},
            {"source_name", b.source_name},
            {"source_version", b.source_version},
            {"arch_release", l.dar_name(b.distro_arch_release_id)},
            {"state", std::string(name(b.state))},
            {"state_title", std::string(title(b.state))},
            {"state_value", static_cast<int>(b.state)},
            {"builder", l.builder_name(b.builder_id)},
            {"created", iso_utc(b.created)},
            {"started", iso_or_null(b.started)},
            {"built", iso_or_null(b.built)},
            {"duration_seconds", b.duration ? json(seconds(*b.duration)) : json(nullptr)}};
  return j;
}

json job_json(const QueuedBuild& q, const Lookup& l, TimePoint now) {
  return {{"build_id", q.build.id},
          {"queue_id", q.entry.id},
          {"source_name", q.build.source_name},
          {"source_version", q.build.source_version},
          {"arch_release", l.dar_name(q.build.distro_arch_release_id)},
          {"state", std::string(name(q.build.state))},
          {"state_title", std::string(title(q.build.state))},
          {"started", iso_or_null(q.entry.buildstart)},
          {"elapsed_seconds",
           q.entry.buildstart ? json(seconds_between(*q.entry.buildstart, now)) : json(nullptr)},
          {"logtail", last_lines(q.entry.logtail, kLogTailLines)}};
}

std::map<Id, QueuedBuild> jobs_by_builder(BuildStore& store) {
  std::map<Id, QueuedBuild> out;
  for (auto& q : store.active_jobs())
    if (q.entry.builder_id) out.emplace(*q.entry.builder_id, std::move(q));
  return out;
}

// The builder's state as the pipeline's state machine left it: a slave that
// reports anything but IDLE without a job of ours is dirty (being cleaned or
// aborted), one whose status() failed last is unreachable.
std::string builder_state(const Builder& b, const std::map<Id, QueuedBuild>& jobs) {
  if (jobs.count(b.id)) return "building";
  if (!b.builderok) return "disabled";
  if (b.slave_state.rfind("unreachable", 0) == 0) return "unreachable";
  if (!b.slave_state.empty() && b.slave_state != "IDLE") return "dirty";
  return "idle";
}

json builder_json(const Builder& b, const Lookup& l, const std::map<Id, QueuedBuild>& jobs,
                  TimePoint now) {
  auto job = jobs.find(b.id);
  auto proc = l.processors.find(b.processor_id);
  return {{"name", b.name},
          {"url", b.url},
          {"family", l.family(b.family_id)},
          {"processor", proc == l.processors.end() ? json(nullptr) : json(proc->second)},
          {"ok", b.builderok},
          {"failnotes", b.failnotes},
          {"manual", b.manual},
          {"virtualized", b.virtualized},
          {"failure_count", b.failure_count},
          {"state", builder_state(b, jobs)},
          {"slave_state", b.slave_state.empty() ? json(nullptr) : json(b.slave_state)},
          {"slave_state_since", iso_or_null(b.slave_state_since)},
          {"job", job == jobs.end() ? json(nullptr) : job_json(job->second, l, now)}};
}

json builders_model(const Sources& src) {
  Lookup l(src.store);
  auto jobs = jobs_by_builder(src.store);
  const TimePoint now = src.time.now();
  std::map<std::string, std::map<std::string, int>> counts;
  for (const auto& [id, name] : l.families)
    counts[name] = {
        {"idle", 0}, {"building", 0}, {"disabled", 0}, {"dirty", 0}, {"unreachable", 0}};
  json builders = json::array();
  for (const auto& [id, b] : l.builders) {
    ++counts[l.family(b.family_id)][builder_state(b, jobs)];
    builders.push_back(builder_json(b, l, jobs, now));
  }
  json families = json::array();
  for (const auto& [name, c] : counts)
    families.push_back({{"name", name},
                        {"idle", c.at("idle")},
                        {"building", c.at("building")},
                        {"disabled", c.at("disabled")},
                        {"dirty", c.at("dirty")},
                        {"unreachable", c.at("unreachable")}});
  return {{"generated", iso_utc(now)}, {"families", families}, {"builders", builders}};
}

json builder_model(const Sources& src, const std::string& builder_name) {
  Lookup l(src.store);
  const Builder* found = nullptr;
  for (const auto& [id, b] : l.builders)
    if (b.name == builder_name) found = &b;
  if (!found) throw Error(ErrorCategory::kNotFound, "no builder " + builder_name);
  auto jobs = jobs_by_builder(src.store);
  const TimePoint now = src.time.now();
  json j = builder_json(*found, l, jobs, now);
  std::map<std::string, int> by_state;
  json history = json::array();
  for (const Build& b : src.store.builds_by_builder(found->id, 0)) {
    ++by_state[std::string(name(b.state))];
    if (history.size() < kHistoryLimit) history.push_back(build_summary(b, l));
  }
  int failures = 0;
  for (const auto& [state, n] : by_state) {
    auto s = parse_build_state(state);
    if (s && *s != BuildState::kFullyBuilt && is_final(*s)) failures += n;
  }
  j["builds_by_state"] = by_state;
  j["failed_builds"] = failures;
  j["history"] = history;
  j["generated"] = iso_utc(now);
  return j;
}

json queue_model(const Sources& src) {
  Lookup l(src.store);
  auto jobs = jobs_by_builder(src.store);
  const TimePoint now = src.time.now();
  struct FamilyBuilders {
    int total = 0, usable = 0, idle = 0, disabled = 0;
    std::vector<std::string> troubles;  // "amd64-1 dirty (WAITING OK 5-12), cleaning"
  };
  std::map<Id, FamilyBuilders> fam;
  for (const auto& [id, b] : l.builders) {
    auto& f = fam[b.family_id];
    ++f.total;
    const std::string state = builder_state(b, jobs);
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
  std::map<Id, int> ahead;  // waiting builds of a family seen so far (dispatch order)
  std::map<std::string, int> by_family;
  json builds = json::array();
  auto rows = src.store.waiting(kQueueLimit);
  int position = 0;
  for (const auto& q : rows) {
    ++position;
    auto dar = l.dars.find(q.build.distro_arch_release_id);
    const Id family_id = dar == l.dars.end() ? 0 : dar->second.family_id;
    const std::string family = l.family(family_id);
    const FamilyBuilders f = fam[family_id];
    ++by_family[family];
    std::string reason;
    if (dar == l.dars.end() || !dar->second.chroot_file_id) {
      reason = "no chroot for " + l.dar_name(q.build.distro_arch_release_id);
    } else if (f.total == 0) {
      reason = "no builder of family " + family;
    } else if (f.usable == 0) {
      reason = "all builders of family " + family + " are disabled or manual";
    } else if (f.idle == 0 && f.troubles.empty()) {
      reason = "all " + std::to_string(f.usable) + " builders of family " + family + " are busy";
    } else if (f.idle == 0) {
      reason = family + ": ";
      for (const auto& t : f.troubles) reason += t + "; ";
      const int busy = f.usable - static_cast<int>(f.troubles.size());
      if (busy > 0) reason += std::to_string(busy) + " busy; ";
      if (f.disabled > 0) reason += std::to_string(f.disabled) + " disabled; ";
      reason.resize(reason.size() - 2);
    } else {
      int before = ahead[family_id];
      reason = before < f.idle ? "next poll: an idle builder of family " + family + " is free"
                               : std::to_string(before) + " earlier builds of family " + family +
                                     " take the " + std::to_string(f.idle) + " idle builders";
    }
    if (dar != l.dars.end() && dar->second.chroot_file_id) ++ahead[family_id];
    builds.push_back({{"position", position},
                      {"queue_id", q.entry.id},
                      {"build_id", q.build.id},
                      {"source_name", q.build.source_name},
                      {"source_version", q.build.source_version},
                      {"arch_release", l.dar_name(q.build.distro_arch_release_id)},
                      {"family", family},
                      {"score", q.entry.score},
                      {"manual_score", q.entry.manual},
                      {"created", iso_utc(q.entry.created)},
                      {"age_seconds", seconds_between(q.entry.created, now)},
                      {"reason", reason}});
  }
  return {{"generated", iso_utc(now)},
          {"total", rows.size()},
          {"truncated", rows.size() == kQueueLimit},
          {"by_family", by_family},
          {"builds", builds}};
}

json builds_model(const Sources& src, std::optional<BuildState> state, std::size_t limit) {
  Lookup l(src.store);
  json builds = json::array();
  for (const Build& b : src.store.builds(state, limit)) builds.push_back(build_summary(b, l));
  return {{"generated", iso_utc(src.time.now())},
          {"state", state ? json(std::string(name(*state))) : json(nullptr)},
          {"limit", limit},
          {"builds", builds}};
}

json file_json(const BuildFile& f, Librarian& librarian) {
  return {{"filename", f.filename},
          {"size", f.file.size},
          {"sha1", f.file.sha1},
          {"url", librarian.url_for(f.file)}};
}

json build_model(const Sources& src, Id id) {
  auto build = src.store.find_build(id);
  if (!build) throw Error(ErrorCategory::kNotFound, "no build " + std::to_string(id));
  Lookup l(src.store);
  const TimePoint now = src.time.now();
  json j = build_summary(*build, l);
  j["dependencies"] = build->dependencies;
  j["failure_count"] = build->failure_count;
  j["give_back_count"] = build->give_back_count;
  j["component"] = build->component;
  j["pocket"] = build->pocket;
  j["urgency"] = build->urgency;
  j["log"] = nullptr;
  if (build->buildlog_id) {
    if (auto f = src.store.find_library_file(*build->buildlog_id))
      j["log"] = file_json(BuildFile{f->filename, *f}, src.librarian);
  }
  j["source_files"] = json::array();
  for (const auto& f : src.store.source_files(id))
    j["source_files"].push_back(file_json(f, src.librarian));
  j["result_files"] = json::array();
  for (const auto& f : src.store.result_files(id))
    j["result_files"].push_back(file_json(f, src.librarian));
  j["queue"] = nullptr;
  if (auto e = src.store.queue_entry_for_build(id)) {
    j["queue"] = {{"queue_id", e->id},
                  {"score", e->score},
                  {"manual_score", e->manual},
                  {"created", iso_utc(e->created)},
                  {"builder", l.builder_name(e->builder_id)},
                  {"buildstart", iso_or_null(e->buildstart)},
                  {"elapsed_seconds",
                   e->buildstart ? json(seconds_between(*e->buildstart, now)) : json(nullptr)},
                  {"logtail", last_lines(e->logtail, kLogTailLines)}};
  }
  j["generated"] = iso_utc(now);
  return j;
}

// ---- build logs ------------------------------------------------------------------

constexpr std::size_t kFailedLogLines = 50;
// A failed build's page decompresses its log to show the end: logs whose
// gzipped size is above this are only linked.
constexpr std::uint64_t kMaxShownLogBytes = 32ull << 20;

struct FailedLog {
  bool shown = false;      // a final state other than FULLYBUILT, with a stored log
  bool too_large = false;  // above kMaxShownLogBytes
  std::string tail;        // its last kFailedLogLines lines, as valid UTF-8
};

FailedLog failed_log(const Sources& src, Id id) {
  FailedLog out;
  auto build = src.store.find_build(id);
  if (!build || !is_final(build->state) || build->state == BuildState::kFullyBuilt ||
      !build->buildlog_id)
    return out;
  auto file = src.store.find_library_file(*build->buildlog_id);
  if (!file) return out;
  out.shown = true;
  if (file->size > kMaxShownLogBytes) {
    out.too_large = true;
    return out;
  }
  auto in = src.librarian.open(*file);
  std::string bytes((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  const bool gzipped = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                       static_cast<unsigned char>(bytes[1]) == 0x8b;
  if (gzipped) {
    try {
      bytes = gunzip_string(bytes);
    } catch (const Error&) {
      out.tail = "(the stored log is not valid gzip)";
      return out;
    }
  }
  // Any bytes may be in a log: shown as the master shows tails (valid UTF-8,
  // no NULs), then HTML-escaped by the page.
  out.tail = decode_logtail(last_lines(bytes, kFailedLogLines));
  return out;
}

// GET /api/builds/<id>/log: what the build page's live log polls.
json live_log_model(const Sources& src, Id id) {
  auto build = src.store.find_build(id);
  if (!build) throw Error(ErrorCategory::kNotFound, "no build " + std::to_string(id));
  auto entry = src.store.queue_entry_for_build(id);
  return {{"id", id},
          {"state", std::string(name(build->state))},
          {"final", is_final(build->state)},
          {"logtail", entry ? entry->logtail : std::string()},
          {"generated", iso_utc(src.time.now())}};
}

std::string stored_tail(const Sources& src, Id id) {
  auto entry = src.store.queue_entry_for_build(id);
  return entry ? entry->logtail : std::string();
}

// ---- HTML ----------------------------------------------------------------------

const char* kCss = R"(body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
nav{background:#2c3e50;padding:.6em 1em}nav a{color:#ecf0f1;margin-right:1.2em;text-decoration:none;font-weight:600}
nav a.here{border-bottom:2px solid #f1c40f}main{padding:1em 1.5em}h1{font-size:1.4em;margin:.2em 0 .6em}
table{border-collapse:collapse;margin:.5em 0 1.2em;background:#fff}th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef1f4}pre{margin:.2em 0 0;font-size:.8em;background:#f4f4f4;padding:.3em;max-width:60em;white-space:pre-wrap}
.idle{color:#1e7e34;font-weight:600}.building{color:#0056b3;font-weight:600}.disabled{color:#b02a37;font-weight:600}
.FULLYBUILT{color:#1e7e34}.FAILEDTOBUILD,.CHROOTWAIT,.FAILEDTOUPLOAD{color:#b02a37}.MANUALDEPWAIT{color:#a65e00}
.BUILDING{color:#0056b3}.muted{color:#777;font-size:.85em}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600})";

std::string esc(const json& v) {
  if (v.is_null()) return "—";
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return html_escape(v.dump());
}

std::string secs_text(const json& v) {
  return v.is_number() ? human_duration(v.get<double>()) : "—";
}

std::string build_link(const json& id, const std::string& text) {
  return "<a href=\"/builds/" + esc(id) + "\">" + text + "</a>";
}

std::string builder_link(const json& name) {
  if (!name.is_string()) return "—";
  const std::string n = name.get<std::string>();
  return "<a href=\"/builders/" + html_escape(url_segment(n)) + "\">" + html_escape(n) + "</a>";
}

std::string state_cell(const json& build) {
  return "<span class=\"" + esc(build["state"]) + "\">" + esc(build["state_title"]) + "</span>";
}

// `refresh`: reload every 10 s (a page that updates itself, the build page
// of a running build, passes false).
HttpResponse page(const std::string& title, const std::string& section, const std::string& api,
                  const std::string& body, bool refresh = true) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      << (refresh ? "<meta http-equiv=\"refresh\" content=\"10\">" : "")
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      << "<title>" << html_escape(title) << " · buildd-master</title><style>" << kCss
      << "</style></head><body><nav>";
  for (const auto& [href, label] :
       std::vector<std::pair<std::string, std::string>>{{"/builders", "Builders"},
                                                        {"/queue", "Queue"},
                                                        {"/builds", "Builds"},
                                                        {"/metrics", "Metrics"}}) {
    out << "<a href=\"" << href << "\"" << (href == section ? " class=\"here\"" : "") << ">"
        << label << "</a>";
  }
  out << "</nav><main><h1>" << html_escape(title) << "</h1>" << body << "<p class=\"muted\">"
      << (refresh ? "Refreshes every 10 seconds. " : "") << "JSON: <a href=\"" << html_escape(api)
      << "\">" << html_escape(api) << "</a></p></main></body></html>\n";
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.headers["Cache-Control"] = "no-store";
  r.body = out.str();
  return r;
}

std::string job_cell(const json& job) {
  if (job.is_null()) return "—";
  std::string s =
      build_link(job["build_id"], esc(job["source_name"]) + " " + esc(job["source_version"])) +
      " <span class=\"muted\">" + esc(job["arch_release"]) + ", " + esc(job["state_title"]) + ", " +
      secs_text(job["elapsed_seconds"]) + "</span>";
  if (!job["logtail"].get<std::string>().empty()) s += "<pre>" + esc(job["logtail"]) + "</pre>";
  return s;
}

std::string status_cell(const json& b) {
  std::string s = b["ok"].get<bool>() ? "OK" : "disabled";
  if (!b["failnotes"].get<std::string>().empty())
    s += "<br><span class=\"muted\">" + esc(b["failnotes"]) + "</span>";
  return s;
}

std::string builds_table(const json& builds, bool with_builder) {
  if (builds.empty()) return "<p>No builds.</p>";
  std::ostringstream out;
  out << "<table><tr><th>Build</th><th>Source</th><th>Arch release</th><th>State</th>"
      << (with_builder ? "<th>Builder</th>" : "")
      << "<th>Created</th><th>Built</th><th>Duration</th></tr>";
  for (const auto& b : builds) {
    out << "<tr><td>" << build_link(b["id"], esc(b["id"])) << "</td><td>" << esc(b["source_name"])
        << " " << esc(b["source_version"]) << "</td><td>" << esc(b["arch_release"]) << "</td><td>"
        << state_cell(b) << "</td>";
    if (with_builder) out << "<td>" << builder_link(b["builder"]) << "</td>";
    out << "<td>" << esc(b["created"]) << "</td><td>" << esc(b["built"]) << "</td><td>"
        << secs_text(b["duration_seconds"]) << "</td></tr>";
  }
  out << "</table>";
  return out.str();
}

HttpResponse builders_page(const json& m) {
  std::ostringstream out;
  out << "<table><tr><th>Family</th><th>Idle</th><th>Building</th><th>Disabled</th></tr>";
  for (const auto& f : m["families"])
    out << "<tr><td>" << esc(f["name"]) << "</td><td>" << esc(f["idle"]) << "</td><td>"
        << esc(f["building"]) << "</td><td>" << esc(f["disabled"]) << "</td></tr>";
  out << "</table><table><tr><th>Builder</th><th>Family</th><th>Status</th><th>Manual</th>"
         "<th>State</th><th>Current build</th></tr>";
  for (const auto& b : m["builders"]) {
    const std::string state = b["state"].get<std::string>();
    out << "<tr><td>" << builder_link(b["name"]) << "</td><td>" << esc(b["family"]) << "</td><td>"
        << status_cell(b) << "</td><td>" << esc(b["manual"]) << "</td><td><span class=\""
        << html_escape(state) << "\">" << html_escape(state);
    if (!b["job"].is_null()) out << " " << esc(b["job"]["source_name"]);
    out << "</span></td><td>" << job_cell(b["job"]) << "</td></tr>";
  }
  if (m["builders"].empty()) out << "<tr><td colspan=\"6\">No builders.</td></tr>";
  out << "</table>";
  return page("Builders", "/builders", "/api/builders", out.str());
}

HttpResponse builder_page(const json& b) {
  std::ostringstream out;
  const std::string state = b["state"].get<std::string>();
  out << "<dl><dt>URL</dt><dd>" << esc(b["url"]) << "</dd><dt>Family</dt><dd>" << esc(b["family"])
      << " (" << esc(b["processor"]) << ")</dd><dt>Status</dt><dd>" << status_cell(b)
      << "</dd><dt>Manual</dt><dd>" << esc(b["manual"]) << "</dd><dt>Consecutive failures</dt><dd>"
      << esc(b["failure_count"]) << "</dd><dt>Failed builds</dt><dd>" << esc(b["failed_builds"])
      << "</dd><dt>State</dt><dd><span class=\"" << html_escape(state) << "\">"
      << html_escape(state) << "</span></dd><dt>Current build</dt><dd>" << job_cell(b["job"])
      << "</dd></dl><h2>History</h2>" << builds_table(b["history"], false);
  const std::string name = b["name"].get<std::string>();
  return page("Builder " + name, "/builders", "/api/builders/" + url_segment(name), out.str());
}

HttpResponse queue_page(const json& m) {
  std::ostringstream out;
  out << "<p>" << esc(m["total"]) << " builds waiting";
  for (const auto& [family, n] : m["by_family"].items())
    out << " · " << html_escape(family) << ": " << esc(n);
  out << "</p>";
  if (m["builds"].empty()) {
    out << "<p>The queue is empty.</p>";
  } else {
    out << "<table><tr><th>#</th><th>Build</th><th>Arch release</th><th>Family</th>"
           "<th>Score</th><th>Age</th><th>Why it waits</th></tr>";
    for (const auto& q : m["builds"])
      out << "<tr><td>" << esc(q["position"]) << "</td><td>"
          << build_link(q["build_id"], esc(q["source_name"]) + " " + esc(q["source_version"]))
          << "</td><td>" << esc(q["arch_release"]) << "</td><td>" << esc(q["family"]) << "</td><td>"
          << esc(q["score"]) << (q["manual_score"].get<bool>() ? " (pinned)" : "") << "</td><td>"
          << secs_text(q["age_seconds"]) << "</td><td>" << esc(q["reason"]) << "</td></tr>";
    out << "</table>";
  }
  return page("Queue", "/queue", "/api/queue", out.str());
}

HttpResponse builds_page(const json& m) {
  std::ostringstream out;
  out << "<p>Filter: <a href=\"/builds\">all</a>";
  for (int v = 0; v < kBuildStateCount; ++v) {
    auto s = static_cast<BuildState>(v);
    out << " · <a href=\"/builds?state=" << name(s) << "\">" << html_escape(title(s)) << "</a>";
  }
  out << "</p>" << builds_table(m["builds"], true);
  std::string t = "Recent builds";
  std::string api = "/api/builds";
  if (!m["state"].is_null()) {
    t += " (" + std::string(title(*parse_build_state(m["state"].get<std::string>()))) + ")";
    api += "?state=" + m["state"].get<std::string>();
  }
  return page(t, "/builds", api, out.str());
}

std::string files_list(const json& files) {
  if (files.empty()) return "—";
  std::string s = "<ul>";
  for (const auto& f : files)
    s += "<li><a href=\"" + esc(f["url"]) + "\">" + esc(f["filename"]) +
         "</a> <span class=\"muted\">" + esc(f["size"]) + " bytes</span></li>";
  return s + "</ul>";
}

// The build page's live log: the stored tail in a <pre> that an inline
// script refreshes from /api/builds/<id>/log (textContent, so the tail stays
// text), reloading the page when the build leaves its state (finished, given
// back). Without JavaScript the tail is shown as of the page's load.
std::string live_log(const json& b, const std::string& tail) {
  const std::string id = b["id"].dump();
  return "<h2>Live log</h2><pre id=\"livelog\" class=\"log\" "
         "style=\"max-height:40em;overflow:auto\">" +
         html_escape(tail) +
         "</pre><p class=\"muted\" id=\"livelog-status\">The last lines the builder "
         "reported; updated every 3 seconds.</p><script>(function(){"
         "var pre=document.getElementById('livelog'),state=" +
         json(b["state"].get<std::string>()).dump() +
         ";pre.scrollTop=pre.scrollHeight;"
         "function poll(){fetch('/api/builds/" +
         id +
         "/log',{cache:'no-store'}).then(function(r){"
         "if(!r.ok)throw new Error(r.status);return r.json();}).then(function(j){"
         "if(j.state!==state){location.reload();return;}"
         "var bottom=pre.scrollTop+pre.clientHeight>=pre.scrollHeight-4;"
         "pre.textContent=j.logtail;if(bottom)pre.scrollTop=pre.scrollHeight;"
         "setTimeout(poll,3000);}).catch(function(){"
         "document.getElementById('livelog-status').textContent='Update failed; retrying.';"
         "setTimeout(poll,10000);});}"
         "setTimeout(poll,3000);})();</script>";
}

// `failed_log`: the end of a failed build's stored log (empty otherwise).
HttpResponse build_page(const json& b, const std::string& live_tail, const FailedLog& failed) {
  std::ostringstream out;
  out << "<dl><dt>State</dt><dd>" << state_cell(b) << "</dd><dt>Arch release</dt><dd>"
      << esc(b["arch_release"]) << "</dd><dt>Builder</dt><dd>" << builder_link(b["builder"])
      << "</dd><dt>Created</dt><dd>" << esc(b["created"]) << "</dd><dt>Started</dt><dd>"
      << esc(b["started"]) << "</dd><dt>Built</dt><dd>" << esc(b["built"])
      << "</dd><dt>Duration</dt><dd>" << secs_text(b["duration_seconds"])
      << "</dd><dt>Component / pocket / urgency</dt><dd>" << esc(b["component"]) << " / "
      << esc(b["pocket"]) << " / " << esc(b["urgency"]) << "</dd><dt>Dependencies</dt><dd>"
      << (b["dependencies"].get<std::string>().empty() ? "—" : esc(b["dependencies"]))
      << "</dd><dt>Failures / given back</dt><dd>" << esc(b["failure_count"]) << " / "
      << esc(b["give_back_count"]) << "</dd><dt>Build log</dt><dd>"
      << (b["log"].is_null()
              ? "—"
              : "<a href=\"" + esc(b["log"]["url"]) + "\">" + esc(b["log"]["filename"]) + "</a>")
      << "</dd><dt>Result files</dt><dd>" << files_list(b["result_files"])
      << "</dd><dt>Source files</dt><dd>" << files_list(b["source_files"]) << "</dd>";
  const bool running = !b["queue"].is_null() && !b["queue"]["builder"].is_null();
  if (!b["queue"].is_null()) {
    const json& q = b["queue"];
    out << "<dt>Queue</dt><dd>score " << esc(q["score"]) << ", builder "
        << builder_link(q["builder"]) << ", running " << secs_text(q["elapsed_seconds"]);
    out << "</dd>";
  }
  out << "</dl>";
  if (running) out << live_log(b, live_tail);
  if (failed.shown) {
    out << "<h2>Last " << kFailedLogLines << " lines of the log</h2>";
    if (failed.too_large)
      out << "<p>The log is too large to be shown here; follow the link above.</p>";
    else
      out << "<pre class=\"log\" style=\"max-height:40em;overflow:auto\">"
          << html_escape(failed.tail) << "</pre>";
  }
  const std::string id = b["id"].dump();
  return page("Build " + id + ": " + b["source_name"].get<std::string>() + " " +
                  b["source_version"].get<std::string>(),
              "/builds", "/api/builds/" + id, out.str(), !running);
}

// ---- routes ------------------------------------------------------------------------

HttpResponse json_response(const json& j) {
  HttpResponse r;
  r.content_type = "application/json";
  r.headers["Cache-Control"] = "no-store";
  r.body = j.dump(2) + "\n";
  return r;
}

Id parse_id(const std::string& text) {
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    throw Error(ErrorCategory::kNotFound, "no build " + text);
  }
}

// ?state= and ?limit= of /builds; nullopt state with `bad` set on a bad name.
struct BuildsQuery {
  std::optional<BuildState> state;
  std::size_t limit = kDefaultBuildsLimit;
  std::string error;
};

BuildsQuery parse_builds_query(const HttpRequest& req) {
  BuildsQuery q;
  if (auto it = req.query.find("state"); it != req.query.end() && !it->second.empty()) {
    q.state = parse_build_state(it->second);
    if (!q.state) q.error = "unknown build state '" + it->second + "'\n";
  }
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    try {
      q.limit = std::clamp<std::size_t>(std::stoul(it->second), 1, kMaxBuildsLimit);
    } catch (const std::exception&) {
      q.error = "limit must be a number\n";
    }
  }
  return q;
}

void refresh_gauges(const Sources& src) {
  Lookup l(src.store);
  auto jobs = jobs_by_builder(src.store);
  std::map<std::string, std::map<std::string, int>> counts;
  std::map<std::string, int> depth;
  for (const auto& [id, name] : l.families) {
    counts[name] = {
        {"idle", 0}, {"building", 0}, {"disabled", 0}, {"dirty", 0}, {"unreachable", 0}};
    depth[name] = 0;
  }
  for (const auto& [id, b] : l.builders) ++counts[l.family(b.family_id)][builder_state(b, jobs)];
  for (const auto& q : src.store.waiting(0)) {
    auto dar = l.dars.find(q.build.distro_arch_release_id);
    ++depth[l.family(dar == l.dars.end() ? 0 : dar->second.family_id)];
  }
  src.metrics.clear(kMetricBuilders);
  src.metrics.clear(kMetricQueueDepth);
  for (const auto& [family, states] : counts)
    for (const auto& [state, n] : states)
      src.metrics.set(kMetricBuilders, {{"family", family}, {"state", state}}, n);
  for (const auto& [family, n] : depth) src.metrics.set(kMetricQueueDepth, {{"family", family}}, n);
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void add_status_routes(HttpServer& server, BuildStore& store, Librarian& librarian,
                       Metrics& metrics, const TimeSource& time) {
  describe_farm_metrics(metrics);
  Sources src{store, librarian, metrics, time};
  server.add_route("/", [](const HttpRequest&) {
    HttpResponse r = HttpResponse::text(302, "see /builders\n");
    r.headers["Location"] = "/builders";
    return r;
  });
  server.add_route("/builders",
                   [src](const HttpRequest&) { return builders_page(builders_model(src)); });
  server.add_route("/api/builders",
                   [src](const HttpRequest&) { return json_response(builders_model(src)); });
  server.add_route("/builders/([^/]+)", [src](const HttpRequest& req) {
    return builder_page(builder_model(src, req.matches.at(1)));
  });
  server.add_route("/api/builders/([^/]+)", [src](const HttpRequest& req) {
    return json_response(builder_model(src, req.matches.at(1)));
  });
  server.add_route("/queue", [src](const HttpRequest&) { return queue_page(queue_model(src)); });
  server.add_route("/api/queue",
                   [src](const HttpRequest&) { return json_response(queue_model(src)); });
  server.add_route("/builds", [src](const HttpRequest& req) {
    BuildsQuery q = parse_builds_query(req);
    if (!q.error.empty()) return HttpResponse::text(400, q.error);
    return builds_page(builds_model(src, q.state, q.limit));
  });
  server.add_route("/api/builds", [src](const HttpRequest& req) {
    BuildsQuery q = parse_builds_query(req);
    if (!q.error.empty()) return HttpResponse::text(400, q.error);
    return json_response(builds_model(src, q.state, q.limit));
  });
  server.add_route(R"(/builds/(\d{1,18}))", [src](const HttpRequest& req) {
    const Id id = parse_id(req.matches.at(1));
    json b = build_model(src, id);
    return build_page(b, stored_tail(src, id), failed_log(src, id));
  });
  server.add_route(R"(/api/builds/(\d{1,18})/log)", [src](const HttpRequest& req) {
    return json_response(live_log_model(src, parse_id(req.matches.at(1))));
  });
  server.add_route(R"(/api/builds/(\d{1,18}))", [src](const HttpRequest& req) {
    return json_response(build_model(src, parse_id(req.matches.at(1))));
  });
  server.add_route("/metrics", [src](const HttpRequest&) {
    refresh_gauges(src);
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.headers["Cache-Control"] = "no-store";
    r.body = src.metrics.render();
    return r;
  });
}

}  // namespace buildd
