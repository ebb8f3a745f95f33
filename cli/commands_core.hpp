#pragma once

#include "command.hpp"

namespace buildd::cli {

// plugins list, config check.
void add_core_commands(std::vector<Command>& table);

}  // namespace buildd::cli
