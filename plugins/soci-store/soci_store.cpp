#include "soci_store.hpp"

#include <soci/connection-pool.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>

#include "buildd/clock.hpp"
#include "buildd/error.hpp"

namespace buildd::soci_store {
namespace {

using Indicator = soci::indicator;

long long to_micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
TimePoint from_micros(long long us) {
  return TimePoint(std::chrono::microseconds(us));
}

std::optional<TimePoint> opt_time(long long us, Indicator ind) {
  if (ind == soci::i_null) return std::nullopt;
  return from_micros(us);
}
std::optional<Id> opt_id(long long v, Indicator ind) {
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
Nullable nullable_time(const std::optional<TimePoint>& t) {
  return t ? Nullable(to_micros(*t)) : Nullable();
}
Nullable nullable_id(const std::optional<Id>& id) {
  return id ? Nullable(static_cast<long long>(*id)) : Nullable();
}

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
    "b.failure_count, b.give_back_count, b.component, b.pocket, b.urgency";

struct BuildRow {
  long long id = 0, dar = 0, created = 0, started = 0, built = 0, duration = 0, builder = 0,
            log = 0;
  int state = 0, failure_count = 0, give_back_count = 0;
  std::string source, version, dependencies, component, pocket, urgency;
  Indicator i_started{}, i_built{}, i_duration{}, i_builder{}, i_log{};

  void bind(soci::details::prepare_temp_type& p) {
    p, soci::into(id), soci::into(source), soci::into(version), soci::into(dar), soci::into(state),
        soci::into(created), soci::into(started, i_started), soci::into(built, i_built),
        soci::into(duration, i_duration), soci::into(builder, i_builder), soci::into(log, i_log),
        soci::into(dependencies), soci::into(failure_count), soci::into(give_back_count),
        soci::into(component), soci::into(pocket), soci::into(urgency);
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
    return b;
  }
};

constexpr const char* kQueueColumns =
    "q.id, q.build_id, q.builder_id, q.buildstart, q.logtail, q.score, q.manual, q.created, "
    "q.abort_sent, q.attempt";

struct QueueRow {
  long long id = 0, build_id = 0, builder = 0, buildstart = 0, created = 0, abort_sent = 0;
  int score = 0, manual = 0, attempt = 0;
  std::string logtail;
  Indicator i_builder{}, i_buildstart{}, i_abort{};

  void bind(soci::details::prepare_temp_type& p) {
    p, soci::into(id), soci::into(build_id), soci::into(builder, i_builder),
        soci::into(buildstart, i_buildstart), soci::into(logtail), soci::into(score),
        soci::into(manual), soci::into(created), soci::into(abort_sent, i_abort),
        soci::into(attempt);
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
    return e;
  }
};

constexpr const char* kLibraryFileColumns =
    "f.id, f.filename, f.size, f.sha1, f.sha256, f.mime, f.locator, f.created";

struct LibraryFileRow {
  long long id = 0, size = 0, created = 0;
  std::string filename, sha1, sha256, mime, locator;
  void bind(soci::details::prepare_temp_type& p) {
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
  void bind(soci::details::prepare_temp_type& p) {
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
    "r.virtualized, r.speed_index, r.failure_count, r.slave_state, r.slave_state_since";
constexpr const char* kBuilderFrom = " FROM builder r JOIN processor p ON p.id = r.processor_id";

struct BuilderRow {
  long long id = 0, processor = 0, family = 0, slave_state_since = 0;
  int builderok = 1, manual = 0, virtualized = 0, speed_index = 0, failure_count = 0;
  std::string name, url, failnotes, slave_state;
  Indicator i_since{};
  void bind(soci::details::prepare_temp_type& p) {
    p, soci::into(id), soci::into(name), soci::into(url), soci::into(processor), soci::into(family),
        soci::into(builderok), soci::into(failnotes), soci::into(manual), soci::into(virtualized),
        soci::into(speed_index), soci::into(failure_count), soci::into(slave_state),
        soci::into(slave_state_since, i_since);
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
    return b;
  }
};

// Runs a SELECT whose columns `row` binds; `extra` binds the parameters.
template <typename Row, typename Extra>
std::vector<decltype(std::declval<Row>().value())> select_rows(soci::session& sql,
                                                               const std::string& query,
                                                               Extra&& extra) {
  Row row;
  soci::details::prepare_temp_type p = (sql.prepare << query);
  row.bind(p);
  extra(p);
  soci::statement st(p);
  st.execute();
  std::vector<decltype(row.value())> out;
  while (st.fetch()) out.push_back(row.value());
  return out;
}
template <typename Row>
std::vector<decltype(std::declval<Row>().value())> select_rows(soci::session& sql,
                                                               const std::string& query) {
  return select_rows<Row>(sql, query, [](soci::details::prepare_temp_type&) {});
}

struct QueuedRow {
  QueueRow q;
  BuildRow b;
  void bind(soci::details::prepare_temp_type& p) {
    q.bind(p);
    b.bind(p);
  }
  QueuedBuild value() const { return QueuedBuild{q.value(), b.value()}; }
};

std::string queued_select() {
  return std::string("SELECT ") + kQueueColumns + ", " + kBuildColumns +
         " FROM build_queue q JOIN build b ON b.id = q.build_id";
}

std::optional<Id> lookup_id(soci::session& sql, const std::string& query, const std::string& key) {
  long long id = 0;
  soci::statement st = (sql.prepare << query, soci::into(id), soci::use(key));
  if (!st.execute(true)) return std::nullopt;
  return static_cast<Id>(id);
}

bool exists(soci::session& sql, const std::string& table, Id id) {
  long long value = id;
  int count = 0;
  sql << "SELECT COUNT(*) FROM " + table + " WHERE id = :id", soci::into(count), soci::use(value);
  return count > 0;
}

bool is_retryable_final_state(BuildState state) {
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

std::string sqlite_connection_string(const SociStoreOptions& o) {
  std::string path = o.connection;
  if (path.find_first_of(" \t'\"") != std::string::npos) path = "\"" + path + "\"";
  return "db=" + path + " timeout=" + std::to_string(o.busy_timeout_seconds);
}

std::string limit_clause(std::size_t limit) {
  return limit == 0 ? std::string() : " LIMIT " + std::to_string(limit);
}

}  // namespace

std::string candidates_query(std::size_t limit) {
  return queued_select() +
         " WHERE q.distro_arch_release_id = :d AND q.builder_id IS NULL AND b.state = 0 ORDER BY "
         "q.score DESC, q.id" +
         limit_clause(limit);
}

// Every public method runs here: a session from the pool, and database errors
// turned into buildd::Error with a category and a retryable flag.
template <typename F>
auto SociStore::with_session(const char* what, F&& body) {
  auto fail = [&](ErrorCategory category, const std::string& message, bool retryable) {
    return Error(category, std::string("while ") + what + ": " + message, retryable);
  };
  soci::session sql(*pool_);
  try {
    // A connection lost earlier (the server restarted and was still down
    // when the failure's reconnect ran) is re-opened here. PQstatus costs no
    // round trip, unlike session::is_connected's ping.
    if (engine_ == Engine::kPostgresql) {
      auto* backend = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
      if (!backend || PQstatus(backend->conn_) != CONNECTION_OK) {
        try {
          sql.reconnect();
        } catch (const std::exception& e) {
          throw fail(ErrorCategory::kStore, e.what(), true);  // still down: try again later
        }
      }
    }
    return body(sql);
  } catch (const Error&) {
    throw;
  } catch (const soci::sqlite3_soci_error& e) {
    int rc = e.result() & 0xff;
    if (rc == SQLITE_CONSTRAINT) throw fail(ErrorCategory::kConflict, e.what(), false);
    bool retry = rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR;
    throw fail(ErrorCategory::kStore, e.what(), retry);
  } catch (const soci::postgresql_soci_error& e) {
    std::string state = e.sqlstate();
    if (state.rfind("23", 0) == 0) throw fail(ErrorCategory::kConflict, e.what(), false);
    bool connection = state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 ||
                      e.get_error_category() == soci::soci_error::connection_error;
    if (connection) {
      try {
        sql.reconnect();  // so that the next call through this session can work
      } catch (...) {
      }
    }
    bool retry = connection || state == "40001" || state == "40P01" || state.rfind("53", 0) == 0;
    throw fail(ErrorCategory::kStore, e.what(), retry);
  } catch (const soci::soci_error& e) {
    bool retry = e.get_error_category() == soci::soci_error::connection_error;
    throw fail(ErrorCategory::kStore, e.what(), retry);
  } catch (const std::exception& e) {
    throw fail(ErrorCategory::kStore, e.what(), false);
  }
}

SociStore::SociStore(const SociStoreOptions& options) {
  if (options.backend == "sqlite3") {
    engine_ = Engine::kSqlite;
  } else if (options.backend == "postgresql") {
    engine_ = Engine::kPostgresql;
  } else {
    throw Error(ErrorCategory::kConfig,
                "soci-store: backend must be \"sqlite3\" or \"postgresql\", not \"" +
                    options.backend + "\"");
  }
  if (options.pool_size < 1) {
    throw Error(ErrorCategory::kConfig, "soci-store: pool_size must be at least 1");
  }
  auto size = static_cast<std::size_t>(options.pool_size);
  pool_ = std::make_unique<soci::connection_pool>(size);
  try {
    for (std::size_t i = 0; i < size; ++i) {
      soci::session& s = pool_->at(i);
      if (engine_ == Engine::kSqlite) {
        s.open(soci::sqlite3, sqlite_connection_string(options));
        std::string mode;
        s << "PRAGMA journal_mode=WAL", soci::into(mode);
        s << "PRAGMA busy_timeout=" + std::to_string(options.busy_timeout_seconds * 1000);
        s << "PRAGMA foreign_keys=ON";
      } else {
        s.open(soci::postgresql, options.connection);
        // libpq prints notices on stderr ("relation … already exists, skipping").
        s << "SET client_min_messages TO WARNING";
      }
    }
  } catch (const soci::soci_error& e) {
    throw Error(
        ErrorCategory::kStore,
        std::string("soci-store: cannot open the ") + options.backend + " database: " + e.what(),
        true);
  }
  if (options.auto_upgrade) upgrade();
}

SociStore::~SociStore() = default;

int SociStore::latest_schema_version() {
  return migrations().back().version;
}

int SociStore::schema_version() {
  return with_session("reading the schema version", [&](soci::session& sql) {
    int tables = 0;
    if (engine_ == Engine::kSqlite) {
      sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = "
             "'schema_version'",
          soci::into(tables);
    } else {
      sql << "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = "
             "'schema_version' AND table_schema = current_schema()",
          soci::into(tables);
    }
    if (tables == 0) return 0;
    int version = 0;
    Indicator ind{};
    sql << "SELECT MAX(version) FROM schema_version", soci::into(version, ind);
    return ind == soci::i_null ? 0 : version;
  });
}

int SociStore::upgrade() {
  return with_session("upgrading the database schema", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    if (engine_ == Engine::kPostgresql) {
      // Two masters upgrading at once: the second waits, then sees it done.
      sql << "SELECT pg_advisory_xact_lock(4242)";
    }
    sql << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied "
           "BIGINT NOT NULL)";
    int current = 0;
    Indicator ind{};
    sql << "SELECT MAX(version) FROM schema_version", soci::into(current, ind);
    if (ind == soci::i_null) current = 0;
    int latest = latest_schema_version();
    if (current > latest) {
      throw Error(ErrorCategory::kStore, "database schema version " + std::to_string(current) +
                                             " is newer than this buildd-master (knows " +
                                             std::to_string(latest) + "); upgrade buildd-master");
    }
    const std::string id_type =
        engine_ == Engine::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
    int applied = 0;
    for (const Migration& m : migrations()) {
      if (m.version <= current) continue;
      for (const char* statement : m.statements) {
        std::string text = statement;
        for (auto pos = text.find("@ID@"); pos != std::string::npos; pos = text.find("@ID@"))
          text.replace(pos, 4, id_type);
        sql << text;
      }
      long long now = to_micros(Clock::now());
      int version = m.version;
      sql << "INSERT INTO schema_version (version, applied) VALUES (:v, :a)", soci::use(version),
          soci::use(now);
      ++applied;
    }
    tx.commit();
    return applied;
  });
}

// ---- processor families, processors, arch releases ----

ProcessorFamily SociStore::add_processor_family(const std::string& name,
                                                const std::vector<std::string>& processors) {
  return with_session("adding a processor family", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    if (lookup_id(sql, "SELECT id FROM processor_family WHERE name = :n", name)) {
      throw Error(ErrorCategory::kConflict, "processor family " + name + " already exists");
    }
    for (const auto& p : processors) {
      if (lookup_id(sql, "SELECT id FROM processor WHERE name = :n", p)) {
        throw Error(ErrorCategory::kConflict, "processor " + p + " already exists");
      }
    }
    long long id = 0;
    sql << "INSERT INTO processor_family (name) VALUES (:n) RETURNING id", soci::use(name),
        soci::into(id);
    std::string processor;
    soci::statement st = (sql.prepare << "INSERT INTO processor (family_id, name) VALUES (:f, :n)",
                          soci::use(id), soci::use(processor));
    for (const auto& p : processors) {
      processor = p;
      st.execute(true);
    }
    tx.commit();
    return ProcessorFamily{id, name};
  });
}

std::vector<ProcessorFamily> SociStore::processor_families() {
  return with_session("listing processor families", [&](soci::session& sql) {
    long long id = 0;
    std::string name;
    soci::statement st = (sql.prepare << "SELECT id, name FROM processor_family ORDER BY id",
                          soci::into(id), soci::into(name));
    st.execute();
    std::vector<ProcessorFamily> out;
    while (st.fetch()) out.push_back({id, name});
    return out;
  });
}

std::vector<Processor> SociStore::processors() {
  return with_session("listing processors", [&](soci::session& sql) {
    long long id = 0, family = 0;
    std::string name;
    soci::statement st = (sql.prepare << "SELECT id, family_id, name FROM processor ORDER BY id",
                          soci::into(id), soci::into(family), soci::into(name));
    st.execute();
    std::vector<Processor> out;
    while (st.fetch()) out.push_back({id, family, name});
    return out;
  });
}

DistroArchRelease SociStore::add_distro_arch_release(const NewDistroArchRelease& dar) {
  return with_session("adding an arch release", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    auto family = lookup_id(sql, "SELECT id FROM processor_family WHERE name = :n", dar.family);
    if (!family) throw Error(ErrorCategory::kNotFound, "unknown processor family " + dar.family);
    DistroArchRelease out;
    out.distribution = dar.distribution;
    out.release = dar.release;
    out.arch_tag = dar.arch_tag;
    out.family_id = *family;
    out.chroot_file_id = dar.chroot_file_id;
    out.official = dar.official;
    int count = 0;
    sql << "SELECT COUNT(*) FROM distro_arch_release WHERE distribution = :d AND release_name = "
           ":r AND arch_tag = :a",
        soci::into(count), soci::use(dar.distribution), soci::use(dar.release),
        soci::use(dar.arch_tag);
    if (count > 0) {
      throw Error(ErrorCategory::kConflict,
                  "arch release " + out.display_name() + " already exists");
    }
    if (dar.chroot_file_id && !exists(sql, "library_file", *dar.chroot_file_id)) {
      throw Error(ErrorCategory::kNotFound,
                  "library file " + std::to_string(*dar.chroot_file_id) + " does not exist");
    }
    Nullable chroot = nullable_id(dar.chroot_file_id);
    long long family_id = *family, id = 0;
    int official = dar.official ? 1 : 0;
    sql << "INSERT INTO distro_arch_release (distribution, release_name, arch_tag, family_id, "
           "chroot_file_id, official) VALUES (:d, :r, :a, :f, :c, :o) RETURNING id",
        soci::use(dar.distribution), soci::use(dar.release), soci::use(dar.arch_tag),
        soci::use(family_id), soci::use(chroot.value, chroot.ind), soci::use(official),
        soci::into(id);
    tx.commit();
    out.id = id;
    return out;
  });
}

std::vector<DistroArchRelease> SociStore::distro_arch_releases() {
  return with_session("listing arch releases", [&](soci::session& sql) {
    return select_rows<DarRow>(
        sql, std::string("SELECT ") + kDarColumns + " FROM distro_arch_release d ORDER BY d.id");
  });
}

std::optional<DistroArchRelease> SociStore::find_distro_arch_release(
    const std::string& distribution, const std::string& release, const std::string& arch_tag) {
  return with_session("finding an arch release", [&](soci::session& sql) {
    auto rows = select_rows<DarRow>(
        sql,
        std::string("SELECT ") + kDarColumns +
            " FROM distro_arch_release d WHERE d.distribution = :d AND d.release_name = :r AND "
            "d.arch_tag = :a",
        [&](auto& p) { p, soci::use(distribution), soci::use(release), soci::use(arch_tag); });
    return rows.empty() ? std::nullopt : std::optional<DistroArchRelease>(rows.front());
  });
}

void SociStore::set_chroot(Id distro_arch_release_id, Id library_file_id) {
  with_session("setting a chroot", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    if (!exists(sql, "library_file", library_file_id)) {
      throw Error(ErrorCategory::kNotFound,
                  "library file " + std::to_string(library_file_id) + " does not exist");
    }
    long long dar = distro_arch_release_id, file = library_file_id;
    soci::statement st =
        (sql.prepare << "UPDATE distro_arch_release SET chroot_file_id = :f WHERE id = :d",
         soci::use(file), soci::use(dar));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      throw Error(ErrorCategory::kNotFound,
                  "arch release " + std::to_string(distro_arch_release_id) + " does not exist");
    }
    tx.commit();
    return 0;
  });
}

// ---- builders ----

Builder SociStore::add_builder(const NewBuilder& builder) {
  return with_session("adding a builder", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    auto processor = lookup_id(sql, "SELECT id FROM processor WHERE name = :n", builder.processor);
    if (!processor) throw Error(ErrorCategory::kNotFound, "unknown processor " + builder.processor);
    if (lookup_id(sql, "SELECT id FROM builder WHERE name = :n", builder.name)) {
      throw Error(ErrorCategory::kConflict, "builder " + builder.name + " already exists");
    }
    long long processor_id = *processor, id = 0;
    int manual = builder.manual ? 1 : 0, virtualized = builder.virtualized ? 1 : 0;
    int speed = builder.speed_index;
    sql << "INSERT INTO builder (name, url, processor_id, manual, virtualized, speed_index) "
           "VALUES (:n, :u, :p, :m, :v, :s) RETURNING id",
        soci::use(builder.name), soci::use(builder.url), soci::use(processor_id), soci::use(manual),
        soci::use(virtualized), soci::use(speed), soci::into(id);
    auto rows = select_rows<BuilderRow>(
        sql, std::string("SELECT ") + kBuilderColumns + kBuilderFrom + " WHERE r.id = :id",
        [&](auto& p) { p, soci::use(id); });
    tx.commit();
    return rows.front();
  });
}

