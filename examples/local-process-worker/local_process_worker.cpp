#include "local_process_worker.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "buildd/content_writer.hpp"
#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/logging.hpp"

extern char** environ;

namespace local_process_worker {
namespace {

namespace fs = std::filesystem;
using buildd::Error;
using buildd::ErrorCategory;

constexpr std::size_t kChunk = 64 * 1024;

Error refused(const std::string& what) {
  return Error(ErrorCategory::kRefused, what);
}

// A slot name, a build id or a file name the master sent: one path component
// that cannot climb out of the slot's folder.
bool is_plain_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name.front() != '.' &&
         name.find_first_of("/\\") == std::string::npos &&
         std::none_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20; });
}

std::string slot_of(const std::string& url) {
  constexpr std::string_view kScheme = "local://";
  if (!url.starts_with(kScheme))
    throw Error(ErrorCategory::kProtocol, "not a local-process URL (local://<slot>/): " + url);
  std::string slot = url.substr(kScheme.size());
  if (slot.ends_with('/')) slot.pop_back();
  if (!is_plain_name(slot))
    throw Error(ErrorCategory::kProtocol, "bad slot name in " + url + " (one path component)");
  return slot;
}

std::string tail_of(const fs::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                                   ? size - static_cast<std::streamoff>(max_bytes)
                                   : 0;
  in.seekg(start);
  std::string tail(static_cast<std::size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail;
}

struct DownloadSink {
  buildd::ByteSink& sink;
  std::string error;  // what the sink threw, if it did
};

std::size_t write_to_sink(char* data, std::size_t size, std::size_t count, void* out) {
  auto* d = static_cast<DownloadSink*>(out);
  try {
    d->sink.write(data, size * count);
  } catch (const std::exception& e) {  // nothing may cross libcurl's C callback
    d->error = e.what();
    return 0;  // a short count makes curl stop with CURLE_WRITE_ERROR
  }
  return size * count;
}

// GETs `url` into `sink`; an error text, empty on success.
std::string download(const std::string& url, buildd::ByteSink& sink, double timeout) {
  CURL* curl = curl_easy_init();
  if (!curl) return "curl_easy_init failed";
  DownloadSink out{sink, {}};
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout * 1000));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &write_to_sink);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  if (!out.error.empty()) return out.error;
  if (code != CURLE_OK) return *error ? error : curl_easy_strerror(code);
  return {};
}

// Starts `command` in `dir` as the leader of a new process group (abort()
// signals the whole group), stdin from /dev/null, stdout and stderr into
// `log`. posix_spawn, not fork: the master is multi-threaded.
pid_t spawn(const fs::path& command, const fs::path& dir, const fs::path& log,
            const std::vector<std::string>& extra_env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "BUILDD_", 7) != 0) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string program = command.string();
  char* argv[] = {program.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw Error(ErrorCategory::kTransport, "cannot start " + program + ": " + std::strerror(rc));
  return pid;
}

// Reaps the slot's command if it has ended. Caller holds slot.mutex.
void reap(Slot& slot) {
  if (slot.pid < 0) return;
  int status = 0;
  const pid_t r = waitpid(slot.pid, &status, WNOHANG);
  if (r == slot.pid || (r < 0 && errno == ECHILD)) {
    slot.wait_status = r == slot.pid ? status : 0;
    slot.pid = -1;
  }
}

class LocalSlave : public buildd::Slave {
 public:
  LocalSlave(const Options& options, std::string name, std::shared_ptr<Slot> slot)
      : options_(options), name_(std::move(name)), slot_(std::move(slot)) {}

  const std::string& builder_name() const override { return name_; }

  buildd::WorkerInfo probe() override { return {options_.arch_tag, "local-process"}; }

  buildd::SlaveStatus status() override {
    std::lock_guard lock(slot_->mutex);
    reap(*slot_);
    buildd::SlaveStatus s;
    s.build_id = slot_->build_id;
    if (slot_->build_id.empty()) {
      set_state(s, buildd::BuilderState::kIdle);
    } else if (slot_->pid >= 0) {
      set_state(s,
                slot_->aborted ? buildd::BuilderState::kAborting : buildd::BuilderState::kBuilding);
      s.logtail = tail_of(slot_->dir / "build" / "buildlog", options_.max_logtail_bytes);
    } else {
      set_state(s, buildd::BuilderState::kWaiting);
      set_result(s);
    }
    return s;
  }

