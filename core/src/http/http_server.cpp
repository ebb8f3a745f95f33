#include "buildd/http_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "buildd/compression.hpp"
#include "buildd/error.hpp"
#include "buildd/librarian.hpp"
#include "buildd/logging.hpp"
#include "buildd/web/metrics.hpp"
#include "http_request_parsing.hpp"

namespace buildd {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// Bytes of a streamed body read and written at a time: the memory a download
// holds, and the unit the write deadline measures progress in.
constexpr std::size_t kChunk = 64 * 1024;
// Longer request targets are answered 414 before any regex sees them
// (libstdc++'s std::regex recurses once per character).
constexpr std::size_t kMaxTargetLength = 8 * 1024;
// After an answer that closes the connection, unread request bytes are
// drained this long (at most kLingerBytes) before the socket is closed:
// closing with unread data sends a reset, which can destroy the answer
// before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 256 * 1024;

struct Route {
  std::regex pattern;
  HttpHandler handler;
};

// What a connection writes for one request: the head, then `body`, then
// `remaining` more bytes of `stream` read chunk by chunk.
struct Outgoing {
  std::string head;
  std::string body;
  std::shared_ptr<std::istream> stream;
  std::uint64_t remaining = 0;
  bool close = false;
};

class Connection;

// What the server and its connections share; outlives every connection.
struct Shared {
  HttpServerOptions options;
  std::vector<Route> routes;
  std::size_t max_connections = 0;
  std::atomic<std::size_t> connections{0};
  net::thread_pool* handlers = nullptr;
  // Connections waiting for a request (the first or the next keep-alive
  // one), oldest first: the ones closed to make room at the cap.
  std::mutex idle_mutex;
  std::list<std::weak_ptr<Connection>> idle;
};

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The head and framing of `res`, answering `method` (HEAD: no body) with the
// request's Range header `range`. Runs on the handler pool.
Outgoing build_outgoing(HttpResponse&& res, const std::string& method, const std::string& range,
                        bool keep_alive, const HttpServerOptions& options) {
  Outgoing out;
  bool head_only = method == "HEAD";
  std::vector<std::pair<std::string, std::string>> fields;
  bool has_type = false;
  for (auto& [name, value] : res.headers) {
    std::string l = lower(name);
    // The server frames the message itself.
    if (l == "content-length" || l == "transfer-encoding" || l == "connection" ||
        l == "keep-alive" || l == "content-range")
      continue;
    has_type = has_type || l == "content-type";
    fields.emplace_back(name, value);
  }
  std::uint64_t length = res.body.size();
  if (res.stream) {
    std::uint64_t first = 0;
    length = res.stream_size;
    fields.emplace_back("Accept-Ranges", "bytes");
    if (res.status == 200 && !range.empty()) {
      auto r = http_detail::parse_range(range, res.stream_size);
      if (r.kind == http_detail::ByteRange::Kind::kSatisfiable) {
        res.status = 206;
        first = r.first;
        length = r.length;
        fields.emplace_back("Content-Range", http_detail::content_range(r, res.stream_size));
      } else if (r.kind == http_detail::ByteRange::Kind::kUnsatisfiable) {
        res.status = 416;
        length = 0;
        fields.emplace_back("Content-Range", "bytes */" + std::to_string(res.stream_size));
      }
    }
    if (!head_only && length > 0) {
      // The first chunk is read here, on the handler pool, so that a stream
      // that cannot be read still gets a 500 rather than a cut connection.
      std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(length, kChunk)), '\0');
      res.stream->clear();
      res.stream->seekg(static_cast<std::streamoff>(first));
      res.stream->read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      auto n = res.stream->gcount();
      if (!*res.stream && n <= 0) throw std::runtime_error("stream unreadable");
      chunk.resize(static_cast<std::size_t>(std::max<std::streamsize>(n, 0)));
      out.body = std::move(chunk);
      out.remaining = length - out.body.size();
      out.stream = std::move(res.stream);
    }
  } else if (head_only) {
    res.body.clear();
  } else {
    out.body = std::move(res.body);
  }
  if (!has_type) fields.emplace(fields.begin(), "Content-Type", res.content_type);
  bool bodiless_status = res.status < 200 || res.status == 204 || res.status == 304;
  if (!bodiless_status) fields.emplace_back("Content-Length", std::to_string(length));
  if (keep_alive) {
    fields.emplace_back("Connection", "keep-alive");
    auto idle = std::chrono::duration_cast<std::chrono::seconds>(options.idle_timeout).count();
    fields.emplace_back("Keep-Alive", "timeout=" + std::to_string(std::max<long long>(idle, 1)));
  } else {
    fields.emplace_back("Connection", "close");
  }
  out.head = http_detail::format_response_head(res.status, fields);
  out.close = !keep_alive;
  return out;
}

