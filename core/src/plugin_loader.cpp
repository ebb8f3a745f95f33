// Placeholder until the plugin loader lands (same session).
#include "buildd/plugin_loader.hpp"
