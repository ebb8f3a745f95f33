#pragma once

// The librarian: stores files (bytes in the LogArchive plugin, records in the
// BuildStore's library_file table) and tells slaves where to download them.
// Identical content (same SHA-256) is stored and recorded once.
//
// Threading: thread-safe (temp files have unique names; store and archive are
// thread-safe by contract).
// Errors: Error(kArchive) from the archive — retryable when the archive is down
// or refuses — and Error(kStore) from the store. A failed store leaves no
// record; bytes put before a failed record are harmless (content-addressed).

#include <filesystem>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "buildd/build_store.hpp"
#include "buildd/content_writer.hpp"
#include "buildd/domain.hpp"
#include "buildd/export.hpp"
#include "buildd/log_archive.hpp"

namespace buildd {

class BUILDD_API Librarian {
 public:
  // `temp_dir` holds files being digested before they are put (those left
  // by processes that died are removed here); `files_base_url` is the
  // master's HTTP server ("http://host:port") used for URLs when the archive
  // has no public URL of its own.
  Librarian(BuildStore& store, LogArchive& archive, std::filesystem::path temp_dir,
            std::string files_base_url);

  // Stores what `produce` writes into the sink (a download from a slave, as
  // it arrives): compressed when `encoding` says so, hashed and written in
  // the same pass into the archive's staging folder, then published by the
  // archive (a rename where it can). An error from `produce` stores nothing.
  LibraryFile store_streamed(const std::string& filename, const std::string& mime,
                             ContentWriter::Encoding encoding,
                             const std::function<void(ByteSink&)>& produce);
  // As store_streamed, but the record is left to the caller: the file comes
  // back with id 0, for a BuildCompletion to record in the completion's own
  // transaction. When an identical record (same content, same name) exists
  // already, that one comes back, with its id.
  LibraryFile archive_streamed(const std::string& filename, const std::string& mime,
                               ContentWriter::Encoding encoding,
                               const std::function<void(ByteSink&)>& produce);
  // Stores a copy of the local file `source` (left as it is).
  LibraryFile store_file(const std::filesystem::path& source, const std::string& filename,
                         const std::string& mime);
  LibraryFile store_bytes(std::string_view bytes, const std::string& filename,
                          const std::string& mime);
  LibraryFile store_stream(std::istream& in, const std::string& filename, const std::string& mime);
  // gzips `source` and stores the result under `filename` (which should end
  // in .gz) as application/gzip.
  LibraryFile store_gzipped(const std::filesystem::path& source, const std::string& filename);

  // Where a slave GETs the file: the archive's own URL, or
  // <files_base_url>/+files/<id>/<filename>.
  std::string url_for(const LibraryFile& file);
  std::unique_ptr<std::istream> open(const LibraryFile& file);
  std::optional<LibraryFile> find_by_sha256(const std::string& sha256);

  // A fresh unique path inside temp_dir (not created).
  std::filesystem::path temp_path(std::string_view hint);
  static std::filesystem::path temp_path_in(const std::filesystem::path& dir,
                                            std::string_view hint);
  // Removes the temp_path() files of processes no longer running; returns
  // how many.
  static std::size_t remove_dead_temp_files(const std::filesystem::path& dir);

  BuildStore& store() { return store_; }
  LogArchive& archive() { return archive_; }

 private:
  // Puts `content`, whose digest is known, into the archive unless it is
  // there already; `adoptable`: the archive may move the file into place.
  // Returns the existing record of the same content and name, or the new
  // file unrecorded (id 0).
  LibraryFile put_in_archive(const std::filesystem::path& content, const ContentDigest& digest,
                             bool adoptable, const std::string& filename, const std::string& mime);
  // The file with its record in the store, made now when it has none (id 0).
  LibraryFile recorded(LibraryFile file);

  BuildStore& store_;
  LogArchive& archive_;
  std::filesystem::path temp_dir_;
  std::string files_base_url_;
};

}  // namespace buildd
