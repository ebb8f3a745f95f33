#pragma once

// Bytes streamed into a file, hashed and (optionally) gzipped on the way: the
// one pass the librarian makes over a file downloaded from a slave. The slave
// transport writes each chunk it receives into a ByteSink; the librarian's
// ContentWriter compresses it, hashes what it writes (SHA-1 and SHA-256 of
// the stored bytes) and writes it once, into the archive's staging folder,
// from where the archive publishes it with a rename. Nothing is read back.
//
// Threading: one writer per transfer; a writer is not shared between threads.
// Ownership: the writer owns its file, and removes it when destroyed (a
// failed transfer, or content the archive already had) unless keep() gave it
// to the caller or the archive moved it away.
// Errors: Error(kArchive, retryable) when the file cannot be created or
// written (disk full, permissions); write() throws it, and the transport
// passes it on, ending the transfer.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "buildd/export.hpp"
#include "buildd/log_archive.hpp"

namespace buildd {

class BUILDD_API ByteSink {
 public:
  virtual ~ByteSink();
  virtual void write(const char* data, std::size_t size) = 0;
};

class BUILDD_API ContentWriter : public ByteSink {
 public:
  enum class Encoding { kAsIs, kGzip };

  // Creates `path` (it must not exist).
  ContentWriter(std::filesystem::path path, Encoding encoding);
  ~ContentWriter() override;
  ContentWriter(const ContentWriter&) = delete;
  ContentWriter& operator=(const ContentWriter&) = delete;

  void write(const char* data, std::size_t size) override;
  // Ends the gzip stream and closes the file: the digest and size of the
  // bytes in the file (after compression).
  ContentDigest finish();
  // After finish(): the file stays when the writer goes (the caller owns it).
  void keep();

  const std::filesystem::path& path() const;
  std::uint64_t bytes_in() const;  // as written to the sink, before compression

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace buildd
