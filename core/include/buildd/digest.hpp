#pragma once

// SHA-1 and SHA-256 (OpenSSL's EVP), fed incrementally so that files of any
// size are digested while they stream. SHA-1 is the key of a slave's file
// cache (protocol.md); SHA-256 is the key of the archive.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "buildd/export.hpp"
#include "buildd/log_archive.hpp"

namespace buildd {

enum class DigestAlgorithm { kSha1, kSha256 };

class BUILDD_API Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string hex_digest();  // lowercase hex; the hasher is finished after this

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

BUILDD_API std::string sha1_hex(std::string_view data);
BUILDD_API std::string sha256_hex(std::string_view data);

// SHA-1, SHA-256 and size of a file, read in chunks. Throws Error(kArchive)
// when it cannot be read.
BUILDD_API ContentDigest digest_file(const std::filesystem::path& path);

// True for 40 lowercase hex digits.
BUILDD_API bool is_sha1_hex(std::string_view text);

}  // namespace buildd
