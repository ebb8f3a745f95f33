#pragma once

// One simulated launchpad-buildd builder: its state machine (protocol.md §4),
// its file cache and its fake build, which writes an sbuild-like log over a
// scripted duration and produces result files.
//
// Threading: every public method may be called from any HTTP worker thread;
// one mutex guards the state. A build runs on the builder's own thread,
// started by build() and joined by the next build(), by shutdown() or by the
// destructor.
// Errors: a call the real slave refuses because of its state or its
// arguments throws SlaveRefusal (the RPC layer turns it into Fault 8002
// "error"). Cache I/O failures throw std::runtime_error (also 8002).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace buildd::slave {

class Journal;

enum class Protocol { kModern, k2005 };

enum class BuilderState { kIdle, kBuilding, kWaiting, kAborting, kAborted };

enum class BuildResult {
  kOk,
  kPackageFail,
  kDepFail,
  kGivenBack,
  kChrootFail,
  kBuilderFail,
  kAborted
};

// "BuilderStatus.IDLE", "BuildStatus.OK", …: the exact wire strings.
std::string wire_name(BuilderState state);
std::string wire_name(BuildResult result);
// Parses "OK", "packagefail", "DEPFAIL", "depwait", …; nullopt when unknown.
std::optional<BuildResult> parse_build_result(const std::string& text);

class SlaveRefusal : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StatusSnapshot {
  BuilderState state = BuilderState::kIdle;
  BuildResult result = BuildResult::kOk;
  std::string build_id;
  std::string logtail;         // last <= 2048 bytes of the log; only filled while BUILDING
  std::uint64_t log_size = 0;  // where logtail ends in the log (BUILDING only)
  std::map<std::string, std::string> filemap;
  std::string dependencies;
};

struct EnsureResult {
  bool present = false;
  std::string info;
};

struct BuildReply {
  std::string status;  // "BuilderStatus.BUILDING", "…UNKNOWNBUILDER", "…UNKNOWNSUM"
  std::string info;    // build id, or the reason
};

// The build arguments the binarypackage manager looks at.
struct BuildArgs {
  std::set<std::string> keys;                  // every key present
  std::map<std::string, std::string> strings;  // the string-valued ones
};

struct BuilderOptions {
  std::filesystem::path cache_dir;
  std::string arch = "amd64";
  Protocol protocol = Protocol::kModern;
  // How long the process scan and cleanup take after abort().
  std::chrono::milliseconds abort_delay{200};
  // A builder that breaks once: its first build ends BUILDERFAIL whatever the
  // .dsc says (--fault builderfail), as a real builder whose prep step fails.
  bool builderfail_once = false;
  // --fault forget-job: so many accepted builds are forgotten: build()
  // answers BUILDING, but the builder is IDLE again by then, as if the slave
  // had been restarted clean right after answering.
  int forget_jobs = 0;
  // --fault restart-mid-build: so many accepted builds are cut off when half
  // their duration has passed, as if the slave had been restarted; the
  // killed attempt's build directory stays behind (protocol.md §3 hazards).
  int restart_builds = 0;
  // --fault abort-polls: an abort ends after so many status() calls have
  // answered ABORTING, instead of after abort_delay.
  std::optional<int> abort_polls;
  // --journal: where a build that reaches WAITING is recorded, and the
  // index this builder is recorded under.
  std::shared_ptr<Journal> journal;
  int index = 0;
  // Offer the readlog extension (RpcEndpoint).
  bool readlog = true;
};

// read_log(): the log's bytes from an offset, and its size now.
struct LogChunk {
  std::string bytes;
  std::uint64_t log_size = 0;
};

class Builder {
 public:
  static constexpr std::size_t kLogtailBytes = 2048;

  explicit Builder(BuilderOptions options);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  const BuilderOptions& options() const { return options_; }
  std::vector<std::string> builder_types() const;

  // Not const: with abort_polls, answering status() is what ends an abort.
  StatusSnapshot status();
  // url nullopt means "only check". Blocks while it downloads.
  EnsureResult ensure_present(const std::string& sha1, const std::optional<std::string>& url,
                              const std::string& username, const std::string& password);
  BuildReply build(const std::string& build_id, const std::string& builder_type,
                   const std::string& chroot_sha1,
                   const std::map<std::string, std::string>& filemap, const BuildArgs& args);
  std::string abort();
  std::string clean();
  // The extension behind readlog(offset, max_bytes): the current log (the
  // running build's, or the last one's) from `offset`, at most `max_bytes`;
  // nothing at or past its end.
  LogChunk read_log(std::uint64_t offset, std::size_t max_bytes);

  // Puts the builder straight into a state, as if a build had got there
  // (the seed's mock builders). BUILDING never finishes by itself; ABORTING
  // never ends. WAITING/OK gets one small result file and a log.
  void start_in_state(BuilderState state, BuildResult result, const std::string& build_id);

  // The file behind /filecache/<name>: a sha1 or "buildlog".
  std::optional<std::filesystem::path> cache_file(const std::string& name) const;
  std::filesystem::path log_path() const { return options_.cache_dir / "buildlog"; }

  // Stops a running build thread (used at exit).
  void shutdown();

 private:
  struct Plan;
  void run_build(Plan plan);
  // Waits up to `d`; true when the build must stop (abort or shutdown).
  bool wait_interrupted(std::chrono::duration<double> d);
  void finish_aborted(const Plan& plan);
  // The build's slave "restarts": the builder is IDLE again. Returns false,
  // changing nothing, when an abort, a shutdown or a newer build came first.
  bool come_back_restarted(const Plan& plan, bool keep_leftovers);
  // Both need mu_ held.
  void publish_aborted();
  void record_in_journal();
  void append_log(const std::string& text);
  // Both need log_mu_ held. The log starts again with `text` (build(),
  // start_in_state()); the log is removed (clean(), a restart).
  void restart_log(const std::string& text);
  void remove_log();
  std::string store_in_cache(const std::string& content);
  bool in_cache(const std::string& sha1) const;
  void join_worker();

  BuilderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  BuilderState state_ = BuilderState::kIdle;
  BuildResult result_ = BuildResult::kOk;
  std::string build_id_;
  std::map<std::string, std::string> result_files_;
  std::string dependencies_;
  bool abort_requested_ = false;
  bool stopping_ = false;
  // Counts accepted builds, so that a build thread outliving its build (an
  // abort ended by status(), then clean() and a new build) changes nothing.
  std::uint64_t generation_ = 0;
  // A build thread is behind the current build and its process dies in the
  // scan, so an abort can end; false for a wedged builder (bad args, a
  // leftover build directory) and for "Abort: hang".
  bool abort_can_end_ = false;
  int aborting_polls_ = 0;  // status() calls answered ABORTING since abort()
  // Build ids whose build directory a simulated restart left behind: a
  // build() of one of them wedges the builder, as on the real slave.
  std::set<std::string> leftovers_;
  std::mutex log_mu_;
  // The log's last kLogtailBytes, kept as it is written, so that status()
  // answers a BUILDING builder's tail without reading the file (a scan asks
  // every builder).
  std::string log_tail_;
  std::uint64_t log_size_ = 0;  // the log file's size, as written
  std::mutex worker_mu_;        // serialises build() and start_in_state() around worker_
  std::thread worker_;
};

}  // namespace buildd::slave
