// http-librarian over https, on real sockets: a real nginx serves the
// PUT/GET store with TLS, with certificates made for the test.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <iterator>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "http_librarian.hpp"
#include "support/test_support.hpp"
#include "support/tls_certificates.hpp"

namespace buildd::test {
namespace {

constexpr const char* kAuthEnv = "BUILDD_HTTP_LIBRARIAN_TLS_TEST_AUTH";
constexpr const char* kPassword = "tls-test-Secret-Passw0rd";

// TLS verification failures are not retryable (http_librarian.hpp): trying
// again later cannot make the certificate valid.
void expect_certificate_error(const Error& e) {
  EXPECT_EQ(e.category(), ErrorCategory::kArchive) << e.what();
  EXPECT_FALSE(e.retryable()) << e.what();
  EXPECT_NE(lowercase(e.what()).find("certificate"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find(kPassword), std::string::npos) << e.what();
}

class HttpLibrarianTlsTest : public ::testing::Test {
 protected:
  HttpLibrarianOptions options(const std::filesystem::path& ca) const {
    HttpLibrarianOptions o = http_librarian_default_options(nginx_.url() + "store");
    o.ca_file = ca;
    o.timeout = std::chrono::seconds(5);
    o.connect_timeout = std::chrono::seconds(2);
    o.temp_dir = dir_.path();
    o.basic_auth_env = kAuthEnv;
    return o;
  }
  ContentDigest make(const std::string& content) {
    write_file(dir_ / "source", content);
    return digest_file(dir_ / "source");
  }
  static std::string slurp(std::istream& in) {
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  void SetUp() override { ::setenv(kAuthEnv, (std::string("buildd:") + kPassword).c_str(), 1); }
  void TearDown() override { ::unsetenv(kAuthEnv); }

  TlsCertificates certs_;
  TlsNginxServer nginx_{certs_};
  TempDir dir_;
};

TEST_F(HttpLibrarianTlsTest, PutAndOpenRoundTripWithTheRightCa) {
  HttpLibrarian librarian(options(certs_.ca_cert()));
  const std::string content = "build log sent over TLS\n";
  const ContentDigest digest = make(content);

  const std::string locator = librarian.put(digest, dir_ / "source");
  EXPECT_EQ(locator, "sha256/" + digest.sha256);
  EXPECT_EQ(read_file(nginx_.www() / "store" / digest.sha256.substr(0, 2) / digest.sha256),
            content);
  EXPECT_TRUE(librarian.contains(locator));
  auto stream = librarian.open(locator);
  ASSERT_TRUE(stream);
  EXPECT_EQ(slurp(*stream), content);
  // A second put finds the object by HEAD over TLS and does not upload again.
  EXPECT_EQ(librarian.put(digest, dir_ / "source"), locator);
}

TEST_F(HttpLibrarianTlsTest, UnrelatedCaIsANonRetryableCertificateError) {
  HttpLibrarian trusted(options(certs_.ca_cert()));
  const ContentDigest digest = make("stored with the right CA\n");
  const std::string locator = trusted.put(digest, dir_ / "source");

  HttpLibrarian librarian(options(certs_.other_ca_cert()));
  const ContentDigest other = make("never stored\n");
  expect_certificate_error(thrown_error([&] { librarian.put(other, dir_ / "source"); }));
  expect_certificate_error(thrown_error([&] { librarian.open(locator); }));
  EXPECT_FALSE(
      std::filesystem::exists(nginx_.www() / "store" / other.sha256.substr(0, 2) / other.sha256));
}

TEST_F(HttpLibrarianTlsTest, SystemStoreDoesNotTrustTheTestCa) {
  HttpLibrarian librarian(options(""));
  const ContentDigest digest = make("not trusted by default\n");
  expect_certificate_error(thrown_error([&] { librarian.put(digest, dir_ / "source"); }));
}

}  // namespace
}  // namespace buildd::test
