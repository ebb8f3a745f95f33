#pragma once

// The HTTP side of buildd-slave: one cpp-httplib server on one port serving
// one or many builders, each at its own base URL ("/" for a single builder,
// "/builders/<i>/" otherwise), with launchpad-buildd's resources under it:
// POST rpc and rpc/ (XML-RPC; GET gets 405), GET/HEAD filecache/<sha1> and
// filecache/buildlog (Range supported; a missing file is 404).
//
// Threading: start() binds and serves from a background thread with a pool
// of `threads` workers; stop() may be called from any thread once, and
// wakes requests held by the "hang" fault. Errors: start() throws
// std::runtime_error when it cannot bind; the constructor when it cannot open
// the journal.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "builder.hpp"
#include "faults.hpp"

namespace buildd::slave {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free one
  int builders = 1;
  std::size_t threads = 64;
  std::string arch = "amd64";
  std::filesystem::path cache_dir;
  Protocol protocol = Protocol::kModern;
  std::chrono::milliseconds abort_delay{200};
  std::vector<FaultSpec> faults;
  std::filesystem::path journal;  // --journal; empty: none
  // The readlog extension (not in launchpad-buildd): off with --no-readlog,
  // so that the slave answers only launchpad-buildd's own calls.
  bool readlog = true;
};

class SlaveServer {
 public:
  explicit SlaveServer(ServerOptions options);
  ~SlaveServer();
  SlaveServer(const SlaveServer&) = delete;
  SlaveServer& operator=(const SlaveServer&) = delete;

  // Binds and starts serving; returns the bound port.
  int start();
  void stop();

  int port() const { return port_; }
  std::string root_url() const;
  std::vector<std::string> base_urls() const;
  Builder& builder(std::size_t index);
  std::size_t builder_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace buildd::slave
