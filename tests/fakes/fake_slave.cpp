#include "fakes/fake_slave.hpp"

#include <fstream>

#include "buildd/digest.hpp"

namespace buildd::test {

using Lock = std::lock_guard<std::mutex>;

SlaveStatus idle_status() {
  SlaveStatus s;
  s.state = BuilderState::kIdle;
  s.state_text = "BuilderStatus.IDLE";
  return s;
}

SlaveStatus building_status(const std::string& cookie, const std::string& logtail) {
  SlaveStatus s;
  s.state = BuilderState::kBuilding;
  s.state_text = "BuilderStatus.BUILDING";
  s.build_id = cookie;
  s.logtail = logtail;
  return s;
}

SlaveStatus waiting_status(BuildResult result, const std::string& cookie,
                           std::map<std::string, std::string> filemap) {
  SlaveStatus s;
  s.state = BuilderState::kWaiting;
  s.state_text = "BuilderStatus.WAITING";
  s.build_id = cookie;
  s.result = result;
  s.result_text = std::string("BuildStatus.") + to_string(result);
  s.filemap = std::move(filemap);
  return s;
}

SlaveStatus aborting_status(const std::string& cookie) {
  SlaveStatus s;
  s.state = BuilderState::kAborting;
  s.state_text = "BuilderStatus.ABORTING";
  s.build_id = cookie;
  return s;
}

SlaveStatus aborted_status(const std::string& cookie) {
  SlaveStatus s;
  s.state = BuilderState::kAborted;
  s.state_text = "BuilderStatus.ABORTED";
  s.build_id = cookie;
  s.legacy_array = true;
  return s;
}

std::vector<std::string> FakeSlave::echo(const std::vector<std::string>& args) {
  Lock lock(script_->mutex);
  script_->calls.push_back("echo");
  return script_->echo_reply.empty() ? args : script_->echo_reply;
}

SlaveInfo FakeSlave::info() {
  Lock lock(script_->mutex);
  script_->calls.push_back("info");
  return script_->info;
}

SlaveStatus FakeSlave::status() {
  Lock lock(script_->mutex);
  script_->calls.push_back("status");
  if (script_->status_error) throw *script_->status_error;
  return script_->status;
}

EnsurePresentResult FakeSlave::ensure_present(const std::string& sha1,
                                              const std::optional<std::string>& url,
                                              const std::string&, const std::string&) {
  Lock lock(script_->mutex);
  script_->calls.push_back("ensure_present " + sha1 + " " + url.value_or("-"));
  auto it = script_->present.find(sha1);
  bool present = it == script_->present.end() || it->second;
  return EnsurePresentResult{present, present ? "Download" : "refused"};
}

BuildStartResult FakeSlave::build(const std::string& build_id, const std::string& builder_type,
                                  const std::string& chroot_sha1,
                                  const std::map<std::string, std::string>& filemap,
                                  const BuildArgs& args) {
  Lock lock(script_->mutex);
  script_->calls.push_back("build " + build_id + " " + builder_type + " " + chroot_sha1);
  script_->build_args.push_back(args);
  script_->build_filemaps.push_back(filemap);
  if (script_->build_reply.status == BuildStartStatus::kBuilding && script_->finish_at_once) {
    script_->status = waiting_status(BuildResult::kOk, build_id);
  } else if (script_->build_reply.status == BuildStartStatus::kBuilding &&
             script_->building_after_build) {
    script_->status = building_status(build_id, "");
  }
  return script_->build_reply;
}

std::string FakeSlave::abort() {
  Lock lock(script_->mutex);
  script_->calls.push_back("abort");
  if (script_->abort_error) throw *script_->abort_error;
  script_->status.state = BuilderState::kAborting;
  script_->status.state_text = "BuilderStatus.ABORTING";
  return "BuilderStatus.ABORTING";
}

std::string FakeSlave::clean() {
  Lock lock(script_->mutex);
  script_->calls.push_back("clean");
  if (script_->clean_error) throw *script_->clean_error;
  script_->status = idle_status();
  return "BuilderStatus.IDLE";
}

LogRead FakeSlave::readlog(std::uint64_t offset, std::size_t max_bytes) {
  {
    Lock lock(script_->mutex);
    if (script_->live_log) {
      script_->calls.push_back("readlog " + std::to_string(offset));
      if (script_->readlog_error) throw *script_->readlog_error;
      const std::string& log = *script_->live_log;
      return {offset < log.size() ? log.substr(offset, max_bytes) : std::string(), log.size()};
    }
  }
  return LaunchpadSlave::readlog(offset, max_bytes);
}

FetchedFile FakeSlave::fetch_file(const std::string& name, ByteSink& destination,
                                  std::uint64_t max_bytes) {
  Lock lock(script_->mutex);
  script_->calls.push_back("fetch " + name);
  if (script_->fetch_error) throw *script_->fetch_error;
  auto it = script_->files.find(name);
  if (it == script_->files.end()) throw Error(ErrorCategory::kTransport, "HTTP 404 " + name, true);
  if (it->second.size() > max_bytes) throw Error(ErrorCategory::kProtocol, "too big: " + name);
  const std::string sha1 = sha1_hex(it->second);
  if (name != "buildlog" && sha1 != name) {
    throw Error(ErrorCategory::kProtocol, "sha1 mismatch for " + name);
  }
  destination.write(it->second.data(), it->second.size());
  return FetchedFile{it->second.size(), sha1};
}

std::shared_ptr<SlaveScript> FakeTransport::script(const std::string& builder_name) {
  Lock lock(mutex_);
  auto& s = scripts_[builder_name];
  if (!s) {
    s = std::make_shared<SlaveScript>();
    s->status = idle_status();
  }
  return s;
}

std::unique_ptr<Slave> FakeTransport::connect(const Builder& builder) {
  if (!builder.url.starts_with(scheme_))
    throw Error(ErrorCategory::kProtocol, "not a " + scheme_ + " URL: " + builder.url);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    urls_.push_back(builder.url);
  }
  return std::make_unique<FakeSlave>(builder.name, script(builder.name));
}

std::vector<std::string> FakeTransport::connected_urls() {
  std::lock_guard<std::mutex> lock(mutex_);
  return urls_;
}

Error transport_error(const std::string& what) {
  return Error(ErrorCategory::kTransport, what, true);
}

Error fault_error(const std::string& what) {
  return xmlrpc_slave::FaultError(xmlrpc_slave::kFaultNoSuchMethod, what);
}

}  // namespace buildd::test
