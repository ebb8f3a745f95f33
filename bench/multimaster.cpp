#include "multimaster.hpp"

#include <signal.h>
#include <unistd.h>

#include <httplib.h>
#include <soci/soci.h>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "buildd/error.hpp"

namespace buildd::bench {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point begin) {
  return std::chrono::duration<double>(Steady::now() - begin).count();
}

long long now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The value of an unlabelled sample in the Prometheus text format, i.e. the
// line "<name> <value>"; nullopt while the family has no sample yet.
std::optional<double> sample_value(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ')
      return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

// One `buildd-master run` of the shared farm: its own work_dir, log and
// HTTP port, the farm's database and archive folder.
class MasterDaemon {
 public:
  MasterDaemon(const Farm& farm, const MultiMasterOptions& o, std::string id)
      : id_(std::move(id)), dir_(o.farm.work / id_), port_(pick_free_port()) {
    fs::create_directories(dir_);
    const fs::path config = dir_ / "buildd-master.yaml";
    {
      std::ofstream out(config);
      out << "master:\n  id: " << id_ << "\n  work_dir: " << dir_.string()
          << "\n  scan_interval: " << o.scan_interval << "\n  lease_ttl: " << o.lease_ttl
          << "\n  max_in_flight: " << o.farm.max_in_flight << "\n  http_listen: 127.0.0.1:" << port_
          << "\n  log_file: " << (dir_ / "buildd-master.log").string() << "\n"
          << "store:\n  plugin: soci-store\n  config:\n    backend: postgresql\n"
          << "    connection: \"" << farm.connection() << "\"\n"
          << "slave_transport:\n  plugin: xmlrpc-slave\n"
          << "archive:\n  plugin: file-librarian\n  config:\n    root: "
          << (o.farm.work / "archive").string() << "\n";
    }
    process_ = std::make_unique<ChildProcess>(
        o.master_program,
        std::vector<std::string>{"--config", config.string(), "--log-level", "warn", "run"},
        dir_ / "daemon.out");
    wait_for_file_line(dir_ / "buildd-master.pid", 60s, process_.get());
  }
  ~MasterDaemon() {
    if (alive_) process_->stop(30s);
  }
  MasterDaemon(const MasterDaemon&) = delete;
  MasterDaemon& operator=(const MasterDaemon&) = delete;

  const std::string& id() const { return id_; }
  pid_t pid() const { return process_->pid(); }
  bool alive() const { return alive_; }

  // buildd_builder_polls_total from the daemon's /metrics (0 before its
  // first poll); nullopt while its HTTP server does not answer.
  std::optional<double> polls() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(30);
    auto r = client.Get("/metrics");
    if (!r || r->status != 200) return std::nullopt;
    return sample_value(r->body, "buildd_builder_polls_total").value_or(0);
  }

  // SIGTERM: the daemon ends its polls and gives its leases back. Returns
  // the exit code.
  int stop() {
    alive_ = false;
    const int status = process_->stop(60s);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // kill -9: nothing given back, the leases expire.
  void kill() {
    alive_ = false;
    process_->signal(SIGKILL);
    process_->wait();
  }

  double peak_rss_mib() const { return peak_rss_mib_of(process_->pid()); }
  std::string log() const {
    return read_text(dir_ / "daemon.out") + read_text(dir_ / "buildd-master.log");
  }

 private:
  std::string id_;
  fs::path dir_;
  std::uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
  bool alive_ = true;
};

using Daemons = std::vector<std::unique_ptr<MasterDaemon>>;

Daemons start_masters(const Farm& farm, const MultiMasterOptions& o, int count) {
  Daemons out;
  for (int i = 1; i <= count; ++i)
    out.push_back(std::make_unique<MasterDaemon>(farm, o, "mm" + std::to_string(i)));
  return out;
}

// builder id -> master id, the leases not expired.
std::map<long long, std::string> leases(soci::session& sql) {
  std::map<long long, std::string> out;
  long long builder = 0, now = now_micros();
  std::string master;
  soci::statement st =
      (sql.prepare << "SELECT builder_id, master_id FROM builder_lease WHERE expires >= :now",
       soci::into(builder), soci::into(master), soci::use(now));
  st.execute();
  while (st.fetch()) out[builder] = master;
  return out;
}

std::map<std::string, int> held_by_master(const std::map<long long, std::string>& leases) {
  std::map<std::string, int> out;
  for (const auto& [builder, master] : leases) ++out[master];
  return out;
}

long long count(soci::session& sql, const std::string& query) {
  long long n = 0;
  sql << query, soci::into(n);
  return n;
}

// Waits until the live masters hold every builder between them, none more
// than its share (the first to start took them all and gives back).
// Returns how many each holds.
std::map<std::string, int> wait_balanced(soci::session& sql, const Daemons& daemons, int builders,
                                         std::chrono::seconds timeout) {
  const int share =
      (builders + static_cast<int>(daemons.size()) - 1) / static_cast<int>(daemons.size());
  const auto begin = Steady::now();
  std::map<std::string, int> held;
  while (Steady::now() - begin < timeout) {
    const auto l = leases(sql);
    held = held_by_master(l);
    bool balanced = static_cast<int>(l.size()) == builders;
    for (const auto& d : daemons)
      balanced = balanced && held[d->id()] > 0 && held[d->id()] <= share;
    if (balanced) return held;
    std::this_thread::sleep_for(100ms);
  }
  std::string seen;
  for (const auto& [id, n] : held) seen += " " + id + "=" + std::to_string(n);
  throw std::runtime_error("the masters did not share the builders within " +
                           std::to_string(timeout.count()) + " s; leases:" + seen + "\n" +
                           daemons.front()->log());
}

// Waits until each master has completed twice as many polls as it holds
// builders, counted from now: every builder has been probed (a process
// probes a builder at its first poll) and the pollers run at full speed.
void wait_warm(const Daemons& daemons, const std::map<std::string, int>& held,
               std::chrono::seconds timeout) {
  std::map<std::string, double> base;
  for (const auto& d : daemons) base[d->id()] = d->polls().value_or(0);
  const auto begin = Steady::now();
  while (Steady::now() - begin < timeout) {
    bool warm = true;
    for (const auto& d : daemons)
      warm = warm && d->polls().value_or(0) >= base[d->id()] + 2.0 * held.at(d->id());
    if (warm) return;
    std::this_thread::sleep_for(200ms);
  }
  throw std::runtime_error("the masters did not poll their builders within " +
                           std::to_string(timeout.count()) + " s");
}

// CPU used by each part of the farm between two samples.
struct CpuSample {
  CpuTimes masters, slave, postgres, bench;
  MachineCpu machine;
  Steady::time_point at;
};

CpuSample sample_cpu(const Daemons& daemons, const Farm& farm, soci::session& sql) {
  std::vector<pid_t> masters;
  for (const auto& d : daemons)
    if (d->alive()) masters.push_back(d->pid());
  CpuSample s;
  s.masters = cpu_times(masters);
  s.slave = cpu_times({farm.slave_pid()});
  s.postgres = cpu_times(postgres_pids(sql));
  s.bench = cpu_times({::getpid()});
  s.machine = machine_cpu();
  s.at = Steady::now();
  return s;
}

// Cores used (CPU seconds per second) by each part, and a one-line verdict
// on what limits the rate.
json cpu_figures(const CpuSample& a, const CpuSample& b) {
  const double wall = std::chrono::duration<double>(b.at - a.at).count();
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  auto per_s = [&](double s) { return wall > 0 ? s / wall : 0; };
  const double masters = per_s(cpu_used(a.masters, b.masters));
  const double slave = per_s(cpu_used(a.slave, b.slave));
  const double postgres = per_s(cpu_used(a.postgres, b.postgres));
  const double bench = per_s(cpu_used(a.bench, b.bench));
  const double busy = per_s(b.machine.busy - a.machine.busy);
  // The rest: other processes of the machine (it is shared), and kernel
  // time charged to no process (much of loopback networking runs in softirq).
  const double others = std::max(0.0, busy - masters - slave - postgres - bench);
  return {{"cores", cores},        {"machine_busy_cores", busy}, {"masters_cores", masters},
          {"slave_cores", slave},  {"postgres_cores", postgres}, {"bench_cores", bench},
          {"others_cores", others}};
}

// What limits a measured rate: the demand (every builder polled once per
// scan_interval), else the CPU when the machine is (nearly) saturated, else
// waiting (round trips, the store's pool of connections).
std::string limit_verdict(const json& cpu, double rate, double demand) {
  std::ostringstream out;
  out.precision(2);
  out << std::fixed;
  if (demand > 0 && rate >= 0.9 * demand) {
    out << "demand: every builder is polled once per scan_interval (" << demand
        << " polls/s); lower scan_interval to measure capacity";
    return out.str();
  }
  const double busy = cpu["machine_busy_cores"], cores = cpu["cores"];
  std::vector<std::pair<double, std::string>> parts = {
      {cpu["masters_cores"].get<double>(), "the masters"},
      {cpu["slave_cores"].get<double>(), "the slave process"},
      {cpu["postgres_cores"].get<double>(), "PostgreSQL"},
      {cpu["others_cores"].get<double>(), "the rest (other processes, the kernel)"}};
  std::sort(parts.rbegin(), parts.rend());
  if (busy >= 0.9 * cores) {
    out << "CPU: the machine is saturated (" << busy << " of " << cores
        << " cores busy); the largest share is " << parts[0].second << " (" << parts[0].first
        << " cores), then " << parts[1].second << " (" << parts[1].first << ")";
  } else {
    out << "not CPU (" << busy << " of " << cores
        << " cores busy): waiting (round trips to the slave and PostgreSQL, the store's "
           "connection pool)";
  }
  return out.str();
}

// The database's own counters (pg_stat_database): transactions and rows
// written. Backends report them at most once a second, which over a window
// of several seconds is a small error.
struct PgCounters {
  double transactions = 0;
  double rows_written = 0;
};

PgCounters pg_counters(soci::session& sql) {
  PgCounters c;
  sql << "SELECT CAST(xact_commit + xact_rollback AS DOUBLE PRECISION), CAST(tup_inserted + "
         "tup_updated + tup_deleted AS DOUBLE PRECISION) FROM pg_stat_database WHERE datname = "
         "current_database()",
      soci::into(c.transactions), soci::into(c.rows_written);
  return c;
}

// One measured window of mm-scan: polls completed by each master, the CPU
// split and the database's work.
struct Window {
  double seconds = 0;
  double polls = 0;
  std::map<std::string, double> polls_by_master;
  json cpu;
  double transactions = 0;
  double rows_written = 0;
  double rate() const { return seconds > 0 ? polls / seconds : 0; }
};

Window measure_window(const Daemons& daemons, const Farm& farm, soci::session& sql,
                      double seconds) {
  std::map<std::string, double> before;
  for (const auto& d : daemons) before[d->id()] = d->polls().value_or(0);
  const PgCounters pg_before = pg_counters(sql);
  const CpuSample cpu_before = sample_cpu(daemons, farm, sql);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const CpuSample cpu_after = sample_cpu(daemons, farm, sql);
  const PgCounters pg_after = pg_counters(sql);
  Window w;
  for (const auto& d : daemons) {
    const double n = d->polls().value_or(0) - before[d->id()];
    w.polls_by_master[d->id()] = n;
    w.polls += n;
  }
  w.seconds = std::chrono::duration<double>(cpu_after.at - cpu_before.at).count();
  w.cpu = cpu_figures(cpu_before, cpu_after);
  w.transactions = pg_after.transactions - pg_before.transactions;
  w.rows_written = pg_after.rows_written - pg_before.rows_written;
  return w;
}

}  // namespace

