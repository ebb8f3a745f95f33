// The plugin's descriptor, config keys and factory; the transport itself is in
// xmlrpc_slave.cpp (a static library that the tests link directly).

#include <memory>

#include "buildd/plugin_entry.hpp"
#include "xmlrpc_slave.hpp"

namespace {

using buildd::ConfigKey;
using buildd::ConfigType;

constexpr ConfigKey kKeys[] = {
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

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<buildd::xmlrpc_slave::XmlRpcSlaveTransport>(
      buildd::xmlrpc_slave::options_from_config(config));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kSlaveTransport, "xmlrpc-slave", "0.1.0",
      "XML-RPC transport to launchpad-buildd slaves (current and 2005 protocol)", kKeys, &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
