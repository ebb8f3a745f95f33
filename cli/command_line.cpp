#include "command_line.hpp"

#include <algorithm>
#include <cstdlib>

#include "buildd/error.hpp"

namespace buildd::cli {

namespace {

constexpr const char* kDefaultConfig = "/etc/buildd-master/buildd-master.yaml";

std::string default_config() {
  const char* env = std::getenv("BUILDD_MASTER_CONFIG");
  return env != nullptr && *env != '\0' ? env : kDefaultConfig;
}

const Command* find_command(const std::vector<std::string>& args, std::size_t& used) {
  const Command* best = nullptr;
  used = 0;
  for (const Command& c : command_table()) {
    if (c.words.size() > args.size() || c.words.size() <= used) continue;
    if (std::equal(c.words.begin(), c.words.end(), args.begin())) {
      best = &c;
      used = c.words.size();
    }
  }
  return best;
}

}  // namespace

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

GlobalLine parse_global_options(const std::vector<std::string>& args) {
  // Global part: options up to the first bare word.
  std::vector<std::string> global;
  GlobalLine line;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!line.rest.empty() || (arg.empty() || arg[0] != '-')) {
      line.rest.push_back(arg);
      continue;
    }
    global.push_back(arg);
    if ((arg == "--config" || arg == "-c" || arg == "--log-level") && i + 1 < args.size())
      global.push_back(args[++i]);
  }
  po::store(po::command_line_parser(global).options(global_options()).run(), line.vm);
  po::notify(line.vm);
  return line;
}

CommandLine parse_command(const std::vector<std::string>& rest, bool global_help) {
  std::size_t used = 0;
  CommandLine line;
  line.command = find_command(rest, used);
  if (line.command == nullptr)
    throw Error(ErrorCategory::kUsage,
                "unknown command '" + joined(rest) + "' (see buildd-master --help)");
  const std::vector<std::string> command_args(rest.begin() + static_cast<long>(used), rest.end());

  line.options =
      std::make_shared<po::options_description>("Options of '" + joined(line.command->words) + "'");
  po::positional_options_description positionals;
  line.options->add_options()("help,h", "show this help");
  if (line.command->declare) line.command->declare(*line.options, positionals);
  po::store(
      po::command_line_parser(command_args).options(*line.options).positional(positionals).run(),
      line.vm);
  line.help = line.vm.count("help") > 0 || global_help;
  if (!line.help) po::notify(line.vm);
  return line;
}

}  // namespace buildd::cli