  buildd::StartResult start(const buildd::JobSpec& job) override {
    // The sources are linked into the build folder by name: refuse a name
    // that could climb out of it before downloading anything.
    for (const buildd::JobInput& source : job.sources)
      if (!is_plain_name(source.filename))
        throw Error(ErrorCategory::kProtocol, name_ + ": bad file name " + source.filename);
    // The inputs, outside the slot's lock: a download may take long.
    fetch_input(job.chroot);
    for (const buildd::JobInput& source : job.sources) fetch_input(source);

    std::lock_guard lock(slot_->mutex);
    reap(*slot_);
    if (!slot_->build_id.empty())
      return {false, name_ + " is not IDLE (it holds build " + slot_->build_id + ")"};
    const fs::path cache = options_.work_dir / "cache";
    std::vector<std::string> env = {
        "BUILDD_BUILD_ID=" + job.job_id,
        "BUILDD_CHROOT=" + (cache / job.chroot.sha1).string(),
        "BUILDD_SOURCE_NAME=" + job.source_name,
        "BUILDD_SOURCE_VERSION=" + job.source_version,
        "BUILDD_RELEASE=" + job.release,
        "BUILDD_POCKET=" + job.pocket,
        "BUILDD_COMPONENT=" + job.component,
        "BUILDD_ARCH_TAG=" + job.arch_tag,
        std::string("BUILDD_ARCH_INDEP=") + (job.arch_indep ? "1" : "0")};
    // The operator's opaque arguments (master.job_args), each as
    // BUILDD_JOB_ARG_<KEY> ('-' in a key becomes '_').
    for (const auto& [key, value] : job.protocol_args) {
      std::string name = "BUILDD_JOB_ARG_" + key;
      std::replace(name.begin(), name.end(), '-', '_');
      env.push_back(name + "=" + value);
    }
    // A fresh build folder: the inputs linked in by their names, results/ empty.
    const fs::path dir = slot_->dir / "build";
    fs::remove_all(dir);
    fs::create_directories(dir / "results");
    for (const buildd::JobInput& source : job.sources)
      fs::create_hard_link(cache / source.sha1, dir / source.filename);
    slot_->pid = spawn(options_.command, dir, dir / "buildlog", env);
    slot_->build_id = job.job_id;
    slot_->aborted = false;
    slot_->wait_status = 0;
    slot_->results.reset();
    buildd::logger("local-process")
        ->info("{}: build {} started (pid {})", name_, job.job_id, slot_->pid);
    return {true, ""};
  }

  std::string abort() override {
    std::lock_guard lock(slot_->mutex);
    reap(*slot_);
    if (slot_->build_id.empty()) throw refused(name_ + " is IDLE: nothing to abort");
    if (slot_->pid < 0) throw refused(name_ + " is WAITING: the build has ended");
    kill(-slot_->pid, SIGTERM);
    slot_->aborted = true;
    return "BuilderStatus.ABORTING";
  }

  std::string clean() override {
    std::lock_guard lock(slot_->mutex);
    reap(*slot_);
    if (slot_->pid >= 0) throw refused(name_ + " is BUILDING: abort it first");
    std::error_code ignored;
    fs::remove_all(slot_->dir / "build", ignored);
    slot_->build_id.clear();
    slot_->results.reset();
    return "BuilderStatus.IDLE";
  }

