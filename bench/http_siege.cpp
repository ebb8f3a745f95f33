// buildd-http-siege: how the embedded HTTP server answers while slow and
// idle clients hold connections open. Prints one JSON object on stdout.
//
//   buildd-http-siege [--slow N] [--idle N] [--requests R] [--file-kib K]
//
// The server (the real HttpServer, default options) serves /api/builders (a
// few KiB of JSON) and a streamed file download shaped like the librarian's
// /+files/<id>/<name> route. A child process (the same program, `attack`)
// opens N slow-loris connections, each sending one header byte per second and
// never finishing, and N idle ones that never send anything; each that the
// server cuts is reopened at once, so the load stays on. Both sides need
// thousands of descriptors, hence two processes. Then R GETs of each kind,
// one after another on fresh connections, one every --pace-ms (20 ms: 20 s
// per kind, past the header and idle deadlines), are timed end to end
// (connect to the last byte). Only loopback addresses are used: the attacker spreads its
// connections over 127.0.0.2–127.0.0.9 so that reconnecting does not run out
// of ephemeral ports.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "buildd/http_server.hpp"
#include "buildd/logging.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace buildd::bench {
namespace {

constexpr int kSourceAddresses = 8;  // 127.0.0.2 … 127.0.0.9

void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// A blocking TCP connection to 127.0.0.1:port from 127.0.0.<source>; -1 on
// failure.
int connect_from(int source, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK + static_cast<std::uint32_t>(source));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(port);
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((source != 1 && ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// ---- attack (the child) -----------------------------------------------------

struct Attacker {
  int fd = -1;
  bool slow = false;
  std::size_t sent = 0;  // header bytes sent on this connection
};

// Runs until killed: keeps `slow` + `idle` connections open, reopening each
// one the server closes; prints "ready" once all are open.
int attack(std::uint16_t port, int slow, int idle) {
  raise_fd_limit();
  ::signal(SIGPIPE, SIG_IGN);
  static const std::string kHeader = "GET /api/builders HTTP/1.1\r\nHost: master\r\nX-Trickle: ";
  std::vector<Attacker> conns(static_cast<std::size_t>(slow + idle));
  long reconnects = 0;
  long failures = 0;
  auto open = [&](std::size_t i) {
    conns[i].fd = connect_from(2 + static_cast<int>(i % kSourceAddresses), port);
    conns[i].sent = 0;
    if (conns[i].fd < 0) ++failures;
  };
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].slow = static_cast<int>(i) < slow;
    open(i);
  }
  std::cout << "ready " << failures << std::endl;
  std::vector<pollfd> fds(conns.size());
  for (;;) {
    // Once a second: one byte on each slow connection, and every closed
    // connection reopened.
    auto round = Steady::now();
    for (std::size_t i = 0; i < conns.size(); ++i) fds[i] = {conns[i].fd, POLLIN, 0};
    ::poll(fds.data(), fds.size(), 0);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      auto& c = conns[i];
      bool dead = c.fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
      if (!dead && c.slow) {
        char byte = c.sent < kHeader.size() ? kHeader[c.sent] : 'a';
        dead = ::send(c.fd, &byte, 1, MSG_NOSIGNAL) != 1;
        ++c.sent;
      }
      if (dead) {
        if (c.fd >= 0) ::close(c.fd);
        ++reconnects;
        open(i);
      }
    }
    std::cerr << "attack: " << reconnects << " reconnects, " << failures << " failed connects\n";
    std::this_thread::sleep_until(round + std::chrono::seconds(1));
  }
}

// ---- measure (the parent) ---------------------------------------------------

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// One GET on a fresh connection, read to the end: seconds, or a negative
// number when it failed or got less than `min_bytes`.
double timed_get(std::uint16_t port, const std::string& path, std::size_t min_bytes) {
  auto begin = Steady::now();
  int fd = connect_from(1, port);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: master\r\nConnection: close\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::size_t total = 0;
  char buffer[65536];
  bool ok_status = false;
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    if (total == 0) ok_status = n >= 12 && std::string(buffer, 12) == "HTTP/1.1 200";
    total += static_cast<std::size_t>(n);
  }
  ::close(fd);
  double took = std::chrono::duration<double>(Steady::now() - begin).count();
  return ok_status && total >= min_bytes ? took : -took;
}

json measure(std::uint16_t port, const std::string& path, std::size_t min_bytes, int requests,
             std::chrono::milliseconds pace) {
  std::vector<double> ok;
  int failed = 0;
  auto next = Steady::now();
  for (int i = 0; i < requests; ++i) {
    std::this_thread::sleep_until(next);
    next += pace;
    double t = timed_get(port, path, min_bytes);
    if (t < 0)
      ++failed;
    else
      ok.push_back(t);
  }
  auto ms = [&](double p) { return std::round(percentile(ok, p) * 1e5) / 100; };
  return {{"path", path},       {"requests", requests}, {"failed", failed}, {"p50_ms", ms(0.5)},
          {"p95_ms", ms(0.95)}, {"p99_ms", ms(0.99)},   {"max_ms", ms(1.0)}};
}

