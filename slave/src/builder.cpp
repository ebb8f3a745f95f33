#include "builder.hpp"

#include <utility>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <vector>

#include "buildd/digest.hpp"
#include "buildd/logging.hpp"
#include "fetch.hpp"
#include "journal.hpp"

namespace buildd::slave {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kModernBuilderTypes = {"binarypackage",
                                                      "sourcepackagerecipe",
                                                      "translation-templates",
                                                      "livefs",
                                                      "snap",
                                                      "oci",
                                                      "charm",
                                                      "ci",
                                                      "rock",
                                                      "craft"};
const std::vector<std::string> k2005BuilderTypes = {"debian"};

// Python's repr of a list of strings, as in "x not in ['a', 'b']".
std::string python_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += "'" + items[i] + "'";
  }
  return out + "]";
}

// The layout of the real slave's UNKNOWNSUM text (a Python triple-quoted
// string, indentation included).
std::string unknown_sum_text(const std::string& tag, const std::string& sha1,
                             const std::string& info) {
  return tag + " -> " + sha1 + "\n            ***** INFO *****\n            " + info +
         "\n            ****************\n            ";
}

std::string timestamp_line() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "[%a %b %d %H:%M:%S %Y]\n", &tm);
  return buffer;
}

std::string read_file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SlaveRefusal("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file_bytes(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

// Fields of a Debian control file (the .dsc): "Name: value" lines, where
// continuation lines start with a space.
std::map<std::string, std::string> parse_control(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!last.empty()) fields[last] += "\n" + line;
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    fields[name] = value;
    last = name;
  }
  return fields;
}

// The Files: section of a .changes file carries MD5 sums, which digest.hpp
// does not offer.
std::string md5_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::string strip_epoch(const std::string& version) {
  auto colon = version.find(':');
  return colon == std::string::npos ? version : version.substr(colon + 1);
}

}  // namespace

std::string wire_name(BuilderState state) {
  switch (state) {
    case BuilderState::kIdle:
      return "BuilderStatus.IDLE";
    case BuilderState::kBuilding:
      return "BuilderStatus.BUILDING";
    case BuilderState::kWaiting:
      return "BuilderStatus.WAITING";
    case BuilderState::kAborting:
      return "BuilderStatus.ABORTING";
    case BuilderState::kAborted:
      return "BuilderStatus.ABORTED";
  }
  return "BuilderStatus.IDLE";
}

std::string wire_name(BuildResult result) {
  switch (result) {
    case BuildResult::kOk:
      return "BuildStatus.OK";
    case BuildResult::kPackageFail:
      return "BuildStatus.PACKAGEFAIL";
    case BuildResult::kDepFail:
      return "BuildStatus.DEPFAIL";
    case BuildResult::kGivenBack:
      return "BuildStatus.GIVENBACK";
    case BuildResult::kChrootFail:
      return "BuildStatus.CHROOTFAIL";
    case BuildResult::kBuilderFail:
      return "BuildStatus.BUILDERFAIL";
    case BuildResult::kAborted:
      return "BuildStatus.ABORTED";
  }
  return "BuildStatus.OK";
}

std::optional<BuildResult> parse_build_result(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "ok") return BuildResult::kOk;
  if (t == "packagefail") return BuildResult::kPackageFail;
  if (t == "depfail" || t == "depwait") return BuildResult::kDepFail;
  if (t == "givenback") return BuildResult::kGivenBack;
  if (t == "chrootfail") return BuildResult::kChrootFail;
  if (t == "builderfail") return BuildResult::kBuilderFail;
  if (t == "aborted") return BuildResult::kAborted;
  return std::nullopt;
}

// What the fake build will do, decided from the .dsc when build() accepts.
struct Builder::Plan {
  std::string build_id;
  std::string source = "unknown";
  std::string version = "0";
  std::string arch;
  std::string series;
  std::string suite;
  std::string dsc_name;
  std::string chroot_sha1;
  std::string build_url;
  BuildResult outcome = BuildResult::kOk;
  std::chrono::duration<double> duration{0.2};
  std::string depends;
  int compile_lines = 8;     // the build step's compiler lines (Log-Lines)
  bool abort_hangs = false;  // the build process survives the scan: ABORTING forever
  bool endless = false;      // never finishes by itself (start-state building)
  bool forget = false;       // dropped before build() answers (forget-job)
  bool restart = false;      // cut off half-way, leaving its build directory (restart-mid-build)
  std::uint64_t generation = 0;
  // Set once the first log lines are written: the real slave logs its first
  // RUN: line before build() returns.
  std::shared_ptr<std::promise<void>> started;
};

