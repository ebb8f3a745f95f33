#pragma once

// Statements prepared once per pooled session and executed many times.
//
// Why: preparing is what the store spent most on. On SQLite, parsing and
// planning the same few statements again on every call was a third of the
// master's instructions in a drain (sqlite3_prepare_v2, mostly for the wide
// SELECTs of a queue entry and its build). On PostgreSQL, each
// `sql.prepare <<` statement cost three round trips (PREPARE, EXECUTE and
// DEALLOCATE) where an execution of a kept statement costs one.
//
// Threading: a StatementCache belongs to one pooled session and is used only
// by the thread that holds the session (SociStore::with_session makes it the
// thread's active cache for the call). A Prepared is used by one thread.
//
// Lifetime: a cached statement is kept until the cache is cleared: when the
// connection is re-opened (PostgreSQL forgets its prepared statements with
// the connection), when it fails while executing (it is thrown away, not
// reused), or when the cache is full. Its bindings are the caller's
// variables, given again for each use and released when the Prepared goes.

#include <soci/soci.h>

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

namespace buildd::soci_store::detail {

class StatementCache {
 public:
  // Distinct statement texts a session keeps. A query with an inlined LIMIT
  // has one text per limit, so the cache is bounded; when it is full, the
  // statements not in use are dropped and prepared again when next used.
  static constexpr std::size_t kCapacity = 128;

  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  struct Entry {
    std::unique_ptr<soci::statement> statement;
    bool in_use = false;
    const std::string* query = nullptr;  // its key in the cache
  };

  // The entry of `query`'s statement, prepared on `sql` the first time it is
  // asked for; nullptr while that statement is in use (a nested use of the
  // same text prepares its own). Throws what preparing throws (nothing
  // cached).
  Entry* acquire(soci::session& sql, const std::string& query);
  // Gives back an entry from acquire(); a statement that failed is thrown
  // away.
  void release(Entry* entry, bool healthy);
  // Drops every statement (see Lifetime above).
  void clear();
  std::size_t size() const { return entries_.size(); }
  // Whether the session is SQLite's (known from the first acquire()).
  bool sqlite() const { return sqlite_; }

 private:
  std::unordered_map<std::string, Entry> entries_;  // node-based: entries stay put
  bool sqlite_ = false;
};

// The cache of the session the calling thread holds, if any.
struct ActiveStatements {
  soci::session* session = nullptr;
  StatementCache* cache = nullptr;
};
ActiveStatements& active_statements();

// Makes `cache` the thread's active cache for `session` for a scope.
class ActiveStatementsScope {
 public:
  ActiveStatementsScope(soci::session& session, StatementCache& cache);
  ~ActiveStatementsScope();
  ActiveStatementsScope(const ActiveStatementsScope&) = delete;
  ActiveStatementsScope& operator=(const ActiveStatementsScope&) = delete;

 private:
  ActiveStatements previous_;
};

// One use of a statement: the cached one when `sql` is the session of the
// thread's active cache, else one prepared for this use alone. Bind with the
// comma operator, as with SOCI's `sql.prepare << query, into(...), use(...)`:
//
//   Prepared st = (Prepared(sql, "UPDATE t SET a = :a WHERE id = :id"),
//                  soci::use(a), soci::use(id));
//   st.execute(true);  // again, after changing a and id
//
// The bound variables must outlive the Prepared. When it goes, its bindings
// are released and SQLite's statement is reset, so that it holds no read
// snapshot between uses.
class Prepared {
 public:
  Prepared(soci::session& sql, const std::string& query);
  Prepared(Prepared&& other) noexcept;
  Prepared& operator=(Prepared&&) = delete;
  ~Prepared();

  template <typename Element>
  void exchange(const Element& element) {
    statement_->exchange(element);
  }
  bool execute(bool exchange_data = false);
  bool fetch();
  long long get_affected_rows() { return statement_->get_affected_rows(); }

 private:
  void bind_once();

  soci::statement* statement_ = nullptr;
  std::unique_ptr<soci::statement> own_;  // not cached
  StatementCache* cache_ = nullptr;
  StatementCache::Entry* entry_ = nullptr;  // in cache_
  bool bound_ = false;
  bool healthy_ = true;
  bool sqlite_ = false;
};

template <typename Element>
Prepared&& operator,(Prepared&& st, const Element& element) {
  st.exchange(element);
  return std::move(st);
}
template <typename Element>
Prepared& operator,(Prepared& st, const Element& element) {
  st.exchange(element);
  return st;
}

}  // namespace buildd::soci_store::detail
