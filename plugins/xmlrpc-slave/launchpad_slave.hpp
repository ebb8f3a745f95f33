#pragma once

// launchpad-buildd's calls (docs/protocol.md), and the core's protocol-neutral
// Slave (probe, start) written in terms of them. Everything of that protocol
// lives here and nowhere in the core: the echo/info handshake and its
// protocol version "1.0", ensurepresent (with its 2005 two-argument form, in
// XmlRpcSlave), build()'s builder type and args struct (series, suite,
// ogrecomponent, arch_tag, arch_indep), the XML-RPC fault codes, and the
// hazard that build() on a busy slave wipes its running build.
//
// XmlRpcSlave speaks these calls over XML-RPC; the pipeline's tests drive the
// same probe() and start() over scripted calls (tests/fakes/fake_slave.hpp).
//
// Threading: as buildd::Slave, one thread at a time.
// Errors: as buildd::Slave; a Fault is FaultError (kRefused with its code).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "buildd/error.hpp"
#include "buildd/slave_transport.hpp"

namespace buildd::xmlrpc_slave {

// launchpad-buildd's fault codes: 8001 no such method, 8002 any Python
// exception (a call out of turn, bad arguments).
inline constexpr int kFaultNoSuchMethod = 8001;
inline constexpr int kFaultApplicationError = 8002;

// An XML-RPC Fault: the slave is up and refused the call.
class FaultError : public Error {
 public:
  FaultError(int code, std::string message)
      : Error(ErrorCategory::kRefused, std::move(message)), code_(code) {}
  int fault_code() const noexcept { return code_; }

 private:
  int code_;
};

// The code of a FaultError, else 0.
int fault_code_of(const Error& error);

// info()
struct SlaveInfo {
  std::string protocol_version;  // "1.0"
  std::string arch_tag;
  std::vector<std::string> builder_types;  // e.g. {"binarypackage", ...} or {"debian"}
};

// ensurepresent()
struct EnsurePresentResult {
  bool present = false;
  std::string info;  // "Cache", "Download", "No URL", an error text; empty from a 2005 bare bool
};

// build()
enum class BuildStartStatus { kBuilding, kUnknownSum, kUnknownBuilder, kOther };

struct BuildStartResult {
  BuildStartStatus status = BuildStartStatus::kOther;
  std::string status_text;  // as sent, e.g. "BuilderStatus.BUILDING"
  std::string info;         // build id, or the slave's explanation
};

// Values of build()'s args struct: strings and booleans are all the protocol
// uses for binarypackage (series, suite, ogrecomponent, arch_tag, arch_indep).
using BuildArgValue = std::variant<std::string, bool>;
using BuildArgs = std::map<std::string, BuildArgValue>;

// The args struct of a job: series, suite (release, or release-pocket),
// ogrecomponent, arch_tag, arch_indep, then the job's protocol_args as
// strings (one named like those five does not replace it).
BuildArgs build_args_of(const JobSpec& job);

class LaunchpadSlave : public Slave {
 public:
  // launchpad-buildd's calls, one round trip each.
  virtual std::vector<std::string> echo(const std::vector<std::string>& args) = 0;
  virtual SlaveInfo info() = 0;
  // 4-argument form (url nullopt sends nil: "only check"). Credentials never
  // appear in logs or error messages.
  virtual EnsurePresentResult ensure_present(const std::string& sha1,
                                             const std::optional<std::string>& url,
                                             const std::string& username,
                                             const std::string& password) = 0;
  // Never call while the slave is not IDLE: it corrupts the running build's
  // id and wipes its log (start() checks status() first).
  virtual BuildStartResult build(const std::string& build_id, const std::string& builder_type,
                                 const std::string& chroot_sha1,
                                 const std::map<std::string, std::string>& filemap,
                                 const BuildArgs& args) = 0;

  // readlog(offset, max_bytes): an extension of the project's buildd-slave,
  // not a launchpad-buildd call. The default answers as launchpad-buildd
  // does (Fault 8001, no such method).
  virtual LogRead readlog(std::uint64_t offset, std::size_t max_bytes);

  // echo("Test"), then info(): protocol "1.0" or an Error saying what is
  // wrong; then readlog(0, 0): the worker reads its log from an offset
  // unless that is refused (launchpad-buildd: Fault 8001) or garbled.
  WorkerInfo probe() final;
  // readlog(), its answer checked: at most `max_bytes`, ending within the
  // log's size (kProtocol otherwise).
  LogRead read_log(std::uint64_t offset, std::size_t max_bytes) final;
  // ensurepresent for the chroot (unless this slave holds it from its last
  // job) and each source, status() (IDLE or not now), then build():
  // "binarypackage" when the slave offers it, else the 2005 "debian".
  StartResult start(const JobSpec& job) final;

 private:
  // Whether info() listed "binarypackage" (asked again when unknown); the
  // list itself is not kept, it would be a few hundred bytes per builder.
  std::optional<bool> binarypackage_;
  std::string chroot_held_;  // SHA-1 of the chroot the slave confirmed it holds
};

}  // namespace buildd::xmlrpc_slave
