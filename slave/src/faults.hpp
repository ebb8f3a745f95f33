#pragma once

// Fault injection (--fault KIND[:ARG][@BUILDER]): ways in which a slave can
// misbehave that a master must survive. Parsed once at start-up, then only
// read, so it is shared by every HTTP thread without locking.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace buildd::slave {

struct FaultSpec {
  std::string kind;
  std::string arg;
  std::optional<int> builder;  // nullopt: every builder
};

// Throws std::invalid_argument with a readable message for a bad spec.
FaultSpec parse_fault_spec(const std::string& text);

// The faults that apply to one builder.
struct BuilderFaults {
  // Method names the fault applies to; "*" means every method.
  std::set<std::string> hang;
  std::set<std::string> reset;
  std::set<std::string> garbage;
  std::set<std::string> fault;
  std::chrono::milliseconds slow{0};
  bool oversized_tail = false;
  bool bad_sha1 = false;
  bool hostile_filemap = false;
  bool hostile_filemap_nul = false;  // also names XML cannot carry
  bool huge_xml = false;
  bool builderfail_once = false;  // the first build ends BUILDERFAIL, whatever its .dsc says
  int forget_jobs = 0;            // so many accepted builds are dropped at once (forget-job)
  int restart_builds = 0;  // so many accepted builds are cut off half-way (restart-mid-build)
  std::optional<int> abort_polls;  // an abort ends after so many status() calls, not a timer

  static bool matches(const std::set<std::string>& methods, const std::string& method) {
    return methods.count("*") > 0 || methods.count(method) > 0;
  }
};

BuilderFaults faults_for_builder(const std::vector<FaultSpec>& specs, int builder);

}  // namespace buildd::slave
