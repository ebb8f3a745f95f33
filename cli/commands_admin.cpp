#include "commands_admin.hpp"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "buildd/build_state.hpp"
#include "buildd/clock.hpp"
#include "buildd/compression.hpp"
#include "buildd/error.hpp"
#include "buildd/log_follow.hpp"
#include "buildd/pipeline/decisions.hpp"
#include "buildd/scheduler.hpp"
#include "buildd/web/api_model.hpp"
#include "runtime.hpp"

namespace buildd::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kBuilderHistory = 20;  // builds `builder show --format json` lists

// ---- input ------------------------------------------------------------------

struct DarName {
  std::string distribution, release, arch_tag;
};

DarName parse_dar_name(const std::string& text) {
  DarName out;
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  bool ok = parts.size() == 3 && text.back() != '/';
  for (const auto& p : parts) ok = ok && !p.empty();
  if (!ok) {
    throw Error(ErrorCategory::kUsage,
                "'" + text +
                    "' is not an arch release: expected DISTRO/RELEASE/ARCH, e.g. "
                    "ubuntu/warty/i386");
  }
  check_object_name("distribution name", parts[0]);
  check_object_name("release name", parts[1]);
  check_object_name("arch name", parts[2]);
  return DarName{parts[0], parts[1], parts[2]};
}

DistroArchRelease require_dar(BuildStore& store, const std::string& text) {
  DarName n = parse_dar_name(text);
  auto dar = store.find_distro_arch_release(n.distribution, n.release, n.arch_tag);
  if (!dar) throw Error(ErrorCategory::kNotFound, "no arch release " + text);
  return *dar;
}

Id parse_id(const std::string& text, const char* what) {
  Id id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    throw Error(ErrorCategory::kUsage,
                std::string(what) + " must be a positive number, not '" + text + "'");
  }
  return id;
}

// --limit N, --offset N: a whole number from 0 to a billion; "-1" would otherwise
// wrap around to a size_t the database refuses.
std::size_t parse_count(const po::variables_map& vm, const char* option,
                        const char* zero_means = "") {
  const auto text = vm[option].as<std::string>();
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n > 1'000'000'000)
    throw Error(ErrorCategory::kUsage, std::string("--") + option +
                                           " must be a whole number from 0" + zero_means +
                                           " to 1000000000, not '" + text + "'");
  return n;
}

std::size_t parse_limit(const po::variables_map& vm) {
  return parse_count(vm, "limit", " (all)");
}

Build require_build(BuildStore& store, const std::string& text) {
  Id id = parse_id(text, "build id");
  auto build = store.find_build(id);
  if (!build) throw Error(ErrorCategory::kNotFound, "no build " + text);
  return *build;
}

Builder require_builder(BuildStore& store, const std::string& name) {
  auto builder = store.find_builder(name);
  if (!builder) throw Error(ErrorCategory::kNotFound, "no builder " + name);
  return *builder;
}

void require_regular_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCategory::kUsage, "no such file: " + path.string());
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string guess_mime(const std::string& filename) {
  static const std::vector<std::pair<std::string, std::string>> kTypes = {
      {".dsc", "text/plain"},
      {".changes", "text/plain"},
      {".txt", "text/plain"},
      {".deb", "application/vnd.debian.binary-package"},
      {".udeb", "application/vnd.debian.binary-package"},
      {".tar.gz", "application/x-tar"},
      {".tgz", "application/x-tar"},
      {".tar.bz2", "application/x-tar"},
      {".tar.xz", "application/x-tar"},
      {".tar", "application/x-tar"},
      {".gz", "application/gzip"},
      {".bz2", "application/x-bzip2"},
      {".xz", "application/x-xz"},
  };
  for (const auto& [ext, mime] : kTypes)
    if (ends_with(filename, ext)) return mime;
  return "application/octet-stream";
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// ---- output -----------------------------------------------------------------

// A JSON document of the API (api_model.hpp), printed as it is.
int print_json(CommandContext& ctx, const json& document) {
  ctx.out << document.dump(2) << '\n';
  return 0;
}

// A JSON value as a table cell: "-" for null, strings bare.
std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

std::string text_duration(Duration d) {
  auto total = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  return buffer;
}

std::string state_text(BuildState s) {
  return std::string(title(s));
}

// ---- db -----------------------------------------------------------------------

int db_upgrade(CommandContext& ctx, const po::variables_map&) {
  BuildStore& store = ctx.store();
  int before = store.schema_version();
  int applied = store.upgrade();
  int after = store.schema_version();
  if (applied == 0) {
    ctx.out << "database schema is up to date (version " << after << ")\n";
  } else {
    for (int v = before + 1; v <= after; ++v) ctx.out << "applied migration " << v << "\n";
    ctx.out << "database schema upgraded from version " << before << " to " << after << " ("
            << applied << " migration" << (applied == 1 ? "" : "s") << ")\n";
  }
  return 0;
}

// ---- family -------------------------------------------------------------------

int family_add(CommandContext& ctx, const po::variables_map& vm) {
  const auto name = vm["name"].as<std::string>();
  auto processors = split_list(vm["processors"].as<std::string>());
  check_object_name("family name", name);
  if (processors.empty())
    throw Error(ErrorCategory::kUsage, "--processors needs at least one processor name");
  for (const auto& p : processors) check_object_name("processor name", p);
  auto family = ctx.store().add_processor_family(name, processors);
  std::string list;
  for (const auto& p : processors) list += (list.empty() ? "" : ", ") + p;
  ctx.out << "added processor family " << family.name << " (" << list << ")\n";
  return 0;
}

int family_list(CommandContext& ctx, const po::variables_map& vm) {
  const json doc = api::families_document(ctx.store(), Clock::now());
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, doc);
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : doc["families"]) {
    std::string processors;
    for (const auto& p : f["processors"])
      processors += (processors.empty() ? "" : ",") + p.get<std::string>();
    rows.push_back({cell(f["id"]), cell(f["name"]), processors,
                    cell(f["usable_builders"]) + "/" + cell(f["builders"]),
                    cell(f["arch_releases"])});
  }
  print_table(ctx.out, {"ID", "FAMILY", "PROCESSORS", "USABLE/BUILDERS", "ARCHRELEASES"}, rows);
  return 0;
}

