#include "buildd/domain.hpp"

#include <string>

namespace buildd {

std::string DistroArchRelease::display_name() const {
  return distribution + "/" + release + "/" + arch_tag;
}

std::string build_cookie(Id build_id, Id queue_id) {
  return std::to_string(build_id) + "-" + std::to_string(queue_id);
}

bool is_safe_result_filename(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name == "." || name.find("..") != std::string_view::npos) return false;
  for (unsigned char c : name) {
    if (c == '/' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace buildd
