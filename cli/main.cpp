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

#include <nlohmann/json.hpp>

#include "buildd/error.hpp"
#include "buildd/logging.hpp"
#include "buildd/process_memory.hpp"
#include "command.hpp"
#include "command_line.hpp"
#include "docs.hpp"
#include "version.hpp"

namespace {

using buildd::cli::Command;
using buildd::cli::joined;
namespace po = buildd::cli::po;

void print_help(std::ostream& out) {
  out << "buildd-master " << buildd::kVersion << ": " << buildd::cli::kProgramDescription
      << "\n\n"
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
    std::cout << "Usage: " << buildd::cli::usage_line(*line.command) << "\n"
              << line.command->summary << "\n\n"
              << *line.options;
    return 0;
  }
  buildd::cli::CommandContext context(gvm["config"].as<std::string>(), std::cout, std::cerr);
  return line.command->run(context, line.vm);
}

// A script that asked for --format json gets its errors as JSON too. The
// words are looked at as given, because the error may be the command line's.
bool json_requested(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--format=json") return true;
    if (args[i] == "--format" && i + 1 < args.size() && args[i + 1] == "json") return true;
  }
  return false;
}

// One line on stderr: text, or {"error": {message, category, exit_code,
// retryable}} under --format json. Returns the exit code.
int report_error(bool as_json, const std::string& message, const char* category, int exit_code,
                 bool retryable) {
  if (as_json) {
    nlohmann::json error = {{"message", message},
                            {"category", category},
                            {"exit_code", exit_code},
                            {"retryable", retryable}};
    std::cerr << nlohmann::json{{"error", error}}.dump() << '\n';
  } else {
    std::cerr << "buildd-master: " << message << '\n';
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  buildd::limit_heap_growth();
  const bool as_json = json_requested(std::vector<std::string>(argv + (argc > 0), argv + argc));
  try {
    return run(argc, argv);
  } catch (const buildd::Error& e) {
    return report_error(as_json, e.what(), buildd::category_name(e.category()),
                        buildd::exit_code_for(e), e.retryable());
  } catch (const po::error& e) {
    return report_error(as_json, std::string(e.what()) + " (see --help)", "usage", 2, false);
  } catch (const std::exception& e) {
    return report_error(as_json, e.what(), "internal", 1, false);
  }
}
