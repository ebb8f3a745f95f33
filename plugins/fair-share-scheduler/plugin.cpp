// Registration of fair-share-scheduler; the implementation is
// fair_share_scheduler.cpp.

#include "buildd/plugin_entry.hpp"
#include "fair_share_scheduler.hpp"

namespace {

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  return std::make_unique<buildd::FairShareScheduler>(buildd::fair_share_options_from(config));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kScheduler, "fair-share-scheduler", "0.1.0",
      "shares the builders between archives by weight, with aging, so no archive starves",
      buildd::kFairShareConfigKeys, &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
