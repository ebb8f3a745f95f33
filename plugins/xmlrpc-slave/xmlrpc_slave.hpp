#pragma once

// The xmlrpc-slave transport: buildd::SlaveTransport over XML-RPC to
// launchpad-buildd (both protocol generations, docs/protocol.md).
//
// Threading: XmlRpcSlaveTransport is immutable after construction (but for its
// handle pool, which locks) and may be shared by every thread. A Slave must be
// used by one thread at a time.
//
// Handles and connections: a Slave holds no libcurl handle and no socket. The
// transport keeps a pool of easy handles shared by its Slaves: each call takes
// one and gives it back when it ends, so there are only as many handles (each
// with the socket pair libcurl keeps per handle) as calls ever ran at once,
// i.e. about the pipeline's max-in-flight, however many builders there are. A
// handle keeps its few most recent connections (CURLOPT_MAXCONNECTS 4), and a
// Slave asks first for the handle it used last, so the calls of one builder's
// turn (ensurepresent..., build; status, fetch_file...) reuse its keep-alive
// connection, while an idle builder costs no descriptor at either end. Not
// chosen: a per-Slave handle (about 16 KiB and 2 descriptors per builder),
// thread_local handles (lifetime across plugin unload), a CURLSH-shared
// connection cache (libcurl does not support it across concurrent threads).
//
// Ownership: connect() returns a Slave the caller owns; it copies the options
// and shares the handle pool, so it may outlive the transport.
//
// Errors (all buildd::Error, nothing from xmlrpc-c or libcurl escapes):
//   kTransport, retryable: connect failure, timeout, reset, HTTP status != 200;
//   kRefused: an XML-RPC Fault, thrown as FaultError (fault_code());
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

#include "buildd/config.hpp"
#include "buildd/plugin.hpp"
#include "buildd/slave_transport.hpp"
#include "launchpad_slave.hpp"

namespace buildd::xmlrpc_slave {

class HandlePool;  // xmlrpc_slave.cpp

// The plugin's config keys: the one place its defaults are written.
inline constexpr ConfigKey kConfigKeys[] = {
    {"connect_timeout", ConfigType::kSeconds, false, "10", "seconds to establish a connection"},
    {"call_timeout", ConfigType::kSeconds, false, "30",
     "deadline of one XML-RPC call (echo, info, status, build, abort, clean)"},
    {"ensurepresent_timeout", ConfigType::kSeconds, false, nullptr,
     "deadline of ensurepresent, during which the slave downloads the file (default 5 x "
     "call_timeout = 150)"},
    {"download_timeout", ConfigType::kSeconds, false, "600",
     "deadline of one download from the slave's /filecache/"},
    {"max_xml_bytes", ConfigType::kInteger, false, "1048576",
     "largest XML-RPC reply accepted from a slave (a status reply is a few KiB; the cap "
     "bounds the memory max_in_flight calls can hold)"},
    {"max_logtail_bytes", ConfigType::kInteger, false, "65536",
     "a longer logtail is cut to its last bytes"},
    {"ca_file", ConfigType::kPath, false, nullptr, "CA bundle for https:// builders"},
    {"client_cert", ConfigType::kPath, false, nullptr, "TLS client certificate (PEM)"},
    {"client_key", ConfigType::kPath, false, nullptr, "TLS client key (PEM)"},
    {"tls_verify", ConfigType::kBoolean, false, "true",
     "verify the https:// builder's certificate and host name"},
};

// The transport's settings. Start from default_options() (the keys'
// defaults); the members have no defaults of their own.
struct Options {
  double connect_timeout;        // seconds
  double call_timeout;           // echo, info, status, build, abort, clean
  double ensurepresent_timeout;  // the slave downloads synchronously
  double download_timeout;       // fetch_file
  std::uint64_t max_xml_bytes;
  std::uint64_t max_logtail_bytes;  // longer tails keep their LAST bytes
  std::string ca_file;              // empty: the system's CA store
  std::string client_cert;          // empty: no client certificate
  std::string client_key;
  bool tls_verify;
};

// Reads a config validated against kConfigKeys (every key with a default is
// there). Throws Error(kConfig) for a non-positive timeout or size.
Options options_from_config(const PluginConfig& config);
// options_from_config() of the keys' defaults alone.
Options default_options();

class XmlRpcSlaveTransport : public SlaveTransport {
 public:
  explicit XmlRpcSlaveTransport(Options options);
  std::unique_ptr<Slave> connect(const Builder& builder) override;
  // connect() with launchpad-buildd's own calls in reach (the plugin's tests).
  std::unique_ptr<LaunchpadSlave> connect_launchpad(const Builder& builder);
  const Options& options() const { return *options_; }

 private:
  std::shared_ptr<const Options> options_;  // shared with its Slaves, not copied into each
  std::shared_ptr<HandlePool> pool_;
};

// "<base>/<rest>" whether or not `base` ends in '/'.
std::string join_url(const std::string& base, const std::string& rest);

}  // namespace buildd::xmlrpc_slave
