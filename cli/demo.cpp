// buildd-master demo: the main job on the embedded default, with no set-up.
//
// A fresh SQLite database and local librarian in a working directory, N local
// slaves (the project's own buildd-slave, one process each, on loopback), two
// processor families, generated chroots and sources, a few hundred builds with
// a realistic mix of outcomes; then the master runs until the queue is
// drained, with a live progress line, and prints a summary.
#include <signal.h>
#include <unistd.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "buildd/child_process.hpp"
#include "buildd/error.hpp"
#include "buildd/logging.hpp"
#include "buildd/net.hpp"
#include "buildd/scheduler.hpp"
#include "commands_run.hpp"
#include "runtime.hpp"

namespace buildd::cli {
namespace {

constexpr const char* kMarker = ".buildd-demo";

volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) {
  g_interrupted = 1;
}

struct Family {
  std::string name;
  std::vector<std::string> processors;
  std::string arch;  // the arch release's tag and the slaves' --arch
};

const std::vector<Family> kFamilies = {{"x86", {"386", "amd64"}, "amd64"},
                                       {"arm", {"armhf", "arm64"}, "arm64"}};

const std::vector<std::string> kSources = {
    "hello",   "coreutils", "bash",      "grep",      "sed",     "gawk",     "tar",     "gzip",
    "bzip2",   "xz-utils",  "zlib",      "openssl",   "curl",    "wget",     "git",     "vim",
    "nano",    "less",      "findutils", "diffutils", "patch",   "make",     "m4",      "bison",
    "flex",    "perl",      "python3",   "ruby",      "lua5.4",  "tcl8.6",   "sqlite3", "libpng",
    "libjpeg", "libxml2",   "expat",     "pcre2",     "ncurses", "readline", "gmp",     "mpfr"};

std::filesystem::path prepare_work_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (fs::exists(dir)) {
    if (!fs::is_directory(dir))
      throw Error(ErrorCategory::kUsage, dir.string() + " exists and is not a directory");
    if (!fs::is_empty(dir) && !fs::exists(dir / kMarker))
      throw Error(ErrorCategory::kUsage,
                  dir.string() + " is not empty and was not made by the demo; pick --work-dir");
    fs::remove_all(dir);
  }
  fs::create_directories(dir / "slaves");
  std::ofstream(dir / kMarker) << "made by buildd-master demo; removed by the next demo\n";
  return fs::absolute(dir);
}

std::string write_config(const std::filesystem::path& dir, std::uint16_t http_port) {
  const auto path = dir / "buildd-master.yaml";
  std::ofstream out(path);
  out << "# Written by buildd-master demo: the embedded default (etc/embedded.yaml) in "
         "this folder.\n"
      << "master:\n"
      << "  work_dir: " << dir.string() << "\n"
      << "  scan_interval: 0.1\n"
      << "  max_in_flight: 32\n"
      << "  http_listen: 127.0.0.1:" << http_port << "\n"
      << "  log_file: " << (dir / "buildd-master.log").string() << "\n"
      << "store:\n  plugin: soci-store\n  config:\n    backend: sqlite3\n"
      << "    connection: " << (dir / "buildd.sqlite").string() << "\n"
      << "slave_transport:\n  plugin: xmlrpc-slave\n  config:\n    call_timeout: 10\n"
      << "archive:\n  plugin: file-librarian\n  config:\n    root: " << (dir / "archive").string()
      << "\n";
  return path.string();
}

// The planned outcome of one demo build, written into its .dsc for the slave.
struct Plan {
  std::string outcome = "ok";
  double duration = 0.1;
  std::string depends;
  bool cancel = false;
};

