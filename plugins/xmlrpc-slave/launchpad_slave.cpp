#include "launchpad_slave.hpp"

#include <algorithm>

namespace buildd::xmlrpc_slave {

int fault_code_of(const Error& error) {
  const auto* fault = dynamic_cast<const FaultError*>(&error);
  return fault ? fault->fault_code() : 0;
}

BuildArgs build_args_of(const JobSpec& job) {
  BuildArgs args;
  args["series"] = job.release;
  args["suite"] = job.pocket == "release" ? job.release : job.release + "-" + job.pocket;
  args["ogrecomponent"] = job.component;
  args["arch_tag"] = job.arch_tag;
  args["arch_indep"] = job.arch_indep;
  for (const auto& [key, value] : job.protocol_args) args.emplace(key, value);  // never replaces
  return args;
}

namespace {

bool offers_binarypackage(const std::vector<std::string>& builder_types) {
  return std::find(builder_types.begin(), builder_types.end(), "binarypackage") !=
         builder_types.end();
}

}  // namespace

WorkerInfo LaunchpadSlave::probe() {
  chroot_held_.clear();
  binarypackage_.reset();
  if (echo({"Test"}) != std::vector<std::string>{"Test"})
    throw Error(ErrorCategory::kProtocol, "echo(\"Test\") did not return [\"Test\"]");
  SlaveInfo about = info();
  if (about.protocol_version != "1.0")
    throw Error(ErrorCategory::kProtocol,
                "Protocol version mismatch: " + about.protocol_version + " (expected 1.0)");
  binarypackage_ = offers_binarypackage(about.builder_types);
  WorkerInfo worker{about.arch_tag, "launchpad-buildd " + about.protocol_version, false};
  try {
    readlog(0, 0);
    worker.reads_log_from_offset = true;
  } catch (const Error& e) {
    // launchpad-buildd: Fault 8001, no such method; the master follows the
    // tails. A garbled answer to the extension is no reason to refuse a
    // worker whose own calls work; an unreachable worker is.
    if (e.category() == ErrorCategory::kTransport) throw;
  }
  return worker;
}

LogRead LaunchpadSlave::readlog(std::uint64_t /*offset*/, std::size_t /*max_bytes*/) {
  throw FaultError(kFaultNoSuchMethod,
                   "builder " + builder_name() + ": procedure readlog not found");
}

LogRead LaunchpadSlave::read_log(std::uint64_t offset, std::size_t max_bytes) {
  LogRead read = readlog(offset, max_bytes);
  const std::string where = "builder " + builder_name() + ": readlog(" + std::to_string(offset) +
                            ", " + std::to_string(max_bytes) + "): ";
  if (read.bytes.size() > max_bytes)
    throw Error(ErrorCategory::kProtocol,
                where + std::to_string(read.bytes.size()) + " bytes answered");
  if (!read.bytes.empty() && offset + read.bytes.size() > read.log_size)
    throw Error(ErrorCategory::kProtocol, where + std::to_string(read.bytes.size()) +
                                              " bytes answered past the log's size " +
                                              std::to_string(read.log_size));
  return read;
}

StartResult LaunchpadSlave::start(const JobSpec& job) {
  try {
    auto send = [&](const JobInput& input) {
      EnsurePresentResult r = ensure_present(input.sha1, input.url, "", "");
      if (!r.present) {
        throw Error(ErrorCategory::kProtocol,
                    "slave refused " + input.filename + " (" + input.sha1 + "): " + r.info);
      }
    };
    const bool chroot_skipped = chroot_held_ == job.chroot.sha1;
    if (!chroot_skipped) {
      chroot_held_.clear();
      send(job.chroot);
      chroot_held_ = job.chroot.sha1;
    }
    std::map<std::string, std::string> filemap;
    for (const JobInput& source : job.sources) {
      send(source);
      filemap[source.filename] = source.sha1;
    }
    if (!binarypackage_) binarypackage_ = offers_binarypackage(info().builder_types);
    // build() on a busy launchpad-buildd wipes its log and renames its job.
    const SlaveStatus now = status();
    if (now.state != BuilderState::kIdle) return {false, "no longer IDLE (" + now.state_text + ")"};
    BuildStartResult r = build(job.job_id, *binarypackage_ ? "binarypackage" : "debian",
                               job.chroot.sha1, filemap, build_args_of(job));
    if (r.status == BuildStartStatus::kUnknownSum && chroot_skipped) {
      // The slave no longer holds the chroot it held (restarted with an
      // empty cache): not its fault; the next start sends it again.
      chroot_held_.clear();
      return {false, "build() answered " + r.status_text + " for a chroot it held"};
    }
    if (r.status != BuildStartStatus::kBuilding)
      throw Error(ErrorCategory::kProtocol, "build() answered " + r.status_text + ": " + r.info);
    return {true, ""};
  } catch (const Error&) {
    chroot_held_.clear();  // whatever went wrong, ask again next time
    throw;
  }
}

}  // namespace buildd::xmlrpc_slave
