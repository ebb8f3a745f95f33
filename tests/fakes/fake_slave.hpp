#pragma once

// FakeSlave / FakeTransport: in-process slaves with scripted replies and a
// call log ("status", "clean", "abort", "fetch buildlog", "ensure_present <sha1>",
// "build <cookie> <type>"…). A FakeSlave's script is shared with the test
// through a shared_ptr so the test can change it between cycles.
//
// A FakeSlave scripts launchpad-buildd's calls (echo, info, ensurepresent,
// build…): it derives from xmlrpc-slave's LaunchpadSlave, so the pipeline's
// tests drive the core's protocol-neutral probe() and start() through the
// real mapping onto those calls, as a farm of launchpad-buildd slaves does.

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "buildd/error.hpp"
#include "buildd/slave_transport.hpp"
#include "launchpad_slave.hpp"

namespace buildd::test {

using xmlrpc_slave::BuildArgs;
using xmlrpc_slave::BuildStartResult;
using xmlrpc_slave::BuildStartStatus;
using xmlrpc_slave::EnsurePresentResult;
using xmlrpc_slave::SlaveInfo;

struct SlaveScript {
  std::mutex mutex;
  SlaveStatus status;                 // returned by status() (unless status_error)
  std::optional<Error> status_error;  // thrown by status()
  std::optional<Error> fetch_error;   // thrown by fetch_file()
  std::optional<Error> clean_error;   // thrown by clean()
  std::optional<Error> abort_error;
  std::vector<std::string> echo_reply;  // empty: echo the arguments back
  SlaveInfo info{"1.0", "i386", {"binarypackage"}};
  std::map<std::string, std::string> files;  // name ("buildlog" or sha1) -> content
  std::map<std::string, bool> present;       // ensure_present answer per sha1 (default true)
  BuildStartResult build_reply{BuildStartStatus::kBuilding, "BuilderStatus.BUILDING", ""};
  bool building_after_build = true;  // status becomes BUILDING after build()
  bool finish_at_once = false;       // status becomes WAITING OK after build()
  // The log readlog() serves (buildd-slave's extension), each call logged as
  // "readlog <offset>"; unset: readlog() faults 8001 as launchpad-buildd
  // does (not logged, so that scripts of launchpad-buildd see its calls).
  std::optional<std::string> live_log;
  std::optional<Error> readlog_error;  // thrown by readlog() when live_log is set
  std::vector<std::string> calls;
  std::vector<BuildArgs> build_args;
  std::vector<std::map<std::string, std::string>> build_filemaps;

  std::size_t count(const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& c : calls) n += c == call;
    return n;
  }
};

SlaveStatus idle_status();
SlaveStatus building_status(const std::string& cookie, const std::string& logtail);
SlaveStatus waiting_status(BuildResult result, const std::string& cookie,
                           std::map<std::string, std::string> filemap = {});
SlaveStatus aborting_status(const std::string& cookie);
SlaveStatus aborted_status(const std::string& cookie);

class FakeSlave final : public xmlrpc_slave::LaunchpadSlave {
 public:
  FakeSlave(std::string name, std::shared_ptr<SlaveScript> script)
      : name_(std::move(name)), script_(std::move(script)) {}
  const std::string& builder_name() const override { return name_; }
  std::vector<std::string> echo(const std::vector<std::string>& args) override;
  SlaveInfo info() override;
  SlaveStatus status() override;
  EnsurePresentResult ensure_present(const std::string& sha1, const std::optional<std::string>& url,
                                     const std::string& username,
                                     const std::string& password) override;
  BuildStartResult build(const std::string& build_id, const std::string& builder_type,
                         const std::string& chroot_sha1,
                         const std::map<std::string, std::string>& filemap,
                         const BuildArgs& args) override;
  std::string abort() override;
  std::string clean() override;
  LogRead readlog(std::uint64_t offset, std::size_t max_bytes) override;
  FetchedFile fetch_file(const std::string& name, ByteSink& destination,
                         std::uint64_t max_bytes) override;

 private:
  std::string name_;
  std::shared_ptr<SlaveScript> script_;
};

// connect() hands out a FakeSlave over the script registered for the
// builder's name (a fresh IDLE script when none is), and records the URL.
// Like xmlrpc-slave it refuses a URL of another scheme (http(s) unless told).
class FakeTransport final : public SlaveTransport {
 public:
  explicit FakeTransport(std::string scheme = "http") : scheme_(std::move(scheme)) {}
  std::shared_ptr<SlaveScript> script(const std::string& builder_name);
  std::unique_ptr<Slave> connect(const Builder& builder) override;
  std::vector<std::string> connected_urls();  // every connect(), in order

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<SlaveScript>> scripts_;
  std::vector<std::string> urls_;
  const std::string scheme_;
};

Error transport_error(const std::string& what = "connection refused");
Error fault_error(const std::string& what = "Broken slave");

}  // namespace buildd::test
