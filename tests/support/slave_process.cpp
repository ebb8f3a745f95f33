#include "support/slave_process.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <stdexcept>

namespace buildd::test {
namespace fs = std::filesystem;

namespace {

bool has_option(const std::vector<std::string>& args, const std::string& name) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return a == name || a.rfind(name + "=", 0) == 0;
  });
}

std::string option_value(const std::vector<std::string>& args, const std::string& name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(name + "=", 0) == 0) return args[i].substr(name.size() + 1);
  }
  return {};
}

}  // namespace

SlaveProcess::SlaveProcess(std::vector<std::string> args,
                           std::chrono::milliseconds startup_timeout) {
  const fs::path binary = executable("buildd-slave");
  if (!fs::exists(binary)) throw std::runtime_error("buildd-slave not built: " + binary.string());
  if (!has_option(args, "--listen")) args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  std::string port_file = option_value(args, "--port-file");
  if (port_file.empty()) {
    port_file = (dir_ / "port").string();
    args.insert(args.end(), {"--port-file", port_file});
  }
  cache_dir_ = option_value(args, "--cache-dir");
  if (cache_dir_.empty()) {
    cache_dir_ = dir_ / "cache";
    args.insert(args.end(), {"--cache-dir", cache_dir_.string()});
  }
  if (auto n = option_value(args, "--builders"); !n.empty()) builders_ = std::stoi(n);

  process_ = std::make_unique<ChildProcess>(binary, args, dir_ / "output");
  try {
    port_ = std::stoi(wait_for_file_line(port_file, startup_timeout, process_.get()));
  } catch (const std::exception& e) {
    stop(std::chrono::milliseconds(500));
    throw std::runtime_error(std::string("buildd-slave did not start: ") + e.what() + "\n" +
                             output());
  }
}

SlaveProcess::~SlaveProcess() {
  stop();
}

int SlaveProcess::stop(std::chrono::milliseconds grace) {
  if (!process_) return exit_status_;
  const int status = process_->stop(grace);
  if (status < 0) {
    exit_status_ = -1;
  } else if (WIFEXITED(status)) {
    exit_status_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_status_ = 128 + WTERMSIG(status);
  }
  process_.reset();
  return exit_status_;
}

std::string SlaveProcess::root_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/";
}

std::string SlaveProcess::base_url(int builder) const {
  if (builders_ == 1) return root_url();
  return root_url() + "builders/" + std::to_string(builder) + "/";
}

std::vector<std::string> SlaveProcess::base_urls() const {
  std::vector<std::string> urls;
  for (int i = 0; i < builders_; ++i) urls.push_back(base_url(i));
  return urls;
}

fs::path SlaveProcess::builder_cache_dir(int builder) const {
  if (builders_ == 1) return cache_dir_;
  return cache_dir_ / ("builder-" + std::to_string(builder));
}

std::string SlaveProcess::output() const {
  return fs::exists(dir_ / "output") ? read_file(dir_ / "output") : std::string();
}

}  // namespace buildd::test