// ---- archrelease ------------------------------------------------------------------

int archrelease_add(CommandContext& ctx, const po::variables_map& vm) {
  const auto text = vm["archrelease"].as<std::string>();
  DarName n = parse_dar_name(text);
  const auto family = vm["family"].as<std::string>();
  check_object_name("family name", family);
  BuildStore& store = ctx.store();
  bool known = false;
  for (const auto& f : store.processor_families()) known = known || f.name == family;
  if (!known) throw Error(ErrorCategory::kNotFound, "unknown processor family " + family);
  if (store.find_distro_arch_release(n.distribution, n.release, n.arch_tag))
    throw Error(ErrorCategory::kConflict, "arch release " + text + " already exists");
  NewDistroArchRelease dar{n.distribution, n.release, n.arch_tag, family, std::nullopt, true};
  if (vm.count("chroot")) {
    std::filesystem::path chroot = vm["chroot"].as<std::string>();
    require_regular_file(chroot);
    auto file = ctx.librarian().store_file(chroot, chroot.filename().string(),
                                           guess_mime(chroot.filename().string()));
    dar.chroot_file_id = file.id;
  }
  auto added = store.add_distro_arch_release(dar);
  ctx.out << "added arch release " << added.display_name() << " (id " << added.id << ")\n";
  return 0;
}

int archrelease_set_chroot(CommandContext& ctx, const po::variables_map& vm) {
  BuildStore& store = ctx.store();
  auto dar = require_dar(store, vm["archrelease"].as<std::string>());
  std::filesystem::path chroot = vm["file"].as<std::string>();
  require_regular_file(chroot);
  auto file = ctx.librarian().store_file(chroot, chroot.filename().string(),
                                         guess_mime(chroot.filename().string()));
  store.set_chroot(dar.id, file.id);
  ctx.out << "chroot of " << dar.display_name() << " is now " << file.filename << " (sha1 "
          << file.sha1 << ")\n";
  return 0;
}

int archrelease_list(CommandContext& ctx, const po::variables_map& vm) {
  const json doc = api::archreleases_document(ctx.store(), Clock::now());
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, doc);
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : doc["arch_releases"])
    rows.push_back({cell(d["id"]), cell(d["name"]), cell(d["family"]),
                    d["chroot"].is_null() ? "-" : cell(d["chroot"]["filename"]),
                    cell(d["official"])});
  print_table(ctx.out, {"ID", "ARCHRELEASE", "FAMILY", "CHROOT", "OFFICIAL"}, rows);
  return 0;
}

// ---- builder ----------------------------------------------------------------------

// A slave's URL as typed: absolute (scheme://…), bounded, ending in '/', and
// one a slave transport of the farm takes (xmlrpc-slave: http(s); another
// transport its own scheme). connect() does no I/O: the slave is not asked.
std::string checked_builder_url(CommandContext& ctx, const std::string& name, std::string url) {
  const std::size_t scheme_end = url.find("://");
  const bool has_scheme =
      scheme_end != std::string::npos && scheme_end > 0 &&
      std::isalpha(static_cast<unsigned char>(url[0])) &&
      std::all_of(
          url.begin(), url.begin() + static_cast<std::ptrdiff_t>(scheme_end),
          [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '-' || c == '.'; });
  if (!has_scheme)
    throw Error(
        ErrorCategory::kUsage,
        "builder URL must be absolute (http://host:8221/ for launchpad-buildd), not '" + url + "'");
  if (url.size() > 2048 || url.find_first_of(" \t\r\n\"<>\\^`{|}") != std::string::npos)
    throw Error(ErrorCategory::kUsage,
                "builder URL must be at most 2048 characters with no spaces, control characters "
                "or any of \"<>\\^`{|}");
  if (url.back() != '/') url += '/';
  // A config without a slave_transport (an admin-only one) checks the form only.
  if (ctx.config().plugin_count(PluginKind::kSlaveTransport) == 0) return url;
  Builder probe;
  probe.name = name;
  probe.url = url;
  try {
    ctx.transport().open(probe);
  } catch (const Error& e) {
    if (e.category() == ErrorCategory::kConfig || e.category() == ErrorCategory::kPlugin) throw;
    throw Error(ErrorCategory::kUsage,
                "builder URL '" + url + "' refused by the slave transport: " + e.message());
  }
  return url;
}

