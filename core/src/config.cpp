// The only file that uses yaml-cpp: everything else sees validated
// PluginConfig values.
#include "buildd/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "buildd/error.hpp"

namespace buildd {

const std::vector<ConfigKey>& master_config_keys() {
  static const std::vector<ConfigKey> keys = {
      {"work_dir", ConfigType::kPath, false, "/var/lib/buildd-master",
       "folder for temporary downloads and the state of the embedded default"},
      {"plugin_dir", ConfigType::kPath, false, nullptr,
       "folder of the buildd-plugin-*.so files (default: ../lib/buildd-master/plugins next to the "
       "executable)"},
      {"id", ConfigType::kString, false, nullptr,
       "this master's name among the masters sharing the database (default: the host name)"},
      {"lease_ttl", ConfigType::kSeconds, false, "30",
       "builder leases expire this long after their last renewal: a dead master's builders are "
       "taken over within two lease periods"},
      {"scan_interval", ConfigType::kSeconds, false, "5",
       "seconds between two polls of one builder (each builder has its own timer)"},
      {"max_in_flight", ConfigType::kInteger, false, "64",
       "slave calls running at once across all builders"},
      {"give_back_limit", ConfigType::kInteger, false, "5",
       "give-backs of one build before it is failed instead of retried"},
      {"cancel_timeout", ConfigType::kSeconds, false, "180",
       "seconds a cancelled build's slave has to reach WAITING after abort()"},
      {"transport_grace_scans", ConfigType::kInteger, false, "5",
       "consecutive unreachable scans of a builder before failures are counted"},
      {"job_reset_threshold", ConfigType::kInteger, false, "3",
       "failures of a job before it is requeued"},
      {"builder_failure_threshold", ConfigType::kInteger, false, "5",
       "failures of a builder before it is disabled"},
      {"max_build_duration", ConfigType::kSeconds, false, "86400",
       "a build running longer is aborted and given back"},
      {"log_silence_timeout", ConfigType::kSeconds, false, "9000",
       "a build whose log tail has not changed for this long is aborted and given back"},
      {"arch_release_timeouts", ConfigType::kStringList, false, nullptr,
       "per arch release, \"DISTRIBUTION/RELEASE/ARCH:MAX_BUILD_DURATION:LOG_SILENCE_TIMEOUT\" "
       "(seconds), replacing the two above"},
      {"job_args", ConfigType::kStringList, false, nullptr,
       "arguments passed to the slave with every job, \"ARCH_RELEASE:KEY=VALUE\" (ARCH_RELEASE "
       "is DISTRIBUTION/RELEASE/ARCH, or * for all; its own win); xmlrpc-slave adds them to "
       "build()'s args, e.g. \"*:archive_purpose=PRIMARY\""},
      {"max_log_bytes", ConfigType::kInteger, false, "1073741824",
       "largest build log accepted from a slave"},
      {"max_result_bytes", ConfigType::kInteger, false, "4294967296",
       "largest result file accepted from a slave"},
      {"live_log_bytes", ConfigType::kInteger, false, "16777216",
       "how much of a running build's log the store keeps as it grows, for `build log "
       "--follow`, when the slave reads its log from an offset (0: none; the log's tail is "
       "kept either way)"},
      {"http_listen", ConfigType::kString, false, "127.0.0.1:8222",
       "address of the embedded HTTP server (files for slaves, status pages)"},
      {"public_url", ConfigType::kString, false, nullptr,
       "URL slaves use to reach the embedded HTTP server (default: http://<http_listen>)"},
      {"log_file", ConfigType::kPath, false, nullptr,
       "also write logs to this file (reopened on SIGHUP, for logrotate)"},
      {"log_format", ConfigType::kString, false, "text",
       "\"text\" lines, or \"json\": one JSON object per line (time, level, logger, message) "
       "for log collectors",
       "text|json"},
  };
  return keys;
}

const char* section_name(PluginKind kind) {
  switch (kind) {
    case PluginKind::kSlaveTransport:
      return "slave_transport";
    case PluginKind::kStore:
      return "store";
    case PluginKind::kLogArchive:
      return "archive";
    case PluginKind::kScheduler:
      return "scheduler";
  }
  return "unknown";
}

struct Config::Impl {
  std::filesystem::path file;
  YAML::Node root;
  PluginConfig master;
};

namespace {

[[noreturn]] void fail_at(const std::filesystem::path& file, const YAML::Mark& mark,
                          const std::string& message) {
  std::string where = file.string();
  if (mark.line >= 0) where += ":" + std::to_string(mark.line + 1);
  throw Error(ErrorCategory::kConfig, where + ": " + message);
}

std::string known_keys(const ConfigKey* keys, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (!out.empty()) out += ", ";
    out += keys[i].name;
  }
  return out.empty() ? "none" : out;
}

std::filesystem::path resolve_path(const std::filesystem::path& config_file,
                                   const std::string& value) {
  std::filesystem::path p(value);
  if (p.is_absolute() || value.empty()) return p;
  return (config_file.parent_path().empty()
              ? std::filesystem::current_path()
              : std::filesystem::absolute(config_file.parent_path())) /
         p;
}

PluginConfig::Value convert(const std::filesystem::path& file, const std::string& section,
                            const ConfigKey& spec, const YAML::Node& node) {
  const std::string key = spec.name;
  const ConfigType type = spec.type;
  auto wrong = [&](const std::string& what) -> PluginConfig::Value {
    fail_at(file, node.Mark(),
            "key '" + key + "' in " + section + " must be " + what + " (" + type_name(type) + ")");
  };
  if (type == ConfigType::kStringList) {
    if (!node.IsSequence()) return wrong("a list of strings");
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (!item.IsScalar()) return wrong("a list of strings");
      items.push_back(item.Scalar());
    }
    return items;
  }
  if (!node.IsScalar()) return wrong("a single value");
  const std::string& text = node.Scalar();
  switch (type) {
    case ConfigType::kString:
      if (spec.choices != nullptr) {
        const std::string choices = spec.choices;
        bool allowed = false;
        std::size_t start = 0;
        while (start <= choices.size()) {
          std::size_t end = choices.find('|', start);
          if (end == std::string::npos) end = choices.size();
          allowed = allowed || choices.compare(start, end - start, text) == 0;
          start = end + 1;
        }
        if (!allowed) {
          std::string list;
          for (char c : choices) list += c == '|' ? std::string(", ") : std::string(1, c);
          fail_at(file, node.Mark(),
                  "key '" + key + "' in " + section + " must be one of " + list + ", not '" + text +
                      "'");
        }
      }
      return text;
    case ConfigType::kPath:
      return resolve_path(file, text).string();
    case ConfigType::kInteger: {
      std::int64_t value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size()) return wrong("a whole number");
      return value;
    }
    case ConfigType::kSeconds: {
      double value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size() || value < 0)
        return wrong("a non-negative number of seconds");
      return value;
    }
    case ConfigType::kBoolean: {
      bool value = false;
      if (!YAML::convert<bool>::decode(node, value)) return wrong("true or false");
      return value;
    }
    case ConfigType::kStringList:
      break;
  }
  return wrong("a value");
}

