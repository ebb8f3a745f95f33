#include "http_request_parsing.hpp"

#include <cctype>
#include <limits>

namespace buildd::http_detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only, non-empty; saturates at the maximum instead of wrapping, so a
// 30-digit first byte is "beyond the end", never a small number.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t value = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
  }
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::optional<RequestTarget> split_target(std::string_view target) {
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  // Absolute form (RFC 9112 §3.2.2), which a server must accept: only the path
  // and query count, the host is this server whatever it says.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      auto slash = target.find_first_of("/?");
      if (slash == std::string_view::npos) return RequestTarget{"/", ""};
      target.remove_prefix(slash);
      if (target.front() == '?') return RequestTarget{"/", std::string(target.substr(1))};
      break;
    }
  }
  if (target.empty() || target.front() != '/') return std::nullopt;
  RequestTarget out;
  auto question = target.find('?');
  if (question != std::string_view::npos) {
    out.query = std::string(target.substr(question + 1));
    target = target.substr(0, question);
  }
  out.path = percent_decode(target, false);
  if (out.path.find('\0') != std::string::npos) return std::nullopt;
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    if (key.empty()) continue;
    std::string value =
        eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

ByteRange parse_range(std::string_view header, std::uint64_t size) {
  ByteRange none;
  header = trim(header);
  auto eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return none;
  std::string_view spec = trim(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return none;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  ByteRange unsatisfiable{ByteRange::Kind::kUnsatisfiable, 0, 0};
  if (dash == 0) {  // suffix: the last n bytes
    auto n = parse_digits(spec.substr(1));
    if (!n) return none;
    if (*n == 0 || size == 0) return unsatisfiable;
    std::uint64_t length = *n < size ? *n : size;
    return {ByteRange::Kind::kSatisfiable, size - length, length};
  }
  auto first = parse_digits(spec.substr(0, dash));
  if (!first) return none;
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (dash + 1 < spec.size()) {
    auto given = parse_digits(spec.substr(dash + 1));
    if (!given || *given < *first) return none;
    last = *given;
  }
  if (*first >= size) return unsatisfiable;
  if (last > size - 1) last = size - 1;
  return {ByteRange::Kind::kSatisfiable, *first, last - *first + 1};
}

std::string content_range(const ByteRange& range, std::uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" +
         std::to_string(range.first + range.length - 1) + "/" + std::to_string(size);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

std::string format_response_head(int status,
                                 const std::vector<std::pair<std::string, std::string>>& fields) {
  // A status outside 100..999 would not be three digits.
  if (status < 100 || status > 999) status = 500;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += reason_phrase(status);
  out += "\r\n";
  for (const auto& [name, value] : fields) {
    if (name.empty()) continue;
    bool token = true;
    for (char c : name) token = token && is_token_char(c);
    if (!token) continue;
    out += name;
    out += ": ";
    for (char c : value)
      if (c != '\r' && c != '\n' && c != '\0') out.push_back(c);
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

bool accepts_gzip(std::string_view header) {
  auto trim = [](std::string_view t) {
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    return t;
  };
  auto lower_equals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
  };
  bool gzip = false, star = false, gzip_named = false;
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    bool refused = false;  // q=0, q=0.0, q=0.000
    if (semi != std::string_view::npos) {
      std::string_view param = trim(item.substr(semi + 1));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        param.remove_prefix(2);
        refused = !param.empty() && param.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (lower_equals(coding, "gzip") || lower_equals(coding, "x-gzip")) {
      gzip_named = true;
      gzip = gzip || !refused;
    } else if (coding == "*") {
      star = !refused;
    }
  }
  return gzip || (!gzip_named && star);
}

}  // namespace buildd::http_detail
