// The soci-store plugin's registration: descriptor, config keys, factory.

#include "buildd/plugin_entry.hpp"
#include "soci_store.hpp"

namespace {

constexpr buildd::ConfigKey kKeys[] = {
    {"backend", buildd::ConfigType::kString, true, nullptr,
     "database engine: \"sqlite3\" (embedded), \"postgresql\" or \"mariadb\"",
     "sqlite3|postgresql|mariadb"},
    {"connection", buildd::ConfigType::kString, true, nullptr,
     "sqlite3: the database file (an absolute path; a relative one is taken from the current "
     "directory); postgresql: a libpq connection string such as "
     "\"host=127.0.0.1 port=5432 dbname=buildd user=buildd\"; mariadb: SOCI's MySQL "
     "connection string such as \"host=127.0.0.1 port=3306 dbname=buildd user=buildd "
     "pass=secret\""},
    {"pool_size", buildd::ConfigType::kInteger, false, "4",
     "database sessions kept open (calls beyond that wait for a free one)"},
    {"busy_timeout", buildd::ConfigType::kSeconds, false, "10",
     "sqlite3: how long a writer waits for the database lock"},
    {"auto_upgrade", buildd::ConfigType::kBoolean, false, "false",
     "apply missing schema migrations when the store opens"},
};

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  buildd::soci_store::SociStoreOptions options;
  options.backend = config.get_string("backend");
  options.connection = config.get_string("connection");
  options.pool_size = static_cast<int>(config.get_int("pool_size"));
  options.busy_timeout_seconds = static_cast<int>(config.get_seconds("busy_timeout"));
  options.auto_upgrade = config.get_bool("auto_upgrade");
  return std::make_unique<buildd::soci_store::SociStore>(options);
}

const buildd::PluginDescriptor* descriptor() {
  static const buildd::PluginDescriptor kDescriptor = buildd::make_descriptor(
      buildd::PluginKind::kStore, "soci-store", "0.1.0",
      "builders, queue, builds and files in SQLite, PostgreSQL or MariaDB through SOCI", kKeys,
      &create);
  return &kDescriptor;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
