#pragma once

// A file path that is removed when the object goes out of scope, whatever
// happened: the temporary downloads and gzipped logs of the librarian and the
// pipeline never outlive the call that made them.

#include <filesystem>
#include <system_error>

namespace buildd {

struct ScopedFile {
  std::filesystem::path path;
  ScopedFile() = default;
  explicit ScopedFile(std::filesystem::path p) : path(std::move(p)) {}
  ScopedFile(const ScopedFile&) = delete;
  ScopedFile& operator=(const ScopedFile&) = delete;
  ~ScopedFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

}  // namespace buildd