int builder_add(CommandContext& ctx, const po::variables_map& vm) {
  NewBuilder b;
  b.name = vm["name"].as<std::string>();
  b.processor = vm["processor"].as<std::string>();
  b.manual = vm.count("manual") > 0;
  b.virtualized = vm.count("virtualized") > 0;
  check_object_name("builder name", b.name);
  check_object_name("processor name", b.processor);
  b.url = checked_builder_url(ctx, b.name, vm["url"].as<std::string>());
  auto added = ctx.store().add_builder(b);
  ctx.out << "added builder " << added.name << " (id " << added.id << ")\n";
  return 0;
}

int builder_list(CommandContext& ctx, const po::variables_map& vm) {
  const json doc = api::builders_document(ctx.store(), Clock::now());
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, doc);
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : doc["builders"])
    rows.push_back({cell(b["id"]), cell(b["name"]), cell(b["url"]), cell(b["processor"]),
                    cell(b["family"]), cell(b["builderok"]), cell(b["manual"]),
                    cell(b["failure_count"]), cell(b["state"]),
                    b["job"].is_null() ? "-" : cell(b["job"]["build_id"]), cell(b["failnotes"])});
  print_table(ctx.out,
              {"ID", "NAME", "URL", "PROCESSOR", "FAMILY", "OK", "MANUAL", "FAILURES", "STATE",
               "BUILD", "FAILNOTES"},
              rows);
  return 0;
}

int builder_show(CommandContext& ctx, const po::variables_map& vm) {
  const json b = api::builder_document(ctx.store(), vm["name"].as<std::string>(), Clock::now(),
                                       kBuilderHistory);
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, b);
  const json& job = b["job"];
  std::vector<std::vector<std::string>> rows = {
      {"id", cell(b["id"])},
      {"name", cell(b["name"])},
      {"url", cell(b["url"])},
      {"processor", cell(b["processor"])},
      {"family", cell(b["family"])},
      {"builderok", cell(b["builderok"])},
      {"failnotes", cell(b["failnotes"])},
      {"disabled_at", cell(b["disabled_at"])},
      {"manual", cell(b["manual"])},
      {"virtualized", cell(b["virtualized"])},
      {"speed_index", cell(b["speed_index"])},
      {"failure_count", cell(b["failure_count"])},
      {"state", cell(b["state"])},
      {"slave_state", b["slave_state"].is_null() ? "- (not polled yet)"
                                                 : cell(b["slave_state"]) + " (since " +
                                                       cell(b["slave_state_since"]) + ")"},
      {"job", job.is_null() ? "-"
                            : "build " + cell(job["build_id"]) + " (" + cell(job["source_name"]) +
                                  " " + cell(job["source_version"]) + ")"},
      {"failed_builds", cell(b["failed_builds"])},
  };
  print_table(ctx.out, {"FIELD", "VALUE"}, rows);
  return 0;
}

// `builder clean` and `builder abort`: what the daemon's reconciliation does
// on its own, at the operator's word, for a slave whose job is not ours.
int builder_clean_or_abort(CommandContext& ctx, const po::variables_map& vm, bool clean) {
  Builder b = require_builder(ctx.store(), vm["name"].as<std::string>());
  if (auto job = ctx.store().active_job_for_builder(b.id)) {
    throw Error(ErrorCategory::kConflict,
                "builder " + b.name + " holds build " + std::to_string(job->build.id) +
                    " of this farm: cancel the build instead (build cancel " +
                    std::to_string(job->build.id) + ")");
  }
  std::unique_ptr<Slave> slave = ctx.transport().open(b);
  const SlaveStatus status = slave->status();
  const std::string before = to_string(status.state);
  const bool wanted =
      clean ? (status.state == BuilderState::kWaiting || status.state == BuilderState::kAborted)
            : status.state == BuilderState::kBuilding;
  if (!wanted) {
    ctx.out << "builder " << b.name << " is " << before << ": nothing to "
            << (clean ? "clean" : "abort") << "\n";
    return 0;
  }
  const std::string after = clean ? slave->clean() : slave->abort();
  ctx.out << "builder " << b.name << ": " << before << " -> " << after << "\n";
  wake_daemon(ctx);
  return 0;
}

int builder_clean(CommandContext& ctx, const po::variables_map& vm) {
  return builder_clean_or_abort(ctx, vm, true);
}

int builder_abort(CommandContext& ctx, const po::variables_map& vm) {
  return builder_clean_or_abort(ctx, vm, false);
}

