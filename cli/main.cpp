// buildd-master [--config FILE] [--log-level L] COMMAND [ARGS…]
//
// Splits the command line into the global part and the command part (the
// first word that is not an option starts the command), finds the command in
// the table (longest match of its words), parses its options and runs it.
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "buildd/error.hpp"
#include "buildd/logging.hpp"
#include "buildd/process_memory.hpp"
#include "command.hpp"
#include "version.hpp"

namespace {

using buildd::cli::Command;
namespace po = buildd::cli::po;

constexpr const char* kDefaultConfig = "/etc/buildd-master/buildd-master.yaml";

std::string default_config() {
  const char* env = std::getenv("BUILDD_MASTER_CONFIG");
  return env != nullptr && *env != '\0' ? env : kDefaultConfig;
}

po::options_description global_options() {
  po::options_description options("Global options");
  options.add_options()("help,h", "show this help, or a command's help after the command")(
      "version", "print the version and exit")(
      "config,c", po::value<std::string>()->default_value(default_config()),
      "the YAML config file (default: $BUILDD_MASTER_CONFIG, else "
      "/etc/buildd-master/buildd-master.yaml)")(
      "log-level", po::value<std::string>(),
      "trace, debug, info, warn, error, critical or off (default info)");
  return options;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

void print_help(std::ostream& out) {
  out << "buildd-master " << buildd::kVersion
      << ": the master of a build farm. It keeps builds in a SQL database,\n"
         "talks to build slaves (launchpad-buildd) over XML-RPC, collects their logs and\n"
         "results into the librarian and dispatches queued builds to idle builders.\n\n"
         "Usage: buildd-master [--config FILE] [--log-level LEVEL] COMMAND [ARGS…]\n\n"
      << global_options() << "\nCommands (buildd-master COMMAND --help for a command's options):\n";
  for (const Command& c : buildd::cli::command_table())
    out << "  " << joined(c.words) << (c.synopsis.empty() ? "" : " " + c.synopsis) << "\n      "
        << c.summary << '\n';
}

const Command* find_command(const std::vector<std::string>& args, std::size_t& used) {
  const Command* best = nullptr;
  used = 0;
  for (const Command& c : buildd::cli::command_table()) {
    if (c.words.size() > args.size() || c.words.size() <= used) continue;
    if (std::equal(c.words.begin(), c.words.end(), args.begin())) {
      best = &c;
      used = c.words.size();
    }
  }
  return best;
}

int run(int argc, char** argv) {
  // Global part: options up to the first bare word.
  std::vector<std::string> global;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!rest.empty() || (arg.empty() || arg[0] != '-')) {
      rest.push_back(arg);
      continue;
    }
    global.push_back(arg);
    if ((arg == "--config" || arg == "-c" || arg == "--log-level") && i + 1 < argc)
      global.push_back(argv[++i]);
  }
  po::variables_map gvm;
  po::store(po::command_line_parser(global).options(global_options()).run(), gvm);
  po::notify(gvm);
  if (gvm.count("log-level")) buildd::set_log_level(gvm["log-level"].as<std::string>());
  if (gvm.count("version")) {
    std::cout << "buildd-master " << buildd::kVersion << " (plugin ABI "
              << buildd::kPluginAbiVersion << ")\n";
    return 0;
  }
  if (rest.empty() || rest[0] == "help") {
    if (rest.empty() && !gvm.count("help")) {
      print_help(std::cerr);
      return 2;
    }
    print_help(std::cout);
    return 0;
  }
  std::size_t used = 0;
  const Command* command = find_command(rest, used);
  if (command == nullptr)
    throw buildd::Error(buildd::ErrorCategory::kUsage,
                        "unknown command '" + joined(rest) + "' (see buildd-master --help)");
  std::vector<std::string> command_args(rest.begin() + static_cast<long>(used), rest.end());

  po::options_description options("Options of '" + joined(command->words) + "'");
  po::positional_options_description positionals;
  options.add_options()("help,h", "show this help");
  if (command->declare) command->declare(options, positionals);
  po::variables_map vm;
  po::store(po::command_line_parser(command_args).options(options).positional(positionals).run(),
            vm);
  if (vm.count("help") || gvm.count("help")) {
    std::cout << "Usage: buildd-master " << joined(command->words) << ' ' << command->synopsis
              << "\n"
              << command->summary << "\n\n"
              << options;
    return 0;
  }
  po::notify(vm);
  buildd::cli::CommandContext context(gvm["config"].as<std::string>(), std::cout, std::cerr);
  return command->run(context, vm);
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
