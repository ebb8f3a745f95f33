// Fuzzes the YAML config loader as `config check` and `run` use it: the parse
// and the checks of the top level and of `master:` (Config::parse), the
// master's numbers turned into pipeline settings with their ranges
// (master_settings_from), and each plugin section validated against a key
// table that has every key type.
//
// Expected refusals are buildd::Error(kConfig); anything else escaping
// (yaml-cpp's own exceptions, std::invalid_argument…), a value of the wrong
// type after validation, a crash or a sanitizer report is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>

#include "buildd/config.hpp"
#include "buildd/error.hpp"
#include "fuzz_check.hpp"
#include "runtime.hpp"

namespace {

using namespace buildd;

void expect_config_error(const Error& error) {
  FUZZ_CHECK(error.category() == ErrorCategory::kConfig);
}

// One key of each type, one of them required, as plugins declare them.
constexpr ConfigKey kKeys[] = {
    {"name", ConfigType::kString, true, nullptr, "a required string"},
    {"folder", ConfigType::kPath, false, "state", "a path, relative to the config"},
    {"count", ConfigType::kInteger, false, "3", "a whole number"},
    {"timeout", ConfigType::kSeconds, false, "1.5", "seconds"},
    {"verify", ConfigType::kBoolean, false, "true", "a boolean"},
    {"hosts", ConfigType::kStringList, false, nullptr, "a list of strings"},
};

// Validated values read back with their declared type never fail.
void read_back(const PluginConfig& config) {
  for (const ConfigKey& key : kKeys) {
    if (!config.has(key.name)) {
      FUZZ_CHECK(!key.required);
      continue;
    }
    switch (key.type) {
      case ConfigType::kString:
        (void)config.get_string(key.name);
        break;
      case ConfigType::kPath:
        (void)config.get_path(key.name);
        break;
      case ConfigType::kInteger:
        (void)config.get_int(key.name);
        break;
      case ConfigType::kSeconds:
        FUZZ_CHECK(config.get_seconds(key.name) >= 0);
        break;
      case ConfigType::kBoolean:
        (void)config.get_bool(key.name);
        break;
      case ConfigType::kStringList:
        (void)config.get_string_list(key.name);
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // An absolute name: relative paths resolve against it without asking the
  // file system for the current folder.
  std::optional<Config> parsed;
  try {
    parsed.emplace(Config::parse(text, "/etc/buildd-master/buildd-master.yaml"));
  } catch (const Error& error) {
    expect_config_error(error);
    return 0;
  }
  const Config& config = *parsed;
  try {
    (void)cli::master_settings_from(config.master());
  } catch (const Error& error) {
    expect_config_error(error);
  }
  for (const PluginKind kind :
       {PluginKind::kStore, PluginKind::kSlaveTransport, PluginKind::kLogArchive}) {
    try {
      FUZZ_CHECK(!config.plugin_for(kind).empty());
      read_back(config.plugin_config(kind, kKeys, std::size(kKeys)));
    } catch (const Error& error) {
      expect_config_error(error);
    }
  }
  return 0;
}