int builder_enable(CommandContext& ctx, const po::variables_map& vm) {
  Builder b = require_builder(ctx.store(), vm["name"].as<std::string>());
  ctx.store().set_builder_ok(b.id, true, "");
  ctx.out << "builder " << b.name << " enabled\n";
  wake_daemon(ctx);  // probed, reconciled and fed now, not at its next poll
  return 0;
}

int builder_set_url(CommandContext& ctx, const po::variables_map& vm) {
  Builder b = require_builder(ctx.store(), vm["name"].as<std::string>());
  const std::string url = checked_builder_url(ctx, b.name, vm["url"].as<std::string>());
  ctx.store().set_builder_url(b.id, url);
  ctx.out << "builder " << b.name << " is now at " << url << "\n";
  wake_daemon(ctx);  // reconnected and probed at its next pass
  return 0;
}

int builder_disable(CommandContext& ctx, const po::variables_map& vm) {
  Builder b = require_builder(ctx.store(), vm["name"].as<std::string>());
  const auto reason = vm["reason"].as<std::string>();
  check_free_text("--reason", reason);
  ctx.store().set_builder_ok(b.id, false, reason);
  ctx.out << "builder " << b.name << " disabled: " << reason << "\n";
  return 0;
}

int builder_remove(CommandContext& ctx, const po::variables_map& vm) {
  Builder b = require_builder(ctx.store(), vm["name"].as<std::string>());
  try {
    ctx.store().remove_builder(b.id);
  } catch (const Error& e) {
    if (e.category() != ErrorCategory::kConflict) throw;
    throw Error(ErrorCategory::kConflict, "builder " + b.name + " is building: " + e.what() +
                                              " (build cancel ID, then remove it)");
  }
  ctx.out << "builder " << b.name << " removed (its builds keep its name; `builder add " << b.name
          << "` brings it back)\n";
  wake_daemon(ctx);  // the daemon drops it and closes its connection
  return 0;
}

// ---- build --------------------------------------------------------------------------

int build_add(CommandContext& ctx, const po::variables_map& vm) {
  BuildStore& store = ctx.store();
  NewBuild nb;
  nb.source_name = vm["source"].as<std::string>();
  nb.source_version = vm["version"].as<std::string>();
  check_source_name(nb.source_name);
  check_source_version(nb.source_version);
  nb.component = vm["component"].as<std::string>();
  nb.pocket = vm["pocket"].as<std::string>();
  nb.urgency = vm["urgency"].as<std::string>();
  nb.archive = vm["archive"].as<std::string>();
  check_object_name("component", nb.component);
  check_object_name("archive name", nb.archive);
  // The pocket names the suite the slave builds for; the urgency, Debian's.
  static const std::set<std::string> kPockets = {"release", "security", "updates", "proposed",
                                                 "backports"};
  static const std::set<std::string> kUrgencies = {"low", "medium", "high", "emergency",
                                                   "critical"};
  if (!kPockets.count(nb.pocket))
    throw Error(ErrorCategory::kUsage,
                "--pocket must be release, security, updates, proposed or backports, not '" +
                    nb.pocket.substr(0, 60) + "'");
  if (!kUrgencies.count(nb.urgency))
    throw Error(ErrorCategory::kUsage,
                "--urgency must be low, medium, high, emergency or critical, not '" +
                    nb.urgency.substr(0, 60) + "'");
  auto dar = require_dar(store, vm["archrelease"].as<std::string>());
  nb.distro_arch_release_id = dar.id;
  // A second copy of an active or built build would build it twice; a
  // failed one is rebuilt with `build retry`, anything on purpose with --force.
  if (!vm.count("force")) {
    for (const Build& same : store.builds_of_source(nb.source_name, nb.source_version, dar.id)) {
      if (is_final(same.state) && same.state != BuildState::kFullyBuilt) continue;
      throw Error(ErrorCategory::kConflict,
                  "build " + std::to_string(same.id) + " of " + nb.source_name + " " +
                      nb.source_version + " on " + dar.display_name() + " is already " +
                      std::string(buildd::name(same.state)) + "; --force queues another");
    }
  }
  if (vm.count("score")) {
    nb.score = vm["score"].as<int>();
    nb.manual_score = true;
  } else {
    nb.score = default_score(nb.component, nb.urgency, nb.pocket, Duration::zero());
  }
  std::vector<std::filesystem::path> files;
  if (vm.count("file")) {
    for (const auto& f : vm["file"].as<std::vector<std::string>>()) files.emplace_back(f);
  }
  if (files.empty()) throw Error(ErrorCategory::kUsage, "--file is required (the .dsc at least)");
  for (const auto& f : files) require_regular_file(f);  // all checked before anything is stored
  for (const auto& f : files) {
    auto name = f.filename().string();
    auto stored = ctx.librarian().store_file(f, name, guess_mime(name));
    nb.source_files.emplace_back(name, stored.id);
  }
  auto build = store.add_build(nb);
  wake_daemon(ctx);
  ctx.out << build.id << '\n';
  return 0;
}

