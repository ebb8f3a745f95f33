// buildd-master [--config FILE] [--log-level L] COMMAND [ARGS…]
//
// Splits the command line into the global part and the command part (the
// first word that is not an option starts the command), finds the command in
// the table (longest match of its words), parses its options and runs it.
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "buildd/error.hpp"
#include "buildd/logging.hpp"
#include "buildd/process_memory.hpp"
#include "command.hpp"
#include "command_line.hpp"
#include "version.hpp"

namespace {

using buildd::cli::Command;
using buildd::cli::joined;
namespace po = buildd::cli::po;

void print_help(std::ostream& out) {
  out << "buildd-master " << buildd::kVersion
      << ": the master of a build farm. It keeps builds in a SQL database,\n"
         "talks to build slaves (launchpad-buildd) over XML-RPC, collects their logs and\n"
         "results into the librarian and dispatches queued builds to idle builders.\n\n"
         "Usage: buildd-master [--config FILE] [--log-level LEVEL] COMMAND [ARGS…]\n\n"
      << buildd::cli::global_options()
      << "\nCommands (buildd-master COMMAND --help for a command's options):\n";
  for (const Command& c : buildd::cli::command_table())
    out << "  " << joined(c.words) << (c.synopsis.empty() ? "" : " " + c.synopsis) << "\n      "
        << c.summary << '\n';
}

int run(int argc, char** argv) {
  const std::vector<std::string> args(argc > 0 ? argv + 1 : argv, argv + argc);
  const buildd::cli::GlobalLine global = buildd::cli::parse_global_options(args);
  const po::variables_map& gvm = global.vm;
  if (gvm.count("log-level")) buildd::set_log_level(gvm["log-level"].as<std::string>());
  if (gvm.count("version")) {
    std::cout << "buildd-master " << buildd::kVersion << " (plugin ABI "
              << buildd::kPluginAbiVersion << ")\n";
    return 0;
  }
  if (global.rest.empty() || global.rest[0] == "help") {
    if (global.rest.empty() && !gvm.count("help")) {
      print_help(std::cerr);
      return 2;
    }
    print_help(std::cout);
    return 0;
  }
  const buildd::cli::CommandLine line = buildd::cli::parse_command(global.rest, gvm.count("help"));
  if (line.help) {
    std::cout << "Usage: buildd-master " << joined(line.command->words) << ' '
              << line.command->synopsis << "\n"
              << line.command->summary << "\n\n"
              << *line.options;
    return 0;
  }
  buildd::cli::CommandContext context(gvm["config"].as<std::string>(), std::cout, std::cerr);
  return line.command->run(context, line.vm);
}

}  // namespace

int main(int argc, char** argv) {
  buildd::limit_heap_growth();
  try {
    return run(argc, argv);
  } catch (const buildd::Error& e) {
    std::cerr << "buildd-master: " << e.what() << '\n';
    return buildd::exit_code_for(e);
  } catch (const po::error& e) {
    std::cerr << "buildd-master: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "buildd-master: " << e.what() << '\n';
    return 1;
  }
}
