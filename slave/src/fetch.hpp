#pragma once

// The download behind ensurepresent: one blocking HTTP(S) GET with libcurl.
// Thread-safe (one easy handle per call). Never throws for network or HTTP
// errors: they come back as text shaped like the real slave's Python
// exception texts, e.g. "HTTP Error 404: Not Found".

#include <filesystem>
#include <string>

namespace buildd::slave {

struct FetchResult {
  bool ok = false;
  std::string error;
};

// Writes the body to `destination` (truncating it). Basic authentication is
// sent pre-emptively when username or password is non-empty.
FetchResult fetch_to_file(const std::string& url, const std::string& username,
                          const std::string& password, const std::filesystem::path& destination);

}  // namespace buildd::slave
