#pragma once

// Helpers shared by the test suites.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "buildd/conformance/scratch_dir.hpp"  // TempDir, write_file
#include "buildd/error.hpp"

namespace buildd::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
std::uint16_t free_port();

// Build-tree locations.
std::filesystem::path binary_dir();                         // CMAKE_BINARY_DIR
std::filesystem::path source_dir();                         // the repository
std::filesystem::path fixtures_dir();                       // tests/fixtures
std::filesystem::path plugin_dir();                         // where the plugins are built
std::filesystem::path executable(const std::string& name);  // <binary_dir>/bin/<name>

std::string read_file(const std::filesystem::path& path);

}  // namespace buildd::test

namespace buildd::test {

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed
  std::string out;
  std::string err;
};

// Runs `program` with `args` to completion (stdin /dev/null), capturing stdout
// and stderr separately.
CommandResult run_command(const std::filesystem::path& program,
                          const std::vector<std::string>& args);

}  // namespace buildd::test

namespace buildd::test {

// The buildd::Error that `call` throws; fails the test when it throws nothing.
Error thrown_error(const std::function<void()>& call);

std::string lowercase(std::string text);

}  // namespace buildd::test