Outgoing error_outgoing(int status, const std::string& text, bool keep_alive,
                        const HttpServerOptions& options,
                        std::map<std::string, std::string> headers = {}) {
  HttpResponse res = HttpResponse::text(status, text);
  res.headers = std::move(headers);
  return build_outgoing(std::move(res), "GET", "", keep_alive, options);
}

// Route matching and the handler, with the contract's error mapping. Runs on
// the handler pool.
Outgoing run_handler(const Shared& shared, HttpRequest& req, const std::string& range,
                     bool keep_alive) {
  try {
    for (const auto& route : shared.routes) {
      std::smatch m;
      if (!std::regex_match(req.path, m, route.pattern)) continue;
      for (const auto& group : m) req.matches.push_back(group.str());
      return build_outgoing(route.handler(req), req.method, range, keep_alive, shared.options);
    }
    return error_outgoing(404, "not found\n", keep_alive, shared.options);
  } catch (const Error& e) {
    bool not_found = e.category() == ErrorCategory::kNotFound;
    if (!not_found) logger("http")->warn("{} {}: {}", req.method, req.path, e.what());
    return error_outgoing(not_found ? 404 : 500, not_found ? "not found\n" : "internal error\n",
                          keep_alive, shared.options);
  } catch (const std::exception& e) {
    // Also std::regex_error (a pattern too complex for a path): the pool
    // thread must not die of it.
    logger("http")->warn("{} {}: {}", req.method, req.path, e.what());
    Metrics::global().inc(kMetricInternalErrors, {{"where", "http"}});
    return error_outgoing(500, "internal error\n", keep_alive, shared.options);
  } catch (...) {
    logger("http")->error("{} {}: an exception of unknown type", req.method, req.path);
    Metrics::global().inc(kMetricInternalErrors, {{"where", "http"}});
    return error_outgoing(500, "internal error\n", keep_alive, shared.options);
  }
}

