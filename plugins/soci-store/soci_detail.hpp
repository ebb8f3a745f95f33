#pragma once

// What the files of the SOCI store share (not installed, not for plugins):
// time and NULL conversions, the write transaction, the row readers bound
// with into() in the order of their SELECT, and SociStore::with_session, the
// one place where database errors become buildd::Error.

#include <soci/connection-pool.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "buildd/error.hpp"
#include "soci_store.hpp"
#include "statement_cache.hpp"

namespace buildd::soci_store::detail {

using Indicator = soci::indicator;

inline long long to_micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
inline TimePoint from_micros(long long us) {
  return TimePoint(std::chrono::microseconds(us));
}

inline std::optional<TimePoint> opt_time(long long us, Indicator ind) {
  if (ind == soci::i_null) return std::nullopt;
  return from_micros(us);
}
inline std::optional<Id> opt_id(long long v, Indicator ind) {
  if (ind == soci::i_null) return std::nullopt;
  return static_cast<Id>(v);
}

// A nullable value bound as a parameter.
struct Nullable {
  long long value = 0;
  Indicator ind = soci::i_null;
  Nullable() = default;
  explicit Nullable(const std::optional<long long>& v) {
    if (v) {
      value = *v;
      ind = soci::i_ok;
    }
  }
};
inline Nullable nullable_time(const std::optional<TimePoint>& t) {
  return t ? Nullable(to_micros(*t)) : Nullable();
}
inline Nullable nullable_id(const std::optional<Id>& id) {
  return id ? Nullable(static_cast<long long>(*id)) : Nullable();
}

// A MariaDB session as the store expects it (see soci_store.hpp): read
// committed, strict, utf8mb4.
inline void open_mariadb_session(soci::session& sql) {
  sql << "SET NAMES utf8mb4";
  sql << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
  sql << "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'";
}

// A MariaDB named lock (GET_LOCK) held for a scope. The lock belongs to the
// session, not a transaction, so it is released explicitly.
class MariadbLock {
 public:
  MariadbLock(soci::session& sql, const std::string& name) : sql_(sql), name_(name) {
    int got = 0;
    sql_ << "SELECT GET_LOCK(:n, 60)", soci::use(name_), soci::into(got);
    if (got != 1) {
      throw Error(ErrorCategory::kStore, "timed out waiting for the lock " + name_, true);
    }
  }
  ~MariadbLock() {
    try {
      sql_ << "SELECT RELEASE_LOCK(:n)", soci::use(name_);
    } catch (...) {
      // The connection is gone, and the lock with it.
    }
  }

 private:
  soci::session& sql_;
  std::string name_;
};

// Write transactions. SQLite's BEGIN IMMEDIATE takes the write lock up front
// (waiting on the busy timeout), so a transaction never fails half-way on a
// read-to-write lock upgrade.
class Transaction {
 public:
  Transaction(soci::session& sql, Engine engine) : sql_(sql) {
    sql_ << (engine == Engine::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  }
  ~Transaction() {
    if (!done_) {
      try {
        sql_ << "ROLLBACK";
      } catch (...) {
        // The connection is gone; the server rolls back on its own.
      }
    }
  }
  void commit() {
    sql_ << "COMMIT";
    done_ = true;
  }

 private:
  soci::session& sql_;
  bool done_ = false;
};

// ---- row readers: columns bound with into(), in the order of the SELECT ----

constexpr const char* kBuildColumns =
    "b.id, b.source_name, b.source_version, b.distro_arch_release_id, b.state, b.created, "
    "b.started, b.built, b.duration, b.builder_id, b.buildlog_id, b.dependencies, "
    "b.failure_count, b.give_back_count, b.component, b.pocket, b.urgency, b.archive";

struct BuildRow {
  long long id = 0, dar = 0, created = 0, started = 0, built = 0, duration = 0, builder = 0,
            log = 0;
  int state = 0, failure_count = 0, give_back_count = 0;
  std::string source, version, dependencies, component, pocket, urgency, archive;
  Indicator i_started{}, i_built{}, i_duration{}, i_builder{}, i_log{};

