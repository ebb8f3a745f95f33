#include "file_librarian.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "buildd/error.hpp"
#include "buildd/librarian.hpp"
#include "buildd/logging.hpp"

namespace buildd {
namespace {

// Write-side failures are the archive's condition (read-only, full, quota),
// not the request's: the caller can retry once an operator fixed it.
[[noreturn]] void throw_write_error(const std::string& what, const std::filesystem::path& path,
                                    int err) {
  throw Error(ErrorCategory::kArchive,
              "file-librarian: " + what + " " + path.string() + ": " + std::strerror(err), true);
}

// Closes a descriptor and removes the temp file unless it was published.
struct TempObject {
  std::filesystem::path path;
  int fd = -1;
  bool published = false;
  ~TempObject() {
    if (fd >= 0) ::close(fd);
    if (!published) ::unlink(path.c_str());
  }
};

// Closes the temp file (when open), makes its bytes durable, renames it to
// `target` and makes the rename durable: the object is whole and on disk
// before its record is committed, and no crash leaves a name on bytes never
// written.
void publish(TempObject& tmp, const std::filesystem::path& target, GroupedSync& durable) {
  if (tmp.fd >= 0 && ::close(std::exchange(tmp.fd, -1)) != 0)
    throw_write_error("cannot close", tmp.path, errno);
  durable.sync(tmp.path);
  if (::rename(tmp.path.c_str(), target.c_str()) != 0)
    throw_write_error("cannot publish", target, errno);
  tmp.published = true;
  durable.sync(target);
}

std::string unique_suffix() {
  static std::atomic<unsigned long> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

FileLibrarian::FileLibrarian(std::filesystem::path root)
    : root_(std::move(root)), durable_([this] { return sync_file_system(); }) {
  std::error_code ec;
  std::filesystem::create_directories(root_ / "tmp", ec);
  // Opened now, so that a write-back error of any file written from here on
  // is reported to a sync (the kernel reports it to descriptors opened
  // before it happened).
  root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (const std::size_t removed = Librarian::remove_dead_temp_files(root_ / "tmp")) {
    logger("archive")->info("removed {} temporary file(s) left by processes that died in {}",
                            removed, (root_ / "tmp").string());
  }
}

FileLibrarian::~FileLibrarian() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

int FileLibrarian::sync_file_system() {
  // Runs on one thread at a time (GroupedSync's leader).
  if (root_fd_ < 0) root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) return errno;
  return ::syncfs(root_fd_) == 0 ? 0 : errno;
}

std::filesystem::path FileLibrarian::object_path(const std::string& locator) const {
  std::string hex = sha256_from_locator(locator);
  return root_ / hex.substr(0, 2) / hex;
}

std::optional<std::filesystem::path> FileLibrarian::target_to_write(const ContentDigest& digest) {
  std::filesystem::path target = object_path(sha256_locator(digest.sha256));
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == digest.size)
    return std::nullopt;
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) throw_write_error("cannot create", target.parent_path(), ec.value());
  return target;
}

std::string FileLibrarian::put(const ContentDigest& digest, const std::filesystem::path& source) {
  std::string locator = sha256_locator(digest.sha256);
  const std::optional<std::filesystem::path> target = target_to_write(digest);
  if (!target) return locator;

  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0)
    throw Error(ErrorCategory::kArchive,
                "file-librarian: cannot read " + source.string() + ": " + std::strerror(errno));
  // Same file system as the object (one rename publishes it), but one folder
  // for all, so the leftovers of a killed process are found without a walk.
  TempObject tmp{*staging_dir() / ("tmp-" + unique_suffix() + "-" + digest.sha256)};
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (tmp.fd < 0) {
    int err = errno;
    ::close(in);
    throw_write_error("cannot create", tmp.path, err);
  }

  std::uint64_t copied = 0;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(in);
      throw Error(ErrorCategory::kArchive,
                  "file-librarian: cannot read " + source.string() + ": " + std::strerror(err));
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(tmp.fd, buffer + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int err = errno;
        ::close(in);
        throw_write_error("cannot write", tmp.path, err);
      }
      off += w;
    }
    copied += static_cast<std::uint64_t>(n);
  }
  ::close(in);
  if (copied != digest.size)
    throw Error(ErrorCategory::kArchive, "file-librarian: " + source.string() + " has " +
                                             std::to_string(copied) + " bytes, the digest says " +
                                             std::to_string(digest.size));
  publish(tmp, *target, durable_);
  return locator;
}

std::optional<std::filesystem::path> FileLibrarian::staging_dir() {
  std::error_code ec;
  std::filesystem::create_directories(root_ / "tmp", ec);
  return root_ / "tmp";
}

std::string FileLibrarian::adopt(const ContentDigest& digest, const std::filesystem::path& source) {
  if (source.parent_path() != root_ / "tmp") return put(digest, source);
  std::string locator = sha256_locator(digest.sha256);
  const std::optional<std::filesystem::path> target = target_to_write(digest);
  if (!target) return locator;
  TempObject tmp{source};
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) throw_write_error("cannot read", source, errno);
  if (static_cast<std::uint64_t>(st.st_size) != digest.size)
    throw Error(ErrorCategory::kArchive, "file-librarian: " + source.string() +
                                             " does not have the digest's " +
                                             std::to_string(digest.size) + " bytes");
  publish(tmp, *target, durable_);
  return locator;
}

bool FileLibrarian::contains(const std::string& locator) {
  std::error_code ec;
  return std::filesystem::is_regular_file(object_path(locator), ec);
}

std::unique_ptr<std::istream> FileLibrarian::open(const std::string& locator) {
  auto path = object_path(locator);
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) {
    // Present but unreadable is the archive's condition (permissions, I/O);
    // absent is the caller's mistake.
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    throw Error(ErrorCategory::kArchive,
                "file-librarian: " + locator + (exists ? " cannot be read" : " does not exist"),
                exists);
  }
  return in;
}

std::optional<std::string> FileLibrarian::public_url(const std::string&) {
  return std::nullopt;
}

}  // namespace buildd
