// Fuzzes the embedded HTTP server's text handling of what a client sends:
// the request target (path and query) and the Range header, plus the
// response head built from them. Input: the target, a newline, the Range
// header value, a newline, then a body size in decimal.
//
// Oracles: a split target's path starts with '/' and holds no NUL; a
// satisfiable range lies inside the body and is not empty; its Content-Range
// names it; a response head carrying the decoded path in a header is one
// status line, one line per field and the blank line (nothing a client sent
// can split it). A broken oracle aborts (a finding).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http_request_parsing.hpp"

namespace {

using namespace buildd::http_detail;

std::string_view next_line(std::string_view& rest) {
  const std::size_t end = rest.find('\n');
  const std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view target = next_line(rest);
  const std::string_view range_header = next_line(rest);
  std::uint64_t body_size = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), body_size);

  const auto split = split_target(target);
  std::string path = "/";
  if (split) {
    FUZZ_CHECK(!split->path.empty() && split->path[0] == '/');
    FUZZ_CHECK(split->path.find('\0') == std::string::npos);
    path = split->path;
    for (const auto& [key, value] : parse_query(split->query)) FUZZ_CHECK(!key.empty());
  }
  percent_decode(target, true);

  const ByteRange range = parse_range(range_header, body_size);
  if (range.kind == ByteRange::Kind::kSatisfiable) {
    FUZZ_CHECK(range.length > 0);
    FUZZ_CHECK(range.first < body_size);
    FUZZ_CHECK(range.length <= body_size - range.first);
    const std::string expected = "bytes " + std::to_string(range.first) + "-" +
                                 std::to_string(range.first + range.length - 1) + "/" +
                                 std::to_string(body_size);
    FUZZ_CHECK(content_range(range, body_size) == expected);
  }

  const std::string head =
      format_response_head(range.kind == ByteRange::Kind::kSatisfiable ? 206 : 200,
                           {{"Content-Location", path}, {std::string(range_header), "x"}});
  std::size_t lines = 0;
  for (std::size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2))
    ++lines;
  FUZZ_CHECK(lines >= 3 && lines <= 4);  // status, one or two fields, the blank line
  FUZZ_CHECK(head.find('\n') == head.find("\r\n") + 1);
  FUZZ_CHECK(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
  for (std::size_t i = 0; i < head.size(); ++i) {
    FUZZ_CHECK(head[i] != '\0');
    if (head[i] == '\n') FUZZ_CHECK(i > 0 && head[i - 1] == '\r');
    if (head[i] == '\r') FUZZ_CHECK(i + 1 < head.size() && head[i + 1] == '\n');
  }
  return 0;
}
