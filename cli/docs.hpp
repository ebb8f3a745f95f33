#pragma once

// The manual page and the bash completion script of buildd-master, generated
// from the command table (and each command's declared options), so that
// neither can drift from --help. The build runs `buildd-master manpage` and
// `buildd-master completion bash` to produce the installed files.

#include <iosfwd>
#include <string>
#include <vector>

#include "command.hpp"

namespace buildd::cli {

// The paragraph under the version line of --help, and the man page's
// DESCRIPTION.
extern const char* const kProgramDescription;

// "buildd-master builder add NAME URL --processor P [--manual] [--virtualized]":
// the line after "Usage: " of the command's --help.
std::string usage_line(const Command& command);

// buildd-master(1) in groff (man macros).
void write_man_page(std::ostream& out);

// A bash completion script: commands, then each command's options, and the
// values of --format and --log-level.
void write_bash_completion(std::ostream& out);

// manpage, completion bash.
void add_docs_commands(std::vector<Command>& table);

}  // namespace buildd::cli
