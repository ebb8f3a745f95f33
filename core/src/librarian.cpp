#include "buildd/librarian.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "buildd/compression.hpp"
#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/logging.hpp"

namespace buildd {
namespace {

void copy_stream(std::istream& in, ByteSink& sink, const std::string& what) {
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    if (in.gcount() > 0) sink.write(buffer, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(ErrorCategory::kInternal, "cannot read " + what);
}

}  // namespace

Librarian::Librarian(BuildStore& store, LogArchive& archive, std::filesystem::path temp_dir,
                     std::string files_base_url)
    : store_(store),
      archive_(archive),
      temp_dir_(std::move(temp_dir)),
      files_base_url_(std::move(files_base_url)) {
  std::filesystem::create_directories(temp_dir_);
  while (!files_base_url_.empty() && files_base_url_.back() == '/') files_base_url_.pop_back();
  if (const std::size_t removed = remove_dead_temp_files(temp_dir_)) {
    logger("librarian")
        ->info("removed {} temporary file(s) left by processes that died in {}", removed,
               temp_dir_.string());
  }
}

std::size_t Librarian::remove_dead_temp_files(const std::filesystem::path& dir) {
  // temp_path() names files "tmp-<pid>-<n>-<hint>": a file whose process is
  // gone (killed in the middle of a download) is nobody's any more.
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("tmp-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 4, nullptr, 10);
    if (pid <= 1 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    if (std::filesystem::remove(entry.path(), rm)) ++removed;
  }
  return removed;
}

std::filesystem::path Librarian::temp_path(std::string_view hint) {
  return temp_path_in(temp_dir_, hint);
}

std::filesystem::path Librarian::temp_path_in(const std::filesystem::path& dir,
                                              std::string_view hint) {
  static std::atomic<unsigned long> counter{0};
  return dir / ("tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" +
                std::string(hint));
}

LibraryFile Librarian::put_in_archive(const std::filesystem::path& content,
                                      const ContentDigest& digest, bool adoptable,
                                      const std::string& filename, const std::string& mime) {
  // Identical content is stored once; a new name for it still gets its own
  // record only when the name differs (a record is a name for content, and
  // shares the bytes already archived).
  auto existing = store_.find_library_file_by_sha256(digest.sha256);
  if (existing && existing->filename == filename) return *existing;
  std::string locator = existing    ? existing->locator
                        : adoptable ? archive_.adopt(digest, content)
                                    : archive_.put(digest, content);
  // A plugin's bug is reported at the boundary, not recorded as a file
  // that can never be read back.
  if (locator.empty())
    throw Error(ErrorCategory::kPlugin, std::string("the log archive plugin's ") +
                                            (adoptable ? "adopt()" : "put()") +
                                            " returned no locator for " + filename);
  LibraryFile file;
  file.filename = filename;
  file.size = digest.size;
  file.sha1 = digest.sha1;
  file.sha256 = digest.sha256;
  file.mime = mime;
  file.locator = locator;
  file.created = Clock::now();
  return file;
}

LibraryFile Librarian::recorded(LibraryFile file) {
  return file.id != 0 ? file : store_.add_library_file(file);
}

LibraryFile Librarian::store_streamed(const std::string& filename, const std::string& mime,
                                      ContentWriter::Encoding encoding,
                                      const std::function<void(ByteSink&)>& produce) {
  return recorded(archive_streamed(filename, mime, encoding, produce));
}

LibraryFile Librarian::archive_streamed(const std::string& filename, const std::string& mime,
                                        ContentWriter::Encoding encoding,
                                        const std::function<void(ByteSink&)>& produce) {
  const std::filesystem::path dir = archive_.staging_dir().value_or(temp_dir_);
  ContentWriter writer(temp_path_in(dir, "stream"), encoding);
  produce(writer);
  const ContentDigest digest = writer.finish();
  return put_in_archive(writer.path(), digest, true, filename, mime);
}

LibraryFile Librarian::store_file(const std::filesystem::path& source, const std::string& filename,
                                  const std::string& mime) {
  return recorded(put_in_archive(source, digest_file(source), false, filename, mime));
}

LibraryFile Librarian::store_bytes(std::string_view bytes, const std::string& filename,
                                   const std::string& mime) {
  return store_streamed(filename, mime, ContentWriter::Encoding::kAsIs,
                        [&](ByteSink& sink) { sink.write(bytes.data(), bytes.size()); });
}

LibraryFile Librarian::store_stream(std::istream& in, const std::string& filename,
                                    const std::string& mime) {
  return store_streamed(filename, mime, ContentWriter::Encoding::kAsIs,
                        [&](ByteSink& sink) { copy_stream(in, sink, "the input"); });
}

LibraryFile Librarian::store_gzipped(const std::filesystem::path& source,
                                     const std::string& filename) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw Error(ErrorCategory::kInternal, "cannot read " + source.string());
  return store_streamed(filename, "application/gzip", ContentWriter::Encoding::kGzip,
                        [&](ByteSink& sink) { copy_stream(in, sink, source.string()); });
}

std::string Librarian::url_for(const LibraryFile& file) {
  if (auto url = archive_.public_url(file.locator)) return *url;
  return files_base_url_ + "/+files/" + std::to_string(file.id) + "/" + file.filename;
}

std::unique_ptr<std::istream> Librarian::open(const LibraryFile& file) {
  std::unique_ptr<std::istream> in = archive_.open(file.locator);
  if (!in)
    throw Error(ErrorCategory::kPlugin, "the log archive plugin's open() returned no stream for " +
                                            file.filename + " (" + file.locator + ")");
  return in;
}

std::optional<LibraryFile> Librarian::find_by_sha256(const std::string& sha256) {
  return store_.find_library_file_by_sha256(sha256);
}

}  // namespace buildd
