#pragma once

// The log archive ("librarian") interface: where the bytes of build logs,
// chroots, sources and result files live. The records (id, name, digests)
// live in the store's library_file table; the core's Librarian
// (librarian.hpp) ties the two together, so plugins only move bytes.
//
// Content is addressed by its SHA-256: putting the same content twice stores
// it once.
//
// Threading: every method may be called from many threads at once.
// Ownership: the archive owns nothing the caller passes; streams it returns
// are owned by the caller.
// Errors: Error(kArchive). Retryable (down, 5xx, timeout, disk full) means
// nothing was recorded and the caller should try again later; not retryable
// means the request itself is wrong (e.g. a locator that does not exist).

#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <string>

#include "buildd/export.hpp"
#include "buildd/plugin.hpp"

namespace buildd {

struct ContentDigest {
  std::string sha1;    // 40 lowercase hex
  std::string sha256;  // 64 lowercase hex
  std::uint64_t size = 0;
};

class BUILDD_API LogArchive : public PluginObject {
 public:
  // Stores the complete local file `source`, whose digest the caller computed,
  // and returns the locator to record. Idempotent per digest; must never leave
  // a partial object visible under the locator (write aside, then publish).
  virtual std::string put(const ContentDigest& digest, const std::filesystem::path& source) = 0;

  // A folder on the archive's own file system where the librarian writes
  // what it streams (a download from a slave), so that adopt() can publish it
  // with a rename instead of a copy; nullopt (the default): the librarian's
  // temp folder. Files there are named tmp-<pid>-<n>-<hint>, so the archive
  // can remove those of processes that died (Librarian::remove_dead_temp_files).
  virtual std::optional<std::filesystem::path> staging_dir();

  // put() for a file the caller no longer needs: the archive may move it
  // into place. The default calls put() (the caller then removes `source`).
  virtual std::string adopt(const ContentDigest& digest, const std::filesystem::path& source);

  // True when the object is present under the locator.
  virtual bool contains(const std::string& locator) = 0;

  // Opens the stored bytes for reading. Throws kArchive (not retryable) when
  // absent.
  virtual std::unique_ptr<std::istream> open(const std::string& locator) = 0;

  // A URL that a slave can GET the object from directly, or nullopt when the
  // archive cannot be reached by slaves and the master must serve it itself
  // (GET /+files/<id>/<filename> on its embedded HTTP server).
  virtual std::optional<std::string> public_url(const std::string& locator) = 0;
};

// The locator of a content-addressed archive, "sha256/<hex>", and back;
// shared by the in-tree archives so a store can move from one to another.
// Both throw Error(kArchive, not retryable) on a digest or locator of
// another form.
BUILDD_API std::string sha256_locator(const std::string& sha256_hex);
BUILDD_API std::string sha256_from_locator(const std::string& locator);
BUILDD_API bool is_sha256_hex(const std::string& text);  // 64 lowercase hex digits

}  // namespace buildd
