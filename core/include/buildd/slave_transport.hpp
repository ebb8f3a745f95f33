#pragma once

// The slave transport interface: how the master talks to one build slave.
// The reference peer is launchpad-buildd; the wire protocol, both generations
// and its hazards, is in docs/protocol.md.
//
// Threading: a SlaveTransport is shared by every thread of the master and must
// be thread-safe. A Slave is used by one thread at a time (the pipeline gives
// each builder's calls to one worker), but different Slave objects are used
// concurrently, so any state a transport shares between them (connection
// pools) must be thread-safe.
//
// Ownership: connect() returns a Slave that the caller owns. It must not
// outlive the transport that made it.
//
// Errors: every call throws buildd::Error:
//   kTransport (retryable) — could not connect, timed out, connection reset, HTTP
//                            error from the server;
//   kFault     (not retryable, fault_code() set) — the slave answered with an
//                            XML-RPC Fault (launchpad-buildd: 8001 no such method,
//                            8002 any refusal);
//   kProtocol  (not retryable) — the reply had the wrong shape or broke a guard
//                            (size limit, bad digest); the message names the
//                            builder and the field.
// No call may hang: each has a deadline from the transport's config.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "buildd/content_writer.hpp"
#include "buildd/domain.hpp"
#include "buildd/export.hpp"
#include "buildd/plugin.hpp"

namespace buildd {

// The builder's state, first element (or builder_status key) of status().
enum class BuilderState {
  kIdle,
  kBuilding,
  kWaiting,
  kAborting,
  kAborted,  // 2005 protocol only; modern slaves end an abort in WAITING/ABORTED
  kUnknown,  // anything else; SlaveStatus::state_text has what was sent
};

// The build's result while WAITING (build_status).
enum class BuildResult {
  kNone,  // not WAITING
  kOk,
  kPackageFail,
  kDepFail,
  kGivenBack,
  kChrootFail,
  kBuilderFail,
  kAborted,
  kUnknown,  // SlaveStatus::result_text has what was sent
};

BUILDD_API const char* to_string(BuilderState state);  // "IDLE", ...
BUILDD_API const char* to_string(BuildResult result);  // "OK", ...

// status() normalised from either wire form (modern struct or 2005 array).
struct SlaveStatus {
  BuilderState state = BuilderState::kUnknown;
  std::string state_text;  // as sent, e.g. "BuilderStatus.WAITING"
  std::string build_id;    // cookie of the job, empty when IDLE
  std::string logtail;     // raw bytes (BUILDING only), already capped by the transport
  BuildResult result = BuildResult::kNone;
  std::string result_text;                     // as sent, e.g. "BuildStatus.OK"
  std::map<std::string, std::string> filemap;  // result filename -> sha1 (names NOT validated)
  std::string dependencies;                    // DEPFAIL only
  std::optional<std::string> builder_version;  // modern slaves installed as a .deb
  bool legacy_array = false;                   // true when the 2005 array form was sent
};

struct SlaveInfo {
  std::string protocol_version;  // "1.0"
  std::string arch_tag;
  std::vector<std::string> builder_types;  // e.g. {"binarypackage", ...} or {"debian"}
};

struct EnsurePresentResult {
  bool present = false;
  std::string info;  // "Cache", "Download", "No URL", an error text; empty from a 2005 bare bool
};

enum class BuildStartStatus { kBuilding, kUnknownSum, kUnknownBuilder, kOther };

struct BuildStartResult {
  BuildStartStatus status = BuildStartStatus::kOther;
  std::string status_text;  // as sent, e.g. "BuilderStatus.BUILDING"
  std::string info;         // build id, or the slave's explanation
};

// Values of build()'s args struct: strings and booleans are all the protocol
// uses for binarypackage (series, suite, ogrecomponent, arch_tag, arch_indep…).
using BuildArgValue = std::variant<std::string, bool>;
using BuildArgs = std::map<std::string, BuildArgValue>;

// A file fetched from the slave's /filecache/.
struct FetchedFile {
  std::uint64_t size = 0;
  std::string sha1;  // of the bytes received
};

class BUILDD_API Slave {
 public:
  virtual ~Slave();

  virtual const std::string& builder_name() const = 0;

  virtual std::vector<std::string> echo(const std::vector<std::string>& args) = 0;
  virtual SlaveInfo info() = 0;
  virtual SlaveStatus status() = 0;

  // 4-argument form; the transport falls back to the 2005 2-argument form on
  // Fault 8002. `url` nullopt sends nil ("only check"). Credentials never appear
  // in logs or error messages. Uses the longer ensurepresent deadline.
  virtual EnsurePresentResult ensure_present(const std::string& sha1,
                                             const std::optional<std::string>& url,
                                             const std::string& username,
                                             const std::string& password) = 0;

  // Never call while the slave is not IDLE (protocol.md: it corrupts the
  // running build's id and wipes its log); the pipeline checks status() first.
  virtual BuildStartResult build(const std::string& build_id, const std::string& builder_type,
                                 const std::string& chroot_sha1,
                                 const std::map<std::string, std::string>& filemap,
                                 const BuildArgs& args) = 0;

  virtual std::string abort() = 0;  // returns the state text, "BuilderStatus.ABORTING"
  virtual std::string clean() = 0;  // returns the state text, "BuilderStatus.IDLE"

  // GETs <base>/filecache/<name> (`name` is a sha1 or "buildlog") and writes
  // each chunk into `sink` as it arrives (the librarian hashes, compresses and
  // stores it in the same pass). Throws kProtocol when more than `max_bytes`
  // arrive or, when `name` is a sha1, when the content's SHA-1 differs; an
  // error thrown by the sink ends the transfer and is passed on. After a
  // throw the sink holds a partial file, which the caller discards. Uses the
  // longer download deadline.
  virtual FetchedFile fetch_file(const std::string& name, ByteSink& sink,
                                 std::uint64_t max_bytes) = 0;

  // fetch_file() into the local file `destination` (created or replaced),
  // removed again when the fetch fails.
  FetchedFile fetch_to_file(const std::string& name, const std::filesystem::path& destination,
                            std::uint64_t max_bytes);
};

class BUILDD_API SlaveTransport : public PluginObject {
 public:
  // No I/O: returns a handle for the builder's base URL (Builder::url).
  // Throws buildd::Error for a URL this transport does not serve (another
  // scheme, a malformed address): in a farm of several transports the next
  // one is asked, and `builder add` reports the refusal.
  virtual std::unique_ptr<Slave> connect(const Builder& builder) = 0;

  // What the core calls: connect(), with a null answer (a plugin's bug)
  // turned into Error(kPlugin) naming the method and the builder.
  std::unique_ptr<Slave> open(const Builder& builder);
};

// Several transports in one farm (a `slave_transport:` list in the config):
// each builder is served by the first transport, in the config's order, whose
// connect() takes its URL. When none does, the error lists every refusal.
class BUILDD_API SlaveTransportChain final : public SlaveTransport {
 public:
  struct Member {
    std::string name;  // the plugin, as the config names it (for messages)
    std::shared_ptr<SlaveTransport> transport;
  };
  explicit SlaveTransportChain(std::vector<Member> members);

  std::unique_ptr<Slave> connect(const Builder& builder) override;

 private:
  std::vector<Member> members_;
};

}  // namespace buildd
