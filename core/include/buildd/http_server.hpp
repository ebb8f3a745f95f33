#pragma once

// The master's embedded HTTP server: read-only GET/HEAD routes on a thread
// pool, for slave downloads of library files (GET /+files/<id>/<filename>)
// and, later, status pages, /metrics and a JSON API. The HTTP library stays
// an implementation detail: handlers see only the plain structs below.
//
// Threading: add_route()/serve_library() before start(); handlers run on the
// pool's threads concurrently and must be thread-safe. start() returns once
// the socket listens; stop() waits for the background thread.
// Methods: GET and HEAD (HEAD runs the GET handler and sends no body); any
// other method is answered 405. Unknown paths: 404. A handler that throws
// gets a 500 (buildd::Error of category kNotFound: 404).
// Streamed responses (`stream` set) are served in chunks with Range support
// (206 + Content-Range, one range) and a Content-Length, so files of any size
// are sent without being loaded.
// Errors: start() throws Error(kConfig) for a bad address and Error(kInternal)
// when it cannot bind.

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
  std::size_t threads = 64;  // concurrent connections served (slave downloads)
  int keep_alive_seconds = 5;
  int read_timeout_seconds = 30;
  int write_timeout_seconds = 60;
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace buildd