Builder::Builder(BuilderOptions options) : options_(std::move(options)) {
  fs::create_directories(options_.cache_dir);
}

Builder::~Builder() {
  shutdown();
}

void Builder::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  join_worker();
}

void Builder::join_worker() {
  if (worker_.joinable()) worker_.join();
}

std::vector<std::string> Builder::builder_types() const {
  return options_.protocol == Protocol::k2005 ? k2005BuilderTypes : kModernBuilderTypes;
}

bool Builder::in_cache(const std::string& sha1) const {
  return is_sha1_hex(sha1) && fs::exists(options_.cache_dir / sha1);
}

std::optional<fs::path> Builder::cache_file(const std::string& name) const {
  if (name != "buildlog" && !is_sha1_hex(name)) return std::nullopt;
  fs::path path = options_.cache_dir / name;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  return path;
}

std::string Builder::store_in_cache(const std::string& content) {
  std::string sha1 = sha1_hex(content);
  write_file_bytes(options_.cache_dir / sha1, content);
  return sha1;
}

void Builder::append_log(const std::string& text) {
  std::lock_guard lock(log_mu_);
  std::ofstream out(log_path(), std::ios::binary | std::ios::app);
  out << text;
  log_size_ += text.size();
  log_tail_ += text;
  if (log_tail_.size() > kLogtailBytes) log_tail_.erase(0, log_tail_.size() - kLogtailBytes);
}

void Builder::restart_log(const std::string& text) {
  write_file_bytes(log_path(), text);
  log_size_ = text.size();
  log_tail_ = text.substr(text.size() - std::min(text.size(), kLogtailBytes));
}

void Builder::remove_log() {
  std::error_code ec;
  fs::remove(log_path(), ec);
  log_size_ = 0;
  log_tail_.clear();
}

LogChunk Builder::read_log(std::uint64_t offset, std::size_t max_bytes) {
  std::lock_guard lock(log_mu_);
  LogChunk chunk;
  std::ifstream in(log_path(), std::ios::binary | std::ios::ate);
  if (!in) return chunk;  // no build has logged anything yet
  chunk.log_size = static_cast<std::uint64_t>(in.tellg());
  if (offset >= chunk.log_size) return chunk;
  chunk.bytes.resize(
      static_cast<std::size_t>(std::min<std::uint64_t>(max_bytes, chunk.log_size - offset)));
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(chunk.bytes.data(), static_cast<std::streamsize>(chunk.bytes.size()));
  chunk.bytes.resize(static_cast<std::size_t>(in.gcount()));
  return chunk;
}

StatusSnapshot Builder::status() {
  std::lock_guard lock(mu_);
  StatusSnapshot snapshot;
  snapshot.state = state_;
  snapshot.result = result_;
  snapshot.build_id = build_id_;
  snapshot.filemap = result_files_;
  snapshot.dependencies = dependencies_;
  if (state_ == BuilderState::kBuilding) {
    std::lock_guard log_lock(log_mu_);
    snapshot.logtail = log_tail_;
    snapshot.log_size = log_size_;
  }
  // Ended here rather than by the build thread, so that exactly N calls
  // answer ABORTING and the next one WAITING, however the threads run.
  if (state_ == BuilderState::kAborting && options_.abort_polls && abort_can_end_ &&
      ++aborting_polls_ >= *options_.abort_polls) {
    publish_aborted();
    cv_.notify_all();
  }
  return snapshot;
}

