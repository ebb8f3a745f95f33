#include "support/test_support.hpp"

#include "buildd/net.hpp"

#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace buildd::test {

std::uint16_t free_port() {
  return free_loopback_port();
}

std::filesystem::path binary_dir() {
  return BUILDD_BINARY_DIR;
}
std::filesystem::path source_dir() {
  return BUILDD_SOURCE_DIR;
}
std::filesystem::path fixtures_dir() {
  return BUILDD_FIXTURES_DIR;
}
std::filesystem::path plugin_dir() {
  return BUILDD_PLUGIN_DIR;
}
std::filesystem::path executable(const std::string& name) {
  return binary_dir() / "bin" / name;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace buildd::test

#include <fcntl.h>
#include <sys/wait.h>

namespace buildd::test {

CommandResult run_command(const std::filesystem::path& program,
                          const std::vector<std::string>& args) {
  TempDir dir;
  const auto out_path = dir / "stdout";
  const auto err_path = dir / "stderr";
  std::vector<std::string> argv_strings{program.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

}  // namespace buildd::test

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace buildd::test {

Error thrown_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the call did not throw";
  return Error(ErrorCategory::kInternal, "no error");
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace buildd::test