int build_list(CommandContext& ctx, const po::variables_map& vm) {
  BuildListQuery query;
  if (vm.count("state")) {
    const auto text = vm["state"].as<std::string>();
    query.state = parse_build_state(text);
    if (!query.state) throw Error(ErrorCategory::kUsage, "unknown build state '" + text + "'");
  }
  if (vm.count("source")) {
    query.source_name = vm["source"].as<std::string>();
    check_source_name(query.source_name);
  }
  query.limit = parse_limit(vm);
  query.offset = parse_count(vm, "offset");
  const json doc = api::builds_document(ctx.store(), query, Clock::now());
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, doc);
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : doc["builds"])
    rows.push_back({cell(b["id"]), cell(b["source_name"]), cell(b["source_version"]),
                    cell(b["arch_release"]), cell(b["state_title"]), cell(b["builder"]),
                    cell(b["created"])});
  print_table(ctx.out, {"ID", "SOURCE", "VERSION", "ARCHRELEASE", "STATE", "BUILDER", "CREATED"},
              rows);
  if (doc["more"].get<bool>()) ctx.out << "(more: --offset " << query.offset + query.limit << ")\n";
  return 0;
}

int build_show(CommandContext& ctx, const po::variables_map& vm) {
  const Build build = require_build(ctx.store(), vm["id"].as<std::string>());
  const json b = api::build_document(ctx.store(), ctx.librarian(), build.id, Clock::now());
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, b);
  std::vector<std::vector<std::string>> rows = {
      {"id", cell(b["id"])},
      {"source", cell(b["source_name"])},
      {"version", cell(b["source_version"])},
      {"archrelease", cell(b["arch_release"])},
      {"state", cell(b["state_title"]) + " (" + cell(b["state_value"]) + ")"},
      {"builder", cell(b["builder"])},
      {"created", cell(b["created"])},
      {"started", cell(b["started"])},
      {"built", cell(b["built"])},
      {"duration", build.duration ? text_duration(*build.duration) : "-"},
      {"log", b["log"].is_null() ? "-" : cell(b["log"]["url"])},
      {"dependencies", cell(b["dependencies"])},
      {"component", cell(b["component"])},
      {"pocket", cell(b["pocket"])},
      {"urgency", cell(b["urgency"])},
      {"archive", cell(b["archive"])},
      {"score", b["queue"].is_null() ? "-" : cell(b["queue"]["score"])},
  };
  for (const auto& f : b["source_files"])
    rows.push_back({"source file", cell(f["filename"]) + " " + cell(f["url"])});
  for (const auto& f : b["result_files"])
    rows.push_back({"result file",
                    cell(f["filename"]) + " (" + cell(f["size"]) + " bytes) " + cell(f["url"])});
  print_table(ctx.out, {"FIELD", "VALUE"}, rows);
  return 0;
}

int build_rescore(CommandContext& ctx, const po::variables_map& vm) {
  Build b = require_build(ctx.store(), vm["id"].as<std::string>());
  const auto text = vm["score"].as<std::string>();
  int score = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), score);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error(ErrorCategory::kUsage,
                "SCORE must be an integer, not '" + text.substr(0, 40) + "'");
  ctx.store().rescore_build(b.id, score);
  wake_daemon(ctx);
  ctx.out << "build " << b.id << " (" << b.source_name << " " << b.source_version << ") now scores "
          << score << " (pinned)\n";
  return 0;
}

int build_retry(CommandContext& ctx, const po::variables_map& vm) {
  Build b = require_build(ctx.store(), vm["id"].as<std::string>());
  ctx.store().retry_build(b.id);
  wake_daemon(ctx);
  ctx.out << "build " << b.id << " (" << b.source_name << " " << b.source_version
          << ") queued again\n";
  return 0;
}

int build_cancel(CommandContext& ctx, const po::variables_map& vm) {
  Build b = require_build(ctx.store(), vm["id"].as<std::string>());
  switch (ctx.store().cancel_build(b.id)) {
    case CancelOutcome::kCancelled:
      wake_daemon(ctx);
      ctx.out << "build " << b.id << " cancelled\n";
      return 0;
    case CancelOutcome::kCancelling:
      wake_daemon(ctx);
      ctx.out << "build " << b.id << " is being cancelled (the builder will be aborted)\n";
      return 0;
    case CancelOutcome::kAlreadyFinal:
      break;
  }
  throw Error(ErrorCategory::kConflict,
              "build " + std::to_string(b.id) + " is already final (" + state_text(b.state) + ")");
}