EnsureResult Builder::ensure_present(const std::string& sha1, const std::optional<std::string>& url,
                                     const std::string& username, const std::string& password) {
  // The real slave would use any string as a file name; refusing what is not
  // a sha1 keeps a hostile master out of the rest of the file system.
  if (!is_sha1_hex(sha1)) throw SlaveRefusal("not a sha1: " + sha1);
  if (!url) return {in_cache(sha1), "No URL"};
  if (in_cache(sha1)) return {true, "Cache"};
  if (url->empty()) return {false, "Error accessing Librarian: unknown url type: ''"};
  {
    std::lock_guard lock(mu_);
    if (state_ != BuilderState::kIdle) append_log("Fetching " + sha1 + " by url " + *url + "\n");
  }
  fs::path tmp = options_.cache_dir / (sha1 + ".tmp");
  FetchResult fetched = fetch_to_file(*url, username, password, tmp);
  std::error_code ec;
  if (!fetched.ok) {
    fs::remove(tmp, ec);
    return {false, "Error accessing Librarian: " + fetched.error};
  }
  if (digest_file(tmp).sha1 != sha1) {
    fs::remove(tmp, ec);
    return {false, "Digests did not match, removing again!"};
  }
  fs::rename(tmp, options_.cache_dir / sha1);
  return {true, "Download"};
}

BuildReply Builder::build(const std::string& build_id, const std::string& builder_type,
                          const std::string& chroot_sha1,
                          const std::map<std::string, std::string>& filemap,
                          const BuildArgs& args) {
  const bool modern = options_.protocol == Protocol::kModern;
  auto types = builder_types();
  if (std::find(types.begin(), types.end(), builder_type) == types.end()) {
    return {"BuilderStatus.UNKNOWNBUILDER", builder_type + " not in " + python_list(types)};
  }
  if (!in_cache(chroot_sha1)) {
    return {"BuilderStatus.UNKNOWNSUM",
            modern ? unknown_sum_text("CHROOTSUM", chroot_sha1, "No URL") : chroot_sha1};
  }
  for (const auto& [name, sha1] : filemap) {
    if (!in_cache(sha1)) {
      return {"BuilderStatus.UNKNOWNSUM",
              modern ? unknown_sum_text("FILESUM", sha1, "No URL") : sha1};
    }
  }
  if (build_id.empty()) throw SlaveRefusal("empty build id");

  std::lock_guard worker_lock(worker_mu_);
  {
    std::lock_guard lock(mu_);
    // Faithful to launchpad-buildd: the new id and the truncated log take
    // effect before the state check refuses a busy builder (protocol.md §3
    // hazards), so a master that does not check status() first loses track
    // of its running build.
    build_id_ = build_id;
    {
      std::lock_guard log_lock(log_mu_);
      restart_log("");
    }
    if (state_ != BuilderState::kIdle) {
      throw SlaveRefusal("builder is " + wire_name(state_) + ", not IDLE");
    }
    state_ = BuilderState::kBuilding;
    result_ = BuildResult::kOk;
    result_files_.clear();
    dependencies_.clear();
    abort_requested_ = false;
    abort_can_end_ = false;
    ++generation_;
  }
  // The previous build's thread has already published WAITING (or the
  // builder's restart) and returns.
  join_worker();

  // From here on a failure leaves the builder BUILDING with nothing behind
  // it, as the real manager's start-up does: only a restart recovers.
  Plan plan;
  {
    std::lock_guard lock(mu_);
    // The real manager cannot create $HOME/build-<id> over the directory a
    // killed attempt left behind.
    if (leftovers_.count(build_id)) {
      throw SlaveRefusal("build-" + build_id + " is left over from an interrupted build");
    }
    plan.generation = generation_;
  }
  plan.build_id = build_id;
  plan.chroot_sha1 = chroot_sha1;
  plan.arch = options_.arch;
  auto string_arg = [&](const std::string& key) -> std::string {
    auto it = args.strings.find(key);
    return it == args.strings.end() ? std::string() : it->second;
  };
  std::vector<std::string> required = {"ogrecomponent"};
  if (modern) required = {"series", "suite", "ogrecomponent"};
  for (const auto& key : required) {
    if (!args.keys.count(key)) throw SlaveRefusal("missing build argument " + key);
  }
  if (!string_arg("arch_tag").empty()) plan.arch = string_arg("arch_tag");
  plan.series = string_arg("series");
  plan.suite = string_arg("suite");
  plan.build_url = string_arg("build_url");
  std::string dsc_sha1;
  for (const auto& [name, sha1] : filemap) {
    if (name.size() > 4 && name.ends_with(".dsc")) {
      plan.dsc_name = name;
      dsc_sha1 = sha1;
    }
  }
  if (dsc_sha1.empty()) throw SlaveRefusal("no .dsc in the filemap");
  auto fields = parse_control(read_file_bytes(options_.cache_dir / dsc_sha1));
  auto field = [&](const std::string& key) {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
  };
  if (!field("source").empty()) plan.source = field("source");
  if (!field("version").empty()) plan.version = field("version");
  if (!field("outcome").empty()) {
    auto outcome = parse_build_result(field("outcome"));
    if (!outcome || *outcome == BuildResult::kAborted) {
      throw SlaveRefusal("unknown Outcome in the .dsc: " + field("outcome"));
    }
    plan.outcome = *outcome;
  }
  if (!field("duration").empty())
    plan.duration = std::chrono::duration<double>(std::stod(field("duration")));
  plan.depends = field("depends");
  if (!field("log-lines").empty()) {
    const std::string text = field("log-lines");
    int lines = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), lines);
    if (ec != std::errc() || end != text.data() + text.size() || lines < 1 || lines > 1000000)
      throw SlaveRefusal("Log-Lines in the .dsc must be 1 to 1000000: " + field("log-lines"));
    plan.compile_lines = lines;
  }
  plan.abort_hangs = field("abort") == "hang";
  if (std::exchange(options_.builderfail_once, false)) plan.outcome = BuildResult::kBuilderFail;
  if (options_.forget_jobs > 0) {
    --options_.forget_jobs;
    plan.forget = true;
  } else if (options_.restart_builds > 0) {
    --options_.restart_builds;
    plan.restart = true;
  }
  // A forgotten build is gone before build() answers, so the first status()
  // after the answer already says IDLE; it needs no build thread at all.
  // (Unless a concurrent abort() came first: then it runs and is aborted.)
  if (plan.forget && come_back_restarted(plan, false)) return {"BuilderStatus.BUILDING", build_id};
  {
    std::lock_guard lock(mu_);
    abort_can_end_ = !plan.abort_hangs;
  }

  plan.started = std::make_shared<std::promise<void>>();
  auto started = plan.started->get_future();
  worker_ = std::thread(&Builder::run_build, this, std::move(plan));
  started.wait_for(std::chrono::seconds(5));
  return {"BuilderStatus.BUILDING", build_id};
}

