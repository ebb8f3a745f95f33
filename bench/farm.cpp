#include "farm.hpp"

#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <fstream>
#include <iterator>
#include <sstream>

#include "buildd/error.hpp"

namespace buildd::bench {
namespace fs = std::filesystem;

namespace {

// The slave double builds what the .dsc says: an OK build of `version`
// that lasts `seconds`.
std::string dsc_text(const std::string& version, int seconds) {
  std::ostringstream dsc;
  dsc << "Format: 3.0 (quilt)\nSource: bench\nVersion: " << version
      << "\nArchitecture: any\nMaintainer: Bench <bench@example.org>\nOutcome: ok\nDuration: "
      << seconds << "\n";
  return dsc.str();
}

constexpr int kLongBuildSeconds = 3600;

xmlrpc_slave::Options transport_options(const FarmOptions& o) {
  xmlrpc_slave::Options t = xmlrpc_slave::default_options();
  t.call_timeout = o.call_timeout;
  return t;
}

long long now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::uint16_t pick_free_port() {
  HttpServer probe("127.0.0.1:0");
  probe.start();
  std::uint16_t port = probe.actual_port();
  probe.stop();
  return port;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

double peak_rss_mib_of(pid_t pid) {
  return status_mib_of(pid, "VmHWM:");
}

double rss_mib_of(pid_t pid) {
  return status_mib_of(pid, "VmRSS:");
}

void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

double status_mib_of(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == field) {
      double kib = 0;
      in >> kib;
      return kib / 1024.0;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

namespace {

// Fields 4 (ppid), 14 (utime) and 15 (stime) of /proc/<pid>/stat; the
// command name (field 2) may hold spaces and parentheses, so the fields are
// counted from the last ')'.
struct ProcStat {
  pid_t ppid = 0;
  double cpu_seconds = 0;
};

std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  ProcStat out;
  unsigned long long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 4) out.ppid = static_cast<pid_t>(std::stol(field));
    if (i == 14 || i == 15) ticks += std::stoull(field);
  }
  out.cpu_seconds = static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return out;
}

}  // namespace

CpuTimes cpu_times(const std::vector<pid_t>& pids) {
  CpuTimes out;
  for (pid_t pid : pids) {
    if (auto st = proc_stat(pid)) out[pid] = st->cpu_seconds;
  }
  return out;
}

double cpu_used(const CpuTimes& before, const CpuTimes& after) {
  double used = 0;
  for (const auto& [pid, seconds] : after) {
    auto it = before.find(pid);
    used += seconds - (it == before.end() ? 0 : it->second);
  }
  return used;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (auto st = proc_stat(pid); st && st->ppid == parent) out.push_back(pid);
  }
  return out;
}

MachineCpu machine_cpu() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice",
  // in ticks; guest time is already part of user.
  std::ifstream in("/proc/stat");
  std::string label;
  double v[8] = {};
  in >> label;
  for (double& x : v) in >> x;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  MachineCpu out;
  out.busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks;
  out.total = out.busy + (v[3] + v[4]) / ticks;
  return out;
}

std::vector<pid_t> postgres_pids(soci::session& sql) {
  try {
    std::string data_dir;
    sql << "SHOW data_directory", soci::into(data_dir);
    std::ifstream in(fs::path(data_dir) / "postmaster.pid");
    pid_t postmaster = 0;
    if (!(in >> postmaster) || postmaster <= 0) return {};
    std::vector<pid_t> out = children_of(postmaster);
    out.push_back(postmaster);
    return out;
  } catch (const std::exception&) {
    return {};  // not readable: PostgreSQL's share is left in "others"
  }
}

Farm::Farm(FarmOptions options)
    : options_(std::move(options)), transport_(transport_options(options_)) {
  fs::create_directories(options_.work / "tmp");
  std::string backend = "sqlite3";
  if (options_.backend == "postgresql") {
    pg_database_ = "bench_" + options_.tag + "_" + std::to_string(::getpid());
    soci::session admin(soci::postgresql, options_.pg + " dbname=buildd");
    admin << "DROP DATABASE IF EXISTS " + pg_database_;
    admin << "CREATE DATABASE " + pg_database_;
    backend = "postgresql";
    connection_ = options_.pg + " dbname=" + pg_database_;
  } else {
    connection_ = (options_.work / "bench.sqlite").string();
  }
  soci_store::SociStoreOptions so = soci_store::default_options(backend, connection_);
  so.busy_timeout_seconds = 60;
  store_ = std::make_unique<soci_store::SociStore>(so);
  store_->upgrade();

  const std::uint16_t http_port = pick_free_port();
  archive_ = std::make_unique<FileLibrarian>(options_.work / "archive");
  librarian_ = std::make_unique<Librarian>(*store_, *archive_, options_.work / "tmp",
                                           "http://127.0.0.1:" + std::to_string(http_port));
  if (options_.serve_http) {
    http_ = std::make_unique<HttpServer>("127.0.0.1:" + std::to_string(http_port));
    http_->serve_library(*librarian_);
    http_->start();
  }

  store_->add_processor_family("x86", {"amd64"});
  dar_ = store_->add_distro_arch_release({"ubuntu", "noble", "amd64", "x86", std::nullopt, true});
  std::string chroot(64 * 1024, 'c');
  LibraryFile chroot_file =
      librarian_->store_bytes(chroot, "chroot-ubuntu-noble-amd64.tar.gz", "application/gzip");
  store_->set_chroot(dar_.id, chroot_file.id);
  dar_.chroot_file_id = chroot_file.id;
  dsc_long_ =
      librarian_->store_bytes(dsc_text("1.0", kLongBuildSeconds), "bench_1.0.dsc", "text/plain");

  start_slave();
  add_builders();
}

