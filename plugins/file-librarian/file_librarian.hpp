#pragma once

// file-librarian: the embedded default LogArchive, a content-addressed folder.
//
// Layout: <root>/<sha256[0:2]>/<sha256>; the locator is "sha256/<hex>".
// put() writes a temp file (<root>/tmp/tmp-<pid>-<n>-<hex>), fsyncs it,
// renames it into place and fsyncs the folder, so a reader never sees a
// partial object; an object already present is not rewritten. adopt() does
// the same with a file the librarian streamed into <root>/tmp (staging_dir),
// without the copy. The temp files
// of processes that died mid-put are removed when the archive opens (only
// <root>/tmp is read: a big archive costs nothing more).
// public_url() is nullopt: slaves cannot reach this folder, so the master
// serves the bytes itself (GET /+files/<id>/<filename>).
//
// Threading: every method may be called from many threads at once; concurrent
// puts of the same content each write their own temp file and the renames
// publish identical bytes.
// Errors: Error(kArchive). Retryable: the folder cannot be created or written
// (read-only, permissions, disk full, quota). Not retryable: a malformed
// locator, an object that does not exist, a digest that is not 64 hex digits.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "buildd/log_archive.hpp"

namespace buildd {

class FileLibrarian : public LogArchive {
 public:
  // Creates `root` if needed (lazily: a root that cannot be created yet makes
  // put() fail retryably, not the constructor).
  explicit FileLibrarian(std::filesystem::path root);

  std::string put(const ContentDigest& digest, const std::filesystem::path& source) override;
  // <root>/tmp: what the librarian streams there, adopt() publishes by rename.
  std::optional<std::filesystem::path> staging_dir() override;
  std::string adopt(const ContentDigest& digest, const std::filesystem::path& source) override;
  bool contains(const std::string& locator) override;
  std::unique_ptr<std::istream> open(const std::string& locator) override;
  std::optional<std::string> public_url(const std::string& locator) override;

  // Where the object of `locator` lives (throws kArchive for a bad locator).
  std::filesystem::path object_path(const std::string& locator) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  // Where the object of `digest` goes, its folder created; nullopt when it
  // is already there (put and adopt then write nothing).
  std::optional<std::filesystem::path> target_to_write(const ContentDigest& digest);

  std::filesystem::path root_;
};

}  // namespace buildd
