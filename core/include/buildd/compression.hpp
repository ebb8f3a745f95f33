#pragma once

// gzip through zlib, file to file, streamed in chunks (build logs can be
// large). Throws Error(kInternal) when a file cannot be read or written, and
// Error(kArchive) when the input is not valid gzip.

#include <filesystem>
#include <istream>
#include <ostream>
#include <string>

#include "buildd/export.hpp"

namespace buildd {

BUILDD_API void gzip_file(const std::filesystem::path& source,
                          const std::filesystem::path& destination);
BUILDD_API void gunzip_file(const std::filesystem::path& source,
                            const std::filesystem::path& destination);
BUILDD_API std::string gunzip_string(const std::string& gzipped);
BUILDD_API void gunzip_stream(std::istream& gzipped, std::ostream& out);

}  // namespace buildd
