#pragma once

// Several `buildd-master run` processes on one PostgreSQL database (issue 13):
//
//   mm-scan:  the scan capacity (builder polls completed per second, summed
//             over the masters' buildd_builder_polls_total) with 1, 2, 4…
//             masters, every builder BUILDING a long build; with the CPU
//             time of the masters, the slave, PostgreSQL and the rest of the
//             machine during each window, to tell what limits it.
//   mm-drain: K masters drain a queue of zero-length builds; verified from
//             the database and the slave's journal: nothing lost, nothing
//             built twice, every build's result rows once. With `kill`, one
//             master gets SIGKILL once a third of the queue is done, and the
//             time until the others hold all of its builders is measured.
//
// The farm (database, builders, one buildd-slave process serving them all)
// is a bench::Farm; the masters are real daemons with distinct master.id,
// each serving the shared archive folder over its own HTTP port.
//
// Threading: one thread. Errors: std::runtime_error / buildd::Error when a
// piece cannot start; a run that does not verify returns "ok": false.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "farm.hpp"

namespace buildd::bench {

struct MultiMasterOptions {
  FarmOptions farm;  // backend must be "postgresql"
  std::filesystem::path master_program;
  std::vector<int> masters = {1, 2, 4};  // mm-scan: each in turn; mm-drain: the first
  long long builds = 100;                // mm-drain
  double scan_interval = 0.25;           // seconds (master.scan_interval)
  int lease_ttl = 5;                     // seconds (master.lease_ttl, at least 3)
  double window = 10;                    // mm-scan: seconds of one measured window
  int windows = 3;                       // mm-scan: windows per master count (median kept)
  bool kill = false;                     // mm-drain: SIGKILL one master mid-drain
};

nlohmann::json multimaster_scan(const MultiMasterOptions& options);
nlohmann::json multimaster_drain(const MultiMasterOptions& options);

}  // namespace buildd::bench
