// Live logs (BuildStore::live_log): the running build's whole log, in
// chunks appended by commit() (transitions.cpp), stored as base64 text.

#include <openssl/evp.h>

#include "soci_detail.hpp"

namespace buildd::soci_store::detail {

std::string base64_encode(const std::string& bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(n));
  return text;
}

std::string base64_decode(const std::string& text) {
  if (text.size() % 4 != 0)
    throw Error(ErrorCategory::kStore,
                "a live log chunk is not base64 (length " + std::to_string(text.size()) + ")");
  std::string bytes(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) throw Error(ErrorCategory::kStore, "a live log chunk is not base64");
  // EVP_DecodeBlock counts the padding's bytes as zeros.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  bytes.resize(static_cast<std::size_t>(n) - padding);
  return bytes;
}

}  // namespace buildd::soci_store::detail

namespace buildd::soci_store {

using namespace detail;

std::string SociStore::live_log(Id queue_id, std::uint64_t offset, std::size_t max_bytes) {
  return with_session("reading a live log", [&](soci::session& sql) {
    std::string out;
    if (max_bytes == 0) return out;
    long long q = queue_id, from = static_cast<long long>(offset), start = 0;
    std::string data;
    // The chunks that end after `offset`, in order: the first may begin
    // before it.
    Prepared st = (Prepared(sql,
                            "SELECT log_offset, data FROM build_live_log WHERE queue_id = :q AND "
                            "log_offset + size > :o ORDER BY log_offset"),
                   soci::into(start), soci::into(data), soci::use(q), soci::use(from));
    st.execute();
    while (out.size() < max_bytes && st.fetch()) {
      std::string bytes = base64_decode(data);
      const auto skip = static_cast<std::size_t>(std::max(0LL, from - start));
      if (skip >= bytes.size()) continue;
      out.append(bytes, skip, max_bytes - out.size());
      from = start + static_cast<long long>(bytes.size());
    }
    return out;
  });
}

}  // namespace buildd::soci_store