// The stored log of a finished build, decompressed.
std::string stored_log(CommandContext& ctx, const Build& b) {
  auto file = ctx.store().find_library_file(*b.buildlog_id);
  if (!file)
    throw Error(ErrorCategory::kNotFound,
                "the log of build " + std::to_string(b.id) + " is missing");
  auto in = ctx.librarian().open(*file);
  std::string bytes((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  bool gzipped = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                 static_cast<unsigned char>(bytes[1]) == 0x8b;
  return gzipped ? gunzip_string(bytes) : bytes;
}

double parse_interval(const po::variables_map& vm) {
  const std::string text = vm["interval"].as<std::string>();
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !(seconds > 0) || seconds > 3600)
    throw Error(ErrorCategory::kUsage,
                "--interval must be a number of seconds in (0, 3600], not '" + text + "'");
  return seconds;
}

// Ctrl-C (or SIGTERM) while following: the poll loop ends between two polls.
volatile std::sig_atomic_t follow_stop = 0;
extern "C" void on_follow_signal(int) {
  follow_stop = 1;
}

// Sleeps up to `seconds`, waking early when a stop signal arrived.
void sleep_interruptibly(double seconds) {
  using Steady = std::chrono::steady_clock;
  const auto until = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                         std::chrono::duration<double>(seconds));
  for (auto now = Steady::now(); !follow_stop && now < until; now = Steady::now())
    std::this_thread::sleep_for(
        std::min<Steady::duration>(std::chrono::milliseconds(50), until - now));
}

// Printed when a followed build was dispatched again: its live log starts
// over.
constexpr std::string_view kRedispatchedMarker =
    "[… the build was dispatched again; its new log follows …]\n";

// The live log of `entry` from `offset` to its stored end (BuildStore::live_log).
std::string live_log_from(BuildStore& store, const BuildQueueEntry& entry, std::uint64_t offset) {
  std::string out;
  while (offset + out.size() < entry.live_log_size) {
    std::string chunk = store.live_log(entry.id, offset + out.size(), 1 << 20);
    if (chunk.empty()) break;
    out += chunk;
  }
  return out;
}

// build log --follow. When the slave reads its log from an offset, the
// master keeps the whole log in the store as it grows (the live log): it is
// printed byte for byte, then finished from the stored log. Otherwise (an
// unmodified launchpad-buildd) the master stores only the slave's log tail,
// so the log is followed from the tails stored each scan, merged by
// LogFollower, then finished from the stored log.
int follow_log(CommandContext& ctx, Id build_id, double interval) {
  struct sigaction action {};
  action.sa_handler = on_follow_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &action, nullptr);
  BuildStore& store = ctx.store();
  LogFollower follower;
  // The live log printed so far, and the dispatch attempt it belongs to;
  // empty while following tails.
  std::string live_printed;
  int live_attempt = 0;
  while (!follow_stop) {
    std::optional<Build> b;
    std::optional<BuildQueueEntry> entry;
    try {
      b = store.find_build(build_id);
      if (b && !is_final(b->state)) entry = store.queue_entry_for_build(build_id);
    } catch (const Error& e) {
      // A database restart while following: try again at the next poll.
      if (!e.retryable()) throw;
      sleep_interruptibly(interval);
      continue;
    }
    if (!b) throw Error(ErrorCategory::kNotFound, "build " + std::to_string(build_id) + " is gone");
    if (is_final(b->state)) {
      if (!b->buildlog_id) {
        ctx.out.flush();
        ctx.err << "build " << build_id << " finished (" << state_text(b->state)
                << ") without a log\n";
        return 0;
      }
      const std::string log = stored_log(ctx, *b);
      if (live_attempt != 0) {
        if (log.compare(0, live_printed.size(), live_printed) == 0)
          ctx.out << std::string_view(log).substr(live_printed.size());
        else
          ctx.out << kRestartMarker << log;
        ctx.out.flush();
        return 0;
      }
      // The tails were stored decoded (valid UTF-8, no NULs): the printed
      // lines are looked for in the log decoded the same way. A log of which
      // nothing was printed is printed as it is, as plain `build log` does.
      ctx.out << (follower.printed_bytes() == 0 ? log : follower.finish(decode_logtail(log)));
      ctx.out.flush();
      return 0;
    }
    if (entry && live_attempt == 0 && follower.printed_bytes() == 0 && entry->live_log_size > 0)
      live_attempt = entry->attempt;
    if (entry && live_attempt != 0) {
      if (entry->attempt != live_attempt) {
        ctx.out << kRedispatchedMarker;
        live_printed.clear();
        live_attempt = entry->attempt;
      }
      const std::string more = live_log_from(store, *entry, live_printed.size());
      live_printed += more;
      ctx.out << more;
      ctx.out.flush();
    } else if (entry && entry->logtail != kAbortingLogTail) {
      // While cancelling, the master stores a fixed text instead of a tail.
      ctx.out << follower.next(entry->logtail);
      ctx.out.flush();
    }
    sleep_interruptibly(interval);
  }
  ctx.out.flush();
  return 130;  // 128 + SIGINT, as a shell reports a command it interrupted
}

int build_log(CommandContext& ctx, const po::variables_map& vm) {
  BuildStore& store = ctx.store();
  Build b = require_build(store, vm["id"].as<std::string>());
  if (vm.count("follow")) return follow_log(ctx, b.id, parse_interval(vm));
  if (!b.buildlog_id) {
    // A running build has no stored log yet: its live log, when the slave
    // reads its log from an offset, else its latest tail is what there is.
    auto entry = store.queue_entry_for_build(b.id);
    if (entry && entry->live_log_size > 0) {
      ctx.out << live_log_from(store, *entry, 0);
      return 0;
    }
    if (entry && !entry->logtail.empty()) {
      ctx.out << entry->logtail;
      if (entry->logtail.back() != '\n') ctx.out << '\n';
      return 0;
    }
    throw Error(ErrorCategory::kNotFound, "build " + std::to_string(b.id) + " has no log");
  }
  ctx.out << stored_log(ctx, b);
  return 0;
}