std::vector<Builder> SociStore::builders() {
  return with_session("listing builders", [&](soci::session& sql) {
    return select_rows<BuilderRow>(
        sql, std::string("SELECT ") + kBuilderColumns + kBuilderFrom + " ORDER BY r.id");
  });
}

std::optional<Builder> SociStore::find_builder(const std::string& name) {
  return with_session("finding a builder", [&](soci::session& sql) {
    auto rows = select_rows<BuilderRow>(
        sql, std::string("SELECT ") + kBuilderColumns + kBuilderFrom + " WHERE r.name = :n",
        [&](auto& p) { p, soci::use(name); });
    return rows.empty() ? std::nullopt : std::optional<Builder>(rows.front());
  });
}

void SociStore::set_builder_ok(Id builder_id, bool ok, const std::string& failnotes) {
  with_session("updating a builder", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long id = builder_id;
    int okay = ok ? 1 : 0;
    // Enabling is the operator's word that the builder is fine again.
    soci::statement st =
        (sql.prepare << "UPDATE builder SET builderok = :ok, failnotes = :notes, failure_count = "
                        "CASE WHEN :ok2 = 1 THEN 0 ELSE failure_count END WHERE id = :id",
         soci::use(okay), soci::use(failnotes), soci::use(okay), soci::use(id));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      throw Error(ErrorCategory::kNotFound,
                  "builder " + std::to_string(builder_id) + " does not exist");
    }
    tx.commit();
    return 0;
  });
}

