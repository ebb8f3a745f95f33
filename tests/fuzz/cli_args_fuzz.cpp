// Fuzzes the parse stage of the buildd-master command line: the global
// options, the command's lookup in the table and its options and positionals
// (parse_global_options, parse_command), exactly as main() runs them before a
// command starts. No command runs: nothing touches a file, the network or a
// process. The input is one argument per line.
//
// Expected refusals are buildd::Error(kUsage) and boost::program_options
// errors (both exit code 2); anything else escaping (main() would report it
// as an internal error, exit 1), a crash or a sanitizer report is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "buildd/error.hpp"
#include "command_line.hpp"
#include "fuzz_check.hpp"

namespace {

std::vector<std::string> split_lines(std::string_view input) {
  std::vector<std::string> words;
  if (input.empty()) return words;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    words.emplace_back(input.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace cli = buildd::cli;
  const std::vector<std::string> args =
      split_lines(std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const cli::GlobalLine global = cli::parse_global_options(args);
    FUZZ_CHECK(global.vm.count("config") == 1);  // it has a default
    if (global.rest.empty() || global.rest[0] == "help") return 0;
    const cli::CommandLine line = cli::parse_command(global.rest, global.vm.count("help") > 0);
    FUZZ_CHECK(line.command != nullptr && line.options != nullptr);
    FUZZ_CHECK(global.rest.size() >= line.command->words.size());
    for (std::size_t i = 0; i < line.command->words.size(); ++i) {
      FUZZ_CHECK(global.rest[i] == line.command->words[i]);
    }
  } catch (const buildd::Error& error) {
    FUZZ_CHECK(error.category() == buildd::ErrorCategory::kUsage);
  } catch (const cli::po::error&) {
    // a bad option or value: exit code 2
  }
  return 0;
}
