// Fuzzes the names of result files a slave reports (its filemap): the
// safety check and what the scan decides for a WAITING OK reply carrying
// them, plus the text clean-up applied to every slave text stored or shown
// (decode_logtail, capped_slave_text). The input is one name per line.
//
// Oracles: a name judged safe stays one plain component inside the folder it
// is joined to; an OK with any unsafe name fetches nothing and fails the build,
// otherwise every file is fetched; cleaned texts are valid UTF-8 without NUL,
// and cleaning is idempotent. A broken oracle aborts (a finding).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "buildd/domain.hpp"
#include "buildd/pipeline/decisions.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace buildd;

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      len = 1, cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

void check_clean_text(std::string_view raw) {
  const std::string text = decode_logtail(raw);
  FUZZ_CHECK(is_valid_utf8(text));
  FUZZ_CHECK(text.find('\0') == std::string::npos);
  FUZZ_CHECK(decode_logtail(text) == text);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{200}}) {
    const std::string capped = capped_slave_text(raw, cap);
    FUZZ_CHECK(is_valid_utf8(capped));
    FUZZ_CHECK(capped.find('\0') == std::string::npos);
  }
}

void check_name(const std::string& name) {
  if (!is_safe_result_filename(name)) return;
  FUZZ_CHECK(!name.empty() && name.size() <= 255);
  FUZZ_CHECK(name.find('\0') == std::string::npos);
  const std::filesystem::path folder = "/srv/results";
  const std::filesystem::path joined = folder / name;
  FUZZ_CHECK(joined.parent_path() == folder);
  FUZZ_CHECK(joined.filename() == std::filesystem::path(name));
  FUZZ_CHECK(joined.lexically_normal().parent_path() == folder);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_clean_text(input);

  JobView job;
  job.build_id = 5;
  job.queue_id = 12;
  SlaveStatus status;
  status.state = BuilderState::kWaiting;
  status.state_text = "BuilderStatus.WAITING";
  status.result = BuildResult::kOk;
  status.result_text = "BuildStatus.OK";
  status.build_id = job.cookie();
  bool all_safe = true;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string name(input.substr(start, end - start));
    check_name(name);
    all_safe = all_safe && is_safe_result_filename(name);
    status.filemap.emplace(name, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    start = end + 1;
  }

  const MasterSettings settings;
  const ScanDecision decision = decide_scan(job, status, settings, TimePoint{});
  FUZZ_CHECK(decision.action == ScanAction::kCollect);
  if (all_safe) {
    FUZZ_CHECK(decision.new_state == BuildState::kFullyBuilt);
    FUZZ_CHECK(decision.files.size() == status.filemap.size());
  } else {
    FUZZ_CHECK(decision.new_state == BuildState::kFailedToBuild);
    FUZZ_CHECK(decision.files.empty());
    FUZZ_CHECK(!decision.note.empty());
    // The note is stored as the build's text and shown: clean and small.
    FUZZ_CHECK(is_valid_utf8(decision.note));
    FUZZ_CHECK(decision.note.size() < 2000);  // 500 bytes quoted, each up to 3 once made UTF-8
  }
  for (const auto& [name, sha1] : decision.files) FUZZ_CHECK(is_safe_result_filename(name));
  return 0;
}
