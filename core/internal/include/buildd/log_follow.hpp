#pragma once

// Following a running build's log from successive log tails, as
// `buildd-master build log ID --follow` does.
//
// The master only ever sees the last bytes of a running build's log: each
// scan stores the slave's current tail (launchpad-buildd cannot read from an
// offset), so a follower polls the stored tail and must work out which part
// of each new tail it has not printed yet. LogFollower does that, without
// sockets or clocks, so it is tested on its own:
//
// - it prints whole lines only: a line still being written (the text after
//   the tail's last newline) is printed once its newline arrives, or by
//   finish() from the stored log;
// - a new tail's new part is what follows the longest overlap between the
//   start of the tail and the end of what was printed (a tail may begin
//   mid-line, or with one U+FFFD where the cut split a UTF-8 sequence, which
//   the master stores decoded: that one character is ignored when matching);
//   an overlap that is only the end of the last printed line counts only if
//   it is that whole line, as logs are full of lines that end alike;
// - a tail with no overlap (the log moved on by more than the tail window
//   between two polls, or started again) is printed whole after kGapMarker,
//   so a gap is shown rather than hidden, and nothing is printed twice.
//
// Limits: identical lines are indistinguishable, so a log that grows by
// lines equal to the ones already in the window cannot be told from a log
// that did not grow (the longest overlap assumes it did not); an accidental
// overlap of whole lines after a gap (an empty line) hides that gap; a log
// that grew by almost exactly one window shows a gap marker it did not need
// and the fragment of a line printed again after it.
//
// Threading: one object per follower, not shared.

#include <cstddef>
#include <string>
#include <string_view>

#include "buildd/export.hpp"

namespace buildd {

// Printed on a line of its own where lines of the log were not seen.
inline constexpr std::string_view kGapMarker = "[… lines not seen …]\n";
// Printed by finish() before the whole stored log when the printed lines
// cannot be found in it.
inline constexpr std::string_view kRestartMarker =
    "[… the stored log does not continue the lines above; the whole stored log follows …]\n";

class BUILDD_API LogFollower {
 public:
  // `keep_bytes`: how much of the printed text to remember for matching; at
  // least the largest tail seen is always kept.
  explicit LogFollower(std::size_t keep_bytes = 256 * 1024) : keep_bytes_(keep_bytes) {}

  // The text to print for a newly polled tail (possibly empty).
  std::string next(std::string_view tail);

  // Once the build has finished: the rest of `full_log` after the text
  // printed so far. The printed lines are looked for in `full_log` (which
  // must be in the tails' form, i.e. decoded as the master decodes tails) at
  // the first place that ends no earlier than the number of log bytes
  // printed. When nothing was printed, the whole log; when they cannot be
  // found (the build started again, or a gap hid where we were), the whole
  // log after kRestartMarker: lines may be printed twice then, but none is
  // lost and the marker says so.
  std::string finish(std::string_view full_log) const;

  // Log bytes printed so far (markers not counted).
  std::size_t printed_bytes() const { return printed_bytes_; }

 private:
  void remember(std::string_view text);

  std::size_t keep_bytes_;
  std::size_t largest_tail_ = 0;
  std::size_t printed_bytes_ = 0;
  std::string recent_;  // the end of the printed log text; ends with '\n' or is empty
};

}  // namespace buildd
