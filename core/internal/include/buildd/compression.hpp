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

// zlib's level for build logs (gzip_file and ContentWriter). Measured on a
// 436 KB log of compiler and dpkg output: level 9 compresses at 35 MB/s to
// 11.4%, level 6 at 66 MB/s to 11.6%, level 1 at 136 MB/s to 14.2%. Logs are
// kept for good, so 6: nearly twice as fast as 9 for 2% more bytes, where 1
// would store 22% more.
inline constexpr int kGzipLevel = 6;
// zlib's windowBits for a gzip (not zlib) stream: 15 plus the "gzip header" flag.
inline constexpr int kGzipWindowBits = 15 + 16;

BUILDD_API void gzip_file(const std::filesystem::path& source,
                          const std::filesystem::path& destination);
BUILDD_API void gunzip_file(const std::filesystem::path& source,
                            const std::filesystem::path& destination);
BUILDD_API std::string gunzip_string(const std::string& gzipped);
BUILDD_API void gunzip_stream(std::istream& gzipped, std::ostream& out);

}  // namespace buildd
