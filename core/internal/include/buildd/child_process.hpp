#pragma once

// A child process (the demo's slaves, the end-to-end tests' servers): started
// with fork/exec, killed with its parent (PR_SET_PDEATHSIG), stopped with
// SIGTERM then SIGKILL when the object goes away.
//
// Threading: one thread per object. Errors: start throws Error(kInternal).

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "buildd/export.hpp"

namespace buildd {

class BUILDD_API ChildProcess {
 public:
  // Runs `program` with `args`; stdout and stderr go to `log_file` when given.
  ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args,
               const std::filesystem::path& log_file = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, up to `grace` for it to exit, then SIGKILL. Returns the exit
  // status as waitpid gives it (or -1 when already reaped).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  void signal(int sig);
  // Waits for the process to exit; returns its exit code (128+signal when killed).
  int wait();

 private:
  pid_t pid_ = -1;
};

// Polls until `file` exists and holds a line, or the timeout; returns the
// line. Throws Error(kInternal) on timeout, or when `process` exits first.
BUILDD_API std::string wait_for_file_line(const std::filesystem::path& file,
                                          std::chrono::milliseconds timeout,
                                          ChildProcess* process = nullptr);

}  // namespace buildd
