#include "fetch.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <memory>
#include <string_view>

namespace buildd::slave {
namespace {

struct Transfer {
  std::FILE* out = nullptr;
  std::string reason;  // reason phrase of the last status line
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  return std::fwrite(data, size, count, transfer->out) * size;
}

// Keeps the reason phrase ("Not Found"), which libcurl does not expose, so
// the error text reads like urllib's "HTTP Error 404: Not Found".
size_t read_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    auto first = line.find(' ');
    auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    transfer->reason.clear();
    if (second != std::string_view::npos) {
      auto reason = line.substr(second + 1);
      while (!reason.empty() && (reason.back() == '\r' || reason.back() == '\n')) {
        reason.remove_suffix(1);
      }
      transfer->reason = std::string(reason);
    }
  }
  return size * count;
}

}  // namespace

FetchResult fetch_to_file(const std::string& url, const std::string& username,
                          const std::string& password, const std::filesystem::path& destination) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return {false, "<urlopen error cannot initialise libcurl>"};
  std::unique_ptr<std::FILE, decltype(&std::fclose)> out(std::fopen(destination.c_str(), "wb"),
                                                         std::fclose);
  if (!out) return {false, "[Errno 13] cannot write " + destination.string()};
  Transfer transfer{out.get(), {}};
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
  if (!username.empty() || !password.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
  }
  CURLcode code = curl_easy_perform(h);
  if (std::fflush(out.get()) != 0) return {false, "[Errno 28] cannot write the download"};
  if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT) {
    return {false, "unknown url type: '" + url + "'"};
  }
  if (code != CURLE_OK) {
    std::string text = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return {false, "<urlopen error " + text + ">"};
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) {
    return {false, "HTTP Error " + std::to_string(status) + ": " + transfer.reason};
  }
  return {true, {}};
}

}  // namespace buildd::slave
