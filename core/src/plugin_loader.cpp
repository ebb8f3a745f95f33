#include "buildd/plugin_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <cstring>
#include <set>

#include "buildd/error.hpp"

namespace buildd {
namespace {

namespace dll = boost::dll;

constexpr const char* kFilePrefix = "buildd-plugin-";
constexpr const char* kFileSuffix = ".so";

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCategory::kPlugin, message);
}

// A loaded library and its checked descriptor. The library handle is shared
// with every object created from it.
struct Loaded {
  std::shared_ptr<dll::shared_library> library;
  const PluginDescriptor* descriptor = nullptr;
  std::filesystem::path file;

  std::string who() const {
    return "plugin '" + std::string(descriptor->name) + "' (" + file.string() + ")";
  }
};

Loaded load(const std::filesystem::path& file) {
  Loaded loaded;
  loaded.file = file;
  if (!std::filesystem::exists(file)) {
    // A plugin name or plugin_dir mistyped in the config: an input error.
    throw Error(ErrorCategory::kConfig, "plugin file " + file.string() + " does not exist");
  }
  // RTLD_NODELETE: libraries the plugin pulls in (SOCI, xmlrpc-c, curl)
  // register exit-time handlers that must stay mapped (TOOLCHAIN.md pitfall 2).
  const auto mode = static_cast<dll::load_mode::type>(dll::load_mode::rtld_now |
                                                      dll::load_mode::rtld_local | RTLD_NODELETE);
  try {
    loaded.library = std::make_shared<dll::shared_library>(file.string(), mode);
  } catch (const std::exception& e) {
    const char* reason = ::dlerror();
    fail("cannot load plugin file " + file.string() + ": " + (reason ? reason : e.what()));
  }
  if (!loaded.library->has(kPluginEntryPointName))
    fail("plugin file " + file.string() + " does not export " + kPluginEntryPointName +
         " (not a buildd-master plugin?)");
  auto& entry = loaded.library->get_alias<PluginEntryPoint>(kPluginEntryPointName);
  try {
    loaded.descriptor = entry();
  } catch (...) {
    fail("plugin file " + file.string() + ": its entry point threw");
  }
  if (loaded.descriptor == nullptr)
    fail("plugin file " + file.string() + " returned no descriptor");
  // Read only the two leading fields until the ABI is known to match.
  if (loaded.descriptor->abi_version != kPluginAbiVersion)
    fail("plugin file " + file.string() + " was built for plugin ABI " +
         std::to_string(loaded.descriptor->abi_version) + ", but this buildd-master speaks ABI " +
         std::to_string(kPluginAbiVersion));
  if (loaded.descriptor->struct_size != sizeof(PluginDescriptor))
    fail("plugin file " + file.string() + " has a descriptor of " +
         std::to_string(loaded.descriptor->struct_size) + " bytes, but ABI " +
         std::to_string(kPluginAbiVersion) + " needs " + std::to_string(sizeof(PluginDescriptor)));
  const PluginDescriptor& d = *loaded.descriptor;
  if (d.name == nullptr || d.version == nullptr || d.create == nullptr ||
      d.build_fingerprint == nullptr || (d.config_key_count > 0 && d.config_keys == nullptr))
    fail("plugin file " + file.string() + " has an incomplete descriptor");
  const std::uint32_t wanted = interface_version(d.kind);
  if (wanted == 0)
    fail("plugin file " + file.string() + " declares an unknown plugin kind " +
         std::to_string(static_cast<std::uint32_t>(d.kind)));
  if (d.interface_version != wanted)
    fail("plugin file " + file.string() + " implements the " + kind_name(d.kind) +
         " interface version " + std::to_string(d.interface_version) +
         ", but this buildd-master needs version " + std::to_string(wanted) +
         ": rebuild the plugin against this buildd-master's SDK");
  // Same compiler, C++ library ABI, boundary libraries and headers, or types
  // that cross the boundary may not mean the same on both sides.
  if (std::strcmp(d.build_fingerprint, core_build_fingerprint()) != 0)
    fail("plugin file " + file.string() + " was built with [" + d.build_fingerprint +
         "], but this buildd-master was built with [" + core_build_fingerprint() +
         "]: rebuild the plugin against this buildd-master's SDK");
  return loaded;
}

PluginInfo info_of(const Loaded& loaded) {
  const PluginDescriptor& d = *loaded.descriptor;
  PluginInfo info;
  info.name = d.name;
  info.kind = d.kind;
  info.version = d.version;
  info.description = d.description ? d.description : "";
  info.file = loaded.file;
  info.config_keys.assign(d.config_keys, d.config_keys + d.config_key_count);
  return info;
}

bool implements(PluginKind kind, PluginObject* object) {
  switch (kind) {
    case PluginKind::kSlaveTransport:
      return dynamic_cast<SlaveTransport*>(object) != nullptr;
    case PluginKind::kStore:
      return dynamic_cast<BuildStore*>(object) != nullptr;
    case PluginKind::kLogArchive:
      return dynamic_cast<LogArchive*>(object) != nullptr;
    case PluginKind::kScheduler:
      return dynamic_cast<Scheduler*>(object) != nullptr;
  }
  return false;
}

}  // namespace