json multimaster_scan(const MultiMasterOptions& o) {
  FarmOptions fo = o.farm;
  fo.serve_http = false;  // each daemon serves the archive
  fo.tag = "mm_scan";
  Farm farm(fo);
  auto sql = farm.open_session();
  const double enqueue_s = farm.enqueue(fo.builders, true);  // one long build per builder
  const double demand = o.scan_interval > 0 ? fo.builders / o.scan_interval : 0;
  json runs = json::array();
  bool ok = !o.masters.empty();
  double base_rate = 0;
  for (int k : o.masters) {
    const auto begin = Steady::now();
    Daemons daemons = start_masters(farm, o, k);
    const auto held = wait_balanced(*sql, daemons, fo.builders, 120s);
    // The first run also dispatches every build.
    const auto dispatch_begin = Steady::now();
    while (count(*sql, "SELECT COUNT(*) FROM build WHERE state = 6") < fo.builders) {
      if (seconds_since(dispatch_begin) > 600)
        throw std::runtime_error("the builds were not all started within 600 s");
      std::this_thread::sleep_for(100ms);
    }
    wait_warm(daemons, held, 300s);
    const double warmup_s = seconds_since(begin);

    // Several windows, the median kept: the machine is shared, and another
    // process's burst should not make the figure.
    std::vector<Window> windows;
    for (int i = 0; i < std::max(1, o.windows); ++i)
      windows.push_back(measure_window(daemons, farm, *sql, o.window));
    // Still shared as at the start: no lease moved during the windows.
    const auto held_after = held_by_master(leases(*sql));
    std::vector<int> exit_codes;
    for (auto& d : daemons) exit_codes.push_back(d->stop());
    std::vector<const Window*> sorted;
    for (const auto& w : windows) sorted.push_back(&w);
    std::sort(sorted.begin(), sorted.end(),
              [](const Window* x, const Window* y) { return x->rate() < y->rate(); });
    const Window& median = *sorted[sorted.size() / 2];
    const double rate = median.rate();
    if (runs.empty()) base_rate = rate;

    json per_master = json::array();
    for (const auto& d : daemons) {
      const double n = median.polls_by_master.at(d->id());
      per_master.push_back({{"id", d->id()},
                            {"builders_held", held.at(d->id())},
                            {"polls", n},
                            {"polls_per_s", n / median.seconds},
                            {"peak_rss_mib", d->peak_rss_mib()}});
    }
    json window_rates = json::array();
    for (const auto& w : windows) window_rates.push_back(w.rate());
    const bool run_ok =
        held_after == held && rate > 0 &&
        std::all_of(exit_codes.begin(), exit_codes.end(), [](int c) { return c == 0; });
    ok = ok && run_ok;
    runs.push_back({{"masters", k},
                    {"warmup_s", warmup_s},
                    {"window_s", median.seconds},
                    {"window_rates", window_rates},
                    {"polls", median.polls},
                    {"polls_per_s", rate},
                    {"ratio_to_first", base_rate > 0 ? rate / base_rate : 0},
                    {"per_master", per_master},
                    {"cpu", median.cpu},
                    {"pg_transactions_per_poll", median.transactions / median.polls},
                    {"pg_rows_written_per_poll", median.rows_written / median.polls},
                    {"limit", limit_verdict(median.cpu, rate, demand)},
                    {"leases_moved", held_after != held},
                    {"exit_codes", exit_codes},
                    {"ok", run_ok}});
  }
  return {{"scenario", "mm-scan"},
          {"builders", fo.builders},
          {"max_in_flight", fo.max_in_flight},
          {"scan_interval_s", o.scan_interval},
          {"lease_ttl_s", o.lease_ttl},
          {"demand_polls_per_s", demand},
          {"windows", std::max(1, o.windows)},
          {"enqueue_s", enqueue_s},
          {"runs", runs},
          {"ok", ok}};
}

