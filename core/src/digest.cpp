#include "buildd/digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <fstream>

#include "buildd/error.hpp"

namespace buildd {

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(DigestAlgorithm algorithm) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  const EVP_MD* md = algorithm == DigestAlgorithm::kSha1 ? EVP_sha1() : EVP_sha256();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, md, nullptr) != 1)
    throw Error(ErrorCategory::kInternal, "cannot initialise the OpenSSL digest");
}

Hasher::~Hasher() = default;

void Hasher::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
}

std::string Hasher::hex_digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md.data(), &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string sha1_hex(std::string_view data) {
  Hasher h(DigestAlgorithm::kSha1);
  h.update(data);
  return h.hex_digest();
}

std::string sha256_hex(std::string_view data) {
  Hasher h(DigestAlgorithm::kSha256);
  h.update(data);
  return h.hex_digest();
}

ContentDigest digest_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCategory::kArchive, "cannot read " + path.string());
  Hasher sha1(DigestAlgorithm::kSha1);
  Hasher sha256(DigestAlgorithm::kSha256);
  ContentDigest digest;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    sha1.update(buffer.data(), n);
    sha256.update(buffer.data(), n);
    digest.size += n;
  }
  if (in.bad()) throw Error(ErrorCategory::kArchive, "error reading " + path.string());
  digest.sha1 = sha1.hex_digest();
  digest.sha256 = sha256.hex_digest();
  return digest;
}

bool is_sha1_hex(std::string_view text) {
  if (text.size() != 40) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace buildd
