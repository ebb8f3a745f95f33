// The plugin's descriptor and factory; its config keys (xmlrpc_slave.hpp) and
// the transport itself (xmlrpc_slave.cpp) are in a static library that the
// tests link directly.

#include <memory>

#include "buildd/plugin_entry.hpp"
#include "xmlrpc_slave.hpp"

namespace {

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<buildd::xmlrpc_slave::XmlRpcSlaveTransport>(
      buildd::xmlrpc_slave::options_from_config(config));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kSlaveTransport, "xmlrpc-slave", "0.1.0",
      "XML-RPC transport to launchpad-buildd slaves (current and 2005 protocol)",
      buildd::xmlrpc_slave::kConfigKeys, &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
