#include "http_librarian.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/logging.hpp"

namespace buildd {
namespace {

std::string strip_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string env_or_throw(const std::string& name, const char* key) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0')
    throw Error(ErrorCategory::kConfig, std::string("http-librarian: ") + key +
                                            " names the environment variable " + name +
                                            ", which is not set");
  return value;
}

// The URL without any user:password it may carry, for messages.
std::string redact(const std::string& url) {
  CURLU* u = curl_url();
  std::string out = url;
  if (u != nullptr && curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    curl_url_set(u, CURLUPART_USER, nullptr, 0);
    curl_url_set(u, CURLUPART_PASSWORD, nullptr, 0);
    char* clean = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK) {
      out = clean;
      curl_free(clean);
    }
  }
  curl_url_cleanup(u);
  return out;
}

bool retryable_status(long status) {
  return status >= 500 || status == 408 || status == 429;
}

bool retryable_curl_code(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_LOGIN_DENIED:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
      return false;
    default:
      return true;
  }
}

struct EasyHandle {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~EasyHandle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }
};

std::size_t discard_body(char*, std::size_t size, std::size_t nmemb, void*) {
  return size * nmemb;
}

std::size_t read_file_chunk(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* file = static_cast<std::FILE*>(user);
  std::size_t n = std::fread(buffer, 1, size * nitems, file);
  if (n == 0 && std::ferror(file)) return CURL_READFUNC_ABORT;
  return n;
}

struct Download {
  std::ofstream* out;
  Hasher* hasher;
};

std::size_t write_download(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* d = static_cast<Download*>(user);
  std::size_t n = size * nmemb;
  d->out->write(data, static_cast<std::streamsize>(n));
  if (!*d->out) return 0;  // makes curl fail with CURLE_WRITE_ERROR
  d->hasher->update(data, n);
  return n;
}

std::string unique_suffix() {
  static std::atomic<unsigned long> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

struct HttpLibrarian::Impl {
  HttpLibrarianOptions options;
  std::string basic_auth;
  std::string bearer_token;
  std::string aws_credentials;

  // Applies everything common to every request. Secrets go only into curl
  // options, never into strings that are logged.
  void prepare(EasyHandle& h, const std::string& url) const {
    curl_easy_setopt(h.curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h.curl, CURLOPT_ERRORBUFFER, h.error);
    curl_easy_setopt(h.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h.curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count() * 1000));
    curl_easy_setopt(h.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h.curl, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(options.timeout.count())));
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, &discard_body);
    if (!options.ca_file.empty()) curl_easy_setopt(h.curl, CURLOPT_CAINFO, options.ca_file.c_str());
    if (!aws_credentials.empty()) {
      curl_easy_setopt(h.curl, CURLOPT_AWS_SIGV4, options.aws_sigv4.c_str());
      curl_easy_setopt(h.curl, CURLOPT_USERPWD, aws_credentials.c_str());
    } else if (!bearer_token.empty()) {
      curl_easy_setopt(h.curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(h.curl, CURLOPT_XOAUTH2_BEARER, bearer_token.c_str());
    } else if (!basic_auth.empty()) {
      curl_easy_setopt(h.curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(h.curl, CURLOPT_USERPWD, basic_auth.c_str());
    }
  }

  // Runs the transfer; returns the HTTP status, throws on transport failure.
  long perform(EasyHandle& h, const char* method, const std::string& url) const {
    CURLcode code = curl_easy_perform(h.curl);
    if (code != CURLE_OK) {
      std::string detail = h.error[0] != '\0' ? h.error : curl_easy_strerror(code);
      throw Error(ErrorCategory::kArchive,
                  std::string("http-librarian: ") + method + " " + redact(url) + ": " + detail,
                  retryable_curl_code(code));
    }
    long status = 0;
    curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }

  [[noreturn]] void fail_status(const char* method, const std::string& url, long status) const {
    throw Error(ErrorCategory::kArchive,
                std::string("http-librarian: ") + method + " " + redact(url) + ": HTTP " +
                    std::to_string(status),
                retryable_status(status));
  }

  // HEAD: the size when the object exists, nullopt when it does not.
  std::optional<std::uint64_t> head(const std::string& url) const {
    EasyHandle h;
    prepare(h, url);
    curl_easy_setopt(h.curl, CURLOPT_NOBODY, 1L);
    long status = perform(h, "HEAD", url);
    if (status == 404 || status == 410) return std::nullopt;
    if (status < 200 || status >= 300) fail_status("HEAD", url, status);
    curl_off_t length = -1;
    curl_easy_getinfo(h.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    return length < 0 ? 0 : static_cast<std::uint64_t>(length);
  }
};

HttpLibrarianOptions http_librarian_options_from(const PluginConfig& config) {
  HttpLibrarianOptions o;
  o.base_url = config.get_string("base_url");
  o.public_base_url = config.get_string_or("public_base_url", "");
  if (config.has("ca_file")) o.ca_file = config.get_path("ca_file");
  o.basic_auth_env = config.get_string_or("basic_auth_env", "");
  o.bearer_token_env = config.get_string_or("bearer_token_env", "");
  o.aws_sigv4 = config.get_string_or("aws_sigv4", "");
  o.aws_access_key_env = config.get_string_or("aws_access_key_env", "");
  o.aws_secret_key_env = config.get_string_or("aws_secret_key_env", "");
  o.timeout = std::chrono::duration<double>(config.get_seconds("timeout"));
  o.connect_timeout = std::chrono::duration<double>(config.get_seconds("connect_timeout"));
  if (config.has("temp_dir")) o.temp_dir = config.get_path("temp_dir");
  return o;
}

HttpLibrarianOptions http_librarian_default_options(const std::string& base_url) {
  return http_librarian_options_from(
      plugin_config_from(kHttpLibrarianConfigKeys, {{"base_url", base_url}}));
}

HttpLibrarian::HttpLibrarian(HttpLibrarianOptions options) : impl_(std::make_unique<Impl>()) {
  options.base_url = strip_slashes(options.base_url);
  options.public_base_url =
      options.public_base_url.empty() ? options.base_url : strip_slashes(options.public_base_url);
  if (options.base_url.rfind("http://", 0) != 0 && options.base_url.rfind("https://", 0) != 0)
    throw Error(
        ErrorCategory::kConfig,
        "http-librarian: base_url must be http:// or https://, not " + redact(options.base_url));
  if (options.temp_dir.empty()) options.temp_dir = std::filesystem::temp_directory_path();
  if (!options.basic_auth_env.empty())
    impl_->basic_auth = env_or_throw(options.basic_auth_env, "basic_auth_env");
  if (!options.bearer_token_env.empty())
    impl_->bearer_token = env_or_throw(options.bearer_token_env, "bearer_token_env");
  if (!options.aws_sigv4.empty()) {
    if (options.aws_access_key_env.empty() || options.aws_secret_key_env.empty())
      throw Error(ErrorCategory::kConfig,
                  "http-librarian: aws_sigv4 needs aws_access_key_env and aws_secret_key_env");
    impl_->aws_credentials = env_or_throw(options.aws_access_key_env, "aws_access_key_env") + ":" +
                             env_or_throw(options.aws_secret_key_env, "aws_secret_key_env");
  }
  impl_->options = std::move(options);
}

HttpLibrarian::~HttpLibrarian() = default;

std::string HttpLibrarian::object_url(const std::string& locator) const {
  std::string hex = sha256_from_locator(locator);
  return impl_->options.base_url + "/" + hex.substr(0, 2) + "/" + hex;
}

std::string HttpLibrarian::put(const ContentDigest& digest, const std::filesystem::path& source) {
  std::string locator = sha256_locator(digest.sha256);
  std::string url = object_url(locator);
  if (auto size = impl_->head(url); size && *size == digest.size) return locator;

  std::FILE* file = std::fopen(source.c_str(), "rb");
  if (file == nullptr)
    throw Error(ErrorCategory::kArchive, "http-librarian: cannot read " + source.string());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);

  EasyHandle h;
  impl_->prepare(h, url);
  curl_easy_setopt(h.curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h.curl, CURLOPT_READFUNCTION, &read_file_chunk);
  curl_easy_setopt(h.curl, CURLOPT_READDATA, file);
  curl_easy_setopt(h.curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(digest.size));
  h.headers = curl_slist_append(h.headers, "Content-Type: application/octet-stream");
  curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, h.headers);
  long status = impl_->perform(h, "PUT", url);
  if (status < 200 || status >= 300) impl_->fail_status("PUT", url, status);
  logger("archive")->debug("http-librarian: stored {} ({} bytes)", locator, digest.size);
  return locator;
}

