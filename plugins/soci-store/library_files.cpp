// The SOCI store's library file records.

#include "soci_detail.hpp"

namespace buildd::soci_store {

using namespace detail;

LibraryFile detail::insert_library_file(soci::session& sql, const LibraryFile& file) {
  LibraryFile out = file;
  if (out.created == TimePoint{}) out.created = Clock::now();
  long long size = static_cast<long long>(file.size), created = to_micros(out.created), id = 0;
  (Prepared(sql,
            "INSERT INTO library_file (filename, size, sha1, sha256, mime, locator, created) "
            "VALUES (:n, :s, :h1, :h2, :m, :l, :c) RETURNING id"),
   soci::use(file.filename), soci::use(size), soci::use(file.sha1), soci::use(file.sha256),
   soci::use(file.mime), soci::use(file.locator), soci::use(created), soci::into(id))
      .execute(true);
  out.id = id;
  // What the database holds: microsecond precision.
  out.created = from_micros(created);
  return out;
}

LibraryFile SociStore::add_library_file(const LibraryFile& file) {
  return with_session("recording a library file", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    LibraryFile out = insert_library_file(sql, file);
    tx.commit();
    return out;
  });
}

std::optional<LibraryFile> SociStore::find_library_file(Id id) {
  return with_session("finding a library file", [&](soci::session& sql) {
    long long value = id;
    auto rows = select_rows<LibraryFileRow>(
        sql, std::string("SELECT ") + kLibraryFileColumns + " FROM library_file f WHERE f.id = :id",
        [&](auto& p) { p, soci::use(value); });
    return rows.empty() ? std::nullopt : std::optional<LibraryFile>(rows.front());
  });
}

std::optional<LibraryFile> SociStore::find_library_file_by_sha256(const std::string& sha256) {
  return with_session("finding a library file", [&](soci::session& sql) {
    auto rows = select_rows<LibraryFileRow>(
        sql,
        std::string("SELECT ") + kLibraryFileColumns +
            " FROM library_file f WHERE f.sha256 = :h ORDER BY f.id LIMIT 1",
        [&](auto& p) { p, soci::use(sha256); });
    return rows.empty() ? std::nullopt : std::optional<LibraryFile>(rows.front());
  });
}

}  // namespace buildd::soci_store