void SociStore::set_builder_slave_state(Id builder_id, const std::string& state, TimePoint since) {
  with_session("recording a builder's slave state", [&](soci::session& sql) {
    long long id = builder_id, at = to_micros(since);
    sql << "UPDATE builder SET slave_state = :s, slave_state_since = :t WHERE id = :id",
        soci::use(state), soci::use(at), soci::use(id);
    return 0;
  });
}

// ---- builds ----

Build SociStore::add_build(const NewBuild& build) {
  return with_session("adding a build", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    if (!exists(sql, "distro_arch_release", build.distro_arch_release_id)) {
      throw Error(
          ErrorCategory::kNotFound,
          "arch release " + std::to_string(build.distro_arch_release_id) + " does not exist");
    }
    for (const auto& [filename, file_id] : build.source_files) {
      if (!exists(sql, "library_file", file_id)) {
        throw Error(ErrorCategory::kNotFound, "library file " + std::to_string(file_id) + " (" +
                                                  filename + ") does not exist");
      }
    }
    long long now = to_micros(Clock::now());
    long long dar = build.distro_arch_release_id, id = 0;
    int score = build.score, manual = build.manual_score ? 1 : 0;
    sql << "INSERT INTO build (source_name, source_version, distro_arch_release_id, state, "
           "created, component, pocket, urgency, score, manual_score) VALUES (:s, :v, :d, 0, "
           ":c, :comp, :p, :u, :score, :m) RETURNING id",
        soci::use(build.source_name), soci::use(build.source_version), soci::use(dar),
        soci::use(now), soci::use(build.component), soci::use(build.pocket),
        soci::use(build.urgency), soci::use(score), soci::use(manual), soci::into(id);
    std::string filename;
    long long file_id = 0;
    soci::statement files =
        (sql.prepare << "INSERT INTO build_source_file (build_id, filename, library_file_id) "
                        "VALUES (:b, :n, :f)",
         soci::use(id), soci::use(filename), soci::use(file_id));
    for (const auto& [name, fid] : build.source_files) {
      filename = name;
      file_id = fid;
      files.execute(true);
    }
    sql << "INSERT INTO build_queue (build_id, distro_arch_release_id, score, manual, created) "
           "VALUES (:b, :d, :s, :m, :c)",
        soci::use(id), soci::use(dar), soci::use(score), soci::use(manual), soci::use(now);
    tx.commit();
    Build out;
    out.id = id;
    out.source_name = build.source_name;
    out.source_version = build.source_version;
    out.distro_arch_release_id = build.distro_arch_release_id;
    out.created = from_micros(now);
    out.component = build.component;
    out.pocket = build.pocket;
    out.urgency = build.urgency;
    return out;
  });
}

