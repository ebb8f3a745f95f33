// The one place that lists every command of buildd-master, in --help order.
#include "command.hpp"
#include "commands_admin.hpp"
#include "commands_core.hpp"
#include "commands_run.hpp"
#include "docs.hpp"

namespace buildd::cli {

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t;
    add_core_commands(t);
    add_admin_commands(t);
    add_run_commands(t);
    add_docs_commands(t);
    return t;
  }();
  return table;
}

}  // namespace buildd::cli
