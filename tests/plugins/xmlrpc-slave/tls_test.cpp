// The xmlrpc-slave transport over https, on real sockets: nginx terminates
// TLS with certificates made for the test and proxies to the project's own
// bin/buildd-slave on plain HTTP.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "support/slave_process.hpp"
#include "support/test_support.hpp"
#include "support/tls_certificates.hpp"
#include "xmlrpc_slave.hpp"

namespace buildd::test {
namespace {

namespace xs = buildd::xmlrpc_slave;

constexpr const char* kPassword = "tls-test-Secret-Passw0rd";

void expect_certificate_error(const Error& e) {
  EXPECT_EQ(e.category(), ErrorCategory::kTransport) << e.what();
  EXPECT_NE(lowercase(e.what()).find("certificate"), std::string::npos) << e.what();
}

class XmlRpcSlaveTlsTest : public ::testing::Test {
 protected:
  std::unique_ptr<xs::LaunchpadSlave> connect(const xs::Options& options, const std::string& url) {
    transports_.push_back(std::make_unique<xs::XmlRpcSlaveTransport>(options));
    Builder builder;
    builder.name = "bob";
    builder.url = url;
    return transports_.back()->connect_launchpad(builder);
  }
  TlsNginxOptions proxy_to_slave() const {
    TlsNginxOptions o;
    o.proxy_url = "http://127.0.0.1:" + std::to_string(slave_.port());
    return o;
  }
  static xs::Options options_with_ca(const std::filesystem::path& ca) {
    xs::Options o = xs::default_options();
    o.connect_timeout = 2;
    o.call_timeout = 5;
    o.ensurepresent_timeout = 5;
    o.download_timeout = 5;
    o.ca_file = ca.string();
    return o;
  }

  TlsCertificates certs_;
  SlaveProcess slave_;
  std::vector<std::unique_ptr<xs::XmlRpcSlaveTransport>> transports_;
};

TEST_F(XmlRpcSlaveTlsTest, TrustedCaCarriesRpcsAndDownloads) {
  TlsNginxServer nginx(certs_, proxy_to_slave());
  auto slave = connect(options_with_ca(certs_.ca_cert()), nginx.url());

  EXPECT_EQ(slave->echo({"over", "tls"}), (std::vector<std::string>{"over", "tls"}));
  EXPECT_EQ(slave->status().state, BuilderState::kIdle);

  const std::string content = "a file in the slave's cache, fetched through TLS\n";
  const std::string sha1 = sha1_hex(content);
  write_file(slave_.cache_dir() / sha1, content);
  TempDir out;
  const FetchedFile fetched = slave->fetch_to_file(sha1, out / "file", 1 << 20);
  EXPECT_EQ(fetched.sha1, sha1);
  EXPECT_EQ(fetched.size, content.size());
  EXPECT_EQ(read_file(out / "file"), content);
}

TEST_F(XmlRpcSlaveTlsTest, UnrelatedCaIsACertificateTransportError) {
  TlsNginxServer nginx(certs_, proxy_to_slave());
  auto slave = connect(options_with_ca(certs_.other_ca_cert()), nginx.url());

  expect_certificate_error(thrown_error([&] { slave->status(); }));
  expect_certificate_error(thrown_error([&] { slave->echo({"x"}); }));
  TempDir out;
  expect_certificate_error(
      thrown_error([&] { slave->fetch_to_file("buildlog", out / "log", 1 << 20); }));

  const Error e = thrown_error([&] {
    slave->ensure_present(std::string(40, 'a'), "https://librarian.invalid/chroot.tar.gz", "buildd",
                          kPassword);
  });
  expect_certificate_error(e);
  EXPECT_EQ(std::string(e.what()).find(kPassword), std::string::npos) << e.what();
}

TEST_F(XmlRpcSlaveTlsTest, SystemStoreDoesNotTrustTheTestCa) {
  TlsNginxServer nginx(certs_, proxy_to_slave());
  auto slave = connect(options_with_ca(""), nginx.url());
  expect_certificate_error(thrown_error([&] { slave->status(); }));
}

TEST_F(XmlRpcSlaveTlsTest, HostNameMustMatchTheCertificate) {
  TlsNginxServer nginx(certs_, proxy_to_slave());
  // The certificate names only IP:127.0.0.1.
  auto slave = connect(options_with_ca(certs_.ca_cert()),
                       "https://localhost:" + std::to_string(nginx.port()));
  expect_certificate_error(thrown_error([&] { slave->status(); }));
}

TEST_F(XmlRpcSlaveTlsTest, TlsVerifyFalseAcceptsAnUnknownCa) {
  TlsNginxServer nginx(certs_, proxy_to_slave());
  xs::Options options = options_with_ca(certs_.other_ca_cert());
  options.tls_verify = false;
  auto slave = connect(options, nginx.url());
  EXPECT_EQ(slave->status().state, BuilderState::kIdle);
  EXPECT_EQ(slave->echo({"unverified"}), (std::vector<std::string>{"unverified"}));
}

TEST_F(XmlRpcSlaveTlsTest, ClientCertificateIsPresentedWhenConfigured) {
  TlsNginxOptions front = proxy_to_slave();
  front.client_ca = certs_.ca_cert();
  TlsNginxServer nginx(certs_, front);

  auto anonymous = connect(options_with_ca(certs_.ca_cert()), nginx.url());
  const Error refused = thrown_error([&] { anonymous->status(); });
  EXPECT_EQ(refused.category(), ErrorCategory::kTransport) << refused.what();
  // nginx completes the handshake and answers "400 No required SSL certificate was sent".
  EXPECT_NE(std::string(refused.what()).find("HTTP 400"), std::string::npos) << refused.what();

  xs::Options options = options_with_ca(certs_.ca_cert());
  options.client_cert = certs_.client_cert().string();
  options.client_key = certs_.client_key().string();
  auto authenticated = connect(options, nginx.url());
  EXPECT_EQ(authenticated->status().state, BuilderState::kIdle);
  EXPECT_EQ(authenticated->echo({"mutual"}), (std::vector<std::string>{"mutual"}));
}

}  // namespace
}  // namespace buildd::test
