#pragma once

// The pure text handling of the embedded HTTP server: request targets,
// percent-decoding, query strings, Range headers and response heads. No
// sockets, no allocation beyond the strings returned, no exceptions for any
// input (they see bytes from the network): a fuzz harness targets them
// directly, and tests/core/http_request_parsing_test.cpp pins their rules.
// Not part of the core's ABI (hidden symbols); users compile this file in.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildd::http_detail {

// %XX decoded (either case of hex digits); a '%' not followed by two hex
// digits stays as it is. With `plus_is_space` ('+' in a query) '+' becomes ' '.
std::string percent_decode(std::string_view text, bool plus_is_space);

struct RequestTarget {
  std::string path;   // decoded, starts with '/'
  std::string query;  // raw, without the '?'
};

// Splits a request-target (origin form "/p?q", or absolute form
// "http://host/p?q", whose scheme and authority are dropped) into its
// decoded path and raw query; a fragment is dropped. nullopt for anything
// else ("*", authority form, empty) and for a path that decodes to a NUL
// byte: the server answers those 400.
std::optional<RequestTarget> split_target(std::string_view target);

// "a=1&b=x+y&c" → {a:1, b:"x y", c:""}; keys and values percent-decoded with
// '+' as space; the first of repeated keys wins; empty keys are dropped.
std::map<std::string, std::string> parse_query(std::string_view query);

// One Range header against a body of `size` bytes (RFC 9110 §14):
// kNone: no usable range, answer the whole body with 200 (no header, another
//   unit than bytes, a syntax error, or several ranges: the server may ignore
//   Range, and a single-range server does so rather than refuse);
// kSatisfiable: answer 206 with bytes [first, first + length);
// kUnsatisfiable: answer 416 with "Content-Range: bytes */size".
struct ByteRange {
  enum class Kind { kNone, kSatisfiable, kUnsatisfiable };
  Kind kind = Kind::kNone;
  std::uint64_t first = 0;
  std::uint64_t length = 0;
};
ByteRange parse_range(std::string_view header, std::uint64_t size);

// True when an Accept-Encoding header value accepts gzip: a "gzip",
// "x-gzip" or "*" coding without "q=0" (RFC 9110 §12.5.3). Missing or empty:
// false (identity only).
bool accepts_gzip(std::string_view accept_encoding);

// "bytes 5-9/20" for a satisfiable range.
std::string content_range(const ByteRange& range, std::uint64_t size);

// The reason phrase of a status code ("Not Found"); "Unknown" for codes
// without one.
std::string_view reason_phrase(int status);

// "HTTP/1.1 <status> <reason>\r\n" then each field as "name: value\r\n" and
// the blank line. Names that are not HTTP tokens are dropped, and CR, LF and
// NUL are removed from values, so that a handler's header (which may carry a
// file name or a builder's text) can never split the response.
std::string format_response_head(int status,
                                 const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace buildd::http_detail
