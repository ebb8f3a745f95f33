#pragma once

// Loads plugins with Boost.DLL and creates their objects.
//
// Checks, in this order, each failing with an Error(kPlugin) that names the
// plugin and its file (and, for the ABI, both versions): the file exists and
// loads; it exports `buildd_plugin_descriptor`; the descriptor's struct_size and
// abi_version match this core; its kind is the one asked for; the config
// section validates against its keys (that error is kConfig, with file and
// line); the factory returns an object (an exception from it is caught and
// reported); the object implements the kind's interface.
//
// Lifetime: every object returned holds its library loaded (the shared_ptr's
// deleter destroys the object first, then releases the library). Libraries
// are loaded with RTLD_NODELETE as well, because SOCI and xmlrpc-c register
// exit-time handlers that must stay mapped.
//
// Threading: a PluginLoader may be used from one thread at a time.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/config.hpp"
#include "buildd/export.hpp"
#include "buildd/log_archive.hpp"
#include "buildd/plugin.hpp"
#include "buildd/scheduler.hpp"
#include "buildd/slave_transport.hpp"

namespace buildd {

struct PluginInfo {
  std::string name;
  PluginKind kind = PluginKind::kStore;
  std::string version;
  std::string description;
  std::filesystem::path file;
  std::vector<ConfigKey> config_keys;
  std::string error;  // list(): why this file is not a usable plugin (the rest is then empty)
};

class BUILDD_API PluginLoader {
 public:
  explicit PluginLoader(std::filesystem::path plugin_dir = default_plugin_dir());

  // <folder of the running executable>/../lib/buildd-master/plugins: the same
  // in the build tree and the install tree.
  static std::filesystem::path default_plugin_dir();

  const std::filesystem::path& plugin_dir() const { return plugin_dir_; }

  // The folders searched, in order: those of BUILDD_PLUGIN_PATH (':'-separated,
  // read when the loader is made), then plugin_dir.
  const std::vector<std::filesystem::path>& search_path() const { return search_path_; }

  // "soci-store" -> the first <folder>/buildd-plugin-soci-store.so of the
  // search path (<plugin_dir>/… when none exists); a value with a '/' or
  // ending in ".so" is taken as a path.
  std::filesystem::path resolve(const std::string& name_or_path) const;

  // Loads the file and reads its descriptor (all checks but kind and config).
  PluginInfo inspect(const std::string& name_or_path) const;
  // Every buildd-plugin-*.so of the search path (the first of each file name),
  // sorted by name; a file that fails to load is listed with its `error`.
  std::vector<PluginInfo> list() const;

  // Creates the object of the plugin named for `kind` in `config` (by entry
  // `index` of a slave_transport list).
  std::shared_ptr<PluginObject> create(PluginKind kind, const Config& config,
                                       std::size_t index = 0) const;
  // Creates from an explicit plugin, configured by the section (entry) of `config`.
  std::shared_ptr<PluginObject> create(PluginKind kind, const std::string& name_or_path,
                                       const Config& config, std::size_t index = 0) const;

  std::shared_ptr<BuildStore> create_store(const Config& config) const;
  // One transport, or a SlaveTransportChain of the slave_transport list's.
  std::shared_ptr<SlaveTransport> create_transport(const Config& config) const;
  std::shared_ptr<LogArchive> create_archive(const Config& config) const;
  // The `scheduler:` section's plugin; the DefaultScheduler without one.
  std::shared_ptr<Scheduler> create_scheduler(const Config& config) const;

 private:
  std::filesystem::path plugin_dir_;
  std::vector<std::filesystem::path> search_path_;
};

}  // namespace buildd
