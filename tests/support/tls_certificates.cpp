#include "support/tls_certificates.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace buildd::test {
namespace fs = std::filesystem;

namespace {

// run_command does not search PATH.
fs::path openssl_binary() {
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (dir.empty()) continue;
      fs::path candidate = fs::path(dir) / "openssl";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "/usr/bin/openssl";
}

void openssl(const std::vector<std::string>& args) {
  const CommandResult result = run_command(openssl_binary(), args);
  if (result.exit_code != 0) {
    std::string command = "openssl";
    for (const auto& a : args) command += " " + a;
    throw std::runtime_error(command + " failed (" + std::to_string(result.exit_code) +
                             "): " + result.err);
  }
}

// The extensions are spelled out here rather than taken from the system's
// openssl.cnf, whose defaults differ between distributions.
constexpr const char* kConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

const std::vector<std::string> kNewKey{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};

void make_ca(const fs::path& dir, const std::string& name, const std::string& subject) {
  std::vector<std::string> args{"req",         "-x509",
                                "-config",     (dir / "openssl.cnf").string(),
                                "-extensions", "ca_ext",
                                "-days",       "1",
                                "-subj",       subject,
                                "-keyout",     (dir / (name + ".key")).string(),
                                "-out",        (dir / (name + ".pem")).string()};
  args.insert(args.begin() + 2, kNewKey.begin(), kNewKey.end());
  openssl(args);
}

void make_signed(const fs::path& dir, const std::string& name, const std::string& subject,
                 const std::string& extensions, int serial) {
  const fs::path config = dir / "openssl.cnf";
  const fs::path csr = dir / (name + ".csr");
  std::vector<std::string> request{
      "req",   "-new",      "-config", config.string(),
      "-subj", subject,     "-keyout", (dir / (name + ".key")).string(),
      "-out",  csr.string()};
  request.insert(request.begin() + 2, kNewKey.begin(), kNewKey.end());
  openssl(request);
  openssl({"x509", "-req", "-in", csr.string(), "-CA", (dir / "ca.pem").string(), "-CAkey",
           (dir / "ca.key").string(), "-set_serial", std::to_string(serial), "-days", "1",
           "-extfile", config.string(), "-extensions", extensions, "-out",
           (dir / (name + ".pem")).string()});
}

}  // namespace

TlsCertificates::TlsCertificates() {
  const fs::path& dir = dir_.path();
  write_file(dir / "openssl.cnf", kConfig);
  make_ca(dir, "ca", "/CN=buildd test CA");
  make_ca(dir, "other-ca", "/CN=buildd unrelated test CA");
  make_signed(dir, "server", "/CN=127.0.0.1", "server_ext", 2);
  make_signed(dir, "client", "/CN=buildd test master", "client_ext", 3);
}

TlsNginxServer::TlsNginxServer(const TlsCertificates& certificates, TlsNginxOptions options)
    : port_(free_port()) {
  std::vector<std::string> args{"start",
                                dir_.path().string(),
                                std::to_string(port_),
                                "--tls",
                                certificates.server_cert().string(),
                                certificates.server_key().string()};
  if (options.client_ca) args.insert(args.end(), {"--client-ca", options.client_ca->string()});
  if (options.proxy_url) args.insert(args.end(), {"--proxy", *options.proxy_url});
  const CommandResult result = run_command(source_dir() / "scripts" / "nginx-fixture", args);
  if (result.exit_code != 0) {
    // It may have started and then failed the readiness check.
    run_command(source_dir() / "scripts" / "nginx-fixture", {"stop", dir_.path().string()});
    throw std::runtime_error("nginx with TLS did not start on 127.0.0.1:" + std::to_string(port_) +
                             ": " + result.err);
  }
}

TlsNginxServer::~TlsNginxServer() {
  try {
    run_command(source_dir() / "scripts" / "nginx-fixture", {"stop", dir_.path().string()});
  } catch (const std::exception&) {
    // Nothing to do in a destructor; the next server uses another folder and port.
  }
}

std::string TlsNginxServer::url() const {
  return "https://127.0.0.1:" + std::to_string(port_) + "/";
}

}  // namespace buildd::test
