#include "e2e/farm.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <algorithm>
#include <cstdlib>

#include <fstream>
#include <thread>

namespace buildd::test {

FarmBackends embedded_backends(const std::filesystem::path& dir) {
  return {"    backend: sqlite3\n    connection: " + (dir / "buildd.sqlite").string() + "\n",
          "archive:\n  plugin: file-librarian\n  config:\n    root: " + (dir / "archive").string() +
              "\n",
          ""};
}

Farm::Farm(const FarmBackends& backends) : config_(dir_ / "buildd-master.yaml") {
  std::ofstream out(config_);
  out << "master:\n  work_dir: " << dir_.path().string() << "/work\n"
      << "  scan_interval: 0.2\n  http_listen: 127.0.0.1:" << free_port() << "\n"
      << "  give_back_limit: 2\n  cancel_timeout: 20\n"
      << backends.master_extra << "store:\n  plugin: soci-store\n  config:\n"
      << backends.store_yaml << "slave_transport:\n  plugin: xmlrpc-slave\n  config:\n"
      << "    call_timeout: 5\n    connect_timeout: 2\n"
      << backends.archive_yaml;
  out.close();
  cli_ok({"db", "upgrade"});
}

Farm::~Farm() {
  if (daemon_) daemon_->stop();
}

CommandResult Farm::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> all{"--config", config_.string()};
  all.insert(all.end(), args.begin(), args.end());
  return run_command(executable("buildd-master"), all);
}

std::string Farm::cli_ok(const std::vector<std::string>& args) const {
  CommandResult r = cli(args);
  std::string joined;
  for (const auto& a : args) joined += a + " ";
  if (r.exit_code != 0)
    throw std::runtime_error("buildd-master " + joined + "exited " + std::to_string(r.exit_code) +
                             ": " + r.err);
  return r.out;
}

nlohmann::json Farm::cli_json(std::vector<std::string> args) const {
  args.push_back("--format");
  args.push_back("json");
  return nlohmann::json::parse(cli_ok(args));
}

void Farm::add_family_and_archrelease() {
  cli_ok({"family", "add", "x86", "--processors", "386,amd64"});
  std::string chroot(32 * 1024, 'c');
  write_file(dir_ / "chroot-noble-amd64.tar.gz", chroot);
  cli_ok({"archrelease", "add", "ubuntu/noble/amd64", "--family", "x86", "--chroot",
          (dir_ / "chroot-noble-amd64.tar.gz").string()});
}

void Farm::add_builders(int count, const std::vector<std::string>& slave_args,
                        const std::string& name_prefix) {
  for (int i = 0; i < count; ++i) {
    auto slave = std::make_unique<SlaveProcess>(slave_args);
    cli_ok({"builder", "add", name_prefix + std::to_string(slaves_.size() + 1), slave->base_url(),
            "--processor", "amd64"});
    slaves_.push_back(std::move(slave));
  }
}

long Farm::add_build(const std::string& source, const std::string& version,
                     const std::string& outcome, double duration, const std::string& depends,
                     const std::string& archive, const std::string& dsc_fields) {
  const auto dsc = dir_ / (source + "_" + version + ".dsc");
  std::string text = "Format: 3.0 (quilt)\nSource: " + source + "\nVersion: " + version +
                     "\nOutcome: " + outcome + "\nDuration: " + std::to_string(duration) + "\n";
  if (!depends.empty()) text += "Depends: " + depends + "\n";
  write_file(dsc, text + dsc_fields);
  const auto tarball = dir_ / (source + "_" + version + ".orig.tar.gz");
  write_file(tarball, "tarball of " + source + " " + version + "\n");
  std::string out =
      cli_ok({"build", "add", source, version, "--archrelease", "ubuntu/noble/amd64", "--file",
              dsc.string(), "--file", tarball.string(), "--archive", archive});
  return std::stol(out);
}

void Farm::start_daemon() {
  daemon_ = std::make_unique<ChildProcess>(
      executable("buildd-master"),
      std::vector<std::string>{"--config", config_.string(), "--log-level", "debug", "run"},
      dir_ / "daemon.log");
}

int Farm::stop_daemon() {
  if (!daemon_) return -1;
  daemon_->signal(SIGTERM);
  int code = daemon_->wait();
  daemon_.reset();
  return code;
}

std::string Farm::daemon_log() const {
  std::error_code ec;
  return std::filesystem::exists(dir_ / "daemon.log", ec) ? read_file(dir_ / "daemon.log") : "";
}

void Farm::wait_until_drained(std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const nlohmann::json queue = cli_json({"queue", "list"});
    bool busy = !queue["running"].empty() || !queue["waiting"].empty();
    for (const auto& b : cli_records({"build", "list"}, "builds")) {
      const std::string state = b["state"];
      if (state == "NEEDSBUILD" || state == "BUILDING" || state == "CANCELLING") busy = true;
    }
    if (!busy) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error("the farm did not drain in time; daemon log:\n" + daemon_log());
}

std::string http_get(const std::string& url) {
  // url: http://host:port/path
  const auto slash = url.find('/', 7);
  httplib::Client client(url.substr(0, slash));
  client.set_read_timeout(10, 0);
  auto response = client.Get(url.substr(slash).c_str());
  if (!response || response->status != 200)
    throw std::runtime_error(
        "GET " + url + " failed: " + (response ? std::to_string(response->status) : "no response"));
  return response->body;
}

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const char* scale = std::getenv("BUILDD_TEST_TIME_SCALE");
  const int factor = scale != nullptr ? std::max(1, std::atoi(scale)) : 1;
  const auto deadline = std::chrono::steady_clock::now() + timeout * factor;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace buildd::test
