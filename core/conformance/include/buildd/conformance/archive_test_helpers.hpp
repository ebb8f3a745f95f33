#pragma once

// Helpers for tests that move large files: generated content, streamed
// digests and the process's peak memory.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "buildd/digest.hpp"

namespace buildd::test {

// A process's resident-set high-water mark in KiB (VmHWM), after resetting it
// to the current RSS when `reset` (writing 5 to clear_refs).
inline std::uint64_t peak_rss_kib(bool reset = false) {
  if (reset) {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
  }
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// `size` bytes of deterministic pseudo-random content, written in chunks.
inline void write_pseudo_random_file(const std::filesystem::path& path, std::uint64_t size,
                                     std::uint64_t seed = 42) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> chunk(128 * 1024);  // 1 MiB
  std::uint64_t x = seed | 1;
  for (std::uint64_t written = 0; written < size;) {
    for (auto& word : chunk) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      word = x;
    }
    auto n = std::min<std::uint64_t>(size - written, chunk.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n));
    written += n;
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// SHA-256 and size of a stream, read in chunks.
inline std::pair<std::string, std::uint64_t> digest_stream(std::istream& in) {
  Hasher hasher(DigestAlgorithm::kSha256);
  std::vector<char> buffer(1 << 16);
  std::uint64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto n = static_cast<std::size_t>(in.gcount());
    hasher.update(buffer.data(), n);
    size += n;
  }
  return {hasher.hex_digest(), size};
}

}  // namespace buildd::test