Farm::~Farm() {
  if (slave_) slave_->stop(std::chrono::seconds(10));
  if (http_) http_->stop();
  store_.reset();
  if (!pg_database_.empty()) {
    try {
      soci::session admin(soci::postgresql, options_.pg + " dbname=buildd");
      admin << "DROP DATABASE IF EXISTS " + pg_database_;
    } catch (const std::exception&) {
      // The cluster is thrown away by the driver anyway.
    }
  }
}

fs::path Farm::slave_cache() const {
  return options_.slave_cache.empty() ? options_.work / "slave-cache" : options_.slave_cache;
}

bool Farm::slave_cache_on_tmpfs() const {
  struct statfs fs_info {};
  return ::statfs(slave_cache().c_str(), &fs_info) == 0 && fs_info.f_type == TMPFS_MAGIC;
}

void Farm::start_slave() {
  const auto port_file = options_.work / "slave.port";
  const int n = options_.builders;
  const fs::path cache = slave_cache();
  // Each keep-alive connection holds one slave worker thread (cpp-httplib).
  // The master's pooled handles keep about one each (every builder here has
  // the same host and port), the load clients theirs: builders + 64 threads
  // leave room for all of them.
  std::vector<std::string> args = {"--listen",    "127.0.0.1:0",
                                   "--port-file", port_file.string(),
                                   "--builders",  std::to_string(n),
                                   "--threads",   std::to_string(n + 64),
                                   "--arch",      "amd64",
                                   "--cache-dir", cache.string(),
                                   "--log-level", options_.slave_debug_log ? "debug" : "warn"};
  for (const auto& f : options_.slave_faults) args.insert(args.end(), {"--fault", f});
  if (!options_.journal.empty()) args.insert(args.end(), {"--journal", options_.journal.string()});
  fs::create_directories(cache);
  slave_ = std::make_unique<ChildProcess>(options_.slave_program, args, slave_log());
  slave_port_ = std::stoi(wait_for_file_line(port_file, std::chrono::seconds(120), slave_.get()));
}

std::unique_ptr<soci::session> Farm::open_session() const {
  if (options_.backend == "postgresql")
    return std::make_unique<soci::session>(soci::postgresql, connection_);
  auto s = std::make_unique<soci::session>(soci::sqlite3, "db=" + connection_ + " timeout=60");
  return s;
}

void Farm::add_builders() {
  // One statement for all builders: add_builder() per row costs a transaction
  // each, which at 10,000 builders is set-up time nobody wants to measure.
  auto sql = open_session();
  long long processor = 0;
  *sql << "SELECT id FROM processor WHERE name = 'amd64'", soci::into(processor);
  const std::string base = "http://127.0.0.1:" + std::to_string(slave_port_) + "/builders/";
  const std::string n = std::to_string(options_.builders);
  const std::string select = "SELECT 'bench-' || CAST(n AS TEXT), '" + base +
                             "' || CAST(n - 1 AS TEXT) || '/', " + std::to_string(processor);
  soci::transaction tx(*sql);
  if (options_.backend == "postgresql") {
    *sql << "INSERT INTO builder (name, url, processor_id) " + select +
                " FROM generate_series(1, " + n + ") AS n";
  } else {
    *sql << "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < " + n +
                ") INSERT INTO builder (name, url, processor_id) " + select + " FROM seq";
  }
  tx.commit();
}

std::filesystem::path Farm::write_long_dsc_file() const {
  auto path = options_.work / dsc_long_.filename;
  std::ofstream(path) << dsc_text("1.0", kLongBuildSeconds);
  return path;
}

