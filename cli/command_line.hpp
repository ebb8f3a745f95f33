#pragma once

// The parse stage of the command line, apart from running a command so that
// tests and tests/fuzz can drive it: it reads no file, opens no connection and
// changes no global state.
//
//   buildd-master [--config FILE] [--log-level L] COMMAND [ARGS…]
//
// The global part ends at the first word that is not an option; the command is
// the longest match of a command's words in the table; its options are parsed
// with the options and positionals it declares.
//
// Errors: Error(kUsage) for an unknown command, po::error (and its subclasses)
// for bad options; main turns both into exit code 2.

#include <memory>
#include <string>
#include <vector>

#include "command.hpp"

namespace buildd::cli {

po::options_description global_options();

// "builder add"
std::string joined(const std::vector<std::string>& words);

struct GlobalLine {
  po::variables_map vm;           // --help, --version, --config, --log-level
  std::vector<std::string> rest;  // the command's words and arguments
};

// `args` without the program name. The log level is not applied here.
GlobalLine parse_global_options(const std::vector<std::string>& args);

struct CommandLine {
  const Command* command = nullptr;
  std::shared_ptr<po::options_description> options;  // for the command's --help
  po::variables_map vm;
  bool help = false;  // the command's --help (or the global one) was given
};

// `rest` from parse_global_options, not empty. Unless `help`, the options are
// notified: required options and declared checks are applied.
CommandLine parse_command(const std::vector<std::string>& rest, bool global_help);

}  // namespace buildd::cli