std::optional<Build> SociStore::find_build(Id build_id) {
  return with_session("finding a build", [&](soci::session& sql) {
    long long id = build_id;
    auto rows = select_rows<BuildRow>(
        sql, std::string("SELECT ") + kBuildColumns + " FROM build b WHERE b.id = :id",
        [&](auto& p) { p, soci::use(id); });
    return rows.empty() ? std::nullopt : std::optional<Build>(rows.front());
  });
}

std::vector<Build> SociStore::builds(std::optional<BuildState> state, std::size_t limit) {
  return with_session("listing builds", [&](soci::session& sql) {
    std::string query = std::string("SELECT ") + kBuildColumns + " FROM build b";
    int value = state ? static_cast<int>(*state) : 0;
    if (state) query += " WHERE b.state = :s";
    query += " ORDER BY b.id DESC" + limit_clause(limit);
    return select_rows<BuildRow>(sql, query, [&](auto& p) {
      if (state) p, soci::use(value);
    });
  });
}

std::vector<Build> SociStore::builds_by_builder(Id builder_id, std::size_t limit) {
  return with_session("listing a builder's builds", [&](soci::session& sql) {
    long long id = builder_id;
    return select_rows<BuildRow>(sql,
                                 std::string("SELECT ") + kBuildColumns +
                                     " FROM build b WHERE b.builder_id = :r ORDER BY b.id DESC" +
                                     limit_clause(limit),
                                 [&](auto& p) { p, soci::use(id); });
  });
}

