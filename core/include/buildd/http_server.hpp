#pragma once

// The master's embedded HTTP server: read-only GET/HEAD routes, for slave
// downloads of library files (GET /+files/<id>/<filename>), status pages,
// /metrics and the JSON API. The HTTP library stays an implementation detail:
// handlers see only the plain structs below.
//
// Threading: add_route()/serve_library() before start(). Sockets are served
// by `io_threads` event-loop threads (every accept, read and write is
// asynchronous, so an idle or slow client costs a socket and a few hundred
// bytes, never a thread); handlers run on a separate pool of
// `handler_threads` threads, concurrently, and must be thread-safe. start()
// returns once the socket listens; stop() closes every connection and waits
// for the threads (and so for handlers already running).
// Methods: GET and HEAD (HEAD runs the GET handler and sends no body); any
// other method is answered 405 and the connection closed. Unknown paths: 404.
// A handler that throws gets a 500 (buildd::Error of category kNotFound: 404).
// Requests: the path is percent-decoded ('+' kept), the query's keys and
// values too ('+' as space, the first of repeated keys wins); a request with
// a body, a bad request line or headers over `header_limit` is answered
// 400/431 and the connection closed.
// Streamed responses (`stream` set) are served in chunks with Range support
// (206 + Content-Range for one range, 416 when unsatisfiable; several ranges
// get the whole body) and a Content-Length, so files of any size are sent
// without being loaded; a stream shorter than announced drops the connection.
// Deadlines and limits: see HttpServerOptions. start() raises the process's
// soft RLIMIT_NOFILE to its hard limit (unless `raise_fd_limit` is off).
// Errors: the constructor throws Error(kConfig) for a bad address; start()
// throws Error(kInternal) when it cannot bind.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "buildd/export.hpp"

namespace buildd {

class Librarian;

struct HttpRequest {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // decoded path, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names as sent
  std::vector<std::string> matches;            // the route regex's groups; [0] is the path
  std::string remote_addr;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::map<std::string, std::string> headers;
  std::string body;  // used when `stream` is null
  // A seekable stream of `stream_size` bytes, sent in chunks with Range support.
  std::shared_ptr<std::istream> stream;
  std::uint64_t stream_size = 0;

  static HttpResponse text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // Event-loop threads for all sockets. One carries tens of thousands of
  // connections (it only moves bytes); more need more cores, not more load.
  std::size_t io_threads = 1;
  // Threads that run handlers (which may query the database) and read
  // streamed files chunk by chunk. Requests beyond it wait in a queue, their
  // connections costing no thread meanwhile.
  std::size_t handler_threads = 8;
  // From a request's first byte to its last header byte. Set once, not
  // restarted by each byte, so a client trickling its headers is cut when it
  // runs out, however steadily it sends.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // How long a connection may wait for its first request, or between two
  // keep-alive requests, without sending a byte.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(15)};
  // For each chunk written (at most 64 KiB): a download at any useful speed
  // is never cut, a client that stops reading is.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // Request line plus headers; more is answered 431.
  std::size_t header_limit = 16 * 1024;
  // Open connections at most; 0 derives it from RLIMIT_NOFILE (the limit
  // less a reserve for the database, the librarian's files and the slaves'
  // XML-RPC). At the cap the oldest idle connection is closed to make room
  // (its client reconnects, as HTTP clients do for a closed keep-alive
  // connection); when none is idle the new connection is closed at once.
  std::size_t max_connections = 0;
  // start() raises the soft RLIMIT_NOFILE to the hard limit, so that the
  // derived cap is the most the process may open.
  bool raise_fd_limit = true;
};

class BUILDD_API HttpServer {
 public:
  // `listen` is "host:port"; port 0 picks a free port (see actual_port()).
  explicit HttpServer(std::string listen, HttpServerOptions options = {});
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern` is an ECMAScript regex matched against the whole path; its
  // groups land in HttpRequest::matches.
  void add_route(const std::string& pattern, HttpHandler handler);
  // GET /+files/<id>/<filename> from the librarian: 404 when the id is unknown
  // or the filename is not the record's.
  void serve_library(Librarian& librarian);

  void start();
  void stop();
  bool running() const;
  std::uint16_t actual_port() const;
  std::string base_url() const;  // "http://host:port"
  // Connections open now (for tests and diagnostics); any thread.
  std::size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace buildd