// One client connection. Every member is touched only on the connection's
// strand, except `in_idle_list_`/`idle_it_` (under Shared::idle_mutex) and
// `chunk_`/`out_.stream`, which the handler pool fills between two posts.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Shared& shared, std::string remote)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        shared_(shared),
        remote_(std::move(remote)),
        buffer_(shared.options.header_limit + 1024) {}

  ~Connection() {
    leave_idle_list();
    --shared_.connections;
  }

  void start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->wait_request(); });
  }

  // Closes the connection if it is still waiting for a request; any thread.
  void evict() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->waiting_) self->close();
    });
  }

  // Takes this connection out of the idle list; true when it was in it.
  // Caller holds Shared::idle_mutex.
  bool take_from_idle_list_locked() {
    if (!in_idle_list_) return false;
    shared_.idle.erase(idle_it_);
    in_idle_list_ = false;
    return true;
  }

 private:
  // Deadlines: one timer per connection, re-armed for each phase. A stale
  // expiry (an earlier phase's) is recognised by its generation.
  void arm(std::chrono::milliseconds after) {
    ++generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), gen = generation_](error_code ec) {
      if (!ec && gen == self->generation_) self->close();
    });
  }
  void disarm() {
    ++generation_;
    timer_.cancel();
  }

  void enter_idle_list() {
    std::lock_guard lock(shared_.idle_mutex);
    if (in_idle_list_) return;
    idle_it_ = shared_.idle.insert(shared_.idle.end(), weak_from_this());
    in_idle_list_ = true;
  }
  void leave_idle_list() {
    std::lock_guard lock(shared_.idle_mutex);
    take_from_idle_list_locked();
  }

  // Between requests: waits for the first byte without a buffer, so an idle
  // connection holds no memory but the socket's. Pipelined bytes already
  // read go straight to the header read.
  void wait_request() {
    if (closed_) return;
    if (buffer_.size() > 0) return read_header();
    if (buffer_.capacity() > 0) buffer_.shrink_to_fit();
    waiting_ = true;
    enter_idle_list();
    arm(shared_.options.idle_timeout);
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      self->waiting_ = false;
      self->leave_idle_list();
      if (self->closed_) return;
      if (ec) return self->close();
      self->read_header();
    });
  }

  // The header deadline runs from the request's first byte to its last
  // header byte, whatever arrives in between.
  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.header_limit));
    arm(shared_.options.header_timeout);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    disarm();
    if (closed_) return;
    if (ec == http::error::header_limit || ec == boost::beast::http::error::buffer_overflow)
      return send(error_outgoing(431, "request headers too large\n", false, shared_.options));
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted)
      return close();
    if (ec) return send(error_outgoing(400, "bad request\n", false, shared_.options));

    auto& msg = parser_->get();
    std::string method(msg.method_string());
    bool keep_alive = msg.keep_alive();
    if (method != "GET" && method != "HEAD") {
      // The body is not read: the connection closes after the answer.
      return send(error_outgoing(405, "method not allowed\n", false, shared_.options,
                                 {{"Allow", "GET, HEAD"}}));
    }
    if (!parser_->is_done())
      return send(error_outgoing(400, "request body not accepted\n", false, shared_.options));
    if (msg.target().size() > kMaxTargetLength)
      return send(error_outgoing(414, "request target too long\n", false, shared_.options));
    auto target =
        http_detail::split_target(std::string_view(msg.target().data(), msg.target().size()));
    if (!target) return send(error_outgoing(400, "bad request target\n", false, shared_.options));

    HttpRequest req;
    req.method = std::move(method);
    req.path = std::move(target->path);
    req.query = http_detail::parse_query(target->query);
    for (const auto& field : msg)
      req.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    req.remote_addr = remote_;
    std::string range;
    if (auto it = msg.find(http::field::range); it != msg.end()) range = std::string(it->value());
    parser_.reset();

    // The handler may take milliseconds (database): off the event loop. No
    // deadline meanwhile, the client is waiting for us.
    net::post(*shared_.handlers, [self = shared_from_this(), req = std::move(req),
                                  range = std::move(range), keep_alive]() mutable {
      Outgoing out = run_handler(self->shared_, req, range, keep_alive);
      net::post(self->socket_.get_executor(),
                [self, out = std::move(out)]() mutable { self->send(std::move(out)); });
    });
  }

  void send(Outgoing out) {
    if (closed_) return;
    out_ = std::move(out);
    write(true);
  }

  // Writes the head (once) and the current chunk. The write deadline is set
  // per chunk: it measures progress, not the length of the download.
  void write(bool with_head) {
    arm(shared_.options.write_timeout);
    std::array<net::const_buffer, 2> buffers{
        with_head ? net::const_buffer(out_.head.data(), out_.head.size()) : net::const_buffer(),
        net::const_buffer(out_.body.data(), out_.body.size())};
    net::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_written(ec);
    });
  }

  void on_written(error_code ec) {
    disarm();
    if (closed_) return;
    if (ec) return close();
    if (out_.remaining > 0) return read_chunk();
    bool close_after = out_.close;
    out_ = Outgoing{};
    if (close_after) return linger_close();
    wait_request();
  }

  // The next chunk of a streamed body, read on the handler pool (a file read
  // may block on the disk); a stream shorter than announced drops the
  // connection, as the client cannot be told otherwise mid-body.
  void read_chunk() {
    net::post(*shared_.handlers, [self = shared_from_this()] {
      auto& out = self->out_;
      out.body.resize(static_cast<std::size_t>(std::min<std::uint64_t>(out.remaining, kChunk)));
      std::streamsize n = 0;
      try {
        out.stream->read(out.body.data(), static_cast<std::streamsize>(out.body.size()));
        n = out.stream->gcount();
      } catch (const std::exception& e) {
        logger("http")->warn("http: reading a streamed body: {}", e.what());
      }
      bool ok = n > 0;
      out.body.resize(ok ? static_cast<std::size_t>(n) : 0);
      if (ok) out.remaining -= out.body.size();
      net::post(self->socket_.get_executor(), [self, ok] {
        if (self->closed_) return;
        if (!ok) return self->close();
        self->write(false);
      });
    });
  }

  // Half-closes, then reads and discards what the client still sends until
  // it closes too (or kLingerTime), so that the answer is not reset away.
  void linger_close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    arm(std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime));
    lingered_ = 0;
    buffer_.clear();
    linger_read();
  }
  void linger_read() {
    auto space = buffer_.prepare(std::min<std::size_t>(4096, buffer_.max_size()));
    socket_.async_read_some(space, [self = shared_from_this()](error_code ec, std::size_t n) {
      if (self->closed_) return;
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->close();
      self->linger_read();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    disarm();
    leave_idle_list();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  Shared& shared_;
  std::string remote_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  Outgoing out_;
  std::uint64_t generation_ = 0;
  std::size_t lingered_ = 0;
  bool waiting_ = false;
  bool closed_ = false;
  bool in_idle_list_ = false;
  std::list<std::weak_ptr<Connection>>::iterator idle_it_;
};

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

// The soft RLIMIT_NOFILE (raised to the hard limit when asked): every
// connection is a descriptor.
std::size_t descriptor_limit(bool raise) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (raise && lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY) return std::size_t{1} << 20;
  return static_cast<std::size_t>(lim.rlim_cur);
}

// The derived connection cap: the descriptor limit less a reserve for the
// rest of the master (database, librarian files, XML-RPC to the slaves, log
// files), a quarter of the limit up to 1,024 descriptors.
std::size_t derived_cap(std::size_t fd_limit) {
  std::size_t reserve = std::min<std::size_t>(1024, fd_limit / 4);
  return std::max<std::size_t>(1, fd_limit - reserve);
}

}  // namespace

