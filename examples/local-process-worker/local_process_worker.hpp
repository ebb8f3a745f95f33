#pragma once

// local-process: a slave transport whose "slaves" are slots on the master's
// own machine. A builder's URL names its slot (local://<slot>/); a build runs
// the configured command as a child process of the master, in the slot's
// build folder, with the build's inputs linked in and its log in `buildlog`.
// A one-machine farm without slave machines, and the worked example of the
// plugin author guide (docs/plugin-author-guide.md).
//
// It keeps the SlaveTransport contract:
//   IDLE → start() → BUILDING (log tail) → WAITING (result, result files)
//   → clean() → IDLE; abort() → ABORTING → WAITING/ABORTED.
// start() downloads each input into a cache shared by the slots, by SHA-1.
// The command's exit status is the result: 0 OK; non-zero PACKAGEFAIL, or
// DEPFAIL when it wrote the missing dependencies into `depwait`. Files it
// leaves in `results/` are the build's result files.
//
// Threading: the transport is shared by every thread of the master. A slot's
// state is shared by every handle for its URL and guarded by the slot's
// mutex; the slots' map by the transport's.
// Ownership: the transport owns the child processes. When it is destroyed
// (the master stops) it kills the builds still running: their slots come back
// IDLE, and the master's reconciliation puts those builds back in the queue.
// Errors: buildd::Error as slave_transport.hpp lists them. A call out of
// turn (clean() while BUILDING, abort() while IDLE) is kRefused.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "buildd/slave_transport.hpp"

namespace local_process_worker {

struct Options {
  std::filesystem::path work_dir;  // <work_dir>/cache (inputs by SHA-1), <work_dir>/slots/<slot>
  std::filesystem::path command;   // run for each build
  std::string arch_tag;            // what probe() reports
  std::size_t max_logtail_bytes = 0;
  double download_timeout = 0;  // seconds, one input's download
};

// One builder's state: the build it holds and the child running it.
struct Slot {
  std::mutex mutex;
  std::filesystem::path dir;  // <work_dir>/slots/<slot>
  std::string build_id;       // empty: IDLE
  pid_t pid = -1;             // the running command; -1 once it has ended (or none)
  int wait_status = 0;        // waitpid()'s status once it has ended
  bool aborted = false;
  std::optional<std::map<std::string, std::string>> results;  // name -> sha1, once listed
};

class LocalProcessTransport : public buildd::SlaveTransport {
 public:
  explicit LocalProcessTransport(Options options);
  ~LocalProcessTransport() override;

  // Throws Error(kProtocol) for a URL that is not local://<slot>/.
  std::unique_ptr<buildd::Slave> connect(const buildd::Builder& builder) override;

 private:
  const Options options_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;  // by slot name
};

Options options_from_config(const buildd::PluginConfig& config);

}  // namespace local_process_worker