bool Builder::wait_interrupted(std::chrono::duration<double> d) {
  std::unique_lock lock(mu_);
  if (d.count() <= 0) return abort_requested_ || stopping_;  // no timed wait for nothing
  return cv_.wait_for(lock, d, [&] { return abort_requested_ || stopping_; });
}

void Builder::run_build(Plan plan) {
  const std::string& id = plan.build_id;
  const std::string series_arch =
      "--backend=chroot --series=" + plan.series + " --arch=" + plan.arch + " " + id;
  struct Step {
    double weight;
    std::string text;
  };
  std::vector<Step> steps;
  auto run = [&](double weight, const std::string& command, const std::string& output) {
    steps.push_back({weight, "RUN: /usr/share/launchpad-buildd/bin/" + command + "\n" + output});
  };
  const BuildResult outcome = plan.outcome;
  bool failed_early = false;

  std::string first;
  if (!plan.build_url.empty()) first = plan.build_url + "\n";
  run(0.05, "builder-prep ",
      first + "Kernel version: Linux builder 6.1.0-28-" + plan.arch +
          " #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 x86_64\n"
          "Buildd toolchain package versions: launchpad-buildd_254 python3-lpbuildd_254 "
          "sbuild_0.85.0 git_1:2.39.5-0+deb12u3 dpkg-dev_1.21.22.\n" +
          (outcome == BuildResult::kBuilderFail ? "builder-prep: cannot determine the toolchain\n"
                                                : ""));
  if (outcome == BuildResult::kBuilderFail) failed_early = true;
  if (!failed_early) {
    run(0.10,
        "in-target unpack-chroot " + series_arch + " --image-type chroot /home/buildd/filecache/" +
            plan.chroot_sha1,
        "Creating target for build " + id + "\n" +
            (outcome == BuildResult::kChrootFail
                 ? "tar: This does not look like a tar archive\ntar: Exiting with failure status "
                   "due to previous errors\n"
                 : ""));
    if (outcome == BuildResult::kChrootFail) failed_early = true;
  }
  if (!failed_early) {
    run(0.05, "in-target mount-chroot " + series_arch, "Starting target for build " + id + "\n");
    run(0.15, "in-target update-debian-chroot " + series_arch,
        "Updating target for build " + id + "\nGet:1 http://ftpmaster.internal/ubuntu " +
            plan.series +
            " InRelease [255 kB]\nReading package lists...\nCalculating upgrade...\n"
            "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n");
    const std::string pkg = plan.source + "_" + strip_epoch(plan.version);
    run(0.05,
        "sbuild-package " + id + " " + plan.arch + " " + plan.suite + " -c chroot:build-" + id +
            " --arch=" + plan.arch + " --dist=" + plan.suite + " --nolog -A " + plan.dsc_name,
        "Initiating build " + id +
            " with 2 jobs across 2 processor cores.\n"
            "sbuild (Debian sbuild) 0.85.0 (04 January 2023) on builder\n\n"
            "+==============================================================================+\n"
            "| " +
            pkg + " (" + plan.arch +
            ")\n"
            "+==============================================================================+\n\n"
            "Package: " +
            plan.source + "\nVersion: " + plan.version + "\nSource Version: " + plan.version +
            "\nDistribution: " + plan.suite + "\nArchitecture: " + plan.arch + "\n\n");
    steps.push_back(
        {0.10,
         "+------------------------------------------------------------------------------+\n"
         "| Install package build dependencies                                           |\n"
         "+------------------------------------------------------------------------------+\n\n"});
    if (outcome == BuildResult::kDepFail) {
      steps.push_back({0.05, "E: Unable to satisfy dependencies: " + plan.depends +
                                 "\nsbuild-build-depends-main-dummy : Depends: " + plan.depends +
                                 " but it is not installable\n"});
    } else if (outcome == BuildResult::kGivenBack) {
      steps.push_back({0.05,
                       "E: Failed to fetch http://ftpmaster.internal/ubuntu/pool/main/"
                       "Hash Sum mismatch\n"});
    } else {
      steps.push_back(
          {0.05,
           "Setting up build-essential (12.9) ...\n\n"
           "+------------------------------------------------------------------------------+\n"
           "| Build                                                                        |\n"
           "+------------------------------------------------------------------------------+\n\n"});
      const int lines = plan.compile_lines;
      for (int i = 1; i <= lines; ++i) {
        steps.push_back({0.40 / lines, "[" + std::to_string(i * 96 / lines) +
                                           "%] Building CXX object src/CMakeFiles/" + plan.source +
                                           ".dir/part" + std::to_string(i) + ".cpp.o\n"});
      }
      if (outcome == BuildResult::kPackageFail) {
        steps.push_back({0.02,
                         "make[1]: *** [debian/rules:12: override_dh_auto_build] Error 2\n"
                         "dpkg-buildpackage: error: debian/rules binary subprocess returned "
                         "exit status 2\n"});
      } else {
        steps.push_back({0.02, "dpkg-deb: building package '" + plan.source + "' in '../" + pkg +
                                   "_" + plan.arch +
                                   ".deb'.\n"
                                   "dpkg-genchanges --build=any,all >../" +
                                   pkg + "_" + plan.arch + ".changes\n"});
      }
    }
    std::string status_word = outcome == BuildResult::kOk            ? "successful"
                              : outcome == BuildResult::kPackageFail ? "attempted"
                                                                     : "given-back";
    std::string stage = outcome == BuildResult::kOk            ? ""
                        : outcome == BuildResult::kPackageFail ? "Fail-Stage: build\n"
                                                               : "Fail-Stage: install-deps\n";
    steps.push_back({0.02, "Build finished at " + timestamp_line().substr(1, 24) +
                               "\n\nStatus: " + status_word + "\n" + stage});
  }
  run(0.02, "in-target scan-for-processes " + series_arch,
      "Scanning for processes to kill in build " + id + "\n");
  run(0.02, "in-target umount-chroot " + series_arch, "Stopping target for build " + id + "\n");
  run(0.02, "in-target remove-build " + series_arch, "Removing build " + id + "\n");

  double total = 0;
  for (const auto& step : steps) total += step.weight;
  // restart-mid-build strikes when half the duration has passed: by then
  // the log holds the first steps, as a real build killed half-way would.
  const double restart_at = total / 2;
  double done = 0;
  // Steps that follow each other with no time between them reach the log in
  // one write: a zero-length build (the benchmark's) is then two writes, not
  // one file open per step.
  std::string unwritten;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    if (step.text.starts_with("RUN: ")) unwritten += timestamp_line();
    unwritten += step.text;
    const auto wait = plan.duration * (step.weight / total);
    const bool restarts_here = plan.restart && done + step.weight >= restart_at;
    if (plan.started || restarts_here || wait.count() > 0 || i + 1 == steps.size()) {
      append_log(unwritten);
      unwritten.clear();
    }
    if (plan.started) {
      plan.started->set_value();
      plan.started.reset();
    }
    if (restarts_here) {
      if (wait_interrupted(plan.duration * ((restart_at - done) / total))) break;
      if (come_back_restarted(plan, true)) return;
      break;
    }
    done += step.weight;
    if (wait_interrupted(wait)) {
      if (!unwritten.empty()) append_log(unwritten);
      break;
    }
  }
  {
    std::unique_lock lock(mu_);
    if (stopping_ || plan.generation != generation_) return;
    if (abort_requested_) {
      lock.unlock();
      finish_aborted(plan);
      return;
    }
  }

  std::map<std::string, std::string> files;
  if (outcome == BuildResult::kOk) {
    const std::string stem = plan.source + "_" + strip_epoch(plan.version) + "_" + plan.arch;
    const std::string deb_name = stem + ".deb";
    const std::string deb =
        "!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"
        "Package: " +
        plan.source + "\nVersion: " + plan.version + "\nArchitecture: " + plan.arch +
        "\nBuilt-By: buildd-slave\n";
    const std::string changes =
        "Format: 1.8\nSource: " + plan.source + "\nBinary: " + plan.source +
        "\nArchitecture: " + plan.arch + "\nVersion: " + plan.version +
        "\nDistribution: " + plan.suite +
        "\nUrgency: medium\nMaintainer: buildd-slave\n"
        "Changed-By: buildd-slave\nDescription:\n " +
        plan.source +
        " - simulated package\n"
        "Changes:\n " +
        plan.source + " (" + plan.version + ") " + plan.suite +
        "; urgency=medium\n .\n   * Simulated build.\nChecksums-Sha1:\n " + sha1_hex(deb) + " " +
        std::to_string(deb.size()) + " " + deb_name + "\nChecksums-Sha256:\n " + sha256_hex(deb) +
        " " + std::to_string(deb.size()) + " " + deb_name + "\nFiles:\n " + md5_hex(deb) + " " +
        std::to_string(deb.size()) + " devel optional " + deb_name + "\n";
    files[stem + ".changes"] = store_in_cache(changes);
    files[deb_name] = store_in_cache(deb);
  }
  std::unique_lock lock(mu_);
  if (stopping_ || plan.generation != generation_) return;
  if (abort_requested_) {
    // abort() arrived while the results were written: the abort wins.
    lock.unlock();
    finish_aborted(plan);
    return;
  }
  state_ = BuilderState::kWaiting;
  result_ = outcome;
  result_files_ = std::move(files);
  dependencies_ = outcome == BuildResult::kDepFail ? plan.depends : "";
  record_in_journal();
}