struct HttpServer::Impl {
  std::string host;
  int requested_port = 0;
  std::atomic<int> port{0};
  Shared shared;
  // Created by start(), destroyed by stop() in reverse order: the pool's
  // queued work and the io_context's handlers own connections, whose sockets
  // need the io_context alive.
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<net::steady_timer> accept_retry;
  std::unique_ptr<net::thread_pool> pool;
  std::vector<std::thread> threads;
  std::atomic<bool> started{false};

  void accept() {
    acceptor->async_accept(net::make_strand(*ioc), [this](error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of descriptors (or buffers): accepting again at once would spin.
      // The pending connection waits in the backlog meanwhile.
      logger("http")->warn("http: accept: {}", ec.message());
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](error_code e) {
        if (!e) accept();
      });
      return;
    }
    if (++shared.connections > shared.max_connections && !evict_oldest_idle()) {
      // Every connection is busy with a request: refuse this one.
      --shared.connections;
      error_code ignored;
      socket.close(ignored);
      return accept();
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string remote;
    auto endpoint = socket.remote_endpoint(ignored);
    if (!ignored) remote = endpoint.address().to_string();
    std::make_shared<Connection>(std::move(socket), shared, std::move(remote))->start();
    accept();
  }

  bool evict_oldest_idle() {
    std::shared_ptr<Connection> victim;
    {
      std::lock_guard lock(shared.idle_mutex);
      // An expired entry belongs to a connection being destroyed, which
      // removes it itself: skip it, never erase it here.
      for (auto it = shared.idle.begin(); it != shared.idle.end(); ++it) {
        victim = it->lock();
        if (victim) {
          victim->take_from_idle_list_locked();  // erases `it`: leave the loop now
          break;
        }
      }
    }
    if (!victim) return false;
    victim->evict();
    return true;
  }
};

