// Registration of file-librarian; the implementation is file_librarian.cpp.

#include "buildd/plugin_entry.hpp"
#include "file_librarian.hpp"

namespace {

const buildd::ConfigKey kKeys[] = {
    {"root", buildd::ConfigType::kPath, true, nullptr,
     "folder of the content-addressed store (<root>/<sha256[0:2]>/<sha256>)"},
};

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<buildd::FileLibrarian>(config.get_path("root"));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kLogArchive, "file-librarian", "0.1.0",
      "stores files in a local content-addressed folder; the master serves them", kKeys, &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
