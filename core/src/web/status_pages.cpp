#include "buildd/web/status_pages.hpp"

#include <time.h>

#include <algorithm>
#include <charconv>
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
#include "buildd/web/api_model.hpp"

// Each page is built once as JSON (the API's answer, api_model.hpp) and the
// HTML is rendered from that JSON, so the two cannot drift apart.

namespace buildd {
namespace {

using api::last_lines;
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
  std::shared_ptr<const Scheduler> scheduler;
};

// ---- small formatting helpers ----------------------------------------------

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

// How much of a live log one poll of the build page reads.
constexpr std::size_t kLiveLogPageBytes = 256 * 1024;

// The length of `bytes` without a UTF-8 sequence cut off at its end (a lead
// byte whose continuation bytes are not there yet): the next read starts
// with it, so that a character is never split into two U+FFFD.
std::size_t whole_utf8_prefix(const std::string& bytes) {
  const std::size_t n = bytes.size();
  for (std::size_t back = 1; back <= std::min<std::size_t>(3, n); ++back) {
    const auto c = static_cast<unsigned char>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back && c >= 0xC2 && c <= 0xF4 ? n - back : n;
  }
  return n;
}

// GET /api/builds/<id>/log[?offset=N]: what the build page's live log
// polls. With an offset, the running build's live log from there (when its
// slave reads its log from an offset), shown as tails are, and where the
// next poll starts.
json live_log_document(const Sources& src, Id id, std::optional<std::uint64_t> offset) {
  auto build = src.store.find_build(id);
  if (!build) throw Error(ErrorCategory::kNotFound, "no build " + std::to_string(id));
  auto entry = src.store.queue_entry_for_build(id);
  json doc = {{"schema_version", api::kJsonSchemaVersion},
              {"kind", "build_log"},
              {"generated", iso_utc(src.time.now())},
              {"id", id},
              {"state", std::string(name(build->state))},
              {"final", is_final(build->state)},
              {"logtail", entry ? entry->logtail : std::string()},
              {"live_log_bytes", entry ? entry->live_log_size : 0}};
  if (offset) {
    const std::string bytes = entry && entry->live_log_size > *offset
                                  ? src.store.live_log(entry->id, *offset, kLiveLogPageBytes)
                                  : std::string();
    const std::size_t whole = whole_utf8_prefix(bytes);
    doc["live_log"] = decode_logtail(std::string_view(bytes).substr(0, whole));
    doc["next_offset"] = *offset + whole;
  }
  return doc;
}

// ---- HTML ----------------------------------------------------------------------

const char* kCss = R"(body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
nav{background:#2c3e50;padding:.6em 1em}nav a{color:#ecf0f1;margin-right:1.2em;text-decoration:none;font-weight:600}
nav a.here{border-bottom:2px solid #f1c40f}main{padding:1em 1.5em}h1{font-size:1.4em;margin:.2em 0 .6em}
table{border-collapse:collapse;margin:.5em 0 1.2em;background:#fff}th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef1f4}pre{margin:.2em 0 0;font-size:.8em;background:#f4f4f4;padding:.3em;max-width:60em;white-space:pre-wrap}
.idle{color:#1e7e34;font-weight:600}.building{color:#0056b3;font-weight:600}.disabled{color:#b02a37;font-weight:600}
.FULLYBUILT{color:#1e7e34}.FAILEDTOBUILD,.CHROOTWAIT,.FAILEDTOUPLOAD{color:#b02a37}.MANUALDEPWAIT{color:#a65e00}
.BUILDING{color:#0056b3}.muted{color:#777;font-size:.85em}
.banner{background:#fff3cd;border:1px solid #e0c36c;padding:.5em .8em;font-weight:600}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600})";

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

// The last lines of a log tail, escaped, in a <pre>; empty for no tail.
std::string tail_pre(const json& logtail) {
  const std::string tail = last_lines(logtail.get<std::string>(), kLogTailLines);
  return tail.empty() ? "" : "<pre>" + html_escape(tail) + "</pre>";
}

std::string job_cell(const json& job) {
  if (job.is_null()) return "—";
  return build_link(job["build_id"], esc(job["source_name"]) + " " + esc(job["source_version"])) +
         " <span class=\"muted\">" + esc(job["arch_release"]) + ", " + esc(job["state_title"]) +
         ", " + secs_text(job["elapsed_seconds"]) + "</span>" + tail_pre(job["logtail"]);
}

// OK, or disabled with since when and why (the failnotes).
std::string status_cell(const json& b) {
  std::string s = b["builderok"].get<bool>() ? "OK" : "disabled";
  if (!b["disabled_at"].is_null()) s += " since " + esc(b["disabled_at"]);
  if (b["failnotes"].is_string())
    s += "<br><span class=\"muted\">" + esc(b["failnotes"]) + "</span>";
  return s;
}

// A warning over the page for each family whose queued builds no builder can
// take (all disabled or manual, none at all, or no chroot).
std::string stalled_banner(const json& queue) {
  std::string s;
  for (const auto& f : queue["stalled_families"])
    s += "<p class=\"banner\">Family " + esc(f["family"]) + " has " + esc(f["queued"]) +
         " queued builds that cannot be dispatched: " + esc(f["reason"]) + ".</p>";
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

HttpResponse builders_page(const json& m, const json& queue) {
  std::ostringstream out;
  out << stalled_banner(queue)
      << "<table><tr><th>Family</th><th>Idle</th><th>Building</th><th>Disabled</th></tr>";
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
  out << stalled_banner(m) << "<p>" << esc(m["running"].size()) << " running, "
      << esc(m["waiting_total"]) << " builds waiting";
  for (const auto& [family, n] : m["waiting_by_family"].items())
    out << " · " << html_escape(family) << ": " << esc(n);
  out << "</p>";
  if (m["waiting"].empty()) {
    out << "<p>The queue is empty.</p>";
  } else {
    out << "<table><tr><th>#</th><th>Build</th><th>Arch release</th><th>Family</th>"
           "<th>Archive</th><th>Score</th><th>Why here</th><th>Age</th><th>Why it waits</th></tr>";
    for (const auto& q : m["waiting"])
      out << "<tr><td>" << esc(q["position"]) << "</td><td>"
          << build_link(q["build_id"], esc(q["source_name"]) + " " + esc(q["source_version"]))
          << "</td><td>" << esc(q["arch_release"]) << "</td><td>" << esc(q["family"]) << "</td><td>"
          << esc(q["archive"]) << "</td><td>" << esc(q["score"])
          << (q["score_pinned"].get<bool>() ? " (pinned)" : "") << "</td><td>" << esc(q["explain"])
          << "</td><td>" << secs_text(q["age_seconds"]) << "</td><td>" << esc(q["reason"])
          << "</td></tr>";
    out << "</table>";
  }
  return page("Queue", "/queue", "/api/queue", out.str());
}

// The query string of a builds list page (state, source, offset, limit).
std::string builds_query_string(const json& m, std::optional<std::string> state,
                                std::size_t offset) {
  std::string q = "?limit=" + m["limit"].dump() + "&offset=" + std::to_string(offset);
  if (state) q += "&state=" + *state;
  if (m["source_name"].is_string())
    q += "&source=" + url_segment(m["source_name"].get<std::string>());
  return q;
}

HttpResponse builds_page(const json& m) {
  std::ostringstream out;
  std::optional<std::string> state;
  if (m["state"].is_string()) state = m["state"].get<std::string>();
  const std::string source =
      m["source_name"].is_string() ? m["source_name"].get<std::string>() : "";
  out << "<form method=\"get\" action=\"/builds\"><label>Source package <input name=\"source\" "
         "value=\""
      << html_escape(source) << "\"></label>";
  if (state)
    out << "<input type=\"hidden\" name=\"state\" value=\"" << html_escape(*state) << "\">";
  out << " <button>Search</button></form><p>State: "
      << "<a href=\"/builds" << html_escape(builds_query_string(m, std::nullopt, 0))
      << "\">all</a>";
  for (int v = 0; v < kBuildStateCount; ++v) {
    auto s = static_cast<BuildState>(v);
    out << " · <a href=\"/builds" << html_escape(builds_query_string(m, std::string(name(s)), 0))
        << "\">" << html_escape(title(s)) << "</a>";
  }
  out << "</p>" << builds_table(m["builds"], true);
  const std::size_t offset = m["offset"].get<std::size_t>(), limit = m["limit"].get<std::size_t>();
  out << "<p>";
  if (offset > 0)
    out << "<a rel=\"prev\" href=\"/builds"
        << html_escape(builds_query_string(m, state, offset > limit ? offset - limit : 0))
        << "\">← newer</a> ";
  out << "<span class=\"muted\">builds " << offset + 1 << "–" << offset + m["builds"].size()
      << "</span>";
  if (m["more"].get<bool>())
    out << " <a rel=\"next\" href=\"/builds"
        << html_escape(builds_query_string(m, state, offset + limit)) << "\">older →</a>";
  out << "</p>";
  std::string t = "Builds";
  if (!source.empty()) t += " of " + source;
  if (state) t += " (" + std::string(title(*parse_build_state(*state))) + ")";
  return page(t, "/builds", "/api/builds" + builds_query_string(m, state, offset), out.str());
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
// back). When the store keeps the build's whole log (its slave reads its log
// from an offset), the script shows all of it instead, appending what each
// poll read from where the last one stopped. Without JavaScript the tail is
// shown as of the page's load.
std::string live_log(const json& b, const std::string& tail) {
  const std::string id = b["id"].dump();
  const bool whole = b["queue"]["live_log_bytes"].get<std::uint64_t>() > 0;
  return "<h2>Live log</h2><pre id=\"livelog\" class=\"log\" "
         "style=\"max-height:40em;overflow:auto\">" +
         html_escape(tail) + "</pre><p class=\"muted\" id=\"livelog-status\">" +
         (whole ? "The whole log so far" : "The last lines the builder reported") +
         "; updated every 3 seconds.</p><script>(function(){"
         "var pre=document.getElementById('livelog'),state=" +
         json(b["state"].get<std::string>()).dump() + ",live=" + (whole ? "0" : "-1") +
         ";if(live===0)pre.textContent='';pre.scrollTop=pre.scrollHeight;"
         // live >= 0: the whole log is read from that offset and appended
         // (the slave reads its log from an offset); -1: the tail replaces
         // what is shown.
         "function poll(){fetch('/api/builds/" +
         id +
         "/log'+(live>=0?'?offset='+live:''),{cache:'no-store'}).then(function(r){"
         "if(!r.ok)throw new Error(r.status);return r.json();}).then(function(j){"
         "if(j.state!==state){location.reload();return;}"
         "var bottom=pre.scrollTop+pre.clientHeight>=pre.scrollHeight-4;"
         "if(live>=0){pre.textContent+=j.live_log;live=j.next_offset;}"
         "else pre.textContent=j.logtail;"
         "if(bottom)pre.scrollTop=pre.scrollHeight;"
         "setTimeout(poll,live>=0&&live<j.live_log_bytes?0:3000);}).catch(function(){"
         "document.getElementById('livelog-status').textContent='Update failed; retrying.';"
         "setTimeout(poll,10000);});}"
         "setTimeout(poll,live===0?0:3000);})();</script>";
}

// `failed`: the end of a failed build's stored log (not shown otherwise).
HttpResponse build_page(const json& b, const FailedLog& failed) {
  std::ostringstream out;
  out << "<dl><dt>State</dt><dd>" << state_cell(b) << "</dd><dt>Arch release</dt><dd>"
      << esc(b["arch_release"]) << "</dd><dt>Builder</dt><dd>" << builder_link(b["builder"])
      << "</dd><dt>Created</dt><dd>" << esc(b["created"]) << "</dd><dt>Started</dt><dd>"
      << esc(b["started"]) << "</dd><dt>Built</dt><dd>" << esc(b["built"])
      << "</dd><dt>Duration</dt><dd>" << secs_text(b["duration_seconds"])
      << "</dd><dt>Component / pocket / urgency</dt><dd>" << esc(b["component"]) << " / "
      << esc(b["pocket"]) << " / " << esc(b["urgency"]) << "</dd><dt>Dependencies</dt><dd>"
      << esc(b["dependencies"]) << "</dd><dt>Failures / given back</dt><dd>"
      << esc(b["failure_count"]) << " / " << esc(b["give_back_count"])
      << "</dd><dt>Build log</dt><dd>"
      << (b["log"].is_null()
              ? "—"
              : "<a href=\"" + esc(b["log"]["url"]) + "\">" + esc(b["log"]["filename"]) + "</a>")
      << "</dd><dt>Result files</dt><dd>" << files_list(b["result_files"])
      << "</dd><dt>Source files</dt><dd>" << files_list(b["source_files"]) << "</dd>";
  const bool running = !b["queue"].is_null() && !b["queue"]["builder"].is_null();
  if (!b["queue"].is_null()) {
    const json& q = b["queue"];
    out << "<dt>Queue</dt><dd>score " << esc(q["score"]) << ", builder "
        << builder_link(q["builder"]) << ", running " << secs_text(q["elapsed_seconds"]) << "</dd>";
  }
  out << "</dl>";
  if (running) out << live_log(b, b["queue"]["logtail"].get<std::string>());
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

// ?state=, ?source=, ?offset= and ?limit= of /builds; `error` says what was wrong.
struct BuildsRequest {
  BuildListQuery query{std::nullopt, {}, 0, kDefaultBuildsLimit};
  std::string error;
};

std::optional<std::size_t> parse_count(const std::string& text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

BuildsRequest parse_builds_request(const HttpRequest& req) {
  BuildsRequest r;
  if (auto it = req.query.find("state"); it != req.query.end() && !it->second.empty()) {
    r.query.state = parse_build_state(it->second);
    if (!r.query.state) r.error = "unknown build state '" + it->second + "'\n";
  }
  if (auto it = req.query.find("source"); it != req.query.end()) r.query.source_name = it->second;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    auto n = parse_count(it->second);
    if (!n) r.error = "limit must be a number\n";
    r.query.limit = std::clamp<std::size_t>(n.value_or(1), 1, kMaxBuildsLimit);
  }
  if (auto it = req.query.find("offset"); it != req.query.end()) {
    auto n = parse_count(it->second);
    if (!n) r.error = "offset must be a number\n";
    r.query.offset = n.value_or(0);
  }
  return r;
}

void refresh_gauges(const Sources& src) {
  const api::BuilderCounts builders = api::builder_counts(src.store);
  std::map<std::string, int> depth;
  // 0 for a family with nothing waiting, rather than no series: an alert on
  // the age then needs no absent() beside it.
  std::map<std::string, double> oldest;
  std::map<Id, std::string> family_names;
  for (const auto& f : src.store.processor_families()) {
    family_names[f.id] = f.name;
    depth[f.name] = 0;
    oldest[f.name] = 0;
  }
  std::map<Id, Id> dar_family;
  for (const auto& d : src.store.distro_arch_releases()) dar_family[d.id] = d.family_id;
  const TimePoint now = src.time.now();
  for (const auto& q : src.store.waiting(0)) {
    const Id family_id = dar_family[q.build.distro_arch_release_id];
    auto it = family_names.find(family_id);
    const std::string family = it == family_names.end() ? std::to_string(family_id) : it->second;
    ++depth[family];
    // The age the queue page shows: since the entry was queued.
    oldest[family] =
        std::max(oldest[family],
                 std::max(0.0, std::chrono::duration<double>(now - q.entry.created).count()));
  }
  src.metrics.clear(kMetricBuilders);
  src.metrics.clear(kMetricQueueDepth);
  src.metrics.clear(kMetricQueueOldest);
  for (const auto& [family, states] : builders)
    for (const auto& [state, n] : states)
      src.metrics.set(kMetricBuilders, {{"family", family}, {"state", state}}, n);
  for (const auto& [family, n] : depth) src.metrics.set(kMetricQueueDepth, {{"family", family}}, n);
  for (const auto& [family, age] : oldest)
    src.metrics.set(kMetricQueueOldest, {{"family", family}}, age);
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
                       Metrics& metrics, const TimeSource& time,
                       std::shared_ptr<const Scheduler> scheduler) {
  describe_farm_metrics(metrics);
  if (!scheduler) scheduler = std::make_shared<DefaultScheduler>();
  Sources src{store, librarian, metrics, time, std::move(scheduler)};
  server.add_route("/", [](const HttpRequest&) {
    HttpResponse r = HttpResponse::text(302, "see /builders\n");
    r.headers["Location"] = "/builders";
    return r;
  });
  server.add_route("/builders", [src](const HttpRequest&) {
    const TimePoint now = src.time.now();
    return builders_page(api::builders_document(src.store, now),
                         api::queue_document(src.store, *src.scheduler, now, kQueueLimit));
  });
  server.add_route("/api/builders", [src](const HttpRequest&) {
    return json_response(api::builders_document(src.store, src.time.now()));
  });
  server.add_route("/builders/([^/]+)", [src](const HttpRequest& req) {
    return builder_page(
        api::builder_document(src.store, req.matches.at(1), src.time.now(), kHistoryLimit));
  });
  server.add_route("/api/builders/([^/]+)", [src](const HttpRequest& req) {
    return json_response(
        api::builder_document(src.store, req.matches.at(1), src.time.now(), kHistoryLimit));
  });
  server.add_route("/queue", [src](const HttpRequest&) {
    return queue_page(api::queue_document(src.store, *src.scheduler, src.time.now(), kQueueLimit));
  });
  server.add_route("/api/queue", [src](const HttpRequest&) {
    return json_response(
        api::queue_document(src.store, *src.scheduler, src.time.now(), kQueueLimit));
  });
  server.add_route("/api/families", [src](const HttpRequest&) {
    return json_response(api::families_document(src.store, src.time.now()));
  });
  server.add_route("/api/archreleases", [src](const HttpRequest&) {
    return json_response(api::archreleases_document(src.store, src.time.now()));
  });
  server.add_route("/builds", [src](const HttpRequest& req) {
    BuildsRequest r = parse_builds_request(req);
    if (!r.error.empty()) return HttpResponse::text(400, r.error);
    return builds_page(api::builds_document(src.store, r.query, src.time.now()));
  });
  server.add_route("/api/builds", [src](const HttpRequest& req) {
    BuildsRequest r = parse_builds_request(req);
    if (!r.error.empty()) return HttpResponse::text(400, r.error);
    return json_response(api::builds_document(src.store, r.query, src.time.now()));
  });
  server.add_route(R"(/builds/(\d{1,18}))", [src](const HttpRequest& req) {
    const Id id = parse_id(req.matches.at(1));
    return build_page(api::build_document(src.store, src.librarian, id, src.time.now()),
                      failed_log(src, id));
  });
  server.add_route(R"(/api/builds/(\d{1,18})/log)", [src](const HttpRequest& req) {
    std::optional<std::uint64_t> offset;
    if (auto it = req.query.find("offset"); it != req.query.end()) {
      offset = parse_count(it->second);
      if (!offset) return HttpResponse::text(400, "offset must be a number\n");
    }
    return json_response(live_log_document(src, parse_id(req.matches.at(1)), offset));
  });
  server.add_route(R"(/api/builds/(\d{1,18}))", [src](const HttpRequest& req) {
    return json_response(
        api::build_document(src.store, src.librarian, parse_id(req.matches.at(1)), src.time.now()));
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
