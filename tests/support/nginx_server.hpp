#pragma once

// A real nginx accepting PUT (WebDAV) on 127.0.0.1, started through
// scripts/nginx-fixture for the lifetime of the object. The constructor
// throws (so the test fails loudly) when nginx cannot start.

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "support/test_support.hpp"

namespace buildd::test {

class NginxServer {
 public:
  NginxServer() : port_(free_port()) {
    if (std::system(
            command("start " + dir_.path().string() + " " + std::to_string(port_)).c_str()) != 0)
      throw std::runtime_error("nginx did not start on 127.0.0.1:" + std::to_string(port_));
    running_ = true;
  }
  ~NginxServer() { stop(); }
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  void stop() {
    if (!running_) return;
    running_ = false;
    if (std::system(command("stop " + dir_.path().string()).c_str()) != 0) {
      // Nothing to do in a destructor; the next start uses another folder and port.
    }
  }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path www() const { return dir_.path() / "www"; }
  std::filesystem::path access_log() const { return dir_.path() / "logs" / "access.log"; }

 private:
  static std::string command(const std::string& args) {
    return "'" + (source_dir() / "scripts" / "nginx-fixture").string() + "' " + args;
  }

  TempDir dir_;
  std::uint16_t port_;
  bool running_ = false;
};

}  // namespace buildd::test
