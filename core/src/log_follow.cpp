#include "buildd/log_follow.hpp"

#include <algorithm>
#include <vector>

namespace buildd {
namespace {

// U+FFFD as the master stores it in place of the bytes of a UTF-8 sequence
// that a tail's cut split (see decode_logtail).
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// KMP failure function: fail[i] is the length of the longest proper border
// of pattern[0..i].
std::vector<std::size_t> failure(std::string_view pattern) {
  std::vector<std::size_t> fail(pattern.size(), 0);
  for (std::size_t i = 1, k = 0; i < pattern.size(); ++i) {
    while (k > 0 && pattern[i] != pattern[k]) k = fail[k - 1];
    if (pattern[i] == pattern[k]) ++k;
    fail[i] = k;
  }
  return fail;
}

// The longest k such that pattern[0, k) == the last k bytes of `text`, in
// linear time (tails and logs may be long and repetitive).
std::size_t longest_overlap(std::string_view text, std::string_view pattern) {
  if (pattern.empty() || text.empty()) return 0;
  const auto fail = failure(pattern);
  // Only the last |pattern| bytes of text can take part in an overlap.
  if (text.size() > pattern.size()) text.remove_prefix(text.size() - pattern.size());
  std::size_t k = 0;
  for (char c : text) {
    while (k > 0 && (k == pattern.size() || c != pattern[k])) k = fail[k - 1];
    if (c == pattern[k]) ++k;
  }
  return k;
}

// Where the first occurrence of `pattern` in `text` that ends at or after
// `min_end` ends, or npos.
std::size_t first_match_end(std::string_view text, std::string_view pattern, std::size_t min_end) {
  if (pattern.empty()) return std::min(min_end, text.size());
  const auto fail = failure(pattern);
  std::size_t k = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    while (k > 0 && text[i] != pattern[k]) k = fail[k - 1];
    if (text[i] == pattern[k]) ++k;
    if (k == pattern.size()) {
      if (i + 1 >= min_end) return i + 1;
      k = fail[k - 1];
    }
  }
  return std::string_view::npos;
}

}  // namespace

void LogFollower::remember(std::string_view text) {
  printed_bytes_ += text.size();
  recent_.append(text);
  const std::size_t keep = std::max(keep_bytes_, largest_tail_);
  if (recent_.size() > keep) recent_.erase(0, recent_.size() - keep);
}

std::string LogFollower::next(std::string_view tail) {
  // Whole lines only: the line still being written waits for its newline.
  const std::size_t last_newline = tail.rfind('\n');
  if (last_newline == std::string_view::npos) return {};
  std::string_view complete = tail.substr(0, last_newline + 1);
  if (complete.substr(0, kReplacement.size()) == kReplacement)
    complete.remove_prefix(kReplacement.size());
  largest_tail_ = std::max(largest_tail_, complete.size());
  if (recent_.empty()) {
    remember(complete);
    return std::string(complete);
  }
  std::size_t overlap = longest_overlap(recent_, complete);
  // An overlap that is only the end of one line ("ing something\n") is too
  // weak: logs are full of lines ending alike, and a log that moved on past
  // the window would be taken for one that did not. It counts when it
  // reaches past the tail's first line, starts at a line's start, or covers
  // all that is remembered (a log still shorter than the window).
  const std::size_t first_line_end = complete.find('\n') + 1;
  const bool strong = overlap > first_line_end || overlap == recent_.size() ||
                      (overlap > 0 && recent_[recent_.size() - overlap - 1] == '\n');
  if (!strong) overlap = 0;
  if (overlap == 0) {
    // What was printed before a gap is not contiguous with what follows it:
    // only the text after the gap can be matched from now on.
    recent_.clear();
    remember(complete);
    return std::string(kGapMarker) + std::string(complete);
  }
  // recent_ ends with '\n', so the overlap ends at a line's end and the new
  // part is whole lines.
  const std::string_view fresh = complete.substr(overlap);
  remember(fresh);
  return std::string(fresh);
}

std::string LogFollower::finish(std::string_view full_log) const {
  if (printed_bytes_ == 0) return std::string(full_log);
  const std::size_t end = first_match_end(full_log, recent_, printed_bytes_);
  if (end == std::string_view::npos) return std::string(kRestartMarker) + std::string(full_log);
  return std::string(full_log.substr(end));
}

}  // namespace buildd
