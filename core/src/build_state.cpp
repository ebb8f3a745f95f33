#include "buildd/build_state.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <string>

namespace buildd {
namespace {

struct StateNames {
  std::string_view name;
  std::string_view title;
};

// Index = numeric value (launchpad-master.md §1.5). Titles of 0..4 are the
// 2005 ones the seed checks.
constexpr std::array<StateNames, kBuildStateCount> kStates = {{
    {"NEEDSBUILD", "Needs building"},
    {"FULLYBUILT", "Fully built"},
    {"FAILEDTOBUILD", "Failed to build"},
    {"MANUALDEPWAIT", "Manual dependency wait"},
    {"CHROOTWAIT", "Chroot wait"},
    {"SUPERSEDED", "Build for superseded Source"},
    {"BUILDING", "Currently building"},
    {"FAILEDTOUPLOAD", "Failed to upload"},
    {"UPLOADING", "Uploading build"},
    {"CANCELLING", "Cancelling build"},
    {"CANCELLED", "Cancelled build"},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::string_view title(BuildState state) {
  return kStates.at(static_cast<int>(state)).title;
}

std::string_view name(BuildState state) {
  return kStates.at(static_cast<int>(state)).name;
}

std::optional<BuildState> parse_build_state(std::string_view text) {
  int number = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (number >= 0 && number < kBuildStateCount) return static_cast<BuildState>(number);
    return std::nullopt;
  }
  for (int i = 0; i < kBuildStateCount; ++i) {
    if (iequals(text, kStates[i].name) || iequals(text, kStates[i].title))
      return static_cast<BuildState>(i);
  }
  return std::nullopt;
}

bool is_final(BuildState state) {
  switch (state) {
    case BuildState::kNeedsBuild:
    case BuildState::kBuilding:
    case BuildState::kCancelling:
    case BuildState::kUploading:
      return false;
    default:
      return true;
  }
}

}  // namespace buildd
