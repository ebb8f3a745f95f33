#pragma once

// What a plugin's plugin.cpp includes to declare itself: make_descriptor()
// fills a PluginDescriptor for this SDK (ABI, the kind's interface version,
// the build fingerprint of the plugin's own compilation) and
// BUILDD_PLUGIN_ENTRY_POINT exports it. See plugin.hpp for the contract.
//
//   const buildd::PluginDescriptor* descriptor() {
//     static const auto d = buildd::make_descriptor(kind, "name", "1.0", "...", kKeys, &create);
//     return &d;
//   }
//   BUILDD_PLUGIN_ENTRY_POINT(descriptor)

#include <boost/dll/alias.hpp>

#include "buildd/build_fingerprint.hpp"
#include "buildd/plugin.hpp"

// Exports `fn` (a `const buildd::PluginDescriptor* fn()`) as the plugin's entry
// point. Use once per plugin, in plugin.cpp, at namespace scope.
#define BUILDD_PLUGIN_ENTRY_POINT(fn) BOOST_DLL_ALIAS(fn, buildd_plugin_descriptor)

namespace buildd {

template <std::size_t N>
constexpr PluginDescriptor make_descriptor(PluginKind kind, const char* name, const char* version,
                                           const char* description, const ConfigKey (&keys)[N],
                                           PluginFactory create) {
  return PluginDescriptor{sizeof(PluginDescriptor),
                          kPluginAbiVersion,
                          kind,
                          name,
                          version,
                          description,
                          keys,
                          N,
                          create,
                          interface_version(kind),
                          BUILDD_BUILD_FINGERPRINT};
}

}  // namespace buildd
