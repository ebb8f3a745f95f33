#pragma once

// A benchmark farm: a fresh database (SQLite file or a new PostgreSQL
// database), a local librarian served by the master's HTTP server, one
// x86/amd64 arch release with a chroot, and ONE buildd-slave process serving
// N builders (--builders N), all on loopback.
//
// Threading: one thread. Ownership: the farm owns every object it made and
// stops the slave and drops the PostgreSQL database when destroyed.
// Errors: buildd::Error or std::runtime_error when a piece cannot start.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "buildd/child_process.hpp"
#include "buildd/clock.hpp"
#include "buildd/http_server.hpp"
#include "buildd/librarian.hpp"
#include "buildd/pipeline/master.hpp"
#include "file_librarian.hpp"
#include "soci_store.hpp"
#include "xmlrpc_slave.hpp"

namespace soci {
class session;
}

namespace buildd::bench {

struct FarmOptions {
  std::string backend = "sqlite";  // "sqlite" or "postgresql"
  std::string pg;                  // libpq connection string without dbname
  std::filesystem::path work;      // created; everything of the farm lives here
  // The slave's file cache; empty: work/slave-cache. The slaves stand for
  // other machines, so bench/run keeps their file churn off the master's
  // file system (see bench/run).
  std::filesystem::path slave_cache;
  std::filesystem::path slave_program;
  int builders = 20;
  std::size_t max_in_flight = 32;
  bool slave_debug_log = false;  // the slave logs every call (latency needs it)
  bool serve_http = true;        // false when a buildd-master daemon serves the files
  std::string tag = "bench";     // names the PostgreSQL database
  // Passed to the slave as --fault each (e.g. "hang@3"); see buildd-slave --help.
  std::vector<std::string> slave_faults;
  std::filesystem::path journal;  // the slave's --journal FILE when not empty
  double call_timeout = 30;       // the transport's per-call deadline, in seconds
  // The master's scan_interval (MasterSettings' default when unset).
  std::optional<std::chrono::milliseconds> scan_interval;
};

// A transport that counts every call its slaves make (one round trip each):
// the drain's round trips per build, from which the bench computes the bound
// the slave's raw rate puts on the drain.
class CountingTransport final : public SlaveTransport {
 public:
  explicit CountingTransport(xmlrpc_slave::XmlRpcSlaveTransport& inner) : inner_(inner) {}
  std::unique_ptr<Slave> connect(const Builder& builder) override;
  std::uint64_t calls() const { return calls_.load(); }

 private:
  xmlrpc_slave::XmlRpcSlaveTransport& inner_;
  std::atomic<std::uint64_t> calls_{0};
};

class Farm {
 public:
  explicit Farm(FarmOptions options);
  ~Farm();
  Farm(const Farm&) = delete;
  Farm& operator=(const Farm&) = delete;

  soci_store::SociStore& store() { return *store_; }
  Librarian& librarian() { return *librarian_; }
  // Syncs of the file system the farm's archive has made so far.
  std::uint64_t archive_syncs() const { return archive_->syncs(); }
  xmlrpc_slave::XmlRpcSlaveTransport& transport() { return transport_; }
  // Round trips (RPC calls and file downloads) the masters of make_master()
  // made to the slave.
  std::uint64_t round_trips() const { return counting_.calls(); }
  int slave_port() const { return slave_port_; }
  // Whether the slave's file cache is on tmpfs (the report says so).
  bool slave_cache_on_tmpfs() const;
  const DistroArchRelease& dar() const { return dar_; }
  const FarmOptions& options() const { return options_; }
  // The store's connection: a file path or a libpq string with dbname.
  const std::string& connection() const { return connection_; }
  pid_t slave_pid() const { return slave_->pid(); }
  std::filesystem::path slave_log() const { return options_.work / "slave.log"; }
  // Writes the .dsc of the long builds (an hour each, all of them one
  // source) to disk too (for `buildd-master build add`).
  std::filesystem::path write_long_dsc_file() const;

  // A pipeline on this farm, MasterSettings defaults except max_in_flight and
  // scan_interval.
  std::unique_ptr<BuilddMaster> make_master();

  // Queues `count` builds in one transaction with INSERT … SELECT over a
  // generated series (what a bulk import would do); returns the seconds it
  // took, with the storing of their sources. Long builds (an hour) share one
  // .dsc; zero-length builds, the ones a scenario sees finish, have each
  // their own. Scores vary so that the dispatch order is
  // a real sort. With `archives` > 1 the builds are spread round-robin over
  // archives "a0", "a1", … (what a fair-share scheduler shares between).
  double enqueue(long long count, bool long_build, int archives = 1);

  // A fresh session on the farm's database (not the store's pool).
  std::unique_ptr<soci::session> open_session() const;

 private:
  void start_slave();
  void add_builders();

  FarmOptions options_;
  std::string pg_database_;  // created here, dropped by the destructor
  std::string connection_;
  SystemTimeSource time_;
  std::unique_ptr<soci_store::SociStore> store_;
  std::unique_ptr<FileLibrarian> archive_;
  std::unique_ptr<Librarian> librarian_;
  std::unique_ptr<HttpServer> http_;
  xmlrpc_slave::XmlRpcSlaveTransport transport_;
  CountingTransport counting_{transport_};
  std::unique_ptr<ChildProcess> slave_;
  int slave_port_ = 0;
  std::filesystem::path slave_cache() const;
  DistroArchRelease dar_;
  LibraryFile dsc_long_;
};

// "http://127.0.0.1:<port>" of a port nobody listens on right now.
std::uint16_t pick_free_port();
// Peak resident set of this process so far, in MiB.
double peak_rss_mib();
// VmHWM of another process, in MiB (0 when unreadable).
double peak_rss_mib_of(pid_t pid);
// VmRSS now, in MiB (what the process holds after a storm).
double rss_mib_of(pid_t pid);
// One field of /proc/<pid>/status ("VmHWM:", "VmRSS:") in MiB; 0 if absent.
double status_mib_of(pid_t pid, const std::string& field);
// Starts this process's VmHWM again from its current RSS (Linux clear_refs).
void reset_peak_rss();

// CPU time (user + system, every thread) of each process, in seconds, from
// /proc/<pid>/stat; a process that is gone is left out.
using CpuTimes = std::map<pid_t, double>;
CpuTimes cpu_times(const std::vector<pid_t>& pids);
// CPU seconds the processes of `after` used since `before` (a process that
// started in between counts from zero).
double cpu_used(const CpuTimes& before, const CpuTimes& after);
// The processes whose parent is `parent` (a PostgreSQL server's backends).
std::vector<pid_t> children_of(pid_t parent);
// The whole machine's CPU time since boot, all cores (/proc/stat), in seconds.
struct MachineCpu {
  double busy = 0;
  double total = 0;
};
MachineCpu machine_cpu();
// The processes of the PostgreSQL server `sql` is connected to (postmaster
// and its children), when it runs on this machine (scripts/pg-fixture); empty
// when its data directory cannot be read.
std::vector<pid_t> postgres_pids(soci::session& sql);

}  // namespace buildd::bench
