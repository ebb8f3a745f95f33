#include "buildd/http_server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "buildd/compression.hpp"
#include "buildd/conformance/archive_test_helpers.hpp"
#include "buildd/conformance/memory_library_store.hpp"
#include "buildd/librarian.hpp"
#include "file_librarian.hpp"
#include "support/test_support.hpp"

namespace buildd::test {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest()
      : archive_(dir_ / "archive"), librarian_(store_, archive_, dir_ / "tmp", "http://unused") {
    server_.serve_library(librarian_);
    server_.add_route(R"(/hello/(\w+))", [](const HttpRequest& req) {
      return HttpResponse::text(200, "hello " + req.matches.at(1) + " via " + req.method);
    });
    server_.add_route("/echo", [](const HttpRequest& req) {
      auto value = [](const auto& map, const std::string& key) {
        auto it = map.find(key);
        return it == map.end() ? std::string("-") : it->second;
      };
      return HttpResponse::text(200, "q=" + value(req.query, "q") + " h=" +
                                         value(req.headers, "X-Test") + " from " + req.remote_addr);
    });
    server_.start();
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_.actual_port());
    c.set_read_timeout(10, 0);
    return c;
  }
  std::string files_path(const LibraryFile& f) {
    return "/+files/" + std::to_string(f.id) + "/" + f.filename;
  }

  TempDir dir_;
  MemoryLibraryStore store_;
  FileLibrarian archive_;
  Librarian librarian_;
  HttpServer server_{"127.0.0.1:0"};
};

TEST_F(HttpServerTest, PicksAFreePortAndServesCustomRoutes) {
  EXPECT_NE(server_.actual_port(), 0);
  EXPECT_TRUE(server_.running());
  EXPECT_EQ(server_.base_url(), "http://127.0.0.1:" + std::to_string(server_.actual_port()));
  auto res = client().Get("/hello/world");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello world via GET");
  auto missing = client().Get("/nothing/here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(HttpServerTest, ServesALibraryFileWithLengthAndType) {
  LibraryFile f = librarian_.store_bytes("0123456789abcdefghij", "buildlog.txt", "text/plain");
  auto res = client().Get(files_path(f));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "0123456789abcdefghij");
  EXPECT_EQ(res->get_header_value("Content-Length"), "20");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain");
}