const ConfigKey* find_key(const ConfigKey* keys, std::size_t count, const std::string& key) {
  for (std::size_t i = 0; i < count; ++i)
    if (key == keys[i].name) return &keys[i];
  return nullptr;
}

// Every key absent from `values`: a required one fails, one with a default
// gets it. A config file's section and plugin_config_from() share it.
void fill_defaults(const std::filesystem::path& file, const std::string& section,
                   const YAML::Mark& section_mark, const ConfigKey* keys, std::size_t count,
                   std::map<std::string, PluginConfig::Value>& values) {
  for (std::size_t i = 0; i < count; ++i) {
    const ConfigKey& spec = keys[i];
    if (values.count(spec.name)) continue;
    if (spec.required)
      fail_at(file, section_mark,
              "missing required key '" + std::string(spec.name) + "' in " + section);
    if (spec.default_value != nullptr) {
      YAML::Node fallback(spec.default_value);
      values[spec.name] = convert(file, section, spec, fallback);
    }
  }
}

PluginConfig validate(const std::filesystem::path& file, const std::string& section,
                      const YAML::Node& node, const YAML::Mark& section_mark, const ConfigKey* keys,
                      std::size_t count) {
  if (node && !node.IsNull() && !node.IsMap())
    fail_at(file, node.Mark(), section + " must be a mapping of keys to values");
  std::map<std::string, PluginConfig::Value> values;
  if (node && node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const ConfigKey* spec = find_key(keys, count, key);
      if (spec == nullptr)
        fail_at(file, entry.first.Mark(),
                "unknown key '" + key + "' in " + section + " (known: " + known_keys(keys, count) +
                    ")");
      // YAML parsers keep one of two equal keys silently; a person meant one.
      if (values.count(key))
        fail_at(file, entry.first.Mark(), "duplicate key '" + key + "' in " + section);
      values[key] = convert(file, section, *spec, entry.second);
    }
  }
  fill_defaults(file, section, section_mark, keys, count, values);
  return PluginConfig(file.string() + ", section " + section, std::move(values));
}

YAML::Node parse_yaml(const std::string& text, const std::filesystem::path& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail_at(file, e.mark, "not valid YAML: " + e.msg);
  }
}

}  // namespace