void Builder::finish_aborted(const Plan& plan) {
  std::unique_lock lock(mu_);
  // With abort_polls, status() may have ended this abort already, and the
  // master cleaned and started another build since.
  if (plan.generation != generation_ || state_ != BuilderState::kAborting) return;
  append_log(timestamp_line() +
             "RUN: /usr/share/launchpad-buildd/bin/in-target scan-for-processes "
             "--backend=chroot --series=" +
             plan.series + " --arch=" + plan.arch + " " + plan.build_id +
             "\nScanning for processes to kill in build " + plan.build_id + "\n");
  if (plan.abort_hangs) {
    // The build process survives the scan: ABORTING until the slave stops.
    cv_.wait(lock, [&] { return stopping_; });
    return;
  }
  if (options_.abort_polls) {
    // status() ends it; wait only so that the thread outlives the abort.
    cv_.wait(lock, [&] {
      return stopping_ || plan.generation != generation_ || state_ != BuilderState::kAborting;
    });
    return;
  }
  if (cv_.wait_for(lock, options_.abort_delay, [&] { return stopping_; })) return;
  publish_aborted();
}

void Builder::publish_aborted() {
  state_ = options_.protocol == Protocol::k2005 ? BuilderState::kAborted : BuilderState::kWaiting;
  result_ = BuildResult::kAborted;
  result_files_.clear();
  dependencies_.clear();
  record_in_journal();
}

