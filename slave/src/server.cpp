#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/xml.hpp>

#include "buildd/logging.hpp"
#include "journal.hpp"
#include "rpc.hpp"

namespace buildd::slave {
namespace fs = std::filesystem;

namespace {

int socket_port(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return -1;
}

// httplib does not hand its socket to a handler. The "hang" and "reset"
// faults need it, so find it among our descriptors by its two ports.
int find_connection_socket(const httplib::Request& req) {
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof local;
    socklen_t peer_len = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    if (socket_port(local) == req.local_port && socket_port(peer) == req.remote_port) return fd;
  }
  return -1;
}

struct BuilderSlot {
  std::unique_ptr<Builder> builder;
  BuilderFaults faults;
  std::unique_ptr<RpcEndpoint> rpc;
};

}  // namespace

struct SlaveServer::Impl {
  ServerOptions options;
  httplib::Server http;
  std::vector<BuilderSlot> slots;
  std::thread listener;
  int listen_socket = -1;  // seen by the socket options hook, for listen()
  std::mutex mu;
  std::condition_variable stopping_cv;
  std::atomic<bool> stopping{false};

  BuilderSlot* slot_for(const httplib::Request& req) {
    if (options.builders == 1) return &slots[0];
    try {
      std::size_t index = std::stoul(req.matches[1].str());
      return index < slots.size() ? &slots[index] : nullptr;
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // Holds the request until the client gives up (closes its end) or the
  // server stops, so the client sees a call that never answers.
  void hang(const httplib::Request& req) {
    int fd = find_connection_socket(req);
    std::unique_lock lock(mu);
    while (!stopping) {
      if (fd >= 0) {
        lock.unlock();
        pollfd p{fd, POLLIN | POLLRDHUP, 0};
        int ready = ::poll(&p, 1, 200);
        if (ready > 0) {
          char byte;
          ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n <= 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        lock.lock();
      } else {
        stopping_cv.wait_for(lock, std::chrono::milliseconds(200));
      }
    }
  }

  void handle_rpc(const httplib::Request& req, httplib::Response& res) {
    BuilderSlot* slot = slot_for(req);
    if (!slot) {
      res.status = 404;
      return;
    }
    const int index = static_cast<int>(slot - slots.data());
    const BuilderFaults& faults = slot->faults;
    auto log = buildd::logger("slave");
    std::string method;
    std::string response;
    try {
      xmlrpc_c::paramList params;
      xmlrpc_c::xml::parseCall(req.body, &method, &params);
    } catch (const std::exception& e) {
      log->debug("builder {}: unparsable call: {}", index, e.what());
      res.set_content(
          RpcEndpoint::fault_response(8002, std::string("Can't deserialize input: ") + e.what()),
          "text/xml");
      return;
    }
    log->debug("builder {}: {}", index, method);
    if (faults.slow.count() > 0) std::this_thread::sleep_for(faults.slow);
    if (BuilderFaults::matches(faults.hang, method)) {
      hang(req);
      res.status = 500;
      return;
    }
    if (BuilderFaults::matches(faults.reset, method)) {
      int fd = find_connection_socket(req);
      if (fd >= 0) {
        linger hard{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        ::shutdown(fd, SHUT_RDWR);
      }
      res.status = 500;
      return;
    }
    if (BuilderFaults::matches(faults.garbage, method)) {
      res.set_content("<<<this is not an XML-RPC response>>>\n\x01\x02", "text/xml");
      return;
    }
    if (BuilderFaults::matches(faults.fault, method)) {
      res.set_content(RpcEndpoint::fault_response(8002, "error"), "text/xml");
      return;
    }
    if (method.rfind("system.", 0) == 0) {
      // Twisted's XMLRPC has no introspection sub-handler.
      res.set_content(RpcEndpoint::fault_response(8001, "no such subHandler system"), "text/xml");
      return;
    }
    res.set_content(slot->rpc->handle(req.body), "text/xml");
  }

  void handle_file(const httplib::Request& req, httplib::Response& res) {
    BuilderSlot* slot = slot_for(req);
    if (!slot) {
      res.status = 404;
      return;
    }
    const std::string name = req.matches[req.matches.size() - 1].str();
    auto path = slot->builder->cache_file(name);
    auto in = path ? std::make_shared<std::ifstream>(*path, std::ios::binary) : nullptr;
    if (!in || !*in) {
      res.status = 404;
      res.set_content("<html><body>No Such Resource</body></html>", "text/html");
      return;
    }
    in->seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(in->tellg());
    in->seekg(0);
    // bad-sha1 serves bytes that do not hash to the name they were asked by.
    const bool corrupt = slot->faults.bad_sha1 && name != "buildlog";
    buildd::logger("slave")->debug("builder {}: GET filecache/{} ({} bytes)", slot - slots.data(),
                                   name, size);
    if (size == 0) {
      res.set_content(corrupt ? std::string("x") : std::string(), "application/octet-stream");
      return;
    }
    res.set_content_provider(
        size, "application/octet-stream",
        [in, corrupt](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          std::vector<char> buffer(std::min<std::size_t>(length, 64 * 1024));
          in->clear();
          in->seekg(static_cast<std::streamoff>(offset));
          in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
          auto got = static_cast<std::size_t>(in->gcount());
          if (got == 0) return false;
          if (corrupt && offset == 0) buffer[0] = static_cast<char>(buffer[0] ^ 0x5a);
          return sink.write(buffer.data(), got);
        });
  }
};

SlaveServer::SlaveServer(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& o = impl_->options;
  if (o.builders < 1) throw std::invalid_argument("--builders must be at least 1");
  impl_->slots.resize(static_cast<std::size_t>(o.builders));
  // One journal for every builder: each line says which one.
  std::shared_ptr<Journal> journal;
  if (!o.journal.empty()) journal = std::make_shared<Journal>(o.journal);
  for (int i = 0; i < o.builders; ++i) {
    auto& slot = impl_->slots[static_cast<std::size_t>(i)];
    BuilderOptions bo;
    bo.cache_dir = o.builders == 1 ? o.cache_dir : o.cache_dir / ("builder-" + std::to_string(i));
    bo.arch = o.arch;
    bo.protocol = o.protocol;
    bo.abort_delay = o.abort_delay;
    slot.faults = faults_for_builder(o.faults, i);
    bo.builderfail_once = slot.faults.builderfail_once;
    bo.forget_jobs = slot.faults.forget_jobs;
    bo.restart_builds = slot.faults.restart_builds;
    bo.abort_polls = slot.faults.abort_polls;
    bo.journal = journal;
    bo.index = i;
    bo.readlog = o.readlog;
    slot.builder = std::make_unique<Builder>(bo);
    slot.rpc = std::make_unique<RpcEndpoint>(*slot.builder, slot.faults, i);
  }

  auto& http = impl_->http;
  const std::size_t threads = std::max<std::size_t>(o.threads, 1);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // cpp-httplib writes headers and body in two send() calls: with Nagle on,
  // the body waits for the peer's delayed ACK, 40 ms per keep-alive request.
  http.set_tcp_nodelay(true);
  // Connections are kept alive, also with many builders in one process
  // (benchmark mode). cpp-httplib 0.11 holds a pool thread per idle
  // keep-alive connection and wakes it every few milliseconds: that took
  // both cores while the master kept a connection per builder. Its
  // xmlrpc-slave transport now pools its handles, and each handle keeps one
  // connection to a process serving many builders (they share host and
  // port), so a master holds about max_in_flight of them; the benchmark farm
  // gives this process the builders + 64 threads.
  http.set_keep_alive_max_count(1000);
  http.set_keep_alive_timeout(30);
  // The library listens with a backlog of 5: a burst of connections (a
  // master dispatching to many builders at once) overflows it and each
  // dropped SYN costs its client a one-second retransmission. start()
  // raises the backlog on the socket seen here.
  Impl* hook = impl_.get();
  http.set_socket_options([hook](socket_t sock) {
    httplib::default_socket_options(sock);
    hook->listen_socket = sock;
  });
  http.set_read_timeout(30);
  http.set_write_timeout(60);

  const std::string base = o.builders == 1 ? "" : R"(/builders/(\d+))";
  Impl* impl = impl_.get();
  http.Post(base + "/rpc/?", [impl](const httplib::Request& req, httplib::Response& res) {
    impl->handle_rpc(req, res);
  });
  http.Get(base + "/rpc/?", [impl](const httplib::Request& req, httplib::Response& res) {
    res.status = impl->slot_for(req) ? 405 : 404;
    res.set_header("Allow", "POST");
  });
  http.Get(
      base + "/filecache/([^/]+)",
      [impl](const httplib::Request& req, httplib::Response& res) { impl->handle_file(req, res); });
}

SlaveServer::~SlaveServer() {
  stop();
}

int SlaveServer::start() {
  auto& o = impl_->options;
  if (o.port == 0) {
    port_ = impl_->http.bind_to_any_port(o.host);
    if (port_ <= 0) throw std::runtime_error("cannot bind " + o.host + " on a free port");
  } else {
    if (!impl_->http.bind_to_port(o.host, o.port)) {
      throw std::runtime_error("cannot bind " + o.host + ":" + std::to_string(o.port));
    }
    port_ = o.port;
  }
  // Listening again on a listening socket only changes its backlog.
  if (impl_->listen_socket >= 0 && ::listen(impl_->listen_socket, SOMAXCONN) != 0) {
    throw std::runtime_error("cannot raise the listen backlog of " + o.host);
  }
  impl_->listener = std::thread([this] { impl_->http.listen_after_bind(); });
  return port_;
}

void SlaveServer::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stopping_cv.notify_all();
  for (auto& slot : impl_->slots) slot.builder->shutdown();
  impl_->http.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

std::string SlaveServer::root_url() const {
  const auto& host = impl_->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port_) + "/";
}

std::vector<std::string> SlaveServer::base_urls() const {
  std::vector<std::string> urls;
  if (impl_->options.builders == 1) return {root_url()};
  for (int i = 0; i < impl_->options.builders; ++i) {
    urls.push_back(root_url() + "builders/" + std::to_string(i) + "/");
  }
  return urls;
}

Builder& SlaveServer::builder(std::size_t index) {
  return *impl_->slots.at(index).builder;
}

std::size_t SlaveServer::builder_count() const {
  return impl_->slots.size();
}

}  // namespace buildd::slave