Config::Config(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Config Config::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw Error(ErrorCategory::kConfig,
                file.string() + ": cannot read the config file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

Config Config::parse(const std::string& yaml_text, const std::filesystem::path& file) {
  auto impl = std::make_shared<Impl>();
  impl->file = file;
  impl->root = parse_yaml(yaml_text, file);
  if (impl->root.IsNull()) impl->root = YAML::Node(YAML::NodeType::Map);
  if (!impl->root.IsMap())
    fail_at(file, impl->root.Mark(), "the config must be a mapping with master, store, …");
  std::set<std::string> sections;
  for (const auto& entry : impl->root) {
    const std::string key = entry.first.Scalar();
    if (key != "master" && key != "store" && key != "slave_transport" && key != "archive" &&
        key != "scheduler")
      fail_at(file, entry.first.Mark(),
              "unknown top-level key '" + key +
                  "' (known: master, store, slave_transport, archive, scheduler)");
    if (!sections.insert(key).second)
      fail_at(file, entry.first.Mark(), "duplicate section '" + key + "'");
  }
  const auto& keys = master_config_keys();
  YAML::Node master = impl->root["master"];
  impl->master = validate(file, "master", master, master ? master.Mark() : impl->root.Mark(),
                          keys.data(), keys.size());
  return Config(std::move(impl));
}

const std::filesystem::path& Config::file() const {
  return impl_->file;
}

const PluginConfig& Config::master() const {
  return impl_->master;
}

namespace {

// The section of `kind`, nullopt when absent. Only slave_transport may be a
// list (several transports in one farm).
std::optional<YAML::Node> section_node(const std::filesystem::path& file, const YAML::Node& root,
                                       PluginKind kind) {
  const std::string name = section_name(kind);
  YAML::Node section = root[name];
  if (!section || section.IsNull()) return std::nullopt;
  if (section.IsSequence() && kind == PluginKind::kSlaveTransport) {
    if (section.size() == 0)
      fail_at(file, section.Mark(), "section '" + name + "' lists no plugin");
    return section;
  }
  if (!section.IsMap())
    fail_at(file, section.Mark(),
            "section '" + name + "' must be a mapping with plugin and config" +
                (kind == PluginKind::kSlaveTransport ? ", or a list of them" : ""));
  return section;
}

// Entry `index` of the section of `kind` (its label, for messages, is
// "slave_transport" or "slave_transport[1]"), checked: plugin and config only.
std::pair<YAML::Node, std::string> plugin_section(const std::filesystem::path& file,
                                                  const YAML::Node& root, PluginKind kind,
                                                  std::size_t index) {
  std::string name = section_name(kind);
  const std::optional<YAML::Node> found = section_node(file, root, kind);
  if (!found)
    fail_at(file, root.Mark(),
            "missing section '" + name + "' (it names the " + kind_name(kind) + " plugin)");
  // reset(), not '=': assigning a yaml-cpp node writes into the node it refers to.
  YAML::Node section;
  section.reset(*found);
  if (section.IsSequence()) {
    if (index >= section.size())
      throw Error(ErrorCategory::kInternal, name + " has " + std::to_string(section.size()) +
                                                " entries, not " + std::to_string(index + 1));
    section.reset((*found)[index]);
    name += "[" + std::to_string(index) + "]";
    if (!section.IsMap())
      fail_at(file, section.Mark(), name + " must be a mapping with plugin and config");
  } else if (index != 0) {
    throw Error(ErrorCategory::kInternal,
                name + " has one entry, not " + std::to_string(index + 1));
  }
  std::set<std::string> seen;
  for (const auto& entry : section) {
    const std::string key = entry.first.Scalar();
    if (key != "plugin" && key != "config")
      fail_at(file, entry.first.Mark(),
              "unknown key '" + key + "' in " + name + " (known: plugin, config)");
    if (!seen.insert(key).second)
      fail_at(file, entry.first.Mark(), "duplicate key '" + key + "' in " + name);
  }
  YAML::Node plugin = section["plugin"];
  if (!plugin || !plugin.IsScalar() || plugin.Scalar().empty())
    fail_at(file, section.Mark(), "missing required key 'plugin' in " + name);
  return {section, name};
}

}  // namespace

PluginConfig plugin_config_from(const ConfigKey* keys, std::size_t count,
                                std::map<std::string, PluginConfig::Value> values) {
  const std::filesystem::path origin = "built-in options";
  const std::string section = "the options";
  for (const auto& entry : values)
    if (!find_key(keys, count, entry.first))
      fail_at(origin, YAML::Mark::null_mark(),
              "unknown key '" + entry.first + "' in " + section +
                  " (known: " + known_keys(keys, count) + ")");
  fill_defaults(origin, section, YAML::Mark::null_mark(), keys, count, values);
  return PluginConfig(origin.string(), std::move(values));
}

std::size_t Config::plugin_count(PluginKind kind) const {
  const std::optional<YAML::Node> section = section_node(impl_->file, impl_->root, kind);
  if (!section) return 0;
  return section->IsSequence() ? section->size() : 1;
}

std::string Config::plugin_for(PluginKind kind, std::size_t index) const {
  return plugin_section(impl_->file, impl_->root, kind, index).first["plugin"].Scalar();
}

PluginConfig Config::plugin_config(PluginKind kind, const ConfigKey* keys, std::size_t count,
                                   std::size_t index) const {
  auto [section, name] = plugin_section(impl_->file, impl_->root, kind, index);
  YAML::Node config = section["config"];
  return validate(impl_->file, name + ".config", config, config ? config.Mark() : section.Mark(),
                  keys, count);
}

}  // namespace buildd