namespace {
std::vector<BuildFile> build_files(soci::session& sql, const std::string& table, Id build_id) {
  long long id = build_id;
  struct Row {
    std::string name;
    LibraryFileRow f;
    void bind(soci::details::prepare_temp_type& p) {
      p, soci::into(name);
      f.bind(p);
    }
    BuildFile value() const { return BuildFile{name, f.value()}; }
  };
  return select_rows<Row>(sql,
                          "SELECT s.filename, " + std::string(kLibraryFileColumns) + " FROM " +
                              table +
                              " s JOIN library_file f ON f.id = s.library_file_id WHERE "
                              "s.build_id = :b ORDER BY s.id",
                          [&](auto& p) { p, soci::use(id); });
}
}  // namespace

std::vector<BuildFile> SociStore::source_files(Id build_id) {
  return with_session("listing source files", [&](soci::session& sql) {
    return build_files(sql, "build_source_file", build_id);
  });
}

std::vector<BuildFile> SociStore::result_files(Id build_id) {
  return with_session("listing result files", [&](soci::session& sql) {
    return build_files(sql, "build_result_file", build_id);
  });
}

std::optional<BuildQueueEntry> SociStore::queue_entry_for_build(Id build_id) {
  return with_session("finding a queue entry", [&](soci::session& sql) {
    long long id = build_id;
    auto rows = select_rows<QueueRow>(
        sql, std::string("SELECT ") + kQueueColumns + " FROM build_queue q WHERE q.build_id = :b",
        [&](auto& p) { p, soci::use(id); });
    return rows.empty() ? std::nullopt : std::optional<BuildQueueEntry>(rows.front());
  });
}

void SociStore::retry_build(Id build_id) {
  with_session("retrying a build", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long id = build_id, dar = 0;
    int state = 0, score = 0, manual = 0;
    soci::statement st =
        (sql.prepare << "SELECT state, distro_arch_release_id, score, "
                        "manual_score FROM build WHERE id = :id",
         soci::into(state), soci::into(dar), soci::into(score), soci::into(manual), soci::use(id));
    if (!st.execute(true)) {
      throw Error(ErrorCategory::kNotFound,
                  "build " + std::to_string(build_id) + " does not exist");
    }
    auto current = static_cast<BuildState>(state);
    if (!is_retryable_final_state(current)) {
      throw Error(ErrorCategory::kConflict, "build " + std::to_string(build_id) + " is " +
                                                std::string(title(current)) +
                                                " and cannot be retried");
    }
    sql << "UPDATE build SET state = 0, started = NULL, built = NULL, duration = NULL, "
           "builder_id = NULL, buildlog_id = NULL, dependencies = '' WHERE id = :id",
        soci::use(id);
    sql << "DELETE FROM build_result_file WHERE build_id = :id", soci::use(id);
    long long now = to_micros(Clock::now());
    sql << "INSERT INTO build_queue (build_id, distro_arch_release_id, score, manual, created) "
           "VALUES (:b, :d, :s, :m, :c)",
        soci::use(id), soci::use(dar), soci::use(score), soci::use(manual), soci::use(now);
    tx.commit();
    return 0;
  });
}