void Builder::record_in_journal() {
  if (options_.journal) options_.journal->record(options_.index, build_id_, wire_name(result_));
}

bool Builder::come_back_restarted(const Plan& plan, bool keep_leftovers) {
  std::lock_guard lock(mu_);
  if (stopping_ || abort_requested_ || plan.generation != generation_) return false;
  if (keep_leftovers) {
    // The killed attempt's log stays in the cache as well, as the real
    // slave's file would; only the build directory matters for the wedge.
    leftovers_.insert(plan.build_id);
  } else {
    std::lock_guard log_lock(log_mu_);
    remove_log();
  }
  state_ = BuilderState::kIdle;
  result_ = BuildResult::kOk;
  build_id_.clear();
  result_files_.clear();
  dependencies_.clear();
  abort_can_end_ = false;
  return true;
}

std::string Builder::abort() {
  std::lock_guard lock(mu_);
  if (state_ == BuilderState::kAborting) return "BuilderStatus.ABORTING";
  if (state_ != BuilderState::kBuilding) {
    throw SlaveRefusal("abort while " + wire_name(state_));
  }
  state_ = BuilderState::kAborting;
  abort_requested_ = true;
  aborting_polls_ = 0;
  if (options_.abort_polls && *options_.abort_polls == 0 && abort_can_end_) publish_aborted();
  cv_.notify_all();
  return "BuilderStatus.ABORTING";
}