  void bind(Prepared& p) {
    p, soci::into(id), soci::into(source), soci::into(version), soci::into(dar), soci::into(state),
        soci::into(created), soci::into(started, i_started), soci::into(built, i_built),
        soci::into(duration, i_duration), soci::into(builder, i_builder), soci::into(log, i_log),
        soci::into(dependencies), soci::into(failure_count), soci::into(give_back_count),
        soci::into(component), soci::into(pocket), soci::into(urgency), soci::into(archive);
  }
  Build value() const {
    Build b;
    b.id = id;
    b.source_name = source;
    b.source_version = version;
    b.distro_arch_release_id = dar;
    b.state = static_cast<BuildState>(state);
    b.created = from_micros(created);
    b.started = opt_time(started, i_started);
    b.built = opt_time(built, i_built);
    if (i_duration != soci::i_null) b.duration = Duration(duration);
    b.builder_id = opt_id(builder, i_builder);
    b.buildlog_id = opt_id(log, i_log);
    b.dependencies = dependencies;
    b.failure_count = failure_count;
    b.give_back_count = give_back_count;
    b.component = component;
    b.pocket = pocket;
    b.urgency = urgency;
    b.archive = archive;
    return b;
  }
};

constexpr const char* kQueueColumns =
    "q.id, q.build_id, q.builder_id, q.buildstart, q.logtail, q.score, q.manual, q.created, "
    "q.abort_sent, q.attempt, q.live_log_size";

struct QueueRow {
  long long id = 0, build_id = 0, builder = 0, buildstart = 0, created = 0, abort_sent = 0;
  long long live_log_size = 0;
  int score = 0, manual = 0, attempt = 0;
  std::string logtail;
  Indicator i_builder{}, i_buildstart{}, i_abort{};

