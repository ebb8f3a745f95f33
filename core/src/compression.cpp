#include "buildd/compression.hpp"

#include <zlib.h>

#include <array>
#include <fstream>
#include <memory>
#include <sstream>

#include "buildd/error.hpp"

namespace buildd {
namespace {

constexpr std::size_t kChunk = 1 << 16;

// Runs `stream` over `in`, writing to `out`; `step` is deflate or inflate.
template <typename Step>
void pump(z_stream& stream, std::istream& in, std::ostream& out, Step step, bool compressing) {
  std::array<unsigned char, kChunk> in_buf{};
  std::array<unsigned char, kChunk> out_buf{};
  int rc = Z_OK;
  bool input_done = false;
  while (rc != Z_STREAM_END) {
    if (stream.avail_in == 0 && !input_done) {
      in.read(reinterpret_cast<char*>(in_buf.data()), in_buf.size());
      stream.next_in = in_buf.data();
      stream.avail_in = static_cast<uInt>(in.gcount());
      input_done = !in;
    }
    stream.next_out = out_buf.data();
    stream.avail_out = static_cast<uInt>(out_buf.size());
    rc = step(&stream, compressing && input_done ? Z_FINISH : Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      throw Error(ErrorCategory::kArchive,
                  std::string("gzip: ") + (stream.msg ? stream.msg : "bad data"));
    out.write(reinterpret_cast<char*>(out_buf.data()), out_buf.size() - stream.avail_out);
    if (!compressing && rc == Z_BUF_ERROR && input_done && stream.avail_in == 0)
      throw Error(ErrorCategory::kArchive, "gzip: truncated input");
  }
  if (!out) throw Error(ErrorCategory::kInternal, "gzip: cannot write the output");
}

void run(std::istream& in, std::ostream& out, bool compressing) {
  z_stream stream{};
  int rc = compressing ? deflateInit2(&stream, kGzipLevel, Z_DEFLATED, kGzipWindowBits, 8,
                                      Z_DEFAULT_STRATEGY)
                       : inflateInit2(&stream, kGzipWindowBits);
  if (rc != Z_OK) throw Error(ErrorCategory::kInternal, "zlib initialisation failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream,
                                                      compressing ? deflateEnd : inflateEnd);
  if (compressing)
    pump(stream, in, out, deflate, true);
  else
    pump(stream, in, out, inflate, false);
}

}  // namespace

void gzip_file(const std::filesystem::path& source, const std::filesystem::path& destination) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw Error(ErrorCategory::kInternal, "cannot read " + source.string());
  std::ofstream out(destination, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCategory::kInternal, "cannot write " + destination.string());
  run(in, out, true);
}

void gunzip_file(const std::filesystem::path& source, const std::filesystem::path& destination) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw Error(ErrorCategory::kInternal, "cannot read " + source.string());
  std::ofstream out(destination, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCategory::kInternal, "cannot write " + destination.string());
  run(in, out, false);
}

std::string gunzip_string(const std::string& gzipped) {
  std::istringstream in(gzipped);
  std::ostringstream out;
  run(in, out, false);
  return out.str();
}

void gunzip_stream(std::istream& gzipped, std::ostream& out) {
  run(gzipped, out, false);
}

}  // namespace buildd