// A build log is stored gzipped; a browser must show it, not download it.
TEST_F(HttpServerTest, ServesAGzippedBuildLogAsText) {
  const std::string text = "line 1\n<b>not html</b>\nline 3\n";
  write_file(dir_ / "log", text);
  LibraryFile f =
      librarian_.store_gzipped(dir_ / "log", "buildlog_ubuntu-noble-amd64.foo_1_FULLYBUILT.txt.gz");
  httplib::Client c = client();
  c.set_decompress(false);  // see the bytes on the wire

  auto encoded = c.Get(files_path(f), {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(encoded);
  EXPECT_EQ(encoded->status, 200);
  EXPECT_EQ(encoded->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(encoded->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(encoded->get_header_value("Vary"), "Accept-Encoding");
  EXPECT_EQ(encoded->get_header_value("Content-Length"), std::to_string(f.size));
  EXPECT_EQ(encoded->body.size(), f.size);
  EXPECT_EQ(gunzip_string(encoded->body), text);

  for (const char* accept : {"identity", "gzip;q=0", ""}) {
    httplib::Headers headers;
    headers.emplace("Accept-Encoding", accept);
    auto plain = c.Get(files_path(f), headers);
    ASSERT_TRUE(plain) << accept;
    EXPECT_EQ(plain->status, 200);
    EXPECT_EQ(plain->get_header_value("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_FALSE(plain->has_header("Content-Encoding")) << accept;
    EXPECT_EQ(plain->get_header_value("Content-Length"), std::to_string(text.size()));
    EXPECT_EQ(plain->body, text) << accept;
  }
  auto head = c.Head(files_path(f), {{"Accept-Encoding", "identity"}});
  ASSERT_TRUE(head);
  EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(text.size()));
  auto range = c.Get(files_path(f), {{"Accept-Encoding", "identity"}, {"Range", "bytes=7-"}});
  ASSERT_TRUE(range);
  EXPECT_EQ(range->status, 206);
  EXPECT_EQ(range->body, text.substr(7));
  // What cpp-httplib does by default: it decompresses what it is sent.
  auto browser_like = client().Get(files_path(f));
  ASSERT_TRUE(browser_like);
  EXPECT_EQ(browser_like->body, text);
  // No temp file is left behind by the decompressed answers.
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "tmp"))
    ADD_FAILURE() << "left in tmp: " << entry.path();
}

// Other gzip files (chroots, sources) are archives a slave unpacks: served as
// the stored bytes, never with a Content-Encoding that a client would undo.
TEST_F(HttpServerTest, OtherGzipFilesAreServedAsTheyAre) {
  LibraryFile f = librarian_.store_bytes("\x1f\x8b not really", "chroot-noble-amd64.tar.gz",
                                         "application/gzip");
  LibraryFile named =
      librarian_.store_bytes("\x1f\x8b also not", "notes.txt.gz", "application/gzip");
  for (const LibraryFile& file : {f, named}) {
    auto res = client().Get(files_path(file), {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/gzip");
    EXPECT_FALSE(res->has_header("Content-Encoding"));
    EXPECT_EQ(res->body.size(), file.size);
  }
}

TEST_F(HttpServerTest, HeadAnswersLengthWithoutBody) {
  LibraryFile f = librarian_.store_bytes("0123456789", "f.bin", "application/octet-stream");
  auto res = client().Head(files_path(f));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Length"), "10");
  EXPECT_EQ(res->body, "");
}

TEST_F(HttpServerTest, RangeRequestsGetPartialContent) {
  LibraryFile f =
      librarian_.store_bytes("0123456789abcdefghij", "f.bin", "application/octet-stream");
  auto middle = client().Get(files_path(f), {{"Range", "bytes=5-9"}});
  ASSERT_TRUE(middle);
  EXPECT_EQ(middle->status, 206);
  EXPECT_EQ(middle->body, "56789");
  EXPECT_EQ(middle->get_header_value("Content-Range"), "bytes 5-9/20");
  EXPECT_EQ(middle->get_header_value("Content-Length"), "5");

  auto tail = client().Get(files_path(f), {{"Range", "bytes=15-"}});
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->status, 206);
  EXPECT_EQ(tail->body, "fghij");
  EXPECT_EQ(tail->get_header_value("Content-Range"), "bytes 15-19/20");
}

TEST_F(HttpServerTest, UnknownIdOrWrongFilenameIs404) {
  LibraryFile f = librarian_.store_bytes("secret", "right.txt", "text/plain");
  for (const std::string& path : std::vector<std::string>{
           "/+files/999/right.txt", "/+files/" + std::to_string(f.id) + "/wrong.txt",
           "/+files/" + std::to_string(f.id) + "/", "/+files/abc/right.txt"}) {
    auto res = client().Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body.find("secret"), std::string::npos);
  }
}

TEST_F(HttpServerTest, OnlyGetAndHeadAreAccepted) {
  LibraryFile f = librarian_.store_bytes("x", "x.txt", "text/plain");
  auto c = client();
  auto post = c.Post(files_path(f), "data", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto put = c.Put(files_path(f), "data", "application/octet-stream");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  auto del = c.Delete(files_path(f));
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(client().Get(files_path(f))->body, "x");
}

TEST_F(HttpServerTest, ManyConcurrentDownloads) {
  std::string content(2 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + i / 251);
  LibraryFile f = librarian_.store_bytes(content, "chroot.tar.gz", "application/gzip");
  constexpr int kClients = 40;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&] {
      auto res = client().Get(files_path(f));
      if (res && res->status == 200 && res->body == content) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients);
}

TEST_F(HttpServerTest, LargeFileIsStreamedInBoundedMemory) {
  constexpr std::uint64_t kSize = 100ull * 1024 * 1024 + 5;
  write_pseudo_random_file(dir_ / "big", kSize);
  LibraryFile f = librarian_.store_file(dir_ / "big", "big.tar.gz", "application/gzip");

  std::uint64_t before = peak_rss_kib(true);
  Hasher hasher(DigestAlgorithm::kSha256);
  std::uint64_t received = 0;
  auto res = client().Get(files_path(f), [&](const char* data, std::size_t n) {
    hasher.update(data, n);
    received += n;
    return true;
  });
  std::uint64_t growth = peak_rss_kib() - before;
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(hasher.hex_digest(), f.sha256);
  EXPECT_LT(growth, 32u * 1024) << "peak RSS grew by " << growth << " KiB";
}

TEST(HttpServerLifecycleTest, StopsAndRejectsBadAddresses) {
  HttpServer server("127.0.0.1:0");
  server.start();
  auto port = server.actual_port();
  server.stop();
  EXPECT_FALSE(server.running());
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  EXPECT_FALSE(c.Get("/"));
  EXPECT_THROW(HttpServer("no-port"), Error);
  EXPECT_THROW(HttpServer("127.0.0.1:99999"), Error);
}

// ---- the hardened front: deadlines, limits, keep-alive, on raw sockets ----

using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A blocking loopback TCP client that shows exactly what the server sends.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `count` bytes arrived in all, the peer closed, or `timeout`.
  std::string read(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    auto deadline = Steady::now() + timeout;
    while (buffer_.size() < count && !closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      if (left <= 0ms || !wait_readable(left)) break;
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, std::min(sizeof chunk, count - buffer_.size()), 0);
      if (n <= 0) closed_ = true;
      if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    std::string out = buffer_.substr(0, std::min(count, buffer_.size()));
    buffer_.erase(0, out.size());
    return out;
  }
  // One response head (through the blank line).
  std::string read_head(std::chrono::milliseconds timeout = 5s) {
    std::string head;
    auto deadline = Steady::now() + timeout;
    while (head.find("\r\n\r\n") == std::string::npos && Steady::now() < deadline) {
      std::string c =
          read(1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()));
      if (c.empty()) break;
      head += c;
    }
    return head;
  }
  // True once the server closed the connection (EOF or reset), waiting at
  // most `timeout`; bytes sent before the close are discarded.
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    auto deadline = Steady::now() + timeout;
    while (!closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      if (left <= 0ms || !wait_readable(left)) return false;
      char chunk[4096];
      if (::recv(fd_, chunk, sizeof chunk, 0) <= 0) closed_ = true;
    }
    return true;
  }

 private:
  bool wait_readable(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
};

std::string header_value(const std::string& head, const std::string& name) {
  auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "<none>";
  at += name.size() + 4;
  return head.substr(at, head.find("\r\n", at) - at);
}

class HttpServerLimitsTest : public HttpServerTest {
 protected:
  // A second server on the same routes with short deadlines, so that the
  // tests see them expire.
  HttpServerLimitsTest() {
    HttpServerOptions o;
    o.header_timeout = 500ms;
    o.idle_timeout = 1500ms;
    o.write_timeout = 1000ms;
    o.header_limit = 16 * 1024;
    limited_ = std::make_unique<HttpServer>("127.0.0.1:0", o);
    limited_->serve_library(librarian_);
    limited_->add_route(R"(/hello/(\w+))", [](const HttpRequest& req) {
      return HttpResponse::text(200, "hello " + req.matches.at(1));
    });
    limited_->start();
  }
  std::uint16_t port() const { return limited_->actual_port(); }
  // Time for one GET on a fresh connection, asserting its answer.
  std::chrono::milliseconds timed_get() {
    auto begin = Steady::now();
    httplib::Client c("127.0.0.1", port());
    c.set_read_timeout(10, 0);
    auto res = c.Get("/hello/world");
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - begin);
    EXPECT_TRUE(res);
    if (res) {
      EXPECT_EQ(res->body, "hello world");
    }
    return took;
  }

  std::unique_ptr<HttpServer> limited_;
};

