#pragma once

// Runs the real build/bin/buildd-slave as a child process for a test:
// listens on 127.0.0.1 on a port it picks itself (--listen 127.0.0.1:0 with
// --port-file), with its cache in a temp dir, unless the arguments say
// otherwise. The constructor returns once the slave is listening and throws
// std::runtime_error (with the slave's stderr) when it exits or does not
// come up in time. The destructor stops it (SIGTERM, then SIGKILL).
//
// Not thread-safe; one object per slave process. Built on buildd::ChildProcess.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "buildd/child_process.hpp"
#include "support/test_support.hpp"

namespace buildd::test {

class SlaveProcess {
 public:
  // `args` are extra buildd-slave arguments, e.g. {"--builders", "50"}.
  explicit SlaveProcess(std::vector<std::string> args = {},
                        std::chrono::milliseconds startup_timeout = std::chrono::seconds(10));
  ~SlaveProcess();
  SlaveProcess(const SlaveProcess&) = delete;
  SlaveProcess& operator=(const SlaveProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // "http://127.0.0.1:<port>/"
  std::string root_url() const;
  // The builder's base URL: the root for a single builder, otherwise
  // <root>builders/<i>/. Ends with '/'.
  std::string base_url(int builder = 0) const;
  std::vector<std::string> base_urls() const;
  // base_url(builder) + "rpc"
  std::string rpc_url(int builder = 0) const { return base_url(builder) + "rpc"; }
  int builders() const { return builders_; }
  // The cache directory the slave was given (one builder-<i>/ per builder
  // inside when there are several).
  const std::filesystem::path& cache_dir() const { return cache_dir_; }
  std::filesystem::path builder_cache_dir(int builder = 0) const;

  // What the slave printed (stdout and stderr together).
  std::string output() const;

  // SIGTERM and wait; returns the exit status (128+signal if killed). Idempotent.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  bool running() const { return process_ != nullptr; }

 private:
  TempDir dir_;
  std::filesystem::path cache_dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
  int builders_ = 1;
  int exit_status_ = -1;
};

}  // namespace buildd::test