HttpServer::HttpServer(std::string listen, HttpServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto [host, port] = parse_listen(listen);
  impl_->host = host;
  impl_->requested_port = port;
  options.io_threads = std::max<std::size_t>(1, options.io_threads);
  options.handler_threads = std::max<std::size_t>(1, options.handler_threads);
  options.header_limit = std::max<std::size_t>(1024, options.header_limit);
  impl_->shared.options = options;
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::add_route(const std::string& pattern, HttpHandler handler) {
  impl_->shared.routes.push_back(
      Route{std::regex(pattern, std::regex::ECMAScript), std::move(handler)});
}

namespace {

// A build log (the pipeline's "buildlog_….txt.gz"; a gzipped text file, not
// an archive a slave unpacks): served as text, so that a browser shows it.
bool is_gzipped_text_log(const LibraryFile& file) {
  const std::string_view name = file.filename;
  return name.rfind("buildlog_", 0) == 0 && name.size() > 7 &&
         name.substr(name.size() - 7) == ".txt.gz";
}

std::string header_value(const HttpRequest& req, std::string_view lowercase_name) {
  for (const auto& [name, value] : req.headers) {
    if (name.size() != lowercase_name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; same && i < name.size(); ++i)
      same = std::tolower(static_cast<unsigned char>(name[i])) == lowercase_name[i];
    if (same) return value;
  }
  return {};
}

// The log decompressed into an unlinked temp file: a seekable stream of known
// size that costs no memory however long the log (the file is gone from the
// folder at once and from the disk once the stream closes).
std::shared_ptr<std::istream> decompressed(Librarian& librarian, const LibraryFile& file,
                                           std::uint64_t& size) {
  const std::filesystem::path path = librarian.temp_path("log-text");
  auto in = librarian.open(file);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    gunzip_stream(*in, out);
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      throw Error(ErrorCategory::kInternal, "cannot write " + path.string());
    }
  }
  auto text = std::make_shared<std::ifstream>(path, std::ios::binary);
  std::error_code ignored;
  size = std::filesystem::file_size(path, ignored);
  std::filesystem::remove(path, ignored);
  if (!*text) throw Error(ErrorCategory::kInternal, "cannot read " + path.string());
  return text;
}

}  // namespace

void HttpServer::serve_library(Librarian& librarian) {
  add_route(R"(/\+files/(\d{1,18})/([^/]+))", [&librarian](const HttpRequest& req) {
    auto not_found = HttpResponse::text(404, "not found\n");
    auto file = librarian.store().find_library_file(std::stoll(req.matches.at(1)));
    if (!file || file->filename != req.matches.at(2)) return not_found;
    HttpResponse res;
    res.content_type = file->mime.empty() ? "application/octet-stream" : file->mime;
    res.headers["ETag"] = "\"" + file->sha256 + "\"";
    res.stream_size = file->size;
    if (is_gzipped_text_log(*file)) {
      // The stored bytes as they are, labelled gzip-encoded text, to a client
      // that takes gzip (every browser); the text itself to one that does
      // not. The SHA-1 and size recorded are those of the gzipped bytes.
      res.content_type = "text/plain; charset=utf-8";
      res.headers["Vary"] = "Accept-Encoding";
      if (http_detail::accepts_gzip(header_value(req, "accept-encoding"))) {
        res.headers["Content-Encoding"] = "gzip";
      } else {
        res.headers["ETag"] = "\"" + file->sha256 + "-text\"";
        res.stream = decompressed(librarian, *file, res.stream_size);
        return res;
      }
    }
    // HEAD sends no body: answer from the record without opening the bytes
    // (which for a remote archive would mean downloading them).
    res.stream = req.method == "HEAD" ? std::make_shared<std::istringstream>()
                                      : std::shared_ptr<std::istream>(librarian.open(*file));
    return res;
  });
}

