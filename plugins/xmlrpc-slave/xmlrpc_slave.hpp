#pragma once

// The xmlrpc-slave transport: buildd::SlaveTransport over XML-RPC to
// launchpad-buildd (both protocol generations, docs/protocol.md).
//
// Threading: XmlRpcSlaveTransport is immutable after construction and may be
// shared by every thread. Each Slave it returns owns its own libcurl easy handle
// (connection reuse is per Slave: the pipeline gives each builder's calls to one
// worker at a time, so a per-Slave handle keeps the builder's keep-alive
// connection without any locking). A Slave must be used by one thread at a time.
//
// Ownership: connect() returns a Slave the caller owns; it copies the options,
// so it does not reference the transport afterwards.
//
// Errors (all buildd::Error, nothing from xmlrpc-c or libcurl escapes):
//   kTransport, retryable: connect failure, timeout, reset, HTTP status != 200;
//   kFault: XML-RPC Fault (fault_code() set);
//   kProtocol: a reply of the wrong shape, larger than max_xml_bytes, a download
//              over its cap or with the wrong SHA-1. Messages name the builder and
//              the field; credentials given to ensure_present never appear.
//
// Why our own HTTP carriage under xmlrpc_c::client_xml instead of
// clientXmlTransport_curl: the 1.33 curl transport has a single total timeout
// (no connect timeout) and buffers a reply of any size in memory before the
// parser's global size limit is checked. The carriage here enforces the connect
// timeout, the per-call deadline and max_xml_bytes while the bytes stream in.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "buildd/plugin.hpp"
#include "buildd/slave_transport.hpp"

namespace buildd::xmlrpc_slave {

struct Options {
  double connect_timeout = 10;         // seconds
  double call_timeout = 30;            // echo, info, status, build, abort, clean
  double ensurepresent_timeout = 150;  // the slave downloads synchronously
  double download_timeout = 600;       // fetch_file
  std::uint64_t max_xml_bytes = 16u << 20;
  std::uint64_t max_logtail_bytes = 65536;  // longer tails keep their LAST bytes
  std::string ca_file;                      // empty: the system's CA store
  std::string client_cert;                  // empty: no client certificate
  std::string client_key;
  bool tls_verify = true;
};

// Reads the keys declared by the plugin (see plugin.cpp); absent keys keep the
// defaults above. Throws Error(kConfig) for a non-positive timeout or size.
Options options_from_config(const PluginConfig& config);

class XmlRpcSlaveTransport : public SlaveTransport {
 public:
  explicit XmlRpcSlaveTransport(Options options);
  std::unique_ptr<Slave> connect(const Builder& builder) override;
  const Options& options() const { return options_; }

 private:
  Options options_;
};

// "<base>/<rest>" whether or not `base` ends in '/'.
std::string join_url(const std::string& base, const std::string& rest);

}  // namespace buildd::xmlrpc_slave
