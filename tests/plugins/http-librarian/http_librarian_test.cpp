#include "http_librarian.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "buildd/conformance/log_archive_conformance.hpp"
#include "buildd/plugin_loader.hpp"
#include "support/nginx_server.hpp"
#include "support/test_support.hpp"

namespace buildd::test {
namespace {

// One nginx per test process (ctest runs each test in its own process).
NginxServer& nginx() {
  static NginxServer server;
  return server;
}

HttpLibrarianOptions options_for(const std::string& base_url, const std::filesystem::path& temp) {
  HttpLibrarianOptions o = http_librarian_default_options(base_url);
  o.timeout = std::chrono::seconds(5);
  o.connect_timeout = std::chrono::seconds(2);
  o.temp_dir = temp;
  return o;
}

struct HttpContext {
  explicit HttpContext(const std::filesystem::path& scratch) : temp_(scratch) {
    std::filesystem::create_directories(temp_);
  }

  std::unique_ptr<LogArchive> archive() {
    return std::make_unique<HttpLibrarian>(options_for(nginx().url() + "/" + prefix_, temp_));
  }
  // A port nothing listens on: connection refused.
  std::unique_ptr<LogArchive> unavailable() {
    return std::make_unique<HttpLibrarian>(
        options_for("http://127.0.0.1:" + std::to_string(free_port()) + "/store", temp_));
  }
  std::filesystem::path storage() {
    std::filesystem::create_directories(nginx().www() / prefix_);
    return nginx().www() / prefix_;
  }

  std::filesystem::path temp_;
  // Each test stores under its own prefix of the shared nginx.
  std::string prefix_ =
      "t" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(HttpLibrarian, LogArchiveConformance, HttpContext);

namespace {

class HttpLibrarianTest : public ::testing::Test {
 protected:
  ContentDigest make(const std::string& name, const std::string& content) {
    write_file(dir_ / name, content);
    return digest_file(dir_ / name);
  }
  void expect_archive_error(const std::function<void()>& call, bool retryable,
                            const std::string& must_not_contain = "") {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::kArchive) << e.what();
      EXPECT_EQ(e.retryable(), retryable) << e.what();
      if (!must_not_contain.empty()) {
        EXPECT_EQ(std::string(e.what()).find(must_not_contain), std::string::npos) << e.what();
      }
    }
  }
  std::size_t count_in_access_log(const std::string& needle) {
    std::string log = read_file(nginx().access_log());
    std::size_t n = 0;
    for (auto pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1))
      ++n;
    return n;
  }