PluginLoader::PluginLoader(std::filesystem::path plugin_dir) : plugin_dir_(std::move(plugin_dir)) {
  // BUILDD_PLUGIN_PATH: folders searched before plugin_dir, like PATH.
  if (const char* path = std::getenv("BUILDD_PLUGIN_PATH")) {
    std::string list = path;
    for (std::size_t start = 0; start <= list.size();) {
      std::size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) search_path_.emplace_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  search_path_.push_back(plugin_dir_);
}

std::filesystem::path PluginLoader::default_plugin_dir() {
  std::filesystem::path exe = dll::program_location().string();
  return (exe.parent_path() / ".." / "lib" / "buildd-master" / "plugins").lexically_normal();
}

std::filesystem::path PluginLoader::resolve(const std::string& name_or_path) const {
  if (name_or_path.find('/') != std::string::npos ||
      (name_or_path.size() > 3 && name_or_path.ends_with(kFileSuffix)))
    return name_or_path;
  const std::string file = kFilePrefix + name_or_path + kFileSuffix;
  std::error_code ec;
  for (const auto& dir : search_path_)
    if (std::filesystem::exists(dir / file, ec)) return dir / file;
  return plugin_dir_ / file;  // absent: the error names the default place
}

PluginInfo PluginLoader::inspect(const std::string& name_or_path) const {
  return info_of(load(resolve(name_or_path)));
}

std::vector<PluginInfo> PluginLoader::list() const {
  std::vector<PluginInfo> out;
  std::set<std::string> seen;  // a file name found earlier in the path hides later ones
  for (const auto& dir : search_path_) {
    std::error_code ec;
    if (dir != plugin_dir_ && !std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with(kFilePrefix) && name.ends_with(kFileSuffix) && seen.insert(name).second)
        files.push_back(entry.path());
    }
    if (ec) fail("cannot list the plugin folder " + dir.string() + ": " + ec.message());
    for (const auto& file : files) {
      // One broken file is reported on its own line; the others still list.
      try {
        out.push_back(info_of(load(file)));
      } catch (const Error& e) {
        PluginInfo broken;
        const std::string name = file.filename().string();
        broken.name = name.substr(std::strlen(kFilePrefix), name.size() - std::strlen(kFilePrefix) -
                                                                std::strlen(kFileSuffix));
        broken.file = file;
        broken.error = e.what();
        out.push_back(std::move(broken));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::shared_ptr<PluginObject> PluginLoader::create(PluginKind kind, const Config& config,
                                                   std::size_t index) const {
  return create(kind, config.plugin_for(kind, index), config, index);
}

std::shared_ptr<PluginObject> PluginLoader::create(PluginKind kind, const std::string& name_or_path,
                                                   const Config& config, std::size_t index) const {
  Loaded loaded = load(resolve(name_or_path));
  const PluginDescriptor& d = *loaded.descriptor;
  if (d.kind != kind)
    fail(loaded.who() + " is a " + kind_name(d.kind) + " plugin, but section '" +
         section_name(kind) + "' needs a " + kind_name(kind) + " plugin");
  PluginConfig plugin_config = config.plugin_config(kind, d.config_keys, d.config_key_count, index);
  std::unique_ptr<PluginObject> object;
  try {
    object = d.create(plugin_config);
  } catch (const std::exception& e) {
    fail(loaded.who() + " failed to start: " + e.what());
  } catch (...) {
    fail(loaded.who() + " failed to start: unknown exception");
  }
  if (!object) fail(loaded.who() + " returned no object");
  if (!implements(kind, object.get()))
    fail(loaded.who() + " returned an object that is not a " + kind_name(kind));
  // The deleter destroys the object first, then lets the library go.
  auto library = loaded.library;
  return std::shared_ptr<PluginObject>(object.release(), [library](PluginObject* p) mutable {
    delete p;
    library.reset();
  });
}

namespace {
template <typename T>
std::shared_ptr<T> as(std::shared_ptr<PluginObject> object) {
  return std::dynamic_pointer_cast<T>(std::move(object));
}
}  // namespace

std::shared_ptr<BuildStore> PluginLoader::create_store(const Config& config) const {
  return as<BuildStore>(create(PluginKind::kStore, config));
}
std::shared_ptr<SlaveTransport> PluginLoader::create_transport(const Config& config) const {
  const std::size_t count = config.plugin_count(PluginKind::kSlaveTransport);
  if (count <= 1) return as<SlaveTransport>(create(PluginKind::kSlaveTransport, config));
  std::vector<SlaveTransportChain::Member> members;
  for (std::size_t i = 0; i < count; ++i)
    members.push_back({config.plugin_for(PluginKind::kSlaveTransport, i),
                       as<SlaveTransport>(create(PluginKind::kSlaveTransport, config, i))});
  return std::make_shared<SlaveTransportChain>(std::move(members));
}
std::shared_ptr<LogArchive> PluginLoader::create_archive(const Config& config) const {
  return as<LogArchive>(create(PluginKind::kLogArchive, config));
}
std::shared_ptr<Scheduler> PluginLoader::create_scheduler(const Config& config) const {
  if (config.plugin_count(PluginKind::kScheduler) == 0) return std::make_shared<DefaultScheduler>();
  return as<Scheduler>(create(PluginKind::kScheduler, config));
}

}  // namespace buildd
