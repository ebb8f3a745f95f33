#pragma once

// http-librarian: a LogArchive on any HTTP server that speaks PUT and GET
// (nginx with dav_methods PUT, S3 and compatibles through AWS SigV4, a WebDAV
// share), through libcurl.
//
// Objects live at <base_url>/<sha256[0:2]>/<sha256>; the locator is
// "sha256/<hex>" (the same as file-librarian's, so a store can move from one
// to the other by copying the tree). put() sends HEAD first and skips the
// upload when the object is there with the right size, otherwise PUTs the file
// streamed from disk (CURLOPT_UPLOAD with a read callback, never the whole file
// in memory). The server's own PUT must be atomic (nginx writes to a temp file
// and renames; S3 publishes on completion), so no partial object is visible.
// open() downloads the object into a temp file under `temp_dir`, checks its
// SHA-256 against the locator, unlinks the file and returns an ifstream on the
// open (unlinked) file: the bytes vanish from disk once the stream is closed.
// public_url() is <public_base_url>/<sha256[0:2]>/<sha256>.
//
// Threading: every method may be called from many threads at once (one curl
// easy handle per call).
// Errors: Error(kArchive). Retryable: cannot connect, timeout (no progress
// for `timeout`), connection reset, HTTP 5xx (507 included), 408, 429, a
// download whose digest does not match. Not retryable: other 4xx (401, 403,
// 404...), TLS verification failure, a bad locator. Credentials come from
// environment variables named in the config and never appear in logs or error
// messages.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "buildd/config.hpp"
#include "buildd/log_archive.hpp"

namespace buildd {

// The plugin's config keys: the one place its defaults are written.
inline constexpr ConfigKey kHttpLibrarianConfigKeys[] = {
    {"base_url", ConfigType::kString, true, nullptr,
     "where objects are PUT and GET: <base_url>/<sha256[0:2]>/<sha256>"},
    {"public_base_url", ConfigType::kString, false, nullptr,
     "the same objects as slaves reach them (default: base_url)"},
    {"ca_file", ConfigType::kPath, false, nullptr,
     "CA bundle for https (default: the system's; https is always verified)"},
    {"basic_auth_env", ConfigType::kString, false, nullptr,
     "name of an environment variable holding user:password for Basic auth"},
    {"bearer_token_env", ConfigType::kString, false, nullptr,
     "name of an environment variable holding a Bearer token"},
    {"aws_sigv4", ConfigType::kString, false, nullptr,
     "sign requests with AWS SigV4, e.g. aws:amz:us-east-1:s3"},
    {"aws_access_key_env", ConfigType::kString, false, nullptr,
     "name of an environment variable holding the AWS access key id"},
    {"aws_secret_key_env", ConfigType::kString, false, nullptr,
     "name of an environment variable holding the AWS secret key"},
    {"timeout", ConfigType::kSeconds, false, "60",
     "abandon a transfer that moves no byte for this long"},
    {"connect_timeout", ConfigType::kSeconds, false, "10", "connection timeout"},
    {"temp_dir", ConfigType::kPath, false, nullptr,
     "where open() downloads objects (default: the system temp dir)"},
};

// The librarian's settings. Start from http_librarian_default_options() (the
// keys' defaults); the timeouts have no defaults of their own.
struct HttpLibrarianOptions {
  std::string base_url;           // required
  std::string public_base_url;    // empty: base_url
  std::filesystem::path ca_file;  // empty: the system's CA bundle
  std::string basic_auth_env;     // name of a variable holding "user:password"
  std::string bearer_token_env;   // name of a variable holding a token
  std::string aws_sigv4;          // CURLOPT_AWS_SIGV4, e.g. "aws:amz:us-east-1:s3"
  std::string aws_access_key_env;
  std::string aws_secret_key_env;
  // A transfer that moves no byte for this long is abandoned (large chroots
  // legitimately take longer than any total limit would allow).
  std::chrono::duration<double> timeout;
  std::chrono::duration<double> connect_timeout;
  std::filesystem::path temp_dir;  // empty: the system temp dir
};

// Reads a config validated against kHttpLibrarianConfigKeys.
HttpLibrarianOptions http_librarian_options_from(const PluginConfig& config);
// http_librarian_options_from() of the keys' defaults with this base_url.
HttpLibrarianOptions http_librarian_default_options(const std::string& base_url);

class HttpLibrarian : public LogArchive {
 public:
  // Reads the credentials from the environment now. Throws Error(kConfig)
  // when a named variable is unset or base_url is not http(s).
  explicit HttpLibrarian(HttpLibrarianOptions options);
  ~HttpLibrarian() override;

  std::string put(const ContentDigest& digest, const std::filesystem::path& source) override;
  bool contains(const std::string& locator) override;
  std::unique_ptr<std::istream> open(const std::string& locator) override;
  std::optional<std::string> public_url(const std::string& locator) override;

  // <base_url>/<sha256[0:2]>/<sha256> of a locator.
  std::string object_url(const std::string& locator) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace buildd
