#include "buildd/plugin.hpp"

#include <utility>

#include "buildd/build_fingerprint.hpp"
#include "buildd/error.hpp"

namespace buildd {

PluginObject::~PluginObject() = default;

const char* kind_name(PluginKind kind) {
  switch (kind) {
    case PluginKind::kSlaveTransport:
      return "slave-transport";
    case PluginKind::kStore:
      return "store";
    case PluginKind::kLogArchive:
      return "log-archive";
    case PluginKind::kScheduler:
      return "scheduler";
  }
  return "unknown";
}

const char* type_name(ConfigType type) {
  switch (type) {
    case ConfigType::kString:
      return "string";
    case ConfigType::kInteger:
      return "integer";
    case ConfigType::kBoolean:
      return "boolean";
    case ConfigType::kPath:
      return "path";
    case ConfigType::kSeconds:
      return "seconds";
    case ConfigType::kStringList:
      return "list of strings";
  }
  return "unknown";
}

PluginConfig::PluginConfig(std::string origin, std::map<std::string, Value> values)
    : origin_(std::move(origin)), values_(std::move(values)) {}

const PluginConfig::Value& PluginConfig::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end())
    throw Error(ErrorCategory::kConfig, origin_ + ": key '" + key + "' is not set");
  return it->second;
}

namespace {
template <typename T>
const T& typed(const PluginConfig::Value& v, const std::string& origin, const std::string& key,
               const char* type) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw Error(ErrorCategory::kConfig, origin + ": key '" + key + "' is not a " + type);
}
}  // namespace

std::string PluginConfig::get_string(const std::string& key) const {
  return typed<std::string>(at(key), origin_, key, "string");
}
std::int64_t PluginConfig::get_int(const std::string& key) const {
  return typed<std::int64_t>(at(key), origin_, key, "integer");
}
bool PluginConfig::get_bool(const std::string& key) const {
  return typed<bool>(at(key), origin_, key, "boolean");
}
std::filesystem::path PluginConfig::get_path(const std::string& key) const {
  return typed<std::string>(at(key), origin_, key, "path");
}
double PluginConfig::get_seconds(const std::string& key) const {
  return typed<double>(at(key), origin_, key, "number of seconds");
}
std::vector<std::string> PluginConfig::get_string_list(const std::string& key) const {
  return typed<std::vector<std::string>>(at(key), origin_, key, "list of strings");
}
std::string PluginConfig::get_string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}
std::int64_t PluginConfig::get_int_or(const std::string& key, std::int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}
bool PluginConfig::get_bool_or(const std::string& key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}
double PluginConfig::get_seconds_or(const std::string& key, double fallback) const {
  return has(key) ? get_seconds(key) : fallback;
}

const char* core_build_fingerprint() {
  return BUILDD_BUILD_FINGERPRINT;
}

}  // namespace buildd