namespace {

// Counts launchpad-buildd's calls, one per round trip: it wraps the calls
// under LaunchpadSlave's start() and probe(), which make several.
class CountingSlave final : public xmlrpc_slave::LaunchpadSlave {
 public:
  CountingSlave(std::unique_ptr<xmlrpc_slave::LaunchpadSlave> inner,
                std::atomic<std::uint64_t>& calls)
      : inner_(std::move(inner)), calls_(calls) {}
  const std::string& builder_name() const override { return inner_->builder_name(); }
  std::vector<std::string> echo(const std::vector<std::string>& args) override {
    ++calls_;
    return inner_->echo(args);
  }
  xmlrpc_slave::SlaveInfo info() override {
    ++calls_;
    return inner_->info();
  }
  SlaveStatus status() override {
    ++calls_;
    return inner_->status();
  }
  xmlrpc_slave::EnsurePresentResult ensure_present(const std::string& sha1,
                                                   const std::optional<std::string>& url,
                                                   const std::string& username,
                                                   const std::string& password) override {
    ++calls_;
    return inner_->ensure_present(sha1, url, username, password);
  }
  xmlrpc_slave::BuildStartResult build(const std::string& build_id, const std::string& builder_type,
                                       const std::string& chroot_sha1,
                                       const std::map<std::string, std::string>& filemap,
                                       const xmlrpc_slave::BuildArgs& args) override {
    ++calls_;
    return inner_->build(build_id, builder_type, chroot_sha1, filemap, args);
  }
  LogRead readlog(std::uint64_t offset, std::size_t max_bytes) override {
    ++calls_;
    return inner_->readlog(offset, max_bytes);
  }
  std::string abort() override {
    ++calls_;
    return inner_->abort();
  }
  std::string clean() override {
    ++calls_;
    return inner_->clean();
  }
  FetchedFile fetch_file(const std::string& name, ByteSink& sink,
                         std::uint64_t max_bytes) override {
    ++calls_;
    return inner_->fetch_file(name, sink, max_bytes);
  }

 private:
  std::unique_ptr<xmlrpc_slave::LaunchpadSlave> inner_;
  std::atomic<std::uint64_t>& calls_;
};

}  // namespace

std::unique_ptr<Slave> CountingTransport::connect(const Builder& builder) {
  return std::make_unique<CountingSlave>(inner_.connect_launchpad(builder), calls_);
}

std::unique_ptr<BuilddMaster> Farm::make_master() {
  MasterSettings settings;
  settings.max_in_flight = options_.max_in_flight;
  if (options_.scan_interval) settings.scan_interval = *options_.scan_interval;
  return std::make_unique<BuilddMaster>(*store_, counting_, *librarian_, time_, settings);
}

double Farm::enqueue(long long count, bool long_build, int archives) {
  const auto begin = std::chrono::steady_clock::now();
  // A build that finishes gets its own source, as in a farm: the slave
  // fetches it, and its log and result files are its own (identical
  // results would be archived once and spare the archive its writes).
  // The .dsc of build "1.0-<n>" is "bench_1.0-<n>.dsc"; stored before the
  // transaction, since the librarian records each in its own.
  if (!long_build) {
    for (long long i = 1; i <= count; ++i) {
      const std::string version = "1.0-" + std::to_string(i);
      librarian_->store_bytes(dsc_text(version, 0), "bench_" + version + ".dsc", "text/plain");
    }
  }
  auto sql = open_session();
  const std::string n = std::to_string(count);
  const std::string now = std::to_string(now_micros());
  const std::string dar = std::to_string(dar_.id);
  long long before = 0;
  soci::indicator ind = soci::i_ok;
  soci::transaction tx(*sql);
  *sql << "SELECT MAX(id) FROM build", soci::into(before, ind);
  if (ind != soci::i_ok) before = 0;
  const std::string columns =
      "INSERT INTO build (source_name, source_version, distro_arch_release_id, state, created, "
      "component, pocket, urgency, score, archive) ";
  const std::string archive = archives > 1
                                  ? "'a' || CAST(n % " + std::to_string(archives) + " AS TEXT)"
                                  : std::string("'primary'");
  const std::string select = "SELECT 'bench', '1.0-' || CAST(n AS TEXT), " + dar + ", 0, " + now +
                             ", 'main', 'release', 'medium', n % 1000, " + archive;
  if (options_.backend == "postgresql") {
    *sql << columns + select + " FROM generate_series(1, " + n + ") AS n";
  } else {
    *sql << "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < " + n +
                ") " + columns + select + " FROM seq";
  }
  const std::string newer = " FROM build WHERE id > " + std::to_string(before);
  *sql << "INSERT INTO build_queue (build_id, distro_arch_release_id, score, created, archive) "
          "SELECT id, distro_arch_release_id, score, created, archive" +
              newer;
  if (long_build) {
    *sql << "INSERT INTO build_source_file (build_id, filename, library_file_id) SELECT id, '" +
                dsc_long_.filename + "', " + std::to_string(dsc_long_.id) + newer;
  } else {
    *sql << "INSERT INTO build_source_file (build_id, filename, library_file_id) "
            "SELECT b.id, f.filename, f.id FROM build b JOIN library_file f "
            "ON f.filename = 'bench_' || b.source_version || '.dsc' WHERE b.id > " +
                std::to_string(before);
  }
  tx.commit();
  // What autovacuum would do shortly after a bulk load; without statistics
  // PostgreSQL may plan the candidate query as if the queue were tiny.
  if (options_.backend == "postgresql") *sql << "ANALYZE";
  // SQLite: the whole load sits in the write-ahead log, which the automatic
  // checkpoints of a queue filled over time would have copied into the
  // database already; without this, the first cycle reads through (and then
  // checkpoints) a log of the whole queue.
  if (options_.backend == "sqlite") *sql << "PRAGMA wal_checkpoint(TRUNCATE)";
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

}  // namespace buildd::bench
