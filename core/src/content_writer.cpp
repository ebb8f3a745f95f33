#include "buildd/content_writer.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "buildd/compression.hpp"
#include "buildd/digest.hpp"
#include "buildd/error.hpp"

namespace buildd {

ByteSink::~ByteSink() = default;

namespace {

// A deflate state lives at one address: zlib's internal state points back
// at its z_stream.
struct DeflaterEnd {
  void operator()(z_stream* zs) const {
    deflateEnd(zs);
    delete zs;
  }
};
using Deflater = std::unique_ptr<z_stream, DeflaterEnd>;

// Deflate states kept between archived files (at most kSpareDeflaters, for
// the collections running at once). Setting one up allocates about 256 KiB,
// which glibc hands back to the system after each small log and faults in
// again for the next; deflateReset() only clears it.
constexpr std::size_t kSpareDeflaters = 8;
std::mutex spare_deflaters_mutex;
std::vector<Deflater> spare_deflaters;

// A state set up for a new gzip member: a spare one if there is one.
Deflater deflate_begin() {
  Deflater zs;
  {
    std::lock_guard lock(spare_deflaters_mutex);
    if (!spare_deflaters.empty()) {
      zs = std::move(spare_deflaters.back());
      spare_deflaters.pop_back();
    }
  }
  if (zs && deflateReset(zs.get()) == Z_OK) return zs;
  auto* fresh = new z_stream{};
  if (deflateInit2(fresh, kGzipLevel, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    delete fresh;
    return nullptr;
  }
  return Deflater(fresh);
}

// Keeps the state as a spare, or frees it when there are enough.
void deflate_end(Deflater zs) {
  std::lock_guard lock(spare_deflaters_mutex);
  if (spare_deflaters.size() < kSpareDeflaters) spare_deflaters.push_back(std::move(zs));
}

}  // namespace

struct ContentWriter::Impl {
  std::filesystem::path path;
  Encoding encoding;
  int fd = -1;
  Hasher sha1{DigestAlgorithm::kSha1};
  Hasher sha256{DigestAlgorithm::kSha256};
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  Deflater zs;  // while deflating
  bool finished = false;
  bool kept = false;

  [[noreturn]] void fail(const char* what, int err) const {
    throw Error(ErrorCategory::kArchive,
                std::string(what) + " " + path.string() + ": " + std::strerror(err), true);
  }

  // Hashes and writes bytes as they go to the file.
  void emit(const unsigned char* data, std::size_t size) {
    sha1.update(data, size);
    sha256.update(data, size);
    bytes_out += size;
    while (size > 0) {
      const ssize_t n = ::write(fd, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot write", errno);
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  void deflate_some(int flush) {
    std::array<unsigned char, 1 << 16> out;  // not zeroed: deflate fills it
    int rc = Z_OK;
    do {
      zs->next_out = out.data();
      zs->avail_out = static_cast<uInt>(out.size());
      rc = ::deflate(zs.get(), flush);
      if (rc == Z_STREAM_ERROR) throw Error(ErrorCategory::kInternal, "gzip: deflate failed");
      emit(out.data(), out.size() - zs->avail_out);
    } while (zs->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }
};

ContentWriter::ContentWriter(std::filesystem::path path, Encoding encoding)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  impl_->encoding = encoding;
  impl_->fd = ::open(impl_->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (impl_->fd < 0) impl_->fail("cannot create", errno);
  if (encoding == Encoding::kGzip) {
    impl_->zs = deflate_begin();
    if (!impl_->zs) {
      ::close(impl_->fd);
      ::unlink(impl_->path.c_str());
      throw Error(ErrorCategory::kInternal, "zlib initialisation failed");
    }
  }
}

ContentWriter::~ContentWriter() {
  if (impl_->zs) deflate_end(std::move(impl_->zs));
  if (impl_->fd >= 0) ::close(impl_->fd);
  // After the archive adopted it the file is gone; otherwise it is nobody's.
  if (!impl_->kept) ::unlink(impl_->path.c_str());
}

void ContentWriter::write(const char* data, std::size_t size) {
  if (impl_->finished) throw Error(ErrorCategory::kInternal, "ContentWriter: write after finish");
  impl_->bytes_in += size;
  if (impl_->encoding == Encoding::kAsIs) {
    impl_->emit(reinterpret_cast<const unsigned char*>(data), size);
    return;
  }
  // zlib's avail_in is 32 bits: feed very large chunks in pieces.
  while (size > 0) {
    const std::size_t piece = std::min<std::size_t>(size, 1u << 30);
    impl_->zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    impl_->zs->avail_in = static_cast<uInt>(piece);
    impl_->deflate_some(Z_NO_FLUSH);
    data += piece;
    size -= piece;
  }
}

ContentDigest ContentWriter::finish() {
  if (impl_->finished) throw Error(ErrorCategory::kInternal, "ContentWriter: finished twice");
  if (impl_->zs) {
    impl_->zs->next_in = nullptr;
    impl_->zs->avail_in = 0;
    impl_->deflate_some(Z_FINISH);
  }
  impl_->finished = true;
  const int fd = std::exchange(impl_->fd, -1);
  if (::close(fd) != 0) impl_->fail("cannot write", errno);
  ContentDigest digest;
  digest.sha1 = impl_->sha1.hex_digest();
  digest.sha256 = impl_->sha256.hex_digest();
  digest.size = impl_->bytes_out;
  return digest;
}

void ContentWriter::keep() {
  if (!impl_->finished) throw Error(ErrorCategory::kInternal, "ContentWriter: kept before finish");
  impl_->kept = true;
}

const std::filesystem::path& ContentWriter::path() const {
  return impl_->path;
}

std::uint64_t ContentWriter::bytes_in() const {
  return impl_->bytes_in;
}

}  // namespace buildd