bool HttpLibrarian::contains(const std::string& locator) {
  return impl_->head(object_url(locator)).has_value();
}

std::unique_ptr<std::istream> HttpLibrarian::open(const std::string& locator) {
  std::string expected = sha256_from_locator(locator);
  std::string url = object_url(locator);
  std::filesystem::path temp =
      impl_->options.temp_dir / ("http-librarian-" + unique_suffix() + "-" + expected);
  struct Unlink {
    std::filesystem::path path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_at_end{temp};

  Hasher hasher(DigestAlgorithm::kSha256);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw Error(ErrorCategory::kArchive,
                  "http-librarian: cannot write the download " + temp.string(), true);
    Download download{&out, &hasher};
    EasyHandle h;
    impl_->prepare(h, url);
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, &write_download);
    curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &download);
    // A 404 body must not be mistaken for the object: check before writing.
    curl_easy_setopt(h.curl, CURLOPT_FAILONERROR, 0L);
    long status = impl_->perform(h, "GET", url);
    if (status == 404 || status == 410)
      throw Error(ErrorCategory::kArchive, "http-librarian: " + locator + " does not exist (GET " +
                                               redact(url) + ": HTTP " + std::to_string(status) +
                                               ")");
    if (status < 200 || status >= 300) impl_->fail_status("GET", url, status);
    out.flush();
    if (!out)
      throw Error(ErrorCategory::kArchive,
                  "http-librarian: cannot write the download " + temp.string(), true);
  }
  if (hasher.hex_digest() != expected)
    throw Error(ErrorCategory::kArchive,
                "http-librarian: GET " + redact(url) + ": content does not match its SHA-256",
                true);
  auto in = std::make_unique<std::ifstream>(temp, std::ios::binary);
  if (!*in)
    throw Error(ErrorCategory::kArchive, "http-librarian: cannot reopen " + temp.string(), true);
  return in;  // the file is unlinked on return; the open stream keeps its bytes
}

std::optional<std::string> HttpLibrarian::public_url(const std::string& locator) {
  std::string hex = sha256_from_locator(locator);
  return impl_->options.public_base_url + "/" + hex.substr(0, 2) + "/" + hex;
}

}  // namespace buildd
