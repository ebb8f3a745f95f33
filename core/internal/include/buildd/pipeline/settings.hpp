#pragma once

// The knobs of the pipeline and what one cycle reports. Plain values; the
// lead maps the YAML config onto MasterSettings.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "buildd/build_state.hpp"
#include "buildd/export.hpp"

namespace buildd {

// Two limits Launchpad lacks and Koji, OBS, Buildbot and Hydra have: a build
// that runs longer than max_duration, or whose log tail has not changed for
// log_silence (sbuild's default is 150 minutes), is aborted and given back.
struct BuildTimeouts {
  std::chrono::seconds max_duration{std::chrono::hours(24)};
  std::chrono::seconds log_silence{std::chrono::minutes(150)};
};

struct BUILDD_API MasterSettings {
  std::chrono::milliseconds scan_interval{std::chrono::seconds(15)};
  // Builders asked concurrently during a scan (worker threads of the cycle).
  std::size_t max_in_flight = 16;
  // GIVENBACK replies accepted for one build before it is FAILEDTOBUILD.
  int give_back_limit = 5;
  // How long a cancelled build may take to reach WAITING after abort(), and
  // how long a slave may stay ABORTING, before its builder is failed.
  std::chrono::seconds cancel_timeout{180};
  // Consecutive scans in which a builder could not be reached before its
  // failure is counted (modern Launchpad counts every error; a short network
  // blip should not cost a job).
  int transport_grace_scans = 5;
  int job_reset_threshold = 3;
  int builder_failure_threshold = 5;
  std::uint64_t max_log_bytes = 512ull << 20;
  std::uint64_t max_result_bytes = 4ull << 30;
  // Bytes of a running build's whole log kept in the store (its live log),
  // read from workers that read their log from an offset; 0: none.
  std::uint64_t live_log_bytes = 16ull << 20;
  // Waiting entries read per family beyond its idle builders (Launchpad: 10).
  std::size_t candidate_lookahead = 10;
  // This master's name among the masters sharing the database; empty: no
  // registration and no leases (one master alone, as in the unit tests).
  std::string master_id;
  // Builder leases expire this long after their last renewal; a master
  // renews every third of it, so a dead master's builders are taken over
  // within two lease periods.
  std::chrono::seconds lease_ttl{30};
  BuildTimeouts timeouts;
  // Per arch release ("ubuntu/warty/i386"), replacing `timeouts`.
  std::map<std::string, BuildTimeouts> arch_release_timeouts;

  const BuildTimeouts& timeouts_for(const std::string& arch_release) const {
    auto it = arch_release_timeouts.find(arch_release);
    return it == arch_release_timeouts.end() ? timeouts : it->second;
  }
  // The operator's opaque job arguments (master.job_args) by arch release
  // ("ubuntu/warty/i386"), or "*" for every one: JobSpec::protocol_args.
  std::map<std::string, std::map<std::string, std::string>> job_args;
  // Those of "*", then the arch release's own, which win.
  std::map<std::string, std::string> job_args_for(const std::string& arch_release) const {
    std::map<std::string, std::string> out;
    for (const char* scope : {"*", arch_release.c_str()}) {
      auto it = job_args.find(scope);
      if (it == job_args.end()) continue;
      for (const auto& [key, value] : it->second) out[key] = value;
    }
    return out;
  }
};

struct BUILDD_API CycleReport {
  std::size_t scanned = 0;                      // builders whose job was scanned
  std::map<BuildState, std::size_t> completed;  // by final state
  std::size_t dispatched = 0;
  std::size_t reset = 0;            // jobs put back in the queue
  std::size_t failed_builders = 0;  // builders marked not OK this cycle
  std::size_t deferred = 0;         // collections left for the next poll
  std::size_t reconciled = 0;       // slaves cleaned or aborted with no job of ours
  std::size_t unreachable = 0;      // builders whose status() failed
  std::chrono::microseconds duration{0};

  std::size_t completed_total() const {
    std::size_t n = 0;
    for (const auto& [state, count] : completed) n += count;
    return n;
  }
  // One line for the daemon log, the demo and the benchmarks.
  std::string summary() const;
};

}  // namespace buildd