void HttpServer::start() {
  if (impl_->started) return;
  auto& impl = *impl_;
  const auto& options = impl.shared.options;
  std::size_t fd_limit = descriptor_limit(options.raise_fd_limit);
  impl.shared.max_connections =
      options.max_connections > 0 ? options.max_connections : derived_cap(fd_limit);

  auto ioc = std::make_unique<net::io_context>(static_cast<int>(options.io_threads));
  auto acceptor = std::make_unique<tcp::acceptor>(*ioc);
  auto fail = [&](const std::string& why) {
    return Error(ErrorCategory::kInternal, "http: cannot listen on " + impl.host + ":" +
                                               std::to_string(impl.requested_port) + ": " + why);
  };
  try {
    tcp::resolver resolver(*ioc);
    auto endpoints = resolver.resolve(impl.host, std::to_string(impl.requested_port),
                                      tcp::resolver::passive | tcp::resolver::numeric_service);
    if (endpoints.empty()) throw fail("no address");
    auto endpoint = endpoints.begin()->endpoint();
    acceptor->open(endpoint.protocol());
    acceptor->set_option(net::socket_base::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen(net::socket_base::max_listen_connections);
    impl.port = acceptor->local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    throw fail(e.what());
  }

  impl.ioc = std::move(ioc);
  impl.acceptor = std::move(acceptor);
  impl.accept_retry = std::make_unique<net::steady_timer>(*impl.ioc);
  impl.pool = std::make_unique<net::thread_pool>(options.handler_threads);
  impl.shared.handlers = impl.pool.get();
  impl.accept();
  for (std::size_t i = 0; i < options.io_threads; ++i)
    impl.threads.emplace_back([ioc = impl.ioc.get()] { ioc->run(); });
  impl.started = true;
  logger("http")->info("http: listening on {}:{} (at most {} connections)", impl.host,
                       impl.port.load(), impl.shared.max_connections);
}

void HttpServer::stop() {
  if (!impl_->started) return;
  auto& impl = *impl_;
  impl.ioc->stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();
  error_code ignored;
  impl.acceptor->close(ignored);
  // Handlers already running finish (their answers go nowhere); queued ones
  // are dropped. Then the io_context's pending handlers, which own the
  // connections, are destroyed with it.
  impl.pool->stop();
  impl.pool->join();
  impl.pool.reset();
  impl.shared.handlers = nullptr;
  impl.accept_retry.reset();
  impl.acceptor.reset();
  impl.ioc.reset();
  {
    std::lock_guard lock(impl.shared.idle_mutex);
    impl.shared.idle.clear();
  }
  impl.started = false;
}

bool HttpServer::running() const {
  return impl_->started && !impl_->ioc->stopped();
}

std::uint16_t HttpServer::actual_port() const {
  return static_cast<std::uint16_t>(impl_->port);
}

std::string HttpServer::base_url() const {
  std::string host = impl_->host == "0.0.0.0" ? "127.0.0.1" : impl_->host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(actual_port());
}

std::size_t HttpServer::open_connections() const {
  return impl_->shared.connections.load();
}

}  // namespace buildd
