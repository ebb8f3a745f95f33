#pragma once

// The slave transport interface: how the master talks to one build worker
// ("slave"), in terms of no protocol. A job is a JobSpec (inputs by URL and
// digest); the worker is polled with status() and its files fetched by name.
// The reference transport, xmlrpc-slave, speaks launchpad-buildd's protocol
// (docs/protocol.md); everything of that protocol stays inside it.
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
//   kRefused   (not retryable) — the worker is up but refused the call (a call
//                            out of turn, an unknown method; launchpad-buildd:
//                            an XML-RPC Fault);
//   kProtocol  (not retryable) — the reply had the wrong shape or broke a guard
//                            (size limit, bad digest); the message names the
//                            builder and the field.
// No call may hang: each has a deadline from the transport's config.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
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
  // Where logtail ends in the build's log, from workers that read_log() from
  // an offset and say so (BUILDING only): then logtail is the log's bytes
  // [log_size - logtail.size(), log_size), and the master takes the new ones
  // from it instead of calling read_log().
  std::optional<std::uint64_t> log_size;
  BuildResult result = BuildResult::kNone;
  std::string result_text;                     // as sent, e.g. "BuildStatus.OK"
  std::map<std::string, std::string> filemap;  // result filename -> sha1 (names NOT validated)
  std::string dependencies;                    // DEPFAIL only
  std::optional<std::string> builder_version;  // modern slaves installed as a .deb
  bool legacy_array = false;                   // true when the 2005 array form was sent
};

// What probe() learnt about a worker.
struct WorkerInfo {
  std::string arch_tag;  // the processor it builds for, e.g. "i386"
  std::string protocol;  // what it speaks, for the operator ("launchpad-buildd 1.0")
  // Capabilities: what the worker offers beyond the calls every worker has.
  // read_log(): the running build's log from any offset, so that the master
  // keeps the whole log as it grows (status() gives only its last bytes).
  bool reads_log_from_offset = false;
};

// read_log()'s answer: the bytes of the running build's log from the offset
// asked, and how long the log is now.
struct LogRead {
  std::string bytes;
  std::uint64_t log_size = 0;
};

// A file the worker must hold to run a job, named by its digest: the worker
// fetches it from `url` unless it holds it already, and refuses it when the
// bytes' SHA-1 is not `sha1`.
struct JobInput {
  std::string filename;  // the build's name for it, e.g. "hello_1.0-1.dsc"
  std::string sha1;
  std::string url;  // the librarian's URL
};

// One job, described without any protocol: the transport turns it into its
// own calls (launchpad-buildd: ensurepresent for each input, then build()
// with its args struct).
struct JobSpec {
  std::string job_id;  // status().build_id reports it back; unique per dispatch
  JobInput chroot;     // the build environment
  std::vector<JobInput> sources;
  std::string source_name;     // "hello"
  std::string source_version;  // "1.0-1"
  std::string release;         // the distribution release, e.g. "warty"
  std::string pocket;          // "release", "updates", "security"…
  std::string component;       // "main", "universe"…
  std::string arch_tag;        // the arch release's processor tag, e.g. "i386"
  bool arch_indep = false;     // this arch release also builds Architecture: all
  // Opaque arguments for the worker's protocol, from the operator's config
  // (master.job_args), passed on untouched: a transport uses those it knows
  // and ignores the rest (xmlrpc-slave adds each to build()'s args struct,
  // never replacing one it sets itself).
  std::map<std::string, std::string> protocol_args;
};

// start()'s answer when it threw nothing.
struct StartResult {
  bool started = false;
  // Not started: why, for the log. The job goes back to the queue and nobody
  // is blamed (the worker was busy after all, or lost an input it held).
  std::string not_now;
};

// A file fetched from the worker: a result file (by its SHA-1) or the log.
struct FetchedFile {
  std::uint64_t size = 0;
  std::string sha1;  // of the bytes received
};

class BUILDD_API Slave {
 public:
  virtual ~Slave();

  virtual const std::string& builder_name() const = 0;

  // Whether the worker is there and speaks this transport's protocol: its
  // description, or an Error whose message says what is wrong (the core
  // disables the builder with it). The core calls it before the builder's
  // first job and whenever it re-checks the builder; a transport forgets
  // here whatever it remembered about the worker (the inputs it holds).
  virtual WorkerInfo probe() = 0;

  virtual SlaveStatus status() = 0;

  // Starts `job` on an IDLE worker: makes every input present (fetched and
  // checked by digest), then starts the build. Returns started, or not_now
  // when the worker turns out busy or cannot start for a reason that is
  // nobody's fault. Throws when an input cannot be made present or the
  // worker refuses the job: the core counts that against the builder.
  // Never starts a job on a worker that is not IDLE.
  virtual StartResult start(const JobSpec& job) = 0;

  // The running build's log from byte `offset`, at most `max_bytes` of it,
  // for a worker whose probe() said reads_log_from_offset. The default
  // throws kRefused (the worker has no such call). A transport checks the
  // answer: no more than `max_bytes`, and offset + bytes within log_size.
  virtual LogRead read_log(std::uint64_t offset, std::size_t max_bytes);

  virtual std::string abort() = 0;  // returns the state text, e.g. "BuilderStatus.ABORTING"
  virtual std::string clean() = 0;  // returns the state text, e.g. "BuilderStatus.IDLE"

  // Fetches `name` (a result file's SHA-1, or "buildlog" for the log) and
  // writes each chunk into `sink` as it arrives (the librarian hashes,
  // compresses and stores it in the same pass). Throws kProtocol when more
  // than `max_bytes` arrive or, when `name` is a SHA-1, when the content's
  // SHA-1 differs; an error thrown by the sink ends the transfer and is
  // passed on. After a throw the sink holds a partial file, which the caller
  // discards. Uses the longer download deadline.
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
