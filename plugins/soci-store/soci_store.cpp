// The SOCI store: opening the pool, the schema and its migrations, and the
// admin reads and writes (families, arch releases, builders, builds).

#include "soci_detail.hpp"

namespace buildd::soci_store {

using namespace detail;

SociStoreOptions options_from_config(const PluginConfig& config) {
  SociStoreOptions o;
  o.backend = config.get_string("backend");
  o.connection = config.get_string("connection");
  o.pool_size = static_cast<int>(config.get_int("pool_size"));
  o.busy_timeout_seconds = static_cast<int>(config.get_seconds("busy_timeout"));
  o.auto_upgrade = config.get_bool("auto_upgrade");
  return o;
}

SociStoreOptions default_options(const std::string& backend, const std::string& connection) {
  return options_from_config(
      plugin_config_from(kConfigKeys, {{"backend", backend}, {"connection", connection}}));
}

SociStore::SociStore(const SociStoreOptions& options) {
  if (options.backend == "sqlite3") {
    engine_ = Engine::kSqlite;
  } else if (options.backend == "postgresql") {
    engine_ = Engine::kPostgresql;
  } else if (options.backend == "mariadb") {
    engine_ = Engine::kMariadb;
  } else {
    throw Error(ErrorCategory::kConfig,
                "soci-store: backend must be \"sqlite3\", \"postgresql\" or \"mariadb\", not \"" +
                    options.backend + "\"");
  }
  if (options.pool_size < 1) {
    throw Error(ErrorCategory::kConfig, "soci-store: pool_size must be at least 1");
  }
  auto size = static_cast<std::size_t>(options.pool_size);
  pool_ = std::make_unique<soci::connection_pool>(size);
  for (std::size_t i = 0; i < size; ++i) statements_.push_back(std::make_unique<StatementCache>());
  try {
    for (std::size_t i = 0; i < size; ++i) {
      soci::session& s = pool_->at(i);
      if (engine_ == Engine::kSqlite) {
        s.open(soci::sqlite3, sqlite_connection_string(options));
        std::string mode;
        s << "PRAGMA journal_mode=WAL", soci::into(mode);
        s << "PRAGMA busy_timeout=" + std::to_string(options.busy_timeout_seconds * 1000);
        s << "PRAGMA foreign_keys=ON";
      } else if (engine_ == Engine::kPostgresql) {
        s.open(soci::postgresql, options.connection);
        // libpq prints notices on stderr ("relation … already exists, skipping").
        s << "SET client_min_messages TO WARNING";
      } else {
        s.open(soci::mysql, options.connection);
        open_mariadb_session(s);
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

std::size_t SociStore::prepared_statements() const {
  std::size_t n = 0;
  for (const auto& cache : statements_) n += cache->size();
  return n;
}

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
      // current_schema() is PostgreSQL's schema, DATABASE() MariaDB's.
      sql << std::string(
                 "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = "
                 "'schema_version' AND table_schema = ") +
                 (engine_ == Engine::kPostgresql ? "current_schema()" : "DATABASE()"),
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
    // Two masters upgrading at once: the second waits, then sees it done.
    std::optional<MariadbLock> lock;
    if (engine_ == Engine::kMariadb) lock.emplace(sql, "buildd-master schema upgrade");
    Transaction tx(sql, engine_);
    if (engine_ == Engine::kPostgresql) sql << "SELECT pg_advisory_xact_lock(4242)";
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
    const char* id_type = engine_ == Engine::kSqlite       ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                          : engine_ == Engine::kPostgresql ? "BIGSERIAL PRIMARY KEY"
                                                           : "BIGINT AUTO_INCREMENT PRIMARY KEY";
    const char* table_options = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";
    auto replace_all = [](std::string& text, const std::string& from, const std::string& to) {
      for (auto pos = text.find(from); pos != std::string::npos;
           pos = text.find(from, pos + to.size()))
        text.replace(pos, from.size(), to);
    };
    int applied = 0;
    for (const Migration& m : migrations()) {
      if (m.version <= current) continue;
      const auto& statements = engine_ == Engine::kMariadb && !m.mariadb_statements.empty()
                                   ? m.mariadb_statements
                                   : m.statements;
      for (const char* statement : statements) {
        std::string text = statement;
        replace_all(text, "@ID@", id_type);
        replace_all(text, "@TABLE@", table_options);
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
    Prepared st = (Prepared(sql, "INSERT INTO processor (family_id, name) VALUES (:f, :n)"),
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
    Prepared st = (Prepared(sql, "SELECT id, name FROM processor_family ORDER BY id"),
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
    Prepared st = (Prepared(sql, "SELECT id, family_id, name FROM processor ORDER BY id"),
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
    Prepared st =
        (Prepared(sql, "UPDATE distro_arch_release SET chroot_file_id = :f WHERE id = :d"),
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
    long long processor_id = *processor, id = 0;
    int manual = builder.manual ? 1 : 0, virtualized = builder.virtualized ? 1 : 0;
    int speed = builder.speed_index;
    if (auto existing = lookup_id(sql, "SELECT id FROM builder WHERE name = :n", builder.name)) {
      // A removed builder's name brings it back: same id, so its old builds
      // stay with it, and a fresh start (OK, no failures, state unknown).
      id = *existing;
      Prepared st =
          (Prepared(sql,
                    "UPDATE builder SET removed = 0, url = :u, processor_id = :p, manual = "
                    ":m, virtualized = :v, speed_index = :s, builderok = 1, failnotes = '', "
                    "disabled_at = NULL, failure_count = 0, slave_state = '', "
                    "slave_state_since = NULL WHERE id = :id AND removed = 1"),
           soci::use(builder.url), soci::use(processor_id), soci::use(manual),
           soci::use(virtualized), soci::use(speed), soci::use(id));
      st.execute(true);
      if (st.get_affected_rows() != 1)
        throw Error(ErrorCategory::kConflict, "builder " + builder.name + " already exists");
    } else {
      sql << "INSERT INTO builder (name, url, processor_id, manual, virtualized, speed_index) "
             "VALUES (:n, :u, :p, :m, :v, :s) RETURNING id",
          soci::use(builder.name), soci::use(builder.url), soci::use(processor_id),
          soci::use(manual), soci::use(virtualized), soci::use(speed), soci::into(id);
    }
    auto rows = select_rows<BuilderRow>(
        sql, std::string("SELECT ") + kBuilderColumns + kBuilderFrom + " WHERE r.id = :id",
        [&](auto& p) { p, soci::use(id); });
    tx.commit();
    return rows.front();
  });
}

std::vector<Builder> SociStore::builders() {
  return with_session("listing builders", [&](soci::session& sql) {
    return select_rows<BuilderRow>(sql, std::string("SELECT ") + kBuilderColumns + kBuilderFrom +
                                            " WHERE r.removed = 0 ORDER BY r.id");
  });
}

std::vector<Builder> SociStore::removed_builders() {
  return with_session("listing removed builders", [&](soci::session& sql) {
    return select_rows<BuilderRow>(sql, std::string("SELECT ") + kBuilderColumns + kBuilderFrom +
                                            " WHERE r.removed = 1 ORDER BY r.id");
  });
}

std::optional<Builder> SociStore::find_builder(const std::string& name) {
  return with_session("finding a builder", [&](soci::session& sql) {
    auto rows = select_rows<BuilderRow>(sql,
                                        std::string("SELECT ") + kBuilderColumns + kBuilderFrom +
                                            " WHERE r.name = :n AND r.removed = 0",
                                        [&](auto& p) { p, soci::use(name); });
    return rows.empty() ? std::nullopt : std::optional<Builder>(rows.front());
  });
}

void SociStore::set_builder_ok(Id builder_id, bool ok, const std::string& failnotes) {
  with_session("updating a builder", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long id = builder_id;
    int okay = ok ? 1 : 0;
    long long now = to_micros(Clock::now());
    // Enabling is the operator's word that the builder is fine again.
    // disabled_at is assigned first: MariaDB evaluates SET left to right, with
    // the values already assigned.
    Prepared st = (Prepared(sql,
                            "UPDATE builder SET disabled_at = CASE WHEN :ok = 1 THEN NULL WHEN "
                            "builderok = 1 THEN :now ELSE disabled_at END, builderok = :ok2, "
                            "failnotes = :notes, failure_count = CASE WHEN :ok3 = 1 THEN 0 ELSE "
                            "failure_count END WHERE id = :id AND removed = 0"),
                   soci::use(okay), soci::use(now), soci::use(okay), soci::use(failnotes),
                   soci::use(okay), soci::use(id));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      throw Error(ErrorCategory::kNotFound,
                  "builder " + std::to_string(builder_id) + " does not exist");
    }
    tx.commit();
    return 0;
  });
}

void SociStore::remove_builder(Id builder_id) {
  with_session("removing a builder", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long id = builder_id, build_id = 0;
    // Marked first, so the row lock orders this against claim(), which locks
    // the same row before it gives the builder a job: whichever comes second
    // sees the other's write.
    Prepared st = (Prepared(sql, "UPDATE builder SET removed = 1 WHERE id = :id AND removed = 0"),
                   soci::use(id));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      throw Error(ErrorCategory::kNotFound,
                  "builder " + std::to_string(builder_id) + " does not exist");
    }
    Prepared job = (Prepared(sql, "SELECT build_id FROM build_queue WHERE builder_id = :id"),
                    soci::into(build_id), soci::use(id));
    if (job.execute(true)) {
      throw Error(ErrorCategory::kConflict, "builder " + std::to_string(builder_id) +
                                                " holds build " + std::to_string(build_id) +
                                                "; cancel it or let it finish first");
    }
    sql << "DELETE FROM builder_lease WHERE builder_id = :id", soci::use(id);
    tx.commit();
    return 0;
  });
}

void SociStore::set_builder_url(Id builder_id, const std::string& url) {
  with_session("changing a builder's URL", [&](soci::session& sql) {
    long long id = builder_id;
    Prepared st = (Prepared(sql, "UPDATE builder SET url = :u WHERE id = :id"), soci::use(url),
                   soci::use(id));
    st.execute(true);
    if (st.get_affected_rows() == 0) {
      throw Error(ErrorCategory::kNotFound,
                  "builder " + std::to_string(builder_id) + " does not exist");
    }
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

void SociStore::rescore_build(Id build_id, int score) {
  with_session("rescoring a build", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    if (!exists(sql, "build", build_id)) {
      throw Error(ErrorCategory::kNotFound,
                  "build " + std::to_string(build_id) + " does not exist");
    }
    long long id = build_id;
    Prepared queue =
        (Prepared(sql,
                  "UPDATE build_queue SET score = :s, manual = 1 WHERE build_id = :b AND "
                  "builder_id IS NULL"),
         soci::use(score), soci::use(id));
    queue.execute(true);
    if (queue.get_affected_rows() == 0) {
      throw Error(ErrorCategory::kConflict,
                  "build " + std::to_string(build_id) + " is not waiting (dispatched or finished)");
    }
    sql << "UPDATE build SET score = :s, manual_score = 1 WHERE id = :b", soci::use(score),
        soci::use(id);
    tx.commit();
    return 0;
  });
}

std::vector<Build> SociStore::builds_of_source(const std::string& source_name,
                                               const std::string& source_version,
                                               Id distro_arch_release_id) {
  return with_session("finding the builds of a source", [&](soci::session& sql) {
    long long dar = distro_arch_release_id;
    return select_rows<BuildRow>(
        sql,
        std::string("SELECT ") + kBuildColumns +
            " FROM build b WHERE b.source_name = :s AND b.source_version = :v AND "
            "b.distro_arch_release_id = :d ORDER BY b.id DESC",
        [&](auto& p) { p, soci::use(source_name), soci::use(source_version), soci::use(dar); });
  });
}

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
           "created, component, pocket, urgency, score, manual_score, archive) VALUES (:s, :v, "
           ":d, 0, :c, :comp, :p, :u, :score, :m, :a) RETURNING id",
        soci::use(build.source_name), soci::use(build.source_version), soci::use(dar),
        soci::use(now), soci::use(build.component), soci::use(build.pocket),
        soci::use(build.urgency), soci::use(score), soci::use(manual), soci::use(build.archive),
        soci::into(id);
    std::string filename;
    long long file_id = 0;
    Prepared files =
        (Prepared(sql,
                  "INSERT INTO build_source_file (build_id, filename, library_file_id) "
                  "VALUES (:b, :n, :f)"),
         soci::use(id), soci::use(filename), soci::use(file_id));
    for (const auto& [name, fid] : build.source_files) {
      filename = name;
      file_id = fid;
      files.execute(true);
    }
    sql << "INSERT INTO build_queue (build_id, distro_arch_release_id, score, manual, created, "
           "archive) VALUES (:b, :d, :s, :m, :c, :a)",
        soci::use(id), soci::use(dar), soci::use(score), soci::use(manual), soci::use(now),
        soci::use(build.archive);
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
    out.archive = build.archive;
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

std::vector<Build> SociStore::list_builds(const BuildListQuery& q) {
  return with_session("listing builds", [&](soci::session& sql) {
    std::string query = std::string("SELECT ") + kBuildColumns + " FROM build b WHERE 1 = 1";
    int value = q.state ? static_cast<int>(*q.state) : 0;
    if (q.state) query += " AND b.state = :s";
    if (!q.source_name.empty()) query += " AND b.source_name = :n";
    query += " ORDER BY b.id DESC" + limit_clause(q.limit, q.offset);
    return select_rows<BuildRow>(sql, query, [&](auto& p) {
      if (q.state) p, soci::use(value);
      if (!q.source_name.empty()) p, soci::use(q.source_name);
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
    void bind(Prepared& p) {
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
    std::string archive;
    Prepared st = (Prepared(sql,
                            "SELECT state, distro_arch_release_id, score, "
                            "manual_score, archive FROM build WHERE id = :id"),
                   soci::into(state), soci::into(dar), soci::into(score), soci::into(manual),
                   soci::into(archive), soci::use(id));
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
    sql << "INSERT INTO build_queue (build_id, distro_arch_release_id, score, manual, created, "
           "archive) VALUES (:b, :d, :s, :m, :c, :a)",
        soci::use(id), soci::use(dar), soci::use(score), soci::use(manual), soci::use(now),
        soci::use(archive);
    tx.commit();
    return 0;
  });
}

CancelOutcome SociStore::cancel_build(Id build_id) {
  return with_session("cancelling a build", [&](soci::session& sql) {
    Transaction tx(sql, engine_);
    long long id = build_id;
    int state = 0;
    Prepared st =
        (Prepared(sql, "SELECT state FROM build WHERE id = :id"), soci::into(state), soci::use(id));
    if (!st.execute(true)) {
      throw Error(ErrorCategory::kNotFound,
                  "build " + std::to_string(build_id) + " does not exist");
    }
    auto current = static_cast<BuildState>(state);
    if (is_final(current)) return CancelOutcome::kAlreadyFinal;
    if (current == BuildState::kCancelling) return CancelOutcome::kCancelling;
    long long queue_id = 0, builder = 0;
    Indicator i_builder{};
    Prepared q = (Prepared(sql, "SELECT id, builder_id FROM build_queue WHERE build_id = :b"),
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

}  // namespace buildd::soci_store