std::vector<Plan> plan_builds(std::size_t count, std::mt19937& rng) {
  std::vector<Plan> plans(count);
  std::uniform_real_distribution<double> unit(0, 1);
  for (auto& p : plans) {
    double r = unit(rng);
    p.duration = 0.05 + unit(rng) * 0.4;
    if (r < 0.07)
      p.outcome = "packagefail";
    else if (r < 0.12) {
      p.outcome = "depwait";
      p.depends = "libfoo-dev (>= 1.2)";
    } else if (r < 0.15)
      p.outcome = "chrootfail";
  }
  if (count >= 10) {
    plans[count / 3].outcome = "givenback";  // given back until the limit, then failed
    plans[count / 2].cancel = true;          // cancelled while it builds
    plans[count / 2].outcome = "ok";
    plans[count / 2].duration = 60;
  }
  return plans;
}

struct Counts {
  std::map<BuildState, std::size_t> by_state;
  std::size_t total = 0;
  std::size_t finished() const {
    std::size_t n = 0;
    for (const auto& [s, c] : by_state)
      if (is_final(s)) n += c;
    return n;
  }
};

Counts count_builds(BuildStore& store) {
  Counts c;
  for (const Build& b : store.builds(std::nullopt, 0)) {
    ++c.by_state[b.state];
    ++c.total;
  }
  return c;
}

std::string progress_line(const Counts& c, std::size_t busy, std::size_t builders, double elapsed) {
  std::ostringstream line;
  line << "builds " << c.finished() << "/" << c.total << " done";
  for (const auto& [state, count] : c.by_state) line << " | " << title(state) << " " << count;
  line << " | builders busy " << busy << "/" << builders << " | " << std::fixed
       << std::setprecision(1) << elapsed << " s";
  return line.str();
}

}  // namespace

void declare_demo_options(po::options_description& o, po::positional_options_description&) {
  o.add_options()("builders", po::value<int>()->default_value(8),
                  "local slaves to start (at least 2, one per processor family; from 3 on, one of "
                  "them breaks during its first build to show the master disabling it)")(
      "builds", po::value<int>()->default_value(300), "builds to enqueue")(
      "work-dir", po::value<std::string>()->default_value("buildd-demo"),
      "folder for the database, the librarian, the slaves and the logs (wiped when it is an "
      "earlier demo's)")("seed", po::value<unsigned>()->default_value(2005),
                         "seed of the outcome mix, for a repeatable run")(
      "timeout", po::value<double>()->default_value(600), "give up after this many seconds")(
      "serve-seconds", po::value<double>()->default_value(0),
      "keep the status pages up this many seconds after the queue drains (Ctrl-C ends it)");
}

