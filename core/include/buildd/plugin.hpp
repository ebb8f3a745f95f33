#pragma once

// The plugin boundary.
//
// A plugin is a MODULE library (buildd-plugin-<name>.so) that exports exactly
// one entry point, the Boost.DLL alias `buildd_plugin_descriptor`, a function
// returning a pointer to a static PluginDescriptor (plugin_entry.hpp makes
// both). The loader (plugin_loader.hpp) reads `struct_size` and `abi_version`
// first and refuses a plugin built against another ABI before reading
// anything else; then it refuses a plugin whose interface version (per kind)
// or build fingerprint differs from the core's, naming both sides; then it
// checks the kind, validates the plugin's config section against
// `config_keys`, and only then calls `create`.
//
// Compatibility promise. kPluginAbiVersion covers the descriptor and
// PluginConfig; each kind's interface version covers that interface
// (SlaveTransport, BuildStore, LogArchive, Scheduler) and the types it uses; the build
// fingerprint covers what C++ cannot promise across builds (compiler, C++
// library ABI, the versions of Boost, spdlog and nlohmann_json whose types
// cross the boundary, the public headers). A plugin therefore loads only into
// a buildd-master built from the same SDK with the same toolchain: rebuild
// plugins with each buildd-master release (while the version is 0.x, every
// release may change an interface).
//
// Contract for plugin authors:
// - `create` receives a PluginConfig already validated against config_keys
//   (every required key present, every value of its declared type, defaults
//   filled in). It may throw buildd::Error (or any std::exception): the loader
//   catches everything and reports it with the plugin's name and file.
// - The object returned must derive from the interface of the declared kind
//   (SlaveTransport, BuildStore, LogArchive or Scheduler). The loader keeps the library
//   loaded for as long as any object created by it lives.
// - Methods of plugin objects report failures by throwing buildd::Error, never
//   any other type; the core catches them at the call site.
//
// A plugin's plugin.cpp holds only the descriptor, its config keys and the
// factory (see plugins/*/plugin.cpp); the implementation is ordinary code that
// tests link directly.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "buildd/export.hpp"

namespace buildd {

// Bumped whenever PluginDescriptor or PluginConfig changes layout or meaning.
inline constexpr std::uint32_t kPluginAbiVersion = 5;

enum class PluginKind : std::uint32_t {
  kSlaveTransport = 1,
  kStore = 2,
  kLogArchive = 3,
  kScheduler = 4,
};

// Each bumped whenever its interface (or a type it uses) changes layout or
// meaning, so a plugin of another kind keeps loading.
inline constexpr std::uint32_t kSlaveTransportInterfaceVersion = 5;
inline constexpr std::uint32_t kStoreInterfaceVersion = 8;
inline constexpr std::uint32_t kLogArchiveInterfaceVersion = 2;
inline constexpr std::uint32_t kSchedulerInterfaceVersion = 1;

// The interface version of `kind` in this SDK; 0 for an unknown kind.
constexpr std::uint32_t interface_version(PluginKind kind) {
  switch (kind) {
    case PluginKind::kSlaveTransport:
      return kSlaveTransportInterfaceVersion;
    case PluginKind::kStore:
      return kStoreInterfaceVersion;
    case PluginKind::kLogArchive:
      return kLogArchiveInterfaceVersion;
    case PluginKind::kScheduler:
      return kSchedulerInterfaceVersion;
  }
  return 0;
}

// "slave-transport", "store", "log-archive", "scheduler"
BUILDD_API const char* kind_name(PluginKind kind);

enum class ConfigType : std::uint32_t {
  kString = 1,
  kInteger = 2,
  kBoolean = 3,
  kPath = 4,        // a string; relative paths resolve against the config file's folder
  kSeconds = 5,     // a number of seconds (integer or decimal)
  kStringList = 6,  // a YAML sequence of strings
};

BUILDD_API const char* type_name(ConfigType type);

// One key of a config section. Plain data so that it can live in a static
// array of a plugin.
struct ConfigKey {
  const char* name;
  ConfigType type;
  bool required;
  const char* default_value;  // nullptr: no default (key absent unless given)
  const char* description;    // one line, shown by `plugins list --verbose` and in etc/
  // kString only: the allowed values, separated by '|' ("sqlite3|postgresql");
  // nullptr: any string. `config check` refuses any other value.
  const char* choices = nullptr;
};

// A validated config section. Values have the key's declared type.
class BUILDD_API PluginConfig {
 public:
  using Value = std::variant<std::string, std::int64_t, bool, double, std::vector<std::string>>;

  PluginConfig() = default;
  PluginConfig(std::string origin, std::map<std::string, Value> values);

  // "file.yaml, section plugins.store.config": where the values came from.
  const std::string& origin() const { return origin_; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }

  // Each throws Error(kConfig) naming the key when absent or of another type.
  std::string get_string(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::filesystem::path get_path(const std::string& key) const;
  double get_seconds(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;

  // The same with a fallback when the key is absent.
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  std::int64_t get_int_or(const std::string& key, std::int64_t fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  double get_seconds_or(const std::string& key, double fallback) const;

  const std::map<std::string, Value>& values() const { return values_; }

 private:
  const Value& at(const std::string& key) const;
  std::string origin_;
  std::map<std::string, Value> values_;
};

// Base of every object a plugin creates.
class BUILDD_API PluginObject {
 public:
  virtual ~PluginObject();
};

using PluginFactory = std::unique_ptr<PluginObject> (*)(const PluginConfig& config);

struct PluginDescriptor {
  // These two first, always: the loader reads them before anything else.
  std::uint32_t struct_size;
  std::uint32_t abi_version;

  PluginKind kind;
  const char* name;         // "soci-store"
  const char* version;      // "0.1.0"
  const char* description;  // one line
  const ConfigKey* config_keys;
  std::size_t config_key_count;
  PluginFactory create;
  std::uint32_t interface_version;  // interface_version(kind) where it was built
  const char* build_fingerprint;    // BUILDD_BUILD_FINGERPRINT where it was built
};

// The entry point's type and name.
using PluginEntryPoint = const PluginDescriptor*();
inline constexpr const char* kPluginEntryPointName = "buildd_plugin_descriptor";

// The build fingerprint libbuildd-core was compiled with (build_fingerprint.hpp).
BUILDD_API const char* core_build_fingerprint();

}  // namespace buildd
