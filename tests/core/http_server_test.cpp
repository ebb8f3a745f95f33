#include "buildd/http_server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "buildd/librarian.hpp"
#include "file_librarian.hpp"
#include "support/archive_test_helpers.hpp"
#include "support/memory_library_store.hpp"
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

}  // namespace
}  // namespace buildd::test
