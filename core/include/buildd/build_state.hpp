#pragma once

#include <optional>
#include <string_view>

#include "buildd/export.hpp"

namespace buildd {

// The state of a build, with Launchpad's numeric values (they are what the
// database stores and what `--format json` prints as `state_value`).
enum class BuildState : int {
  kNeedsBuild = 0,
  kFullyBuilt = 1,
  kFailedToBuild = 2,
  kManualDepWait = 3,
  kChrootWait = 4,
  kSuperseded = 5,
  kBuilding = 6,
  kFailedToUpload = 7,
  kUploading = 8,
  kCancelling = 9,
  kCancelled = 10,
};

inline constexpr int kBuildStateCount = 11;

// The human title. States 0..4 carry the seed's 2005 titles ('Fully built',
// 'Manual dependency wait', 'Chroot wait'); the later states carry Launchpad's.
BUILDD_API std::string_view title(BuildState state);

// The enum name as Launchpad spells it ("FULLYBUILT"); it is part of the
// build-log file name.
BUILDD_API std::string_view name(BuildState state);

// Accepts a name ("FULLYBUILT", any case), a title ("Fully built") or a
// number ("1"). nullopt when none matches.
BUILDD_API std::optional<BuildState> parse_build_state(std::string_view text);

// True for the states a build stays in until someone retries it.
BUILDD_API bool is_final(BuildState state);

}  // namespace buildd
