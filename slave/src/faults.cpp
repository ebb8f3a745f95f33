#include "faults.hpp"

#include <stdexcept>

namespace buildd::slave {
namespace {

// The count of a fault such as forget-job:N; `fallback` when no ARG is given
// (nullopt: the ARG is required).
int count_arg(const FaultSpec& spec, std::optional<int> fallback, int minimum) {
  if (spec.arg.empty() && fallback) return *fallback;
  try {
    std::size_t used = 0;
    int n = std::stoi(spec.arg, &used);
    if (used == spec.arg.size() && n >= minimum) return n;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument("--fault " + spec.kind + " needs a count of at least " +
                              std::to_string(minimum) + ", e.g. " + spec.kind + ":2");
}

}  // namespace

FaultSpec parse_fault_spec(const std::string& text) {
  FaultSpec spec;
  std::string rest = text;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    try {
      spec.builder = std::stoi(rest.substr(at + 1));
    } catch (const std::exception&) {
      throw std::invalid_argument("bad builder index in --fault " + text);
    }
    rest = rest.substr(0, at);
  }
  if (auto colon = rest.find(':'); colon != std::string::npos) {
    spec.arg = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  spec.kind = rest;
  static const std::set<std::string> kKinds = {
      "hang",       "slow",           "reset",      "garbage",
      "fault",      "oversized-tail", "bad-sha1",   "hostile-filemap",
      "huge-xml",   "builderfail",    "forget-job", "restart-mid-build",
      "abort-polls"};
  if (!kKinds.count(spec.kind)) throw std::invalid_argument("unknown fault kind: " + spec.kind);
  if (spec.kind == "slow") {
    try {
      std::size_t used = 0;
      long ms = std::stol(spec.arg, &used);
      if (used != spec.arg.size() || ms < 0) throw std::invalid_argument(spec.arg);
    } catch (const std::exception&) {
      throw std::invalid_argument("--fault slow needs milliseconds, e.g. slow:250");
    }
  }
  // Checked here so that a bad count fails at start-up, not at the first build.
  if (spec.kind == "forget-job" || spec.kind == "restart-mid-build") count_arg(spec, 1, 1);
  if (spec.kind == "abort-polls") count_arg(spec, std::nullopt, 0);
  return spec;
}

BuilderFaults faults_for_builder(const std::vector<FaultSpec>& specs, int builder) {
  BuilderFaults faults;
  for (const auto& spec : specs) {
    if (spec.builder && *spec.builder != builder) continue;
    const std::string method = spec.arg.empty() ? "*" : spec.arg;
    if (spec.kind == "hang") {
      faults.hang.insert(spec.arg.empty() ? "status" : spec.arg);
    } else if (spec.kind == "reset") {
      faults.reset.insert(method);
    } else if (spec.kind == "garbage") {
      faults.garbage.insert(method);
    } else if (spec.kind == "fault") {
      faults.fault.insert(method);
    } else if (spec.kind == "slow") {
      faults.slow = std::chrono::milliseconds(std::stol(spec.arg));
    } else if (spec.kind == "oversized-tail") {
      faults.oversized_tail = true;
    } else if (spec.kind == "bad-sha1") {
      faults.bad_sha1 = true;
    } else if (spec.kind == "hostile-filemap") {
      faults.hostile_filemap = true;
      faults.hostile_filemap_nul = faults.hostile_filemap_nul || spec.arg == "nul";
    } else if (spec.kind == "huge-xml") {
      faults.huge_xml = true;
    } else if (spec.kind == "builderfail") {
      faults.builderfail_once = true;
    } else if (spec.kind == "forget-job") {
      faults.forget_jobs = count_arg(spec, 1, 1);
    } else if (spec.kind == "restart-mid-build") {
      faults.restart_builds = count_arg(spec, 1, 1);
    } else if (spec.kind == "abort-polls") {
      faults.abort_polls = count_arg(spec, std::nullopt, 0);
    }
  }
  return faults;
}

}  // namespace buildd::slave