  TempDir dir_;
};

TEST_F(HttpLibrarianTest, ObjectsLiveAtTheirContentAddressAndPublicUrl) {
  auto o = options_for(nginx().url() + "/pool/", dir_.path());
  o.public_base_url = "https://files.example.org/pool";
  HttpLibrarian archive(o);
  ContentDigest d = make("f", "served by nginx");
  std::string locator = archive.put(d, dir_ / "f");
  EXPECT_EQ(locator, "sha256/" + d.sha256);
  EXPECT_EQ(read_file(nginx().www() / "pool" / d.sha256.substr(0, 2) / d.sha256),
            "served by nginx");
  EXPECT_EQ(archive.object_url(locator),
            nginx().url() + "/pool/" + d.sha256.substr(0, 2) + "/" + d.sha256);
  EXPECT_EQ(archive.public_url(locator),
            "https://files.example.org/pool/" + d.sha256.substr(0, 2) + "/" + d.sha256);
}

TEST_F(HttpLibrarianTest, SecondPutOnlySendsHead) {
  HttpLibrarian archive(options_for(nginx().url() + "/once", dir_.path()));
  ContentDigest d = make("f", "upload me once");
  std::string path = "/once/" + d.sha256.substr(0, 2) + "/" + d.sha256;
  archive.put(d, dir_ / "f");
  archive.put(d, dir_ / "f");
  // nginx writes its access log line after the response; give it a moment
  // (up to 5 s: a loaded machine once took longer than half a second).
  for (int i = 0; i < 500 && (count_in_access_log("HEAD " + path) < 2 ||
                              count_in_access_log("PUT " + path) < 1);
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(count_in_access_log("PUT " + path), 1u);
  EXPECT_EQ(count_in_access_log("HEAD " + path), 2u);
}

TEST_F(HttpLibrarianTest, StoppedNginxIsRetryable) {
  NginxServer own;
  HttpLibrarian archive(options_for(own.url() + "/s", dir_.path()));
  ContentDigest d = make("f", "while it was up");
  std::string locator = archive.put(d, dir_ / "f");
  own.stop();
  ContentDigest d2 = make("g", "after it went down");
  expect_archive_error([&] { archive.put(d2, dir_ / "g"); }, true);
  expect_archive_error([&] { archive.open(locator); }, true);
}

TEST_F(HttpLibrarianTest, InsufficientStorageAndServerErrorsAreRetryable) {
  ContentDigest d = make("f", "no room");
  HttpLibrarian full(options_for(nginx().url() + "/full", dir_.path()));
  expect_archive_error([&] { full.put(d, dir_ / "f"); }, true);
  HttpLibrarian broken(options_for(nginx().url() + "/broken", dir_.path()));
  expect_archive_error([&] { broken.put(d, dir_ / "f"); }, true);
}

TEST_F(HttpLibrarianTest, ForbiddenIsNotRetryableAndHidesTheSecret) {
  ::setenv("BUILDD_TEST_ARCHIVE_AUTH", "archivist:s3cr3t-pa55", 1);
  auto o = options_for(nginx().url() + "/forbidden", dir_.path());
  o.basic_auth_env = "BUILDD_TEST_ARCHIVE_AUTH";
  HttpLibrarian archive(o);
  ContentDigest d = make("f", "not allowed");
  expect_archive_error([&] { archive.put(d, dir_ / "f"); }, false, "s3cr3t");

  auto with_userinfo = options_for(
      "http://archivist:s3cr3t-pa55@127.0.0.1:" + std::to_string(nginx().port()) + "/forbidden",
      dir_.path());
  HttpLibrarian leaky(with_userinfo);
  expect_archive_error([&] { leaky.put(d, dir_ / "f"); }, false, "s3cr3t");
}

TEST_F(HttpLibrarianTest, MissingCredentialVariableIsAConfigError) {
  ::unsetenv("BUILDD_TEST_NO_SUCH_TOKEN");
  auto o = options_for(nginx().url(), dir_.path());
  o.bearer_token_env = "BUILDD_TEST_NO_SUCH_TOKEN";
  try {
    HttpLibrarian archive(o);
    FAIL() << "constructed without its token";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kConfig);
  }
}

TEST_F(HttpLibrarianTest, StalledServerTimesOutRetryably) {
  // A socket that listens but never accepts: the connection completes in the
  // kernel and no byte ever comes back.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto o = options_for("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), dir_.path());
  o.timeout = std::chrono::seconds(1);
  HttpLibrarian archive(o);
  ContentDigest d = make("f", "stuck");
  auto start = std::chrono::steady_clock::now();
  expect_archive_error([&] { archive.put(d, dir_ / "f"); }, true);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  ::close(fd);
}

TEST_F(HttpLibrarianTest, CorruptedObjectIsDetectedOnOpen) {
  HttpLibrarian archive(options_for(nginx().url() + "/corrupt", dir_.path()));
  ContentDigest d = make("f", "original bytes");
  std::string locator = archive.put(d, dir_ / "f");
  write_file(nginx().www() / "corrupt" / d.sha256.substr(0, 2) / d.sha256, "tampered bytes");
  expect_archive_error([&] { archive.open(locator); }, true);
}

TEST_F(HttpLibrarianTest, OpenLeavesNoTempFile) {
  auto temp = dir_ / "downloads";
  std::filesystem::create_directories(temp);
  HttpLibrarian archive(options_for(nginx().url() + "/tmpcheck", temp));
  ContentDigest d = make("f", "downloaded then unlinked");
  auto in = archive.open(archive.put(d, dir_ / "f"));
  EXPECT_TRUE(std::filesystem::is_empty(temp));
  std::string back((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, "downloaded then unlinked");
}

TEST(HttpLibrarianPluginTest, PluginDescribesItself) {
  PluginInfo info = PluginLoader(plugin_dir()).inspect("http-librarian");
  EXPECT_EQ(info.name, "http-librarian");
  EXPECT_EQ(info.kind, PluginKind::kLogArchive);
  std::vector<std::string> names;
  for (const auto& k : info.config_keys) names.push_back(k.name);
  for (const char* key : {"base_url", "public_base_url", "ca_file", "basic_auth_env",
                          "bearer_token_env", "aws_sigv4", "timeout", "connect_timeout"})
    EXPECT_NE(std::find(names.begin(), names.end(), key), names.end()) << key;
}

}  // namespace
}  // namespace buildd::test
