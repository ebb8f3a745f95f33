#pragma once

// The YAML config file. yaml-cpp is used in config.cpp only; everything else
// sees validated, typed PluginConfig values.
//
// Layout (etc/buildd-master.yaml is the commented example):
//   master:           the master's own settings (kMasterConfigKeys)
//   store:            { plugin: NAME-or-PATH, config: {…} }
//   slave_transport:  { plugin: …, config: {…} }, or a list of them
//                     (several transports, tried in order for each builder URL)
//   archive:          { plugin: …, config: {…} }
//   scheduler:        { plugin: …, config: {…} }, optional (scheduler.hpp)
//
// Errors: Error(kConfig) whose message starts "FILE:LINE: " and names the key:
// unknown key, wrong type, missing required key, unreadable file, bad YAML.

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "buildd/export.hpp"
#include "buildd/plugin.hpp"

namespace buildd {

// The master's own keys (section `master:`), validated like a plugin's.
BUILDD_API const std::vector<ConfigKey>& master_config_keys();

class BUILDD_API Config {
 public:
  static Config load(const std::filesystem::path& file);
  // For tests and the demo: parse text as if read from `file` (used in
  // messages and to resolve relative paths).
  static Config parse(const std::string& yaml_text, const std::filesystem::path& file);

  const std::filesystem::path& file() const;
  // The `master:` section, validated, defaults filled in.
  const PluginConfig& master() const;
  // How many plugins the section of `kind` names: 0 when it is absent, 1 for
  // a mapping. Only slave_transport may also be a list of them (several
  // transports in one farm, each builder served by the first that takes its
  // URL); a list elsewhere is refused (kConfig).
  std::size_t plugin_count(PluginKind kind) const;
  // The `plugin:` value of a section (of its entry `index` when it is a
  // list); throws kConfig when the section is absent.
  std::string plugin_for(PluginKind kind, std::size_t index = 0) const;
  // The section's (or entry's) `config:`, validated against `keys`.
  PluginConfig plugin_config(PluginKind kind, const ConfigKey* keys, std::size_t count,
                             std::size_t index = 0) const;

 private:
  struct Impl;
  explicit Config(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// YAML section name of a plugin kind: "slave_transport", "store", "archive".
BUILDD_API const char* section_name(PluginKind kind);

// A plugin config made of `values` and the keys' defaults, as the loader
// would hand it over: for code and tests that build a plugin's options
// without a config file, so that the keys stay the one source of defaults.
// Throws Error(kConfig) for a key not in `keys` or a required key missing.
BUILDD_API PluginConfig plugin_config_from(const ConfigKey* keys, std::size_t count,
                                           std::map<std::string, PluginConfig::Value> values = {});
template <std::size_t N>
PluginConfig plugin_config_from(const ConfigKey (&keys)[N],
                                std::map<std::string, PluginConfig::Value> values = {}) {
  return plugin_config_from(keys, N, std::move(values));
}

}  // namespace buildd
