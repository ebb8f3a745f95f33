#pragma once

// file-librarian: the embedded default LogArchive, a content-addressed folder.
//
// Layout: <root>/<sha256[0:2]>/<sha256>; the locator is "sha256/<hex>".
// put() writes a temp file (<root>/tmp/tmp-<pid>-<n>-<hex>), makes it
// durable, renames it into place and makes the rename durable, so a reader
// never sees a partial object, and put() returns only once the object would
// survive a crash; an object already present is not rewritten. Puts that
// run at the same time share their syncs (one syncfs() of the archive's file
// system for all of them: grouped_sync.hpp), so the root is best on a file
// system that heavy unrelated writers do not share. adopt() does
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
#include "grouped_sync.hpp"

namespace buildd {

class FileLibrarian : public LogArchive {
 public:
  // Creates `root` if needed (lazily: a root that cannot be created yet makes
  // put() fail retryably, not the constructor).
  explicit FileLibrarian(std::filesystem::path root);
  ~FileLibrarian() override;
  FileLibrarian(const FileLibrarian&) = delete;
  FileLibrarian& operator=(const FileLibrarian&) = delete;

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
  // How many syncs of the file system the archive made (fewer than files
  // published when puts ran at the same time).
  std::uint64_t syncs() const { return durable_.syncs(); }

 private:
  // Where the object of `digest` goes, its folder created; nullopt when it
  // is already there (put and adopt then write nothing).
  std::optional<std::filesystem::path> target_to_write(const ContentDigest& digest);

  // syncfs() of the root's file system; 0 or an errno.
  int sync_file_system();

  std::filesystem::path root_;
  int root_fd_ = -1;  // the root, for syncfs(); opened when the root exists
  GroupedSync durable_;
};

}  // namespace buildd
