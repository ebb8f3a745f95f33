#pragma once

// A real farm for end-to-end tests: the real buildd-master binary driven
// through its command line, real buildd-slave processes on loopback, a
// SQLite or PostgreSQL store and a local or nginx librarian. Every step goes
// through the same commands an operator types.

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "buildd/child_process.hpp"
#include "support/slave_process.hpp"
#include "support/test_support.hpp"

namespace buildd::test {

struct FarmBackends {
  std::string store_yaml;    // the `store:` section's config body
  std::string archive_yaml;  // the whole `archive:` section
  std::string master_extra;  // extra keys of `master:`
};

// The embedded default: SQLite and a local librarian inside `dir`.
FarmBackends embedded_backends(const std::filesystem::path& dir);

class Farm {
 public:
  explicit Farm(const FarmBackends& backends);
  ~Farm();

  const std::filesystem::path& dir() const { return dir_.path(); }
  const std::filesystem::path& config() const { return config_; }

  // buildd-master --config <config> args…
  CommandResult cli(const std::vector<std::string>& args) const;
  // The same, expecting exit 0 and JSON on stdout (adds --format json).
  nlohmann::json cli_json(std::vector<std::string> args) const;
  // The records a list command's document holds under `key`, by value (safe
  // to loop over: `for (x : cli_json(...)["key"])` would outlive its document).
  nlohmann::json cli_records(std::vector<std::string> args, const char* key) const {
    return cli_json(std::move(args))[key];
  }
  // Expects exit 0; returns stdout.
  std::string cli_ok(const std::vector<std::string>& args) const;

  // family x86 (386, amd64) and ubuntu/noble/amd64 with a generated chroot.
  void add_family_and_archrelease();
  // Starts one buildd-slave per builder and registers it (amd64).
  void add_builders(int count, const std::vector<std::string>& slave_args = {},
                    const std::string& name_prefix = "builder-");
  // Writes a .dsc (with the outcome fields buildd-slave reads, and
  // `dsc_fields`, e.g. "Log-Lines: 600\n") and a tarball and enqueues them;
  // returns the build id.
  long add_build(const std::string& source, const std::string& version, const std::string& outcome,
                 double duration = 0.1, const std::string& depends = "",
                 const std::string& archive = "primary", const std::string& dsc_fields = "");

  void start_daemon();
  // SIGTERM; returns the daemon's exit code.
  int stop_daemon();
  void signal_daemon(int sig) { daemon_->signal(sig); }
  std::string daemon_log() const;

  // Polls `build show` until every build is in a final state (no
  // NEEDSBUILD/BUILDING/CANCELLING left) and the queue is empty.
  void wait_until_drained(std::chrono::seconds timeout) const;
  nlohmann::json build(long id) const { return cli_json({"build", "show", std::to_string(id)}); }

  std::vector<std::unique_ptr<SlaveProcess>>& slaves() { return slaves_; }

 private:
  TempDir dir_;
  std::filesystem::path config_;
  std::vector<std::unique_ptr<SlaveProcess>> slaves_;
  std::unique_ptr<ChildProcess> daemon_;
};

// GETs a URL, returns the body (throws on anything but 200).
std::string http_get(const std::string& url);

// Polls `condition` every 50 ms until it holds (true) or `timeout` passes
// (false, after one last try). The timeout is multiplied by
// BUILDD_TEST_TIME_SCALE when set (scripts/sanitize: the instrumented
// processes are several times slower, not wrong).
bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout);

}  // namespace buildd::test