std::string builders_json() {
  json builders = json::array();
  for (int i = 0; i < 24; ++i)
    builders.push_back({{"name", "builder-" + std::to_string(i)},
                        {"url", "http://builder-" + std::to_string(i) + ".farm:8221/"},
                        {"processor", i % 2 ? "amd64" : "386"},
                        {"state", i % 3 ? "building" : "idle"},
                        {"current_build", i % 3 ? json(10000 + i) : json(nullptr)},
                        {"failure_count", 0}});
  return json{{"generated", "2026-01-01T00:00:00Z"}, {"builders", builders}}.dump();
}

int siege(const std::string& self, int slow, int idle, int requests, int file_kib,
          std::chrono::milliseconds pace) {
  ::signal(SIGPIPE, SIG_IGN);
  fs::path dir = fs::temp_directory_path() / ("buildd-http-siege-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "chroot.tar.gz";
  {
    std::ofstream out(file, std::ios::binary);
    std::string block(1024, '\0');
    for (int k = 0; k < file_kib; ++k) {
      for (std::size_t i = 0; i < block.size(); ++i)
        block[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(k) * 7) & 0xff);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  const std::uint64_t file_size = static_cast<std::uint64_t>(file_kib) * 1024;
  const std::string body = builders_json();

  HttpServer server("127.0.0.1:0");
  server.add_route("/api/builders", [&body](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "application/json";
    r.body = body;
    return r;
  });
  // The librarian's route, streaming a file from disk as FileLibrarian does.
  server.add_route(R"(/\+files/(\d+)/([^/]+))", [&](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "application/gzip";
    r.stream = std::make_shared<std::ifstream>(file, std::ios::binary);
    r.stream_size = file_size;
    return r;
  });
  server.start();
  const std::uint16_t port = server.actual_port();

  json result = {{"slow", slow}, {"idle", idle}};
  result["quiet"] = {
      {"api", measure(port, "/api/builders", body.size(), requests / 10, pace)},
      {"download", measure(port, "/+files/1/chroot.tar.gz", file_size, requests / 10, pace)}};

  // The child only execs: no allocation between fork and exec (the server's
  // threads are running).
  const std::string port_arg = std::to_string(port);
  const std::string slow_arg = std::to_string(slow);
  const std::string idle_arg = std::to_string(idle);
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out_pipe[1], 1);
    ::close(out_pipe[0]);
    ::execl(self.c_str(), self.c_str(), "attack", "--port", port_arg.c_str(), "--slow",
            slow_arg.c_str(), "--idle", idle_arg.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out_pipe[1]);
  auto setup_begin = Steady::now();
  char line[64] = {};
  ssize_t n = ::read(out_pipe[0], line, sizeof line - 1);
  if (n <= 0) {
    std::cerr << "http-siege: the attacker did not start\n";
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    return 1;
  }
  result["attacker_setup_s"] =
      std::round(std::chrono::duration<double>(Steady::now() - setup_begin).count() * 100) / 100;
  // Accepting may trail the attacker's connects by a moment.
  for (int i = 0; i < 200 && server.open_connections() < static_cast<std::size_t>(slow + idle); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  result["open_before"] = server.open_connections();
  auto begin = Steady::now();
  result["api"] = measure(port, "/api/builders", body.size(), requests, pace);
  result["open_between"] = server.open_connections();
  result["download"] = measure(port, "/+files/1/chroot.tar.gz", file_size, requests, pace);
  result["open_after"] = server.open_connections();
  result["measure_s"] =
      std::round(std::chrono::duration<double>(Steady::now() - begin).count() * 100) / 100;
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);  // this process: the server and the timed client
  result["server_peak_rss_mib"] = std::round(static_cast<double>(usage.ru_maxrss) / 1024 * 10) / 10;
  result["api_body_bytes"] = body.size();
  result["download_bytes"] = file_size;

  ::kill(child, SIGTERM);
  ::waitpid(child, nullptr, 0);
  ::close(out_pipe[0]);
  server.stop();
  fs::remove_all(dir);
  std::cout << result.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace buildd::bench

int main(int argc, char** argv) {
  std::string command = argc > 1 && argv[1][0] != '-' ? argv[1] : "siege";
  int port = 0;
  int slow = 1000;
  int idle = 10000;
  int requests = 1000;
  int file_kib = 300;
  int pace_ms = 20;
  po::options_description opts("buildd-http-siege [attack] options");
  opts.add_options()("help,h", "this help")("port", po::value(&port), "attack: the server's port")(
      "slow", po::value(&slow), "slow-loris connections (1 header byte/s)")(
      "idle", po::value(&idle), "idle connections (send nothing)")("requests", po::value(&requests),
                                                                   "timed GETs of each kind")(
      "file-kib", po::value(&file_kib), "size of the downloaded file (KiB)")(
      "pace-ms", po::value(&pace_ms),
      "start a timed GET every N ms, so that the measurement spans the server's "
      "header and idle deadlines (and the attacker's reconnections)");
  po::variables_map vm;
  try {
    int skip = command == "attack" || (argc > 1 && argv[1][0] != '-') ? 1 : 0;
    po::store(po::parse_command_line(argc - skip, argv + skip, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "buildd-http-siege: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (command == "attack")
    return buildd::bench::attack(static_cast<std::uint16_t>(port), slow, idle);
  buildd::logger("http")->set_level(spdlog::level::warn);
  return buildd::bench::siege(fs::read_symlink("/proc/self/exe").string(), slow, idle, requests,
                              file_kib, std::chrono::milliseconds(pace_ms));
}
