// buildd-slave: a launchpad-buildd test double for the demo, the end-to-end
// tests and the benchmarks. It speaks the slave protocol (protocol.md) for
// one or many simulated builders on one port; builds are simulated, their
// outcome scripted by fields of the .dsc they are given.

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "buildd/logging.hpp"
#include "builder.hpp"
#include "faults.hpp"
#include "server.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace buildd::slave;

namespace {

constexpr const char* kUsage = R"(Usage: buildd-slave --listen HOST:PORT [options]

A launchpad-buildd test double: serves the build-slave XML-RPC protocol
(POST <base>rpc) and the file cache (GET <base>filecache/<sha1|buildlog>) for
one or many simulated builders on one port. With one builder the base URL is
http://HOST:PORT/, with N builders it is http://HOST:PORT/builders/<i>/ for i
in 0..N-1. Once listening it prints "listening on http://HOST:PORT/" (then the
base URLs when N > 1) and writes the port to --port-file. SIGTERM or SIGINT
stops it with exit status 0.

Builds are simulated. The outcome comes from the .dsc in the build's filemap
(read from the cache):
  Source: <name>          Version: <version>
  Outcome: ok|packagefail|depwait|givenback|chrootfail|builderfail (default ok)
  Duration: <seconds, decimal> (default 0.2)
  Depends: <text>         the missing dependencies reported for depwait
  Log-Lines: <n>          compiler lines the build logs (default 8), spread
                          over its build step
  Abort: hang             the build survives abort: ABORTING forever
An OK build produces <source>_<version>_<arch>.changes and .deb in the cache.

Besides launchpad-buildd's calls, each builder answers readlog(offset,
max_bytes) -> {data: base64, size: int}: its log from an offset, and the log's
size (an extension the master finds in its probe; --no-readlog turns it off).
With it, status() of a BUILDING builder also says where its logtail ends in
the log (log_size: int), so that a master reads the log only when it moved on
by more than the tail.

Options)";

constexpr const char* kFaultHelp = R"(
Faults (--fault KIND[:ARG][@BUILDER], repeatable; @BUILDER limits it to one
builder index, otherwise it applies to all):
  hang[:METHOD]      METHOD (default status) never answers; the connection is
                     held until the client gives up
  slow:MS            delay every XML-RPC reply by MS milliseconds
  reset[:METHOD]     close the connection without a reply (every method, or METHOD)
  garbage[:METHOD]   answer with a body that is not XML
  fault[:METHOD]     answer Fault 8002 "error"
  oversized-tail     a 1 MiB logtail while BUILDING
  bad-sha1           /filecache/<sha1> serves bytes with a different SHA-1
  hostile-filemap[:nul]
                     WAITING filemaps also name "../../etc/passwd", "a/b",
                     "/etc/shadow", "..", a name with a tab and a newline and a
                     300-byte name; with :nul also names holding a NUL and a
                     BEL, which XML cannot carry (the reply becomes unparsable)
  huge-xml           every status reply carries 20 MiB of padding
  builderfail        the first build ends BUILDERFAIL whatever its .dsc says
                     (the builder breaks once; the master should disable it)
  forget-job[:N]     the first N (default 1) builds accepted are forgotten, as
                     if the slave restarted clean right after answering: build()
                     answers BUILDING, but the very next status() already says
                     IDLE; no log, no results, nothing left behind (a build()
                     of the same id works). Later builds run normally
  restart-mid-build[:N]
                     the first N (default 1) builds accepted are cut off as if
                     the slave restarted mid-build: BUILDING with a growing log
                     until half the build's Duration has passed, then IDLE; the
                     killed attempt's log stays at filecache/buildlog until the
                     next build() and its build directory stays behind for
                     good. A later build() of that same build id then wedges
                     the builder, as launchpad-buildd does: Fault 8002, and it
                     stays BUILDING that id with an empty logtail forever;
                     abort() moves it to ABORTING forever. Other ids build
                     normally. (An abort() before the half-way point wins: the
                     build is aborted, not cut off, and leaves nothing behind)
  abort-polls:N      after abort(), exactly N status() calls answer ABORTING
                     and the next one finds the abort over (WAITING with
                     BuildStatus.ABORTED; ABORTED with --protocol 2005), rather
                     than after --abort-delay; N=0 ends it within abort().
                     A build that does not die in the scan ("Abort: hang", a
                     wedged builder) stays ABORTING whatever N says

Start states (--start-state, with --start-build-id): idle, building, aborting,
aborted (2005 protocol only), waiting:OK|PACKAGEFAIL|DEPFAIL|CHROOTFAIL|
BUILDERFAIL|GIVENBACK. The builder starts there without a real build: BUILDING
never finishes by itself (abort works), ABORTING never ends, waiting:OK has
one small result file and a log.

Journal (--journal FILE): one line per build that reaches WAITING, whatever
its result (with --protocol 2005 an abort ends in ABORTED, journalled too),
appended with one write() and fsync'd before the state is visible to status():
  <unix time: seconds.milliseconds> <builder index> <build id> <result>
  1764500000.123 3 42-17 BuildStatus.OK
The file is opened for appending, so restarts and several slave processes
can share it. Builds forgotten or cut off by the faults above, and start
states, are not journalled: only builds that really finished are.
)";

std::pair<std::string, int> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument("--listen wants HOST:PORT, got " + text);
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::size_t used = 0;
  int port = std::stoi(text.substr(colon + 1), &used);
  if (used != text.size() - colon - 1 || port < 0 || port > 65535) {
    throw std::invalid_argument("bad port in --listen " + text);
  }
  return {host, port};
}

