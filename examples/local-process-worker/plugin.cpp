// The plugin's descriptor, config keys and factory: all a plugin.cpp holds.
// The transport itself is local_process_worker.cpp.

#include <memory>

#include "buildd/plugin_entry.hpp"
#include "local_process_worker.hpp"

namespace {

using buildd::ConfigKey;
using buildd::ConfigType;

// The schema is the one source of defaults: the loader fills them in before
// create() runs, so the code reads every key with get_*() and never repeats one.
constexpr ConfigKey kKeys[] = {
    {"work_dir", ConfigType::kPath, true, nullptr,
     "folder of the input cache (cache/<sha1>) and of each slot's build folder (slots/<slot>)"},
    {"command", ConfigType::kPath, true, nullptr,
     "program run for each build, in the build folder; its exit status is the result"},
    {"arch_tag", ConfigType::kString, true, nullptr,
     "the architecture these slots build (the builders' arch releases must match it)"},
    {"max_logtail_bytes", ConfigType::kInteger, false, "2048",
     "how much of a running build's log status() returns"},
    {"download_timeout", ConfigType::kSeconds, false, "300",
     "deadline of one input download from the librarian"},
};

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<local_process_worker::LocalProcessTransport>(
      local_process_worker::options_from_config(config));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kSlaveTransport, "local-process", "0.1.0",
      "runs each build as a process on the master's machine (builder URLs local://<slot>/)", kKeys,
      &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
