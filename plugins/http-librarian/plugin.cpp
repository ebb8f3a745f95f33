// Registration of http-librarian; the implementation and its config keys are
// http_librarian.hpp/.cpp.

#include "buildd/plugin_entry.hpp"
#include "http_librarian.hpp"

namespace {

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<buildd::HttpLibrarian>(buildd::http_librarian_options_from(config));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kLogArchive, "http-librarian", "0.1.0",
      "stores files on an HTTP server with PUT and GET (nginx WebDAV, S3 with SigV4)",
      buildd::kHttpLibrarianConfigKeys, &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
