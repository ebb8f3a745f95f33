#pragma once

// Throwaway X.509 material for the TLS tests, generated at test time with the
// `openssl` command line (no private key is ever committed), and an nginx
// that serves https on 127.0.0.1 with it.
//
// TlsCertificates: the constructor writes into a fresh TempDir a CA, a server
// certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1, extendedKeyUsage
// serverAuth) signed by it, a client certificate (clientAuth) signed by the
// same CA, and a second, unrelated CA. P-256 keys, valid for one day. Keys
// are unencrypted PEM. Throws std::runtime_error (with openssl's stderr) when
// a step fails, so the test fails loudly. Generating takes ~50 ms.
//
// TlsNginxServer: scripts/nginx-fixture with --tls (and --client-ca,
// --proxy): the WebDAV PUT/GET store over https, or an https reverse proxy in
// front of a plain-HTTP server. Throws std::runtime_error when nginx does not
// come up; stops it in the destructor.
//
// Not thread-safe; each object owns its files and its nginx.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "support/test_support.hpp"

namespace buildd::test {

class TlsCertificates {
 public:
  TlsCertificates();
  TlsCertificates(const TlsCertificates&) = delete;
  TlsCertificates& operator=(const TlsCertificates&) = delete;

  std::filesystem::path ca_cert() const { return dir_ / "ca.pem"; }
  std::filesystem::path server_cert() const { return dir_ / "server.pem"; }
  std::filesystem::path server_key() const { return dir_ / "server.key"; }
  std::filesystem::path client_cert() const { return dir_ / "client.pem"; }
  std::filesystem::path client_key() const { return dir_ / "client.key"; }
  // Signs nothing the tests use: trusting it must not make the server valid.
  std::filesystem::path other_ca_cert() const { return dir_ / "other-ca.pem"; }

 private:
  TempDir dir_;
};

struct TlsNginxOptions {
  // Clients must present a certificate signed by this CA (ssl_verify_client on).
  std::optional<std::filesystem::path> client_ca;
  // Reverse-proxy every request here (e.g. "http://127.0.0.1:1234") instead of
  // serving the WebDAV store.
  std::optional<std::string> proxy_url;
};

class TlsNginxServer {
 public:
  TlsNginxServer(const TlsCertificates& certificates, TlsNginxOptions options = {});
  ~TlsNginxServer();
  TlsNginxServer(const TlsNginxServer&) = delete;
  TlsNginxServer& operator=(const TlsNginxServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "https://127.0.0.1:<port>/"
  std::string url() const;
  std::filesystem::path www() const { return dir_.path() / "www"; }
  std::filesystem::path error_log() const { return dir_.path() / "logs" / "error.log"; }

 private:
  TempDir dir_;
  std::uint16_t port_;
};

}  // namespace buildd::test
