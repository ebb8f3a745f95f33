#include "commands_core.hpp"

#include "runtime.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "buildd/error.hpp"

namespace buildd::cli {
namespace {

int plugins_list(CommandContext& ctx, const po::variables_map& vm) {
  // Works without a config file: then the default plugin folder is listed.
  const bool have_config = std::filesystem::exists(ctx.config_file());
  PluginLoader fallback;
  const PluginLoader& loader = have_config ? ctx.loader() : fallback;
  std::vector<PluginInfo> plugins = loader.list();
  if (output_format(vm) == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : plugins) {
      nlohmann::json keys = nlohmann::json::array();
      for (const auto& k : p.config_keys)
        keys.push_back({{"name", k.name},
                        {"type", type_name(k.type)},
                        {"required", k.required},
                        {"default", k.default_value ? nlohmann::json(k.default_value) : nullptr},
                        {"choices", k.choices ? nlohmann::json(k.choices) : nullptr},
                        {"description", k.description ? k.description : ""}});
      if (!p.error.empty()) {
        out.push_back({{"name", p.name}, {"file", p.file.string()}, {"error", p.error}});
        continue;
      }
      out.push_back({{"name", p.name},
                     {"kind", kind_name(p.kind)},
                     {"version", p.version},
                     {"description", p.description},
                     {"file", p.file.string()},
                     {"config_keys", keys},
                     {"error", nullptr}});
    }
    ctx.out << out.dump(2) << '\n';
    return 0;
  }
  // A broken file is one row with its error; the listing goes on.
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : plugins)
    rows.push_back(
        p.error.empty()
            ? std::vector<std::string>{p.name, kind_name(p.kind), p.version, p.file.string(), "-"}
            : std::vector<std::string>{p.name, "-", "-", p.file.string(), p.error});
  print_table(ctx.out, {"NAME", "KIND", "VERSION", "FILE", "ERROR"}, rows);
  if (vm.count("verbose")) {
    for (const auto& p : plugins) {
      if (!p.error.empty()) continue;
      ctx.out << "\n" << p.name << ": " << p.description << "\n";
      for (const auto& k : p.config_keys)
        ctx.out << "  " << k.name << " (" << type_name(k.type) << (k.required ? ", required" : "")
                << (k.default_value ? std::string(", default ") + k.default_value : "")
                << (k.choices ? std::string(", one of ") + k.choices : "")
                << "): " << (k.description ? k.description : "") << "\n";
    }
  }
  return 0;
}

int config_check(CommandContext& ctx, const po::variables_map&) {
  const Config& config = ctx.config();    // validates the master section's keys and types
  master_settings_from(config.master());  // and its ranges, as `run` reads them
  for (PluginKind kind : {PluginKind::kStore, PluginKind::kSlaveTransport, PluginKind::kLogArchive,
                          PluginKind::kScheduler}) {
    // A slave_transport list: each entry is checked; an absent required
    // section is reported by plugin_for(). The scheduler is optional.
    if (kind == PluginKind::kScheduler && config.plugin_count(kind) == 0) {
      ctx.out << section_name(kind) << ": the default (Launchpad's score, best first)\n";
      continue;
    }
    const std::size_t count = std::max<std::size_t>(config.plugin_count(kind), 1);
    for (std::size_t i = 0; i < count; ++i) {
      PluginInfo info = ctx.loader().inspect(config.plugin_for(kind, i));
      if (info.kind != kind)
        throw Error(ErrorCategory::kConfig,
                    config.file().string() + ": section '" + section_name(kind) +
                        "' names plugin '" + info.name + "', a " + kind_name(info.kind) +
                        " plugin; it needs a " + kind_name(kind) + " plugin");
      config.plugin_config(kind, info.config_keys.data(), info.config_keys.size(), i);
      ctx.out << section_name(kind) << ": " << info.name << " " << info.version << " ("
              << info.file.string() << ")\n";
    }
  }
  ctx.out << "config OK: " << config.file().string() << '\n';
  return 0;
}

}  // namespace

void add_core_commands(std::vector<Command>& table) {
  table.push_back({{"plugins", "list"},
                   "[--verbose] [--format json]",
                   "list the plugins found: name, kind, version, file",
                   [](po::options_description& o, po::positional_options_description&) {
                     o.add_options()("verbose,v", "also list each plugin's config keys");
                     add_format_option(o);
                   },
                   plugins_list});
  table.push_back({{"config", "check"},
                   "",
                   "validate the config file and every plugin section against its plugin's keys",
                   nullptr,
                   config_check});
}

}  // namespace buildd::cli
