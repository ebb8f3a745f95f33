#include "buildd/http_server.hpp"

#include <sys/socket.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "buildd/error.hpp"
#include "buildd/librarian.hpp"
#include "buildd/logging.hpp"

namespace buildd {
namespace {

constexpr int kListenBacklog = 1024;
constexpr std::size_t kChunk = 64 * 1024;

// Gives access to the listening socket, whose backlog httplib fixes at 5 at
// compile time: far too small for a farm of slaves fetching chroots at once.
class Server : public httplib::Server {
 public:
  void widen_backlog() { ::listen(svr_sock_, kListenBacklog); }
};

HttpRequest convert(const httplib::Request& req) {
  HttpRequest out;
  out.method = req.method;
  out.path = req.path;
  for (const auto& [k, v] : req.params) out.query.emplace(k, v);
  for (const auto& [k, v] : req.headers) out.headers.emplace(k, v);
  for (const auto& m : req.matches) out.matches.push_back(m.str());
  out.remote_addr = req.remote_addr;
  return out;
}

void apply(HttpResponse&& in, httplib::Response& res) {
  for (const auto& [k, v] : in.headers) res.set_header(k, v);
  if (in.stream) {
    // A 200 is left unset so that httplib answers 206 with Content-Range when
    // the request has a Range header.
    if (in.status != 200) res.status = in.status;
    auto stream = std::move(in.stream);
    res.set_content_provider(
        static_cast<std::size_t>(in.stream_size), in.content_type,
        [stream](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          char buffer[kChunk];
          stream->clear();
          stream->seekg(static_cast<std::streamoff>(offset));
          stream->read(buffer, static_cast<std::streamsize>(std::min(length, kChunk)));
          std::streamsize n = stream->gcount();
          if (n <= 0) return false;  // shorter than announced: drop the connection
          return sink.write(buffer, static_cast<std::size_t>(n));
        });
    return;
  }
  res.status = in.status;
  res.set_content(in.body, in.content_type);
}

std::pair<std::string, int> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size())
    throw Error(ErrorCategory::kConfig, "http listen address '" + listen + "' is not host:port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("");
  } catch (const std::exception&) {
    throw Error(ErrorCategory::kConfig, "http listen address '" + listen + "' has a bad port");
  }
  if (host.empty()) host = "0.0.0.0";
  return {host, port};
}

}  // namespace

struct HttpServer::Impl {
  std::string host;
  int requested_port = 0;
  std::atomic<int> port{0};
  HttpServerOptions options;
  Server server;
  std::thread thread;
  bool started = false;
};

HttpServer::HttpServer(std::string listen, HttpServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto [host, port] = parse_listen(listen);
  impl_->host = host;
  impl_->requested_port = port;
  impl_->options = options;
  auto& svr = impl_->server;
  std::size_t threads = std::max<std::size_t>(1, options.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // cpp-httplib writes headers and body in two send() calls: with Nagle on,
  // the body waits for the peer's delayed ACK, 40 ms per keep-alive request.
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_timeout(options.keep_alive_seconds);
  svr.set_read_timeout(options.read_timeout_seconds);
  svr.set_write_timeout(options.write_timeout_seconds);
  svr.set_payload_max_length(64 * 1024);  // read-only: no request body is wanted

  auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("method not allowed\n", "text/plain; charset=utf-8");
  };
  svr.Post(".*", not_allowed);
  svr.Put(".*", not_allowed);
  svr.Patch(".*", not_allowed);
  svr.Delete(".*", not_allowed);
  svr.Options(".*", not_allowed);
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content("internal error\n", "text/plain; charset=utf-8");
      });
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::add_route(const std::string& pattern, HttpHandler handler) {
  impl_->server.Get(pattern, [handler = std::move(handler)](const httplib::Request& req,
                                                            httplib::Response& res) {
    try {
      apply(handler(convert(req)), res);
    } catch (const Error& e) {
      bool not_found = e.category() == ErrorCategory::kNotFound;
      if (!not_found) logger("http")->warn("{} {}: {}", req.method, req.path, e.what());
      res.status = not_found ? 404 : 500;
      res.set_content(not_found ? "not found\n" : "internal error\n", "text/plain; charset=utf-8");
    } catch (const std::exception& e) {
      logger("http")->warn("{} {}: {}", req.method, req.path, e.what());
      res.status = 500;
      res.set_content("internal error\n", "text/plain; charset=utf-8");
    }
  });
}

void HttpServer::serve_library(Librarian& librarian) {
  add_route(R"(/\+files/(\d{1,18})/([^/]+))", [&librarian](const HttpRequest& req) {
    auto not_found = HttpResponse::text(404, "not found\n");
    auto file = librarian.store().find_library_file(std::stoll(req.matches.at(1)));
    if (!file || file->filename != req.matches.at(2)) return not_found;
    HttpResponse res;
    res.content_type = file->mime.empty() ? "application/octet-stream" : file->mime;
    res.headers["ETag"] = "\"" + file->sha256 + "\"";
    res.stream_size = file->size;
    // HEAD sends no body: answer from the record without opening the bytes
    // (which for a remote archive would mean downloading them).
    res.stream = req.method == "HEAD" ? std::make_shared<std::istringstream>()
                                      : std::shared_ptr<std::istream>(librarian.open(*file));
    return res;
  });
}

void HttpServer::start() {
  if (impl_->started) return;
  auto& svr = impl_->server;
  int port = impl_->requested_port;
  if (port == 0) {
    port = svr.bind_to_any_port(impl_->host);
    if (port < 0) port = 0;
  } else if (!svr.bind_to_port(impl_->host, port)) {
    port = 0;
  }
  if (port == 0)
    throw Error(ErrorCategory::kInternal, "http: cannot listen on " + impl_->host + ":" +
                                              std::to_string(impl_->requested_port));
  svr.widen_backlog();
  impl_->port = port;
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  impl_->started = true;
  for (int i = 0; i < 500 && !svr.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  logger("http")->info("http: listening on {}:{}", impl_->host, port);
}

void HttpServer::stop() {
  if (!impl_->started) return;
  // stop() before the accept loop runs would be lost: wait for it.
  for (int i = 0; i < 500 && !impl_->server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

bool HttpServer::running() const {
  return impl_->started && impl_->server.is_running();
}

std::uint16_t HttpServer::actual_port() const {
  return static_cast<std::uint16_t>(impl_->port);
}

std::string HttpServer::base_url() const {
  std::string host = impl_->host == "0.0.0.0" ? "127.0.0.1" : impl_->host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(actual_port());
}

}  // namespace buildd