json multimaster_drain(const MultiMasterOptions& o) {
  const int k = o.masters.empty() ? 2 : o.masters.front();
  FarmOptions fo = o.farm;
  fo.serve_http = false;
  fo.tag = o.kill ? "mm_kill" : "mm_drain";
  fo.journal = fo.work / "journal";
  Farm farm(fo);
  auto sql = farm.open_session();
  Daemons daemons = start_masters(farm, o, k);
  // The queue is filled once the masters share the builders and have probed
  // them: the drain measures the shared steady state, not the start.
  const auto held = wait_balanced(*sql, daemons, fo.builders, 120s);
  wait_warm(daemons, held, 300s);
  const double enqueue_s = farm.enqueue(o.builds, false);

  const auto begin = Steady::now();
  const CpuSample cpu_before = sample_cpu(daemons, farm, *sql);
  CpuSample cpu_after = cpu_before;
  long long final_count = 0, final_at_kill = 0;
  double drain_s = 0;
  std::optional<Steady::time_point> killed_at;
  std::optional<double> takeover_s;
  std::set<long long> victim_builders;
  std::string victim;
  const double timeout = 1800;
  while (seconds_since(begin) < timeout) {
    if (drain_s == 0) {
      // Final: neither waiting, building, uploading nor cancelling.
      final_count = count(*sql, "SELECT COUNT(*) FROM build WHERE state NOT IN (0, 6, 8, 9)");
      if (final_count >= o.builds) {
        drain_s = seconds_since(begin);
        cpu_after = sample_cpu(daemons, farm, *sql);
      }
    }
    if (o.kill && !killed_at && final_count >= o.builds / 3) {
      MasterDaemon& d = *daemons.back();
      victim = d.id();
      for (const auto& [builder, master] : leases(*sql))
        if (master == victim) victim_builders.insert(builder);
      d.kill();
      killed_at = Steady::now();
      final_at_kill = final_count;
    }
    if (killed_at && !takeover_s) {
      const auto l = leases(*sql);
      const bool taken =
          std::all_of(victim_builders.begin(), victim_builders.end(), [&](long long b) {
            auto it = l.find(b);
            return it != l.end() && it->second != victim;
          });
      if (taken) takeover_s = seconds_since(*killed_at);
    }
    const bool kill_done =
        !o.kill || takeover_s || (killed_at && seconds_since(*killed_at) > 4.0 * o.lease_ttl);
    if (drain_s > 0 && kill_done) break;
    std::this_thread::sleep_for(50ms);
  }
  std::vector<int> exit_codes;
  for (auto& d : daemons)
    if (d->alive()) exit_codes.push_back(d->stop());

  // Verified after the masters stopped: the database, then the slave.
  std::map<int, long long> states;
  {
    int state = 0;
    long long n = 0;
    soci::statement st = (sql->prepare << "SELECT state, COUNT(*) FROM build GROUP BY state",
                          soci::into(state), soci::into(n));
    st.execute();
    while (st.fetch()) states[state] = n;
  }
  const long long fully_built = states[static_cast<int>(BuildState::kFullyBuilt)];
  // Result rows: every FULLYBUILT build has the same set, each file once.
  std::map<long long, long long> builds_by_row_count;
  long long duplicate_rows = 0, builds_with_rows = 0;
  {
    long long build_id = 0, rows = 0, distinct = 0;
    soci::statement st =
        (sql->prepare << "SELECT f.build_id, COUNT(*), COUNT(DISTINCT f.filename) FROM "
                         "build_result_file f JOIN build b ON b.id = f.build_id WHERE b.state = "
                         "1 GROUP BY f.build_id",
         soci::into(build_id), soci::into(rows), soci::into(distinct));
    st.execute();
    while (st.fetch()) {
      ++builds_with_rows;
      ++builds_by_row_count[rows];
      duplicate_rows += rows - distinct;
    }
  }
  long long usual_rows = 0, builds_with_usual_rows = 0;
  for (const auto& [rows, builds] : builds_by_row_count) {
    if (builds > builds_with_usual_rows) {
      usual_rows = rows;
      builds_with_usual_rows = builds;
    }
  }
  const long long builds_without_rows = fully_built - builds_with_rows;
  const long long builds_with_odd_rows = builds_with_rows - builds_with_usual_rows;
  // The slave's journal: one line per build that reached WAITING, naming
  // the builder. A build on two lines ran twice.
  std::map<std::string, std::set<int>> builders_of;
  std::map<std::string, int> runs_of;
  {
    std::ifstream in(fo.journal);
    std::string stamp, cookie, result;
    int builder = 0;
    while (in >> stamp >> builder >> cookie >> result) {
      const std::string build = cookie.substr(0, cookie.find('-'));
      ++runs_of[build];
      builders_of[build].insert(builder);
    }
  }
  long long built_twice = 0, on_two_builders = 0, journal_lines = 0;
  for (const auto& [build, n] : runs_of) {
    journal_lines += n;
    built_twice += n > 1;
    on_two_builders += builders_of[build].size() > 1;
  }
  std::size_t disabled = 0, idle = 0;
  for (const Builder& b : farm.store().builders()) {
    disabled += !b.builderok;
    try {
      if (farm.transport().connect(b)->status().state == BuilderState::kIdle) ++idle;
    } catch (const std::exception&) {
    }
  }
  const long long lost = o.builds - fully_built;
  const bool takeover_ok = !o.kill || (takeover_s && *takeover_s <= 2.0 * o.lease_ttl);
  json cpu = cpu_figures(cpu_before, cpu_after);
  const double rate = drain_s > 0 ? static_cast<double>(o.builds) / drain_s : 0;
  json out = {
      {"scenario", "mm-drain"},
      {"masters", k},
      {"kill", o.kill},
      {"builders", fo.builders},
      {"builds", o.builds},
      {"max_in_flight", fo.max_in_flight},
      {"scan_interval_s", o.scan_interval},
      {"lease_ttl_s", o.lease_ttl},
      {"builders_held", held},
      {"enqueue_s", enqueue_s},
      {"drain_s", drain_s},
      {"builds_per_s", rate},
      {"final", final_count},
      {"fully_built", fully_built},
      {"lost", lost},
      {"result_rows_per_build", usual_rows},
      {"builds_without_result_rows", builds_without_rows},
      {"builds_with_other_row_count", builds_with_odd_rows},
      {"duplicate_result_rows", duplicate_rows},
      {"journal_lines", journal_lines},
      {"built_twice", built_twice},
      {"on_two_builders", on_two_builders},
      {"builders_disabled", disabled},
      {"slaves_idle", idle},
      {"exit_codes", exit_codes},
      {"cpu", cpu},
      {"limit", o.kill ? "the kill: the killed master's builders stay idle until its leases "
                         "expire; then " +
                             limit_verdict(cpu, 0, 0)
                       : limit_verdict(cpu, 0, 0)}};
  if (o.kill) {
    out["killed"] = victim;
    out["killed_builders"] = victim_builders.size();
    out["final_at_kill"] = final_at_kill;
    out["takeover_s"] = takeover_s ? json(*takeover_s) : json(nullptr);
    out["takeover_limit_s"] = 2.0 * o.lease_ttl;
  }
  out["ok"] = drain_s > 0 && lost == 0 && built_twice == 0 && on_two_builders == 0 &&
              duplicate_rows == 0 && builds_without_rows == 0 && builds_with_odd_rows == 0 &&
              usual_rows >= 2 && journal_lines == o.builds && disabled == 0 &&
              idle == static_cast<std::size_t>(fo.builders) && takeover_ok &&
              std::all_of(exit_codes.begin(), exit_codes.end(), [](int c) { return c == 0; });
  return out;
}

}  // namespace buildd::bench