CancelOutcome SociStore::cancel_build(Id build_id) {
  return with_session("cancelling a build", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long id = build_id;
    int state = 0;
    soci::statement st =
        (sql.prepare << "SELECT state FROM build WHERE id = :id", soci::into(state), soci::use(id));
    if (!st.execute(true)) {
      throw Error(ErrorCategory::kNotFound,
                  "build " + std::to_string(build_id) + " does not exist");
    }
    auto current = static_cast<BuildState>(state);
    if (is_final(current)) return CancelOutcome::kAlreadyFinal;
    if (current == BuildState::kCancelling) return CancelOutcome::kCancelling;
    long long queue_id = 0, builder = 0;
    Indicator i_builder{};
    soci::statement q =
        (sql.prepare << "SELECT id, builder_id FROM build_queue WHERE build_id = :b",
         soci::into(queue_id), soci::into(builder, i_builder), soci::use(id));
    bool queued = q.execute(true);
    if (current == BuildState::kNeedsBuild && (!queued || i_builder == soci::i_null)) {
      sql << "DELETE FROM build_queue WHERE build_id = :b", soci::use(id);
      sql << "UPDATE build SET state = 10 WHERE id = :id", soci::use(id);
      tx.commit();
      return CancelOutcome::kCancelled;
    }
    sql << "UPDATE build SET state = 9 WHERE id = :id", soci::use(id);
    tx.commit();
    return CancelOutcome::kCancelling;
  });
}

// ---- queue ----

std::vector<QueuedBuild> SociStore::active_jobs() {
  return with_session("listing active jobs", [&](soci::session& sql) {
    return select_rows<QueuedRow>(
        sql, queued_select() + " WHERE q.builder_id IS NOT NULL ORDER BY q.id");
  });
}