void apply_start_state(Builder& builder, const std::string& spec, const std::string& build_id,
                       Protocol protocol) {
  std::string state = spec;
  std::string result;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    state = spec.substr(0, colon);
    result = spec.substr(colon + 1);
  }
  if (state == "idle") return;
  if (state == "building") {
    builder.start_in_state(BuilderState::kBuilding, BuildResult::kOk, build_id);
  } else if (state == "aborting") {
    builder.start_in_state(BuilderState::kAborting, BuildResult::kOk, build_id);
  } else if (state == "aborted") {
    if (protocol != Protocol::k2005) {
      throw std::invalid_argument("--start-state aborted exists only with --protocol 2005");
    }
    builder.start_in_state(BuilderState::kAborted, BuildResult::kAborted, build_id);
  } else if (state == "waiting") {
    auto parsed = parse_build_result(result.empty() ? "OK" : result);
    if (!parsed) throw std::invalid_argument("unknown build result in --start-state " + spec);
    builder.start_in_state(BuilderState::kWaiting, *parsed, build_id);
  } else {
    throw std::invalid_argument("unknown --start-state " + spec);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  std::string port_file;
  std::string protocol_name = "modern";
  std::string cache_dir;
  std::string start_state = "idle";
  std::string start_build_id = "1-1";
  std::string log_level = "info";
  std::string journal;
  std::vector<std::string> fault_texts;
  double abort_delay = 0.2;
  bool no_readlog = false;
  ServerOptions options;

  po::options_description desc(kUsage);
  desc.add_options()("help,h", "print this help")(
      "listen", po::value(&listen), "HOST:PORT to listen on (required; port 0 picks a free one)")(
      "port-file", po::value(&port_file), "write the bound port to this file once listening")(
      "builders", po::value(&options.builders)->default_value(1), "number of builders served")(
      "arch", po::value(&options.arch)->default_value("amd64"),
      "architecture tag of every builder")(
      "cache-dir", po::value(&cache_dir),
      "file cache directory (default: a fresh temporary directory, removed at exit); with N > 1 "
      "builders each gets builder-<i>/ inside")(
      "protocol", po::value(&protocol_name)->default_value("modern"),
      "modern (launchpad-buildd today: dict status, 4-argument ensurepresent) or 2005 (the v1.0 "
      "tuple protocol: array status, 2-argument ensurepresent returning a bool)")(
      "threads", po::value(&options.threads)->default_value(64),
      "HTTP worker threads (each keep-alive connection holds one)")(
      "abort-delay", po::value(&abort_delay)->default_value(0.2),
      "seconds from abort to WAITING/ABORTED (the process scan and cleanup)")(
      "fault", po::value(&fault_texts)->composing(), "inject a fault, see below (repeatable)")(
      "start-state", po::value(&start_state)->default_value("idle"),
      "state every builder starts in, see below")("start-build-id",
                                                  po::value(&start_build_id)->default_value("1-1"),
                                                  "build id for --start-state")(
      "no-readlog", po::bool_switch(&no_readlog),
      "answer only launchpad-buildd's own calls: no readlog extension (the log read from an "
      "offset), as an unmodified launchpad-buildd")(
      "journal", po::value(&journal),
      "append a line to this file for every build that reaches WAITING, see below")(
      "log-level", po::value(&log_level)->default_value("info"),
      "trace, debug (every call), info, warn, error, off; logs go to stderr");

  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "buildd-slave: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << kFaultHelp;
    return 0;
  }

  fs::path temp_cache;
  try {
    buildd::set_log_level(log_level);
    if (listen.empty()) throw std::invalid_argument("--listen HOST:PORT is required");
    std::tie(options.host, options.port) = parse_listen(listen);
    if (protocol_name == "modern") {
      options.protocol = Protocol::kModern;
    } else if (protocol_name == "2005") {
      options.protocol = Protocol::k2005;
    } else {
      throw std::invalid_argument("--protocol must be modern or 2005");
    }
    for (const auto& text : fault_texts) options.faults.push_back(parse_fault_spec(text));
    options.journal = journal;
    options.readlog = !no_readlog;
    if (abort_delay < 0) throw std::invalid_argument("--abort-delay must not be negative");
    options.abort_delay = std::chrono::milliseconds(static_cast<long>(abort_delay * 1000));
    if (cache_dir.empty()) {
      std::string pattern = (fs::temp_directory_path() / "buildd-slave-XXXXXX").string();
      if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
      temp_cache = pattern;
      options.cache_dir = temp_cache;
    } else {
      options.cache_dir = cache_dir;
    }
  } catch (const std::exception& e) {
    std::cerr << "buildd-slave: " << e.what() << "\n";
    return 2;
  }

  // Block the stop signals before any thread starts, so that only sigwait
  // below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int status = 0;
  try {
    SlaveServer server(options);
    for (std::size_t i = 0; i < server.builder_count(); ++i) {
      apply_start_state(server.builder(i), start_state, start_build_id, options.protocol);
    }
    int port = server.start();
    std::cout << "listening on " << server.root_url() << "\n";
    if (options.builders > 1) {
      for (const auto& url : server.base_urls()) std::cout << url << "\n";
    }
    std::cout.flush();
    if (!port_file.empty()) {
      // Written whole under another name and renamed, so a reader polling for
      // the file never sees it half written.
      fs::path tmp = port_file + ".tmp";
      {
        std::ofstream out(tmp);
        out << port << "\n";
      }
      fs::rename(tmp, port_file);
    }
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    buildd::logger("slave")->info("signal {}: stopping", signal_number);
    server.stop();
  } catch (const std::exception& e) {
    std::cerr << "buildd-slave: " << e.what() << "\n";
    status = 1;
  }
  if (!temp_cache.empty()) {
    std::error_code ec;
    fs::remove_all(temp_cache, ec);
  }
  return status;
}