  void bind(Prepared& p) {
    p, soci::into(id), soci::into(build_id), soci::into(builder, i_builder),
        soci::into(buildstart, i_buildstart), soci::into(logtail), soci::into(score),
        soci::into(manual), soci::into(created), soci::into(abort_sent, i_abort),
        soci::into(attempt), soci::into(live_log_size);
  }
  BuildQueueEntry value() const {
    BuildQueueEntry e;
    e.id = id;
    e.build_id = build_id;
    e.builder_id = opt_id(builder, i_builder);
    e.buildstart = opt_time(buildstart, i_buildstart);
    e.logtail = logtail;
    e.score = score;
    e.manual = manual != 0;
    e.created = from_micros(created);
    e.abort_sent = opt_time(abort_sent, i_abort);
    e.attempt = attempt;
    e.live_log_size = static_cast<std::uint64_t>(live_log_size);
    return e;
  }
};

constexpr const char* kLibraryFileColumns =
    "f.id, f.filename, f.size, f.sha1, f.sha256, f.mime, f.locator, f.created";

struct LibraryFileRow {
  long long id = 0, size = 0, created = 0;
  std::string filename, sha1, sha256, mime, locator;
  void bind(Prepared& p) {
    p, soci::into(id), soci::into(filename), soci::into(size), soci::into(sha1), soci::into(sha256),
        soci::into(mime), soci::into(locator), soci::into(created);
  }
  LibraryFile value() const {
    LibraryFile f;
    f.id = id;
    f.filename = filename;
    f.size = static_cast<std::uint64_t>(size);
    f.sha1 = sha1;
    f.sha256 = sha256;
    f.mime = mime;
    f.locator = locator;
    f.created = from_micros(created);
    return f;
  }
};

constexpr const char* kDarColumns =
    "d.id, d.distribution, d.release_name, d.arch_tag, d.family_id, d.chroot_file_id, "
    "d.official";

struct DarRow {
  long long id = 0, family = 0, chroot = 0;
  int official = 1;
  std::string distribution, release, arch_tag;
  Indicator i_chroot{};
  void bind(Prepared& p) {
    p, soci::into(id), soci::into(distribution), soci::into(release), soci::into(arch_tag),
        soci::into(family), soci::into(chroot, i_chroot), soci::into(official);
  }
  DistroArchRelease value() const {
    DistroArchRelease d;
    d.id = id;
    d.distribution = distribution;
    d.release = release;
    d.arch_tag = arch_tag;
    d.family_id = family;
    d.chroot_file_id = opt_id(chroot, i_chroot);
    d.official = official != 0;
    return d;
  }
};

constexpr const char* kBuilderColumns =
    "r.id, r.name, r.url, r.processor_id, p.family_id, r.builderok, r.failnotes, r.manual, "
    "r.virtualized, r.speed_index, r.failure_count, r.slave_state, r.slave_state_since, "
    "r.disabled_at";
constexpr const char* kBuilderFrom = " FROM builder r JOIN processor p ON p.id = r.processor_id";

struct BuilderRow {
  long long id = 0, processor = 0, family = 0, slave_state_since = 0, disabled_at = 0;
  int builderok = 1, manual = 0, virtualized = 0, speed_index = 0, failure_count = 0;
  std::string name, url, failnotes, slave_state;
  Indicator i_since{}, i_disabled{};
  void bind(Prepared& p) {
    p, soci::into(id), soci::into(name), soci::into(url), soci::into(processor), soci::into(family),
        soci::into(builderok), soci::into(failnotes), soci::into(manual), soci::into(virtualized),
        soci::into(speed_index), soci::into(failure_count), soci::into(slave_state),
        soci::into(slave_state_since, i_since), soci::into(disabled_at, i_disabled);
  }
  Builder value() const {
    Builder b;
    b.id = id;
    b.name = name;
    b.url = url;
    b.processor_id = processor;
    b.family_id = family;
    b.builderok = builderok != 0;
    b.failnotes = failnotes;
    b.manual = manual != 0;
    b.virtualized = virtualized != 0;
    b.speed_index = speed_index;
    b.failure_count = failure_count;
    b.slave_state = slave_state;
    b.slave_state_since = opt_time(slave_state_since, i_since);
    b.disabled_at = opt_time(disabled_at, i_disabled);
    return b;
  }
};

// Runs a SELECT whose columns `row` binds; `extra` binds the parameters.
template <typename Row, typename Extra>
std::vector<decltype(std::declval<Row>().value())> select_rows(soci::session& sql,
                                                               const std::string& query,
                                                               Extra&& extra) {
  Row row;
  Prepared st(sql, query);
  row.bind(st);
  extra(st);
  st.execute();
  std::vector<decltype(row.value())> out;
  while (st.fetch()) out.push_back(row.value());
  return out;
}
template <typename Row>
std::vector<decltype(std::declval<Row>().value())> select_rows(soci::session& sql,
                                                               const std::string& query) {
  return select_rows<Row>(sql, query, [](Prepared&) {});
}

struct QueuedRow {
  QueueRow q;
  BuildRow b;
  void bind(Prepared& p) {
    q.bind(p);
    b.bind(p);
  }
  QueuedBuild value() const { return QueuedBuild{q.value(), b.value()}; }
};

inline std::string queued_select() {
  return std::string("SELECT ") + kQueueColumns + ", " + kBuildColumns +
         " FROM build_queue q JOIN build b ON b.id = q.build_id";
}

inline std::optional<Id> lookup_id(soci::session& sql, const std::string& query,
                                   const std::string& key) {
  long long id = 0;
  Prepared st = (Prepared(sql, query), soci::into(id), soci::use(key));
  if (!st.execute(true)) return std::nullopt;
  return static_cast<Id>(id);
}

inline bool exists(soci::session& sql, const std::string& table, Id id) {
  long long value = id;
  int count = 0;
  (Prepared(sql, "SELECT COUNT(*) FROM " + table + " WHERE id = :id"), soci::into(count),
   soci::use(value))
      .execute(true);
  return count > 0;
}

// A live log's bytes as the text stored in build_live_log.data, and back
// (OpenSSL's base64, live_log.cpp).
std::string base64_encode(const std::string& bytes);
std::string base64_decode(const std::string& text);

// A unique or foreign key violation (kConflict when it escapes a call).
inline bool is_constraint_violation(const soci::soci_error& e) {
  if (auto* s = dynamic_cast<const soci::sqlite3_soci_error*>(&e))
    return (s->result() & 0xff) == SQLITE_CONSTRAINT;
  if (auto* p = dynamic_cast<const soci::postgresql_soci_error*>(&e))
    return p->sqlstate().rfind("23", 0) == 0;
  if (auto* m = dynamic_cast<const soci::mysql_soci_error*>(&e))
    return m->err_num_ == 1062 || m->err_num_ == 1451 || m->err_num_ == 1452;
  return false;
}

// Inserts a library file record inside the caller's transaction; returns it
// with its id (and `created` at the database's precision).
LibraryFile insert_library_file(soci::session& sql, const LibraryFile& file);

inline bool is_retryable_final_state(BuildState state) {
  switch (state) {
    case BuildState::kFailedToBuild:
    case BuildState::kManualDepWait:
    case BuildState::kChrootWait:
    case BuildState::kFailedToUpload:
    case BuildState::kCancelled:
      return true;
    default:
      return false;
  }
}

inline std::string sqlite_connection_string(const SociStoreOptions& o) {
  std::string path = o.connection;
  if (path.find_first_of(" \t'\"") != std::string::npos) path = "\"" + path + "\"";
  return "db=" + path + " timeout=" + std::to_string(o.busy_timeout_seconds);
}

// An INSERT that does nothing (0 rows) when the row's key is already there.
// MariaDB's IGNORE would also turn a value too long into a warning; the
// callers insert keys and times only.
inline std::string insert_unless_present(Engine engine, const std::string& insert) {
  if (engine == Engine::kMariadb) return "INSERT IGNORE" + insert.substr(6);
  return insert + " ON CONFLICT DO NOTHING";
}

// A limit rounded up to a power of two, for a statement the store keeps
// (statement_cache.hpp): each text is a statement of its own, so a limit that
// changes with every call would fill the cache with copies of one query.
// The caller keeps the rows it asked for.
inline std::size_t kept_limit(std::size_t limit) {
  std::size_t rounded = 1;
  while (rounded < limit) rounded <<= 1;
  return rounded;
}

inline std::string limit_clause(std::size_t limit, std::size_t offset = 0) {
  if (offset == 0) return limit == 0 ? std::string() : " LIMIT " + std::to_string(limit);
  // Every engine takes LIMIT n OFFSET m; SQLite and MariaDB need the LIMIT.
  return " LIMIT " + std::to_string(limit == 0 ? std::numeric_limits<std::int64_t>::max() : limit) +
         " OFFSET " + std::to_string(offset);
}

}  // namespace buildd::soci_store::detail

namespace buildd::soci_store {

// Every public method runs here: a session from the pool, and database errors
// turned into buildd::Error with a category and a retryable flag.
template <typename F>
auto SociStore::with_session(const char* what, F&& body) {
  auto fail = [&](ErrorCategory category, const std::string& message, bool retryable) {
    return Error(category, std::string("while ") + what + ": " + message, retryable);
  };
  // Leased by position: the position names the session's statement cache.
  struct Lease {
    soci::connection_pool& pool;
    std::size_t position;
    ~Lease() { pool.give_back(position); }
  } lease{*pool_, pool_->lease()};
  soci::session& sql = pool_->at(lease.position);
  detail::StatementCache& statements = *statements_[lease.position];
  detail::ActiveStatementsScope active(sql, statements);
  // A re-opened connection has none of the statements prepared on the old one.
  auto reconnect = [&] {
    statements.clear();
    sql.reconnect();
  };
  try {
    // A connection lost earlier (the server restarted and was still down
    // when the failure's reconnect ran) is re-opened here. PQstatus costs no
    // round trip, unlike session::is_connected's ping.
    // MariaDB's client closes the socket of a connection it lost.
    bool lost = false;
    if (engine_ == Engine::kPostgresql) {
      auto* backend = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
      lost = !backend || PQstatus(backend->conn_) != CONNECTION_OK;
    } else if (engine_ == Engine::kMariadb) {
      auto* backend = static_cast<soci::mysql_session_backend*>(sql.get_backend());
      lost = !backend || mysql_get_socket(backend->conn_) == MARIADB_INVALID_SOCKET;
    }
    if (lost) {
      try {
        reconnect();
        if (engine_ == Engine::kMariadb) detail::open_mariadb_session(sql);
      } catch (const std::exception& e) {
        throw fail(ErrorCategory::kStore, e.what(), true);  // still down: try again later
      }
    }
    return body(sql);
  } catch (const Error&) {
    throw;
  } catch (const soci::sqlite3_soci_error& e) {
    if (detail::is_constraint_violation(e)) throw fail(ErrorCategory::kConflict, e.what(), false);
    const int rc = e.result() & 0xff;
    bool retry = rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR;
    throw fail(ErrorCategory::kStore, e.what(), retry);
  } catch (const soci::postgresql_soci_error& e) {
    if (detail::is_constraint_violation(e)) throw fail(ErrorCategory::kConflict, e.what(), false);
    const std::string state = e.sqlstate();
    bool connection = state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 ||
                      e.get_error_category() == soci::soci_error::connection_error;
    if (connection) {
      try {
        reconnect();  // so that the next call through this session can work
      } catch (...) {
      }
    }
    bool retry = connection || state == "40001" || state == "40P01" || state.rfind("53", 0) == 0;
    throw fail(ErrorCategory::kStore, e.what(), retry);
  } catch (const soci::mysql_soci_error& e) {
    // 1062 duplicate key, 1451/1452 foreign key; 1205 lock wait timeout,
    // 1213 deadlock (the transaction was rolled back: nothing written).
    if (detail::is_constraint_violation(e)) throw fail(ErrorCategory::kConflict, e.what(), false);
    const unsigned n = e.err_num_;
    bool connection = e.get_error_category() == soci::soci_error::connection_error;
    if (connection) {
      try {
        reconnect();
        detail::open_mariadb_session(sql);
      } catch (...) {
      }
    }
    throw fail(ErrorCategory::kStore, e.what(), connection || n == 1205 || n == 1213);
  } catch (const soci::soci_error& e) {
    bool retry = e.get_error_category() == soci::soci_error::connection_error;
    throw fail(ErrorCategory::kStore, e.what(), retry);
  } catch (const std::exception& e) {
    throw fail(ErrorCategory::kStore, e.what(), false);
  }
}

}  // namespace buildd::soci_store
