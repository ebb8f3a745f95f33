// The soci-store plugin's registration: descriptor and factory (the config keys are in
// soci_store.hpp).

#include "buildd/plugin_entry.hpp"
#include "soci_store.hpp"

namespace {

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<buildd::soci_store::SociStore>(
      buildd::soci_store::options_from_config(config));
}

const buildd::PluginDescriptor* descriptor() {
  static const buildd::PluginDescriptor kDescriptor = buildd::make_descriptor(
      buildd::PluginKind::kStore, "soci-store", "0.1.0",
      "builders, queue, builds and files in SQLite, PostgreSQL or MariaDB through SOCI",
      buildd::soci_store::kConfigKeys, &create);
  return &kDescriptor;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