// ---- queue ------------------------------------------------------------------------------

int queue_list(CommandContext& ctx, const po::variables_map& vm) {
  const json doc =
      api::queue_document(ctx.store(), *ctx.scheduler(), Clock::now(), parse_limit(vm));
  if (output_format(vm) == OutputFormat::kJson) return print_json(ctx, doc);
  for (const auto& f : doc["stalled_families"])
    ctx.out << "warning: family " << cell(f["family"]) << " has " << cell(f["queued"])
            << " queued builds that cannot be dispatched: " << cell(f["reason"]) << "\n";
  // Running first (they are being dispatched or built), then the waiting ones
  // in the order the next cycles will dispatch them, with why each waits.
  std::vector<std::vector<std::string>> rows;
  for (const auto& q : doc["running"])
    rows.push_back({cell(q["queue_id"]), cell(q["build_id"]), cell(q["source_name"]),
                    cell(q["source_version"]), cell(q["arch_release"]), cell(q["family"]),
                    cell(q["archive"]), cell(q["score"]), cell(q["builder"]),
                    cell(q["state_title"]), "-", "-"});
  for (const auto& q : doc["waiting"])
    rows.push_back({cell(q["queue_id"]), cell(q["build_id"]), cell(q["source_name"]),
                    cell(q["source_version"]), cell(q["arch_release"]), cell(q["family"]),
                    cell(q["archive"]),
                    cell(q["score"]) + (q["score_pinned"].get<bool>() ? " (pinned)" : ""), "-",
                    cell(q["state_title"]), cell(q["explain"]), cell(q["reason"])});
  print_table(ctx.out,
              {"QUEUE", "BUILD", "SOURCE", "VERSION", "ARCHRELEASE", "FAMILY", "ARCHIVE", "SCORE",
               "BUILDER", "STATE", "WHY HERE", "WHY IT WAITS"},
              rows);
  return 0;
}

// ---- declarations ---------------------------------------------------------------------

using Declare = std::function<void(po::options_description&, po::positional_options_description&)>;

Declare positionals(std::vector<std::string> names,
                    std::function<void(po::options_description&)> more = nullptr) {
  return [names, more](po::options_description& o, po::positional_options_description& p) {
    for (const auto& n : names) {
      o.add_options()(n.c_str(), po::value<std::string>()->required(), "");
      p.add(n.c_str(), 1);
    }
    if (more) more(o);
  };
}

}  // namespace