  buildd::FetchedFile fetch_file(const std::string& name, buildd::ByteSink& sink,
                                 std::uint64_t max_bytes) override {
    const fs::path file = locate(name);
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(ErrorCategory::kTransport, name_ + ": no file " + name + " (HTTP 404)");
    buildd::Hasher sha1(buildd::DigestAlgorithm::kSha1);
    buildd::FetchedFile fetched;
    std::vector<char> buffer(kChunk);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      fetched.size += n;
      if (fetched.size > max_bytes)
        throw Error(ErrorCategory::kProtocol, name_ + ": " + name + " is larger than " +
                                                  std::to_string(max_bytes) + " bytes");
      sha1.update(buffer.data(), n);
      sink.write(buffer.data(), n);
    }
    fetched.sha1 = sha1.hex_digest();
    if (name != "buildlog" && fetched.sha1 != name)
      throw Error(ErrorCategory::kProtocol, name_ + ": " + name + " has SHA-1 " + fetched.sha1);
    return fetched;
  }

 private:
  // Makes `input` present in the cache shared by the slots (by SHA-1), or
  // throws Error(kProtocol) saying why it cannot be.
  void fetch_input(const buildd::JobInput& input) {
    const std::string what = name_ + ": input " + input.filename + " (" + input.sha1 + ")";
    if (!buildd::is_sha1_hex(input.sha1))
      throw Error(ErrorCategory::kProtocol, what + ": not a SHA-1");
    const fs::path cached = options_.work_dir / "cache" / input.sha1;
    if (fs::exists(cached)) return;
    // Downloaded beside the cache under a name of its own, checked, then
    // renamed in: a concurrent download of the same file, or a crash, never
    // leaves a wrong file under the SHA-1's name.
    fs::create_directories(cached.parent_path());
    // The core's ContentWriter hashes the bytes as they are written (no
    // second read) and removes the part file unless it is kept.
    const fs::path part = cached.string() + ".part-" + name_;
    std::error_code ignored;
    fs::remove(part, ignored);  // left by a crash
    buildd::ContentWriter writer(part, buildd::ContentWriter::Encoding::kAsIs);
    std::string problem = download(input.url, writer, options_.download_timeout);
    if (problem.empty()) {
      const std::string got = writer.finish().sha1;
      if (got != input.sha1) problem = "downloaded content has SHA-1 " + got;
    }
    if (!problem.empty()) throw Error(ErrorCategory::kProtocol, what + ": " + problem);
    writer.keep();
    fs::rename(part, cached);
  }

  static void set_state(buildd::SlaveStatus& s, buildd::BuilderState state) {
    s.state = state;
    s.state_text = std::string("BuilderStatus.") + buildd::to_string(state);
  }

  // Caller holds the slot's mutex; the command has ended.
  void set_result(buildd::SlaveStatus& s) {
    const fs::path dir = slot_->dir / "build";
    const int w = slot_->wait_status;
    if (slot_->aborted) {
      s.result = buildd::BuildResult::kAborted;
    } else if (WIFEXITED(w) && WEXITSTATUS(w) == 0) {
      s.result = buildd::BuildResult::kOk;
      s.filemap = results();
    } else if (fs::exists(dir / "depwait")) {
      s.result = buildd::BuildResult::kDepFail;
      std::ifstream in(dir / "depwait");
      std::getline(in, s.dependencies);
    } else {
      s.result = buildd::BuildResult::kPackageFail;
    }
    s.result_text = std::string("BuildStatus.") + buildd::to_string(s.result);
  }

  // The files the command left in results/, by name, with their SHA-1 (listed
  // once per build).
  const std::map<std::string, std::string>& results() {
    if (!slot_->results) {
      std::map<std::string, std::string> found;
      for (const auto& entry : fs::directory_iterator(slot_->dir / "build" / "results"))
        if (entry.is_regular_file())
          found[entry.path().filename().string()] = buildd::digest_file(entry.path()).sha1;
      slot_->results = std::move(found);
    }
    return *slot_->results;
  }

  // The file behind a /filecache/ name: the log, an input, or a result.
  fs::path locate(const std::string& name) {
    if (name == "buildlog") return slot_->dir / "build" / "buildlog";
    if (!buildd::is_sha1_hex(name)) throw Error(ErrorCategory::kProtocol, "bad file name " + name);
    const fs::path cached = options_.work_dir / "cache" / name;
    if (fs::exists(cached)) return cached;
    std::lock_guard lock(slot_->mutex);
    if (slot_->results)
      for (const auto& [file, sha1] : *slot_->results)
        if (sha1 == name) return slot_->dir / "build" / "results" / file;
    return cached;  // absent: fetch_file reports it
  }

  const Options& options_;
  const std::string name_;
  std::shared_ptr<Slot> slot_;
};

}  // namespace

LocalProcessTransport::LocalProcessTransport(Options options) : options_(std::move(options)) {}

LocalProcessTransport::~LocalProcessTransport() {
  // The builds still running die with the master (see the header).
  for (auto& [name, slot] : slots_) {
    std::lock_guard lock(slot->mutex);
    if (slot->pid < 0) continue;
    kill(-slot->pid, SIGKILL);
    waitpid(slot->pid, nullptr, 0);
  }
}

std::unique_ptr<buildd::Slave> LocalProcessTransport::connect(const buildd::Builder& builder) {
  const std::string name = slot_of(builder.url);
  std::lock_guard lock(mutex_);
  auto& slot = slots_[name];
  if (!slot) {
    slot = std::make_shared<Slot>();
    slot->dir = options_.work_dir / "slots" / name;  // made by the first start()
  }
  return std::make_unique<LocalSlave>(options_, builder.name, slot);
}

Options options_from_config(const buildd::PluginConfig& config) {
  Options o;
  o.work_dir = config.get_path("work_dir");
  o.command = config.get_path("command");
  o.arch_tag = config.get_string("arch_tag");
  o.max_logtail_bytes = static_cast<std::size_t>(config.get_int("max_logtail_bytes"));
  o.download_timeout = config.get_seconds("download_timeout");
  if (access(o.command.c_str(), X_OK) != 0)
    throw Error(ErrorCategory::kConfig,
                config.origin() + ": command " + o.command.string() + " is not executable");
  return o;
}

}  // namespace local_process_worker