TEST_F(HttpServerLimitsTest, SlowLorisIsCutAtTheHeaderDeadlineWhileOthersAreServed) {
  // One header byte per 100 ms: a deadline restarted by every byte (a
  // per-recv timeout) would never fire.
  RawClient loris(port());
  ASSERT_TRUE(loris.connected());
  std::string request = "GET /hello/slow HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 'a');
  std::atomic<bool> cut{false};
  std::atomic<long long> cut_after_ms{-1};
  std::thread trickle([&] {
    auto begin = Steady::now();
    for (char c : request) {
      if (!loris.send(std::string(1, c)) || loris.closed_by_peer(100ms)) {
        cut = true;
        break;
      }
    }
    cut_after_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - begin).count();
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_LT(timed_get(), 500ms) << "a normal GET waits for the slow client";
  trickle.join();
  EXPECT_TRUE(cut) << "the trickling client was not cut";
  EXPECT_GE(cut_after_ms.load(), 400);
  EXPECT_LE(cut_after_ms.load(), 2000);
}

TEST_F(HttpServerLimitsTest, ManyIdleConnectionsDoNotStopAGet) {
  // Both ends are in this process: stay within its descriptor limit (which
  // the server's start() raised to the hard limit).
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  const std::size_t kIdle = std::min<rlim_t>(500, (lim.rlim_cur - 100) / 2);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (std::size_t i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(idle.back()->connected()) << i;
    // Half of them have started a request and stopped mid-header.
    if (i % 2 == 1) idle.back()->send("GET /hello/x HTTP/1.1\r\n");
  }
  for (int i = 0; i < 100 && limited_->open_connections() < kIdle; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_GE(limited_->open_connections(), kIdle);
  EXPECT_LT(timed_get(), 500ms);
  // Deadlines reclaim them all: the mid-header ones at the header deadline,
  // the silent ones at the idle deadline.
  EXPECT_TRUE(idle[1]->closed_by_peer(2s));
  EXPECT_TRUE(idle[0]->closed_by_peer(3s));
  for (int i = 0; i < 300 && limited_->open_connections() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(limited_->open_connections(), 0u);
}

TEST_F(HttpServerLimitsTest, ConnectionCapClosesTheOldestIdleConnection) {
  HttpServerOptions o;
  o.max_connections = 3;
  HttpServer capped("127.0.0.1:0", o);
  capped.add_route("/ok", [](const HttpRequest&) { return HttpResponse::text(200, "ok"); });
  capped.start();
  RawClient oldest(capped.actual_port());
  std::this_thread::sleep_for(50ms);
  RawClient second(capped.actual_port());
  RawClient third(capped.actual_port());
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(capped.open_connections(), 3u);
  httplib::Client c("127.0.0.1", capped.actual_port());
  auto res = c.Get("/ok");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok");
  EXPECT_TRUE(oldest.closed_by_peer(1s));
  EXPECT_FALSE(third.closed_by_peer(100ms));
}

TEST_F(HttpServerLimitsTest, IdleKeepAliveConnectionIsClosedAtTheIdleDeadline) {
  RawClient client(port());
  ASSERT_TRUE(client.send("GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string head = client.read_head();
  EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(header_value(head, "Connection"), "keep-alive");
  EXPECT_EQ(client.read(7), "hello a");
  auto begin = Steady::now();
  EXPECT_TRUE(client.closed_by_peer(4s));
  auto took = Steady::now() - begin;
  EXPECT_GE(took, 1200ms);
  EXPECT_LE(took, 3000ms);
}

TEST_F(HttpServerLimitsTest, OversizedHeaderIsRefused) {
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  client.send("GET /hello/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'b') +
              "\r\n\r\n");
  std::string head = client.read_head();
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 431") << head;
  EXPECT_TRUE(client.closed_by_peer(3s));
  // Just under the limit is fine.
  RawClient fine(port());
  fine.send("GET /hello/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(15 * 1024, 'b') +
            "\r\n\r\n");
  EXPECT_EQ(fine.read_head().substr(0, 15), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerLimitsTest, KeepAliveReuseHeadAndPipelining) {
  RawClient client(port());
  // HEAD: the GET's length, no body; then a GET on the same connection, and
  // two pipelined in one write: answered in order, all on one connection.
  ASSERT_TRUE(client.send("HEAD /hello/abc HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string head = client.read_head();
  EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(header_value(head, "Content-Length"), "9");
  ASSERT_TRUE(client.send("GET /hello/abc HTTP/1.1\r\nHost: x\r\n\r\n"));
  head = client.read_head();
  EXPECT_EQ(header_value(head, "Content-Length"), "9") << head;
  EXPECT_EQ(client.read(9), "hello abc") << "HEAD sent a body, or the GET got lost";
  ASSERT_TRUE(
      client.send("GET /hello/one HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /hello/two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  head = client.read_head();
  EXPECT_EQ(client.read(9), "hello one");
  head = client.read_head();
  EXPECT_EQ(header_value(head, "Connection"), "close");
  EXPECT_EQ(client.read(9), "hello two");
  EXPECT_TRUE(client.closed_by_peer(3s));
  // The server lingers (draining) until the client closes too, at most 2 s.
  for (int i = 0; i < 300 && limited_->open_connections() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(limited_->open_connections(), 0u);
}

TEST_F(HttpServerLimitsTest, Http10ClosesUnlessAskedToKeepAlive) {
  RawClient plain(port());
  plain.send("GET /hello/a HTTP/1.0\r\n\r\n");
  EXPECT_EQ(header_value(plain.read_head(), "Connection"), "close");
  EXPECT_EQ(plain.read(7), "hello a");
  EXPECT_TRUE(plain.closed_by_peer(3s));
  RawClient kept(port());
  kept.send("GET /hello/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(header_value(kept.read_head(), "Connection"), "keep-alive");
  EXPECT_EQ(kept.read(7), "hello a");
  EXPECT_FALSE(kept.closed_by_peer(200ms));
}

TEST_F(HttpServerLimitsTest, PostWithBodyIs405AndReadable) {
  RawClient client(port());
  // A body the server never reads: the 405 must still arrive intact.
  client.send("POST /hello/a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
              std::string(100000, 'p'));
  std::string head = client.read_head();
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 405") << head;
  EXPECT_EQ(header_value(head, "Allow"), "GET, HEAD");
  EXPECT_EQ(header_value(head, "Connection"), "close");
  EXPECT_EQ(client.read(19), "method not allowed\n");
  EXPECT_TRUE(client.closed_by_peer(4s));
}

TEST_F(HttpServerLimitsTest, BadRequestsAre400) {
  for (const std::string& request :
       {std::string("GET /hello/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"),
        std::string("GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("GET /hello/a%00 HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("NOT HTTP AT ALL\r\n\r\n")}) {
    RawClient client(port());
    client.send(request);
    EXPECT_EQ(client.read_head().substr(0, 12), "HTTP/1.1 400") << request;
    EXPECT_TRUE(client.closed_by_peer(3s)) << request;
  }
}

TEST_F(HttpServerLimitsTest, DownloadAtASteadyPaceOutlastsTheWriteDeadline) {
  // 16 MiB read at ~8 MiB/s takes ~2 s, past the 1 s write deadline: only a
  // deadline per chunk lets it finish.
  constexpr std::uint64_t kSize = 16ull * 1024 * 1024;
  write_pseudo_random_file(dir_ / "steady", kSize);
  LibraryFile f = librarian_.store_file(dir_ / "steady", "steady.bin", "application/gzip");
  RawClient client(port(), 64 * 1024);
  client.send("GET " + files_path(f) + " HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = client.read_head();
  ASSERT_EQ(header_value(head, "Content-Length"), std::to_string(kSize)) << head;
  Hasher hasher(DigestAlgorithm::kSha256);
  std::uint64_t received = 0;
  auto begin = Steady::now();
  while (received < kSize) {
    std::string part = client.read(std::min<std::uint64_t>(kSize - received, 256 * 1024), 2s);
    if (part.empty()) break;
    hasher.update(part.data(), part.size());
    received += part.size();
    std::this_thread::sleep_for(30ms);
  }
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(hasher.hex_digest(), f.sha256);
  EXPECT_GT(Steady::now() - begin, 1200ms) << "too fast to show anything";
}

TEST_F(HttpServerLimitsTest, ReaderThatStopsIsCutAtTheWriteDeadline) {
  constexpr std::uint64_t kSize = 64ull * 1024 * 1024;
  write_pseudo_random_file(dir_ / "stall", kSize);
  LibraryFile f = librarian_.store_file(dir_ / "stall", "stall.bin", "application/gzip");
  RawClient client(port(), 64 * 1024);
  client.send("GET " + files_path(f) + " HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(3s);  // buffers fill, the server's write stalls
  for (int i = 0; i < 300 && limited_->open_connections() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(limited_->open_connections(), 0u);
}

TEST_F(HttpServerTest, RangeEdgeCasesAndHead) {
  LibraryFile f =
      librarian_.store_bytes("0123456789abcdefghij", "f.bin", "application/octet-stream");
  auto suffix = client().Get(files_path(f), {{"Range", "bytes=-5"}});
  ASSERT_TRUE(suffix);
  EXPECT_EQ(suffix->status, 206);
  EXPECT_EQ(suffix->body, "fghij");
  EXPECT_EQ(suffix->get_header_value("Content-Range"), "bytes 15-19/20");

  auto clamped = client().Get(files_path(f), {{"Range", "bytes=10-100"}});
  ASSERT_TRUE(clamped);
  EXPECT_EQ(clamped->status, 206);
  EXPECT_EQ(clamped->body, "abcdefghij");

  auto beyond = client().Get(files_path(f), {{"Range", "bytes=20-"}});
  ASSERT_TRUE(beyond);
  EXPECT_EQ(beyond->status, 416);
  EXPECT_EQ(beyond->get_header_value("Content-Range"), "bytes */20");
  EXPECT_EQ(beyond->body, "");

  for (const char* ignored : {"bytes=9-5", "bytes=0-1,4-5", "lines=1-2"}) {
    auto whole = client().Get(files_path(f), {{"Range", ignored}});
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->status, 200) << ignored;
    EXPECT_EQ(whole->body, "0123456789abcdefghij") << ignored;
  }

  auto head = client().Head(files_path(f), {{"Range", "bytes=2-4"}});
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 206);
  EXPECT_EQ(head->get_header_value("Content-Length"), "3");
  EXPECT_EQ(head->get_header_value("Content-Range"), "bytes 2-4/20");
  EXPECT_EQ(head->body, "");
}

TEST_F(HttpServerTest, DecodesPathQueryAndPassesHeaders) {
  auto hello = client().Get("/hello/w%6Frld");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "hello world via GET");
  // A raw request: httplib's client would escape the '+'.
  RawClient raw(server_.actual_port());
  raw.send("GET /echo?q=a+b%26c&q=second HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n\r\n");
  EXPECT_EQ(header_value(raw.read_head(), "Content-Length"), "28");
  EXPECT_EQ(raw.read(28), "q=a b&c h=yes from 127.0.0.1");
  auto plus_in_path = client().Get("/hello/a+b");
  ASSERT_TRUE(plus_in_path);
  EXPECT_EQ(plus_in_path->status, 404) << "'+' in a path is not a space";
}

TEST_F(HttpServerTest, HandlerErrorsMapToStatuses) {
  HttpServer server("127.0.0.1:0");
  server.add_route("/missing", [](const HttpRequest&) -> HttpResponse {
    throw Error(ErrorCategory::kNotFound, "no such thing");
  });
  server.add_route("/broken",
                   [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  server.add_route("/failed", [](const HttpRequest&) -> HttpResponse {
    throw Error(ErrorCategory::kInternal, "db down");
  });
  server.start();
  httplib::Client c("127.0.0.1", server.actual_port());
  EXPECT_EQ(c.Get("/missing")->status, 404);
  EXPECT_EQ(c.Get("/broken")->status, 500);
  EXPECT_EQ(c.Get("/failed")->status, 500);
  EXPECT_EQ(c.Get("/missing/not/a/route")->status, 404);
}

}  // namespace
}  // namespace buildd::test
