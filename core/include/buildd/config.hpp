#pragma once

// The YAML config file. yaml-cpp is used in config.cpp only; everything else
// sees validated, typed PluginConfig values.
//
// Layout (etc/buildd-master.yaml is the commented example):
//   master:           the master's own settings (kMasterConfigKeys)
//   store:            { plugin: NAME-or-PATH, config: {…} }
//   slave_transport:  { plugin: …, config: {…} }
//   archive:          { plugin: …, config: {…} }
//
// Errors: Error(kConfig) whose message starts "FILE:LINE: " and names the key:
// unknown key, wrong type, missing required key, unreadable file, bad YAML.

#include <cstddef>
#include <filesystem>
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
  // The `plugin:` value of a section; throws kConfig when the section is absent.
  std::string plugin_for(PluginKind kind) const;
  // The section's `config:`, validated against `keys`.
  PluginConfig plugin_config(PluginKind kind, const ConfigKey* keys, std::size_t count) const;

 private:
  struct Impl;
  explicit Config(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// YAML section name of a plugin kind: "slave_transport", "store", "archive".
BUILDD_API const char* section_name(PluginKind kind);

}  // namespace buildd