std::vector<QueuedBuild> SociStore::candidates(const std::vector<Id>& distro_arch_release_ids,
                                               std::size_t limit) {
  return with_session("listing candidates", [&](soci::session& sql) {
    std::vector<QueuedBuild> out;
    if (limit == 0) return out;
    // One index range scan per arch release (the partial index on waiting
    // entries), each at most `limit` rows, then merged here.
    const std::string query = candidates_query(limit);
    std::vector<Id> ids = distro_arch_release_ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (Id dar : ids) {
      long long d = dar;
      auto rows = select_rows<QueuedRow>(sql, query, [&](auto& p) { p, soci::use(d); });
      out.insert(out.end(), rows.begin(), rows.end());
    }
    std::sort(out.begin(), out.end(), [](const QueuedBuild& a, const QueuedBuild& b) {
      if (a.entry.score != b.entry.score) return a.entry.score > b.entry.score;
      return a.entry.id < b.entry.id;
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  });
}

std::vector<QueuedBuild> SociStore::waiting(std::size_t limit) {
  return with_session("listing the queue", [&](soci::session& sql) {
    return select_rows<QueuedRow>(
        sql, queued_select() + " WHERE q.builder_id IS NULL ORDER BY q.score DESC, q.id" +
                 limit_clause(limit));
  });
}

std::optional<QueuedBuild> SociStore::active_job_for_builder(Id builder_id) {
  return with_session("finding a builder's job", [&](soci::session& sql) {
    long long id = builder_id;
    auto rows = select_rows<QueuedRow>(sql, queued_select() + " WHERE q.builder_id = :r",
                                       [&](auto& p) { p, soci::use(id); });
    return rows.empty() ? std::nullopt : std::optional<QueuedBuild>(rows.front());
  });
}

bool SociStore::claim(Id queue_id, Id build_id, Id builder_id, TimePoint now) {
  return with_session("claiming a queue entry", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long q = queue_id, b = build_id, r = builder_id, t = to_micros(now);
    // One active job per builder: the unique index is the last word (two
    // masters racing), this predicate the polite first one.
    soci::statement st =
        (sql.prepare << "UPDATE build_queue SET builder_id = :r, buildstart = :t, attempt = "
                        "attempt + 1 WHERE id = :q AND build_id = :b AND builder_id IS NULL AND "
                        "NOT EXISTS (SELECT 1 FROM build_queue o WHERE o.builder_id = :r2)",
         soci::use(r), soci::use(t), soci::use(q), soci::use(b), soci::use(r));
    st.execute(true);
    if (st.get_affected_rows() != 1) return false;  // the destructor rolls back
    soci::statement build =
        (sql.prepare << "UPDATE build SET state = 6, started = :t, builder_id = :r WHERE id = :b "
                        "AND state = 0",
         soci::use(t), soci::use(r), soci::use(b));
    build.execute(true);
    if (build.get_affected_rows() != 1) return false;
    tx.commit();
    return true;
  });
}

CommitResult SociStore::commit(const CycleChanges& changes) {
  if (changes.empty()) return {};
  return with_session("committing the pipeline's changes", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    CommitResult result;
    long long queue_id = 0, build_id = 0, at = 0;
    std::string text;
    auto applied = [&](soci::statement& st) {
      st.execute(true);
      if (st.get_affected_rows() > 0) return true;
      ++result.stale;
      return false;
    };

    // Log tails and abort times only for an entry that still has its builder.
    if (!changes.logtails.empty()) {
      soci::statement st =
          (sql.prepare << "UPDATE build_queue SET logtail = :t WHERE id = :q AND builder_id IS "
                          "NOT NULL",
           soci::use(text), soci::use(queue_id));
      for (const auto& u : changes.logtails) {
        text = u.logtail;
        queue_id = u.queue_id;
        applied(st);
      }
    }
    if (!changes.aborts.empty()) {
      soci::statement st =
          (sql.prepare << "UPDATE build_queue SET abort_sent = :a WHERE id = :q AND builder_id IS "
                          "NOT NULL",
           soci::use(at), soci::use(queue_id));
      for (const auto& a : changes.aborts) {
        at = to_micros(a.at);
        queue_id = a.queue_id;
        applied(st);
      }
    }
    if (!changes.builders.empty()) {
      long long builder = 0;
      int ok = 1, failures = 0;
      // The pipeline may disable a builder, never enable one: the operator's
      // flag and notes stand unless this update disables.
      soci::statement st =
          (sql.prepare << "UPDATE builder SET builderok = CASE WHEN :ok = 0 THEN 0 ELSE builderok "
                          "END, failnotes = CASE WHEN :ok2 = 0 THEN :n ELSE failnotes END, "
                          "failure_count = :f WHERE id = :id",
           soci::use(ok), soci::use(ok), soci::use(text), soci::use(failures), soci::use(builder));
      for (const auto& u : changes.builders) {
        ok = u.builderok ? 1 : 0;
        text = u.failnotes;
        failures = u.failure_count;
        builder = u.builder_id;
        st.execute(true);
        if (st.get_affected_rows() == 0) {
          throw Error(ErrorCategory::kNotFound,
                      "builder " + std::to_string(u.builder_id) + " does not exist");
        }
      }
    }
    if (!changes.counters.empty()) {
      int failures = 0, give_backs = 0;
      soci::statement st =
          (sql.prepare << "UPDATE build SET failure_count = :f, give_back_count = :g WHERE id = :b",
           soci::use(failures), soci::use(give_backs), soci::use(build_id));
      for (const auto& c : changes.counters) {
        failures = c.failure_count;
        give_backs = c.give_back_count;
        build_id = c.build_id;
        st.execute(true);
      }
    }
    if (!changes.resets.empty()) {
      // Only a BUILDING build of the same dispatch attempt goes back to the
      // queue: a cancel (CANCELLING), a completion or a newer attempt wins.
      int attempt = 0;
      soci::statement build =
          (sql.prepare << "UPDATE build SET state = 0, started = NULL WHERE id = :b AND state = 6 "
                          "AND EXISTS (SELECT 1 FROM build_queue q WHERE q.id = :q AND q.build_id "
                          "= :b2 AND q.builder_id IS NOT NULL AND (:a = 0 OR q.attempt = :a2))",
           soci::use(build_id), soci::use(queue_id), soci::use(build_id), soci::use(attempt),
           soci::use(attempt));
      soci::statement queue =
          (sql.prepare << "UPDATE build_queue SET builder_id = NULL, buildstart = NULL, logtail = "
                          "'', abort_sent = NULL WHERE id = :q",
           soci::use(queue_id));
      for (const auto& r : changes.resets) {
        queue_id = r.queue_id;
        build_id = r.build_id;
        attempt = r.attempt;
        if (applied(build)) queue.execute(true);
      }
    }
    if (!changes.completions.empty()) {
      int state = 0;
      Nullable built, duration, builder, log;
      soci::statement update =
          (sql.prepare << "UPDATE build SET state = :s, built = :bt, duration = :du, builder_id = "
                          "COALESCE(:br, builder_id), buildlog_id = :l, dependencies = :dep "
                          "WHERE id = :b",
           soci::use(state), soci::use(built.value, built.ind),
           soci::use(duration.value, duration.ind), soci::use(builder.value, builder.ind),
           soci::use(log.value, log.ind), soci::use(text), soci::use(build_id));
      long long file_id = 0;
      std::string filename;
      soci::statement result_file =
          (sql.prepare << "INSERT INTO build_result_file (build_id, filename, library_file_id) "
                          "VALUES (:b, :n, :f)",
           soci::use(build_id), soci::use(filename), soci::use(file_id));
      // The entry goes first: once it is gone the completion was committed
      // already (or the build was cancelled while waiting), and this one is
      // dropped whole.
      soci::statement dequeue =
          (sql.prepare << "DELETE FROM build_queue WHERE id = :q AND build_id = :b",
           soci::use(queue_id), soci::use(build_id));
      for (const auto& c : changes.completions) {
        state = static_cast<int>(c.state);
        built = nullable_time(c.built);
        duration = c.duration ? Nullable(c.duration->count()) : Nullable();
        builder = nullable_id(c.builder_id);
        log = nullable_id(c.buildlog_id);
        text = c.dependencies;
        build_id = c.build_id;
        queue_id = c.queue_id;
        if (c.buildlog_id && !exists(sql, "library_file", *c.buildlog_id)) {
          throw Error(
              ErrorCategory::kNotFound,
              "build log library file " + std::to_string(*c.buildlog_id) + " does not exist");
        }
        if (!applied(dequeue)) continue;
        update.execute(true);
        if (update.get_affected_rows() == 0) {
          throw Error(ErrorCategory::kNotFound,
                      "build " + std::to_string(c.build_id) + " does not exist");
        }
        for (const auto& [name, fid] : c.result_files) {
          if (!exists(sql, "library_file", fid)) {
            throw Error(ErrorCategory::kNotFound,
                        "library file " + std::to_string(fid) + " (" + name + ") does not exist");
          }
          filename = name;
          file_id = fid;
          result_file.execute(true);
        }
      }
    }
    tx.commit();
    return result;
  });
}

// ---- masters and builder leases ----

