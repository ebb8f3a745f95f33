#pragma once

#include "command.hpp"

namespace buildd::cli {

// The operator's commands on the store: db upgrade, family, archrelease,
// builder, build and queue. Each checks its input before writing anything
// and throws Error(kUsage / kNotFound / kConflict) for bad input.
void add_admin_commands(std::vector<Command>& table);

}  // namespace buildd::cli