std::string Builder::clean() {
  std::lock_guard lock(mu_);
  bool allowed = state_ == BuilderState::kWaiting ||
                 (state_ == BuilderState::kAborted && options_.protocol == Protocol::k2005);
  if (!allowed) throw SlaveRefusal("clean while " + wire_name(state_));
  std::error_code ec;
  for (const auto& [name, sha1] : result_files_) {
    if (is_sha1_hex(sha1)) fs::remove(options_.cache_dir / sha1, ec);
  }
  {
    std::lock_guard log_lock(log_mu_);
    remove_log();
  }
  state_ = BuilderState::kIdle;
  result_ = BuildResult::kOk;
  result_files_.clear();
  dependencies_.clear();
  build_id_.clear();
  return "BuilderStatus.IDLE";
}

void Builder::start_in_state(BuilderState state, BuildResult result, const std::string& build_id) {
  std::lock_guard worker_lock(worker_mu_);
  const std::string log = timestamp_line() +
                          "RUN: /usr/share/launchpad-buildd/bin/builder-prep \n"
                          "Kernel version: Linux builder 6.1.0-28-" +
                          options_.arch +
                          " #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 x86_64\n"
                          "Building something for build " +
                          build_id + "\n";
  {
    std::lock_guard log_lock(log_mu_);
    restart_log(log);
  }
  std::map<std::string, std::string> files;
  if (state == BuilderState::kWaiting && result == BuildResult::kOk) {
    files["foo_1.0-1_" + options_.arch + ".deb"] =
        store_in_cache("simulated result of build " + build_id + "\n");
  }
  std::lock_guard lock(mu_);
  state_ = state;
  result_ = state == BuilderState::kAborted ? BuildResult::kAborted : result;
  build_id_ = build_id;
  result_files_ = std::move(files);
  dependencies_ = state == BuilderState::kWaiting && result == BuildResult::kDepFail
                      ? "libfoo-dev (>= 1.2)"
                      : "";
  abort_requested_ = state == BuilderState::kAborting;
  ++generation_;
  // A start-state ABORTING has no build behind it: it never ends.
  abort_can_end_ = state == BuilderState::kBuilding;
  if (state == BuilderState::kBuilding) {
    Plan plan;
    plan.generation = generation_;
    plan.build_id = build_id;
    plan.arch = options_.arch;
    plan.endless = true;
    plan.duration = std::chrono::duration<double>(0);
    worker_ = std::thread([this, plan]() {
      if (wait_interrupted(std::chrono::hours(24 * 365))) {
        std::unique_lock lock(mu_);
        if (stopping_) return;
        lock.unlock();
        finish_aborted(plan);
      }
    });
  }
}

}  // namespace buildd::slave