MasterRegistration SociStore::heartbeat(const std::string& master_id, const std::string& instance,
                                        TimePoint now, std::chrono::seconds ttl,
                                        const std::string& replacing) {
  return with_session("renewing the master's heartbeat", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long at = to_micros(now), stale = to_micros(now - ttl), seen = 0;
    MasterRegistration refused;
    refused.held = false;
    if (!replacing.empty()) {
      sql << "DELETE FROM builder_lease WHERE master_id IN (SELECT id FROM master WHERE instance "
             "= :i)",
          soci::use(replacing);
      sql << "DELETE FROM master WHERE instance = :i", soci::use(replacing);
    }
    if (engine_ == Engine::kSqlite) {
      // SQLite has one writer and nothing worth sharing: one master.
      soci::statement st =
          (sql.prepare << "SELECT id, instance, heartbeat FROM master WHERE id <> :id AND "
                          "heartbeat >= :stale",
           soci::into(refused.holder_id), soci::into(refused.holder_instance), soci::into(seen),
           soci::use(master_id), soci::use(stale));
      if (st.execute(true)) {
        refused.holder_heartbeat = from_micros(seen);
        return refused;  // the destructor rolls back
      }
    }
    // Taken when free, held by this instance, or abandoned (heartbeat older
    // than the TTL); otherwise left alone, and this instance is refused.
    soci::statement upsert =
        (sql.prepare << "INSERT INTO master (id, instance, heartbeat) VALUES (:id, :inst, :at) "
                        "ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, heartbeat = "
                        "excluded.heartbeat WHERE master.instance = excluded.instance OR "
                        "master.heartbeat < :stale",
         soci::use(master_id), soci::use(instance), soci::use(at), soci::use(stale));
    upsert.execute(true);
    if (upsert.get_affected_rows() == 0) {
      refused.holder_id = master_id;
      sql << "SELECT instance, heartbeat FROM master WHERE id = :id",
          soci::into(refused.holder_instance), soci::into(seen), soci::use(master_id);
      refused.holder_heartbeat = from_micros(seen);
      return refused;
    }
    tx.commit();
    return MasterRegistration{};
  });
}

std::vector<std::string> SociStore::live_masters(TimePoint now, std::chrono::seconds ttl) {
  return with_session("listing live masters", [&](soci::session& sql) {
    long long stale = to_micros(now - ttl);
    std::vector<std::string> ids;
    std::string id;
    soci::statement st =
        (sql.prepare << "SELECT id FROM master WHERE heartbeat >= :stale ORDER BY id",
         soci::into(id), soci::use(stale));
    st.execute();
    while (st.fetch()) ids.push_back(id);
    return ids;
  });
}

std::vector<Id> SociStore::balance_leases(const std::string& master_id, std::size_t target,
                                          TimePoint now, std::chrono::seconds ttl) {
  return with_session("balancing builder leases", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long at = to_micros(now), expires = to_micros(now + ttl), builder = 0;
    sql << "UPDATE builder_lease SET expires = :e WHERE master_id = :m", soci::use(expires),
        soci::use(master_id);
    std::vector<Id> held;
    {
      soci::statement st =
          (sql.prepare << "SELECT builder_id FROM builder_lease WHERE master_id = :m ORDER BY "
                          "builder_id",
           soci::into(builder), soci::use(master_id));
      st.execute();
      while (st.fetch()) held.push_back(builder);
    }
    // Beyond its share: the newest builders go back (another master takes
    // them, adopting whatever they are building).
    while (held.size() > target) {
      long long id = held.back();
      sql << "DELETE FROM builder_lease WHERE builder_id = :b AND master_id = :m", soci::use(id),
          soci::use(master_id);
      held.pop_back();
    }
    if (held.size() < target) {
      std::vector<long long> free;
      {
        soci::statement st =
            (sql.prepare << "SELECT r.id FROM builder r LEFT JOIN builder_lease l ON l.builder_id "
                            "= r.id WHERE l.builder_id IS NULL OR l.expires < :now ORDER BY r.id" +
                                limit_clause(target - held.size()),
             soci::into(builder), soci::use(at));
        st.execute();
        while (st.fetch()) free.push_back(builder);
      }
      // Another master may take the same builder at the same instant: the
      // conditional upsert lets one of them have it.
      soci::statement take =
          (sql.prepare << "INSERT INTO builder_lease (builder_id, master_id, expires) VALUES (:b, "
                          ":m, :e) ON CONFLICT (builder_id) DO UPDATE SET master_id = "
                          "excluded.master_id, expires = excluded.expires WHERE "
                          "builder_lease.expires < :now",
           soci::use(builder), soci::use(master_id), soci::use(expires), soci::use(at));
      for (long long id : free) {
        builder = id;
        take.execute(true);
        if (take.get_affected_rows() > 0) held.push_back(id);
      }
      std::sort(held.begin(), held.end());
    }
    tx.commit();
    return held;
  });
}

void SociStore::leave(const std::string& master_id, const std::string& instance) {
  with_session("leaving the farm", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    sql << "DELETE FROM builder_lease WHERE master_id = :m", soci::use(master_id);
    sql << "DELETE FROM master WHERE id = :m AND instance = :i", soci::use(master_id),
        soci::use(instance);
    tx.commit();
    return 0;
  });
}

// ---- library files ----

LibraryFile SociStore::add_library_file(const LibraryFile& file) {
  return with_session("recording a library file", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    LibraryFile out = file;
    if (out.created == TimePoint{}) out.created = Clock::now();
    long long size = static_cast<long long>(file.size), created = to_micros(out.created), id = 0;
    sql << "INSERT INTO library_file (filename, size, sha1, sha256, mime, locator, created) "
           "VALUES (:n, :s, :h1, :h2, :m, :l, :c) RETURNING id",
        soci::use(file.filename), soci::use(size), soci::use(file.sha1), soci::use(file.sha256),
        soci::use(file.mime), soci::use(file.locator), soci::use(created), soci::into(id);
    tx.commit();
    out.id = id;
    // What the database holds: microsecond precision.
    out.created = from_micros(created);
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