void add_admin_commands(std::vector<Command>& t) {
  t.push_back(
      {{"db", "upgrade"}, "", "apply the missing database schema migrations", nullptr, db_upgrade});
  t.push_back({{"family", "add"},
               "NAME --processors P1,P2…",
               "add a processor family and its processors",
               positionals({"name"},
                           [](po::options_description& o) {
                             o.add_options()("processors", po::value<std::string>()->required(),
                                             "comma-separated processor names");
                           }),
               family_add});
  t.push_back({{"family", "list"},
               "[--format json]",
               "list the processor families, their processors, builders and arch releases",
               [](po::options_description& o, po::positional_options_description&) {
                 add_format_option(o);
               },
               family_list});
  t.push_back({{"archrelease", "add"},
               "DISTRO/RELEASE/ARCH --family NAME [--chroot FILE]",
               "add an arch release built by a processor family",
               positionals({"archrelease"},
                           [](po::options_description& o) {
                             o.add_options()("family", po::value<std::string>()->required(),
                                             "processor family")("chroot", po::value<std::string>(),
                                                                 "chroot tarball to store");
                           }),
               archrelease_add});
  t.push_back({{"archrelease", "set-chroot"},
               "DISTRO/RELEASE/ARCH FILE",
               "store FILE as the arch release's chroot",
               positionals({"archrelease", "file"}),
               archrelease_set_chroot});
  t.push_back({{"archrelease", "list"},
               "[--format json]",
               "list the arch releases",
               [](po::options_description& o, po::positional_options_description&) {
                 add_format_option(o);
               },
               archrelease_list});
  t.push_back({{"builder", "add"},
               "NAME URL --processor P [--manual] [--virtualized]",
               "add a builder (a slave); URL is http://host:8221/ for launchpad-buildd, or "
               "what another configured slave transport takes (local://<slot>/…)",
               positionals({"name", "url"},
                           [](po::options_description& o) {
                             o.add_options()("processor", po::value<std::string>()->required(),
                                             "processor name")(
                                 "manual", "collect results only, never dispatch to it")(
                                 "virtualized", "the builder is a virtual machine");
                           }),
               builder_add});
  t.push_back({{"builder", "list"},
               "[--format json]",
               "list the builders",
               [](po::options_description& o, po::positional_options_description&) {
                 add_format_option(o);
               },
               builder_list});
  t.push_back({{"builder", "show"},
               "NAME [--format json]",
               "show one builder and its job",
               positionals({"name"}, add_format_option),
               builder_show});
  t.push_back({{"builder", "clean"},
               "NAME",
               "clean a slave left WAITING or ABORTED with no job of this farm",
               positionals({"name"}),
               builder_clean});
  t.push_back({{"builder", "abort"},
               "NAME",
               "abort a slave BUILDING something this farm did not send (the daemon cleans it "
               "once it stops)",
               positionals({"name"}),
               builder_abort});
  t.push_back({{"builder", "set-url"},
               "NAME URL",
               "move a builder to another slave address (the daemon reconnects and probes it)",
               positionals({"name", "url"}),
               builder_set_url});
  t.push_back({{"builder", "remove"},
               "NAME",
               "take a builder out of the farm (refused while it builds; its builds keep its "
               "name; `builder add NAME` brings it back)",
               positionals({"name"}),
               builder_remove});
  t.push_back({{"builder", "enable"},
               "NAME",
               "mark a builder OK (zeroes its failure count)",
               positionals({"name"}),
               builder_enable});
  t.push_back({{"builder", "disable"},
               "NAME --reason TEXT",
               "take a builder out of dispatch",
               positionals({"name"},
                           [](po::options_description& o) {
                             o.add_options()("reason", po::value<std::string>()->required(),
                                             "why (shown as failnotes)");
                           }),
               builder_disable});
  t.push_back({{"build", "add"},
               "SOURCE VERSION --archrelease D/R/A --file PATH… [--component C] [--pocket P] "
               "[--urgency U] [--archive A] [--score N] [--force]",
               "queue a build of a source package; prints the new build id (refused while the "
               "same version is queued, building or built for that arch release, unless --force)",
               positionals({"source", "version"},
                           [](po::options_description& o) {
                             o.add_options()("archrelease", po::value<std::string>()->required(),
                                             "DISTRO/RELEASE/ARCH")(
                                 "file", po::value<std::vector<std::string>>()->multitoken(),
                                 "source files (.dsc, tarballs)")(
                                 "component", po::value<std::string>()->default_value("main"), "")(
                                 "pocket", po::value<std::string>()->default_value("release"), "")(
                                 "urgency", po::value<std::string>()->default_value("medium"), "")(
                                 "archive", po::value<std::string>()->default_value("primary"),
                                 "who asks for it (a fair-share scheduler shares the builders "
                                 "between archives)")("score", po::value<int>(),
                                                      "pin the queue score")(
                                 "force", "queue it even if the same version is active or built");
                           }),
               build_add});
  t.push_back({{"build", "list"},
               "[--state NAME] [--source NAME] [--offset N] [--limit N] [--format json]",
               "list builds, newest first",
               [](po::options_description& o, po::positional_options_description&) {
                 o.add_options()("state", po::value<std::string>(),
                                 "only builds in this state (name, title or number)")(
                     "source", po::value<std::string>(), "only builds of this source package")(
                     "offset", po::value<std::string>()->default_value("0"), "skip the N newest")(
                     "limit", po::value<std::string>()->default_value("0"), "at most N (0: all)");
                 add_format_option(o);
               },
               build_list});
  t.push_back({{"build", "show"},
               "ID [--format json]",
               "show one build, its files and its log URL",
               positionals({"id"}, add_format_option),
               build_show});
  t.push_back({{"build", "rescore"},
               "ID SCORE",
               "set a waiting build's queue score (pinned: scoring leaves it)",
               positionals({"id", "score"}),
               build_rescore});
  t.push_back({{"build", "retry"},
               "ID",
               "queue a failed or cancelled build again",
               positionals({"id"}),
               build_retry});
  t.push_back({{"build", "cancel"},
               "ID",
               "cancel a waiting or running build",
               positionals({"id"}),
               build_cancel});
  t.push_back({{"build", "log"},
               "ID [--follow [--interval SECONDS]]",
               "print a build's log (a running build's log so far when its slave reads its log "
               "from an offset, else its latest tail); --follow prints it as it grows until the "
               "build ends",
               positionals({"id"},
                           [](po::options_description& o) {
                             o.add_options()("follow",
                                             "print new lines as the build runs, then the rest "
                                             "of the stored log; Ctrl-C stops (exit 130)")(
                                 "interval", po::value<std::string>()->default_value("2"),
                                 "seconds between two polls of the database");
                           }),
               build_log});
  t.push_back({{"queue", "list"},
               "[--limit N] [--format json]",
               "the queue: running entries, then waiting ones in dispatch order with why each "
               "waits",
               [](po::options_description& o, po::positional_options_description&) {
                 o.add_options()("limit", po::value<std::string>()->default_value("0"),
                                 "at most N waiting entries (0: all)");
                 add_format_option(o);
               },
               queue_list});
}

}  // namespace buildd::cli