int run_demo(CommandContext& outer, const po::variables_map& vm) {
  const int builder_count = vm["builders"].as<int>();
  const int build_count = vm["builds"].as<int>();
  if (builder_count < 2 || builder_count > 1000)
    throw Error(ErrorCategory::kUsage, "--builders must be between 2 and 1000");
  if (build_count < 1 || build_count > 100000)
    throw Error(ErrorCategory::kUsage, "--builds must be between 1 and 100000");
  const auto dir = prepare_work_dir(vm["work-dir"].as<std::string>());
  const auto slave_program =
      std::filesystem::path(boost::dll::program_location().string()).parent_path() / "buildd-slave";
  if (!std::filesystem::exists(slave_program))
    throw Error(ErrorCategory::kInternal,
                "the slave program is missing: " + slave_program.string());

  std::ostream& out = outer.out;
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  CommandContext ctx(write_config(dir, free_loopback_port()), outer.out, outer.err);
  // The demo talks on stdout; the master's own log goes to the log file.
  set_stderr_log_level("error");
  BuildStore& store = ctx.store();
  store.upgrade();
  Librarian& librarian = ctx.librarian();

  // Families, arch releases with generated chroots.
  std::mt19937 rng(vm["seed"].as<unsigned>());
  std::vector<DistroArchRelease> dars;
  for (const Family& f : kFamilies) {
    store.add_processor_family(f.name, f.processors);
    NewDistroArchRelease nd{"ubuntu", "noble", f.arch, f.name, std::nullopt, true};
    DistroArchRelease dar = store.add_distro_arch_release(nd);
    std::string chroot = "chroot for ubuntu/noble/" + f.arch + "\n";
    chroot.resize(64 * 1024, static_cast<char>('a' + dar.id));
    LibraryFile file = librarian.store_bytes(chroot, "chroot-ubuntu-noble-" + f.arch + ".tar.gz",
                                             "application/gzip");
    store.set_chroot(dar.id, file.id);
    dar.chroot_file_id = file.id;
    dars.push_back(dar);
  }

  // Slaves: one process each, on loopback, alternating families.
  out << "Starting " << builder_count << " local slaves…\n";
  std::vector<ChildProcess> slaves;
  slaves.reserve(static_cast<std::size_t>(builder_count));
  for (int i = 0; i < builder_count; ++i) {
    const Family& f = kFamilies[static_cast<std::size_t>(i) % kFamilies.size()];
    const auto slave_dir = dir / "slaves" / ("builder-" + std::to_string(i + 1));
    std::filesystem::create_directories(slave_dir / "cache");
    std::vector<std::string> args{
        "--listen", "127.0.0.1:0", "--port-file", (slave_dir / "port").string(),
        "--arch",   f.arch,        "--cache-dir", (slave_dir / "cache").string()};
    // One builder breaks during its first build: the master disables it and
    // the build goes to another builder of its family. Only when its family
    // has another: with one builder per family the demo would never drain.
    const bool family_has_another = builder_count > static_cast<int>(kFamilies.size());
    if (i == 0 && family_has_another) args.insert(args.end(), {"--fault", "builderfail"});
    slaves.emplace_back(slave_program, args, slave_dir / "slave.log");
  }
  std::vector<Builder> builders;
  for (int i = 0; i < builder_count; ++i) {
    const Family& f = kFamilies[static_cast<std::size_t>(i) % kFamilies.size()];
    const auto slave_dir = dir / "slaves" / ("builder-" + std::to_string(i + 1));
    std::string port = wait_for_file_line(slave_dir / "port", std::chrono::seconds(20),
                                          &slaves[static_cast<std::size_t>(i)]);
    NewBuilder nb{f.arch + "-builder-" + std::to_string(i / 2 + 1),
                  "http://127.0.0.1:" + port + "/",
                  f.processors.back(),
                  false,
                  false,
                  0};
    builders.push_back(store.add_builder(nb));
  }

  // Builds with their sources; the .dsc tells the slave how the build ends.
  out << "Enqueueing " << build_count << " builds…\n";
  std::vector<Plan> plans = plan_builds(static_cast<std::size_t>(build_count), rng);
  std::optional<Id> cancel_id;
  const std::vector<std::string> components = {"main", "main", "universe", "restricted"};
  const std::vector<std::string> urgencies = {"low", "medium", "medium", "high"};
  for (int i = 0; i < build_count; ++i) {
    const Plan& plan = plans[static_cast<std::size_t>(i)];
    const std::string source = kSources[static_cast<std::size_t>(i) % kSources.size()];
    const std::string version = "1.0-" + std::to_string(i + 1);
    const DistroArchRelease& dar = dars[static_cast<std::size_t>(i) % dars.size()];
    std::ostringstream dsc;
    dsc << "Format: 3.0 (quilt)\nSource: " << source << "\nVersion: " << version
        << "\nArchitecture: any\nMaintainer: Demo <demo@example.org>\nOutcome: " << plan.outcome
        << "\nDuration: " << plan.duration << "\n";
    if (!plan.depends.empty()) dsc << "Depends: " << plan.depends << "\n";
    std::string tarball(4096 + static_cast<std::size_t>(i % 7) * 1024, '\0');
    for (auto& ch : tarball) ch = static_cast<char>(rng());
    LibraryFile dsc_file =
        librarian.store_bytes(dsc.str(), source + "_" + version + ".dsc", "text/plain");
    LibraryFile tar_file =
        librarian.store_bytes(tarball, source + "_" + version + ".orig.tar.gz", "application/gzip");
    NewBuild nb;
    nb.source_name = source;
    nb.source_version = version;
    nb.distro_arch_release_id = dar.id;
    nb.component = components[static_cast<std::size_t>(i) % components.size()];
    nb.urgency = urgencies[static_cast<std::size_t>(i / 3) % urgencies.size()];
    nb.score = default_score(nb.component, nb.urgency, nb.pocket, Duration{0});
    nb.source_files = {{dsc_file.filename, dsc_file.id}, {tar_file.filename, tar_file.id}};
    Build b = store.add_build(nb);
    if (plan.cancel) cancel_id = b.id;
  }

  MasterRuntime runtime(ctx);
  out << "Master running; status pages at " << runtime.http().base_url() << "/builders\n"
      << "Working directory: " << dir.string() << "\n\n";

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  const auto start = std::chrono::steady_clock::now();
  const double timeout = vm["timeout"].as<double>();
  auto last_plain = start - std::chrono::seconds(10);
  bool cancel_sent = false;
  bool drained = false;
  Counts counts;
  while (!g_interrupted) {
    runtime.cycle();
    if (cancel_id && !cancel_sent) {
      auto b = store.find_build(*cancel_id);
      if (b && b->state == BuildState::kBuilding) {
        store.cancel_build(*cancel_id);
        cancel_sent = true;
      }
    }
    counts = count_builds(store);
    const std::size_t busy = store.active_jobs().size();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string line = progress_line(counts, busy, builders.size(), elapsed);
    if (tty) {
      out << "\r\033[K" << line << std::flush;
    } else if (std::chrono::steady_clock::now() - last_plain > std::chrono::seconds(2)) {
      out << line << "\n" << std::flush;
      last_plain = std::chrono::steady_clock::now();
    }
    if (busy == 0 && store.waiting(1).empty()) {
      drained = true;
      break;
    }
    if (elapsed > timeout) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (tty) out << "\n";
  for (auto& s : slaves) s.stop();

  out << "\n"
      << (drained         ? "Queue drained"
          : g_interrupted ? "Interrupted"
                          : "Timed out")
      << " after " << std::fixed << std::setprecision(1) << elapsed
      << " s.\n\nBuilds by final state:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& [state, count] : counts.by_state)
    rows.push_back({std::string(title(state)), std::string(name(state)), std::to_string(count)});
  print_table(out, {"STATE", "NAME", "BUILDS"}, rows);
  out << "\nBuilders:\n";
  rows.clear();
  std::map<Id, std::size_t> built_by;
  for (const Build& b : store.builds(std::nullopt, 0))
    if (b.builder_id && is_final(b.state)) ++built_by[*b.builder_id];
  for (const Builder& b : store.builders())
    rows.push_back({b.name, b.url, b.builderok ? "ok" : "FAILED: " + b.failnotes,
                    std::to_string(built_by[b.id])});
  print_table(out, {"BUILDER", "URL", "STATUS", "BUILDS"}, rows);
  out << "\n"
      << counts.finished() << " builds finished in " << std::setprecision(1) << elapsed << " s ("
      << std::setprecision(1) << (elapsed > 0 ? counts.finished() / elapsed : 0) << " builds/s) on "
      << builders.size() << " builders.\n"
      << "Build logs and results: " << (dir / "archive").string() << "\n"
      << "Read one: buildd-master --config " << ctx.config_file().string()
      << " build log ID   (build list shows the ids)\n"
      << "Master log: " << (dir / "buildd-master.log").string() << "\n";
  if (const double serve = vm["serve-seconds"].as<double>(); serve > 0 && !g_interrupted) {
    out << "Status pages stay up for " << serve << " s at " << runtime.http().base_url()
        << "/builders\n"
        << std::flush;
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(serve);
    while (!g_interrupted && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (g_interrupted) return 130;
  return drained ? 0 : 1;
}

}  // namespace buildd::cli
