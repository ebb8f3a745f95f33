// The SOCI store: the BuildStore conformance suite (buildd/conformance/store_conformance.hpp)
// on SQLite (a temp file), a real PostgreSQL 15 and a real MariaDB 10.11 (the
// CTest fixtures started by scripts/pg-fixture and scripts/mariadb-fixture;
// these tests fail when they are not there), then what is the SOCI store's
// own: migrations, query plans, engine errors and reconnects.

#include <gtest/gtest.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "buildd/conformance/store_conformance.hpp"
#include "buildd/error.hpp"
#include "soci_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using soci_store::SociStore;
using soci_store::SociStoreOptions;
using namespace std::chrono_literals;

// ---- backends -------------------------------------------------------------

class Backend {
 public:
  virtual ~Backend() = default;
  virtual SociStoreOptions options() = 0;
  virtual void raw(const std::string& statement) = 0;
  // The first column of every row, as text.
  virtual std::vector<std::string> query(const std::string& statement) = 0;
};

template <typename Session>
std::vector<std::string> first_column(Session& sql, const std::string& statement) {
  std::vector<std::string> out;
  soci::rowset<soci::row> rows = sql.prepare << statement;
  for (const auto& row : rows) {
    std::string text;
    switch (row.get_properties(0).get_data_type()) {
      case soci::dt_string:
        text = row.template get<std::string>(0);
        break;
      case soci::dt_integer:
        text = std::to_string(row.template get<int>(0));
        break;
      case soci::dt_long_long:
        text = std::to_string(row.template get<long long>(0));
        break;
      default:
        break;
    }
    out.push_back(text);
  }
  return out;
}

class SqliteBackend : public Backend {
 public:
  SociStoreOptions options() override {
    return SociStoreOptions{"sqlite3", (dir_ / "store.sqlite").string(), 4, 10, false};
  }
  void raw(const std::string& statement) override {
    soci::session sql(soci::sqlite3, "db=" + (dir_ / "store.sqlite").string());
    sql << statement;
  }
  std::vector<std::string> query(const std::string& statement) override {
    soci::session sql(soci::sqlite3, "db=" + (dir_ / "store.sqlite").string());
    return first_column(sql, statement);
  }

 private:
  test::TempDir dir_;
};

// The base connection string of a server fixture (its port file).
std::string server_base(const std::string& fixture_dir, const std::string& user) {
  std::ifstream in(fixture_dir + "/port");
  std::string port;
  in >> port;
  if (port.empty()) {
    ADD_FAILURE() << "database fixture not running: no port file in " << fixture_dir;
    throw std::runtime_error("no database fixture in " + fixture_dir);
  }
  return "host=127.0.0.1 port=" + port + " user=" + user;
}
std::string pg_base() {
  return server_base(BUILDD_PG_FIXTURE_DIR, "postgres");
}
std::string mariadb_base() {
  return server_base(BUILDD_MARIADB_FIXTURE_DIR, "buildd");
}

// A fresh database per test on a server fixture, so that tests can run in
// parallel.
class ServerBackend : public Backend {
 public:
  ServerBackend(const soci::backend_factory& factory, std::string engine, std::string base,
                std::string drop_options)
      : factory_(factory),
        engine_(std::move(engine)),
        base_(std::move(base)),
        drop_options_(std::move(drop_options)) {
    static std::atomic<int> counter{0};
    name_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    soci::session admin(factory_, base_ + " dbname=buildd");
    admin << "CREATE DATABASE " + name_;
  }
  ~ServerBackend() override {
    try {
      soci::session admin(factory_, base_ + " dbname=buildd");
      admin << "DROP DATABASE IF EXISTS " + name_ + drop_options_;
    } catch (...) {
    }
  }
  SociStoreOptions options() override {
    return SociStoreOptions{engine_, base_ + " dbname=" + name_, 4, 10, false};
  }
  void raw(const std::string& statement) override {
    soci::session sql(factory_, options().connection);
    sql << statement;
  }
  std::vector<std::string> query(const std::string& statement) override {
    soci::session sql(factory_, options().connection);
    return first_column(sql, statement);
  }
  const std::string& name() const { return name_; }

 private:
  const soci::backend_factory& factory_;
  std::string engine_, base_, drop_options_, name_;
};

struct PostgresBackend : ServerBackend {
  PostgresBackend() : ServerBackend(soci::postgresql, "postgresql", pg_base(), " WITH (FORCE)") {}
};
struct MariadbBackend : ServerBackend {
  MariadbBackend() : ServerBackend(soci::mysql, "mariadb", mariadb_base(), "") {}
};

std::unique_ptr<Backend> make_backend(const std::string& engine) {
  if (engine == "sqlite3") return std::make_unique<SqliteBackend>();
  if (engine == "postgresql") return std::make_unique<PostgresBackend>();
  return std::make_unique<MariadbBackend>();
}

// ---- the conformance suite on each engine ------------------------------------

using namespace buildd::test;  // the conformance suite's names

template <typename EngineBackend, bool kOneMaster>
struct SociContext {
  explicit SociContext(const std::filesystem::path&) {}
  std::shared_ptr<BuildStore> open() { return std::make_shared<SociStore>(backend_.options()); }
  static constexpr test::StoreQuirks kQuirks{kOneMaster};
  EngineBackend backend_;
};
using SqliteContext = SociContext<SqliteBackend, true>;
using PostgresContext = SociContext<PostgresBackend, false>;
using MariadbContext = SociContext<MariadbBackend, false>;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreConformance, SqliteContext);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgresql, StoreConformance, PostgresContext);
INSTANTIATE_TYPED_TEST_SUITE_P(Mariadb, StoreConformance, MariadbContext);

// ---- the SOCI store's own tests -----------------------------------------------

class SociStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = make_backend(GetParam());
    store_ = open();
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }
  std::unique_ptr<SociStore> open() { return std::make_unique<SociStore>(backend_->options()); }

  // A family and two arch releases (the conformance suite has the rest).
  void seed() {
    ASSERT_EQ(store_->upgrade(), store_->latest_schema_version());
    store_->add_processor_family("x86", {"386", "amd64"});
    warty_ =
        store_->add_distro_arch_release({"ubuntu", "warty", "i386", "x86", std::nullopt, true});
    hoary_ =
        store_->add_distro_arch_release({"ubuntu", "hoary", "i386", "x86", std::nullopt, true});
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SociStore> store_;
  void queue_in_bulk(int depth);
  DistroArchRelease warty_, hoary_;
};

// ---- migrations -----------------------------------------------------------

TEST_P(SociStoreTest, FreshDatabaseGetsEveryMigration) {
  const int latest = static_cast<int>(soci_store::migrations().size());
  EXPECT_EQ(store_->schema_version(), 0);
  EXPECT_EQ(store_->latest_schema_version(), latest);
  EXPECT_EQ(store_->upgrade(), latest);
  EXPECT_EQ(store_->schema_version(), latest);
}

TEST_P(SociStoreTest, UpgradeTwiceAppliesNothingTheSecondTime) {
  const int latest = store_->latest_schema_version();
  EXPECT_EQ(store_->upgrade(), latest);
  EXPECT_EQ(store_->upgrade(), 0);
  auto other = open();
  EXPECT_EQ(other->upgrade(), 0);
  EXPECT_EQ(other->schema_version(), latest);
}

TEST_P(SociStoreTest, AutoUpgradeOnOpen) {
  auto options = backend_->options();
  options.auto_upgrade = true;
  SociStore upgraded(options);
  EXPECT_EQ(upgraded.schema_version(), upgraded.latest_schema_version());
}

TEST_P(SociStoreTest, NewerDatabaseIsRefused) {
  store_->upgrade();
  const int latest = store_->latest_schema_version();
  backend_->raw("INSERT INTO schema_version (version, applied) VALUES (" +
                std::to_string(latest + 1) + ", 0)");
  const std::string expected = "database schema version " + std::to_string(latest + 1) +
                               " is newer than this buildd-master (knows " +
                               std::to_string(latest) + "); upgrade buildd-master";
  try {
    store_->upgrade();
    FAIL() << "upgrade accepted a newer database";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kStore);
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
  // Nothing was applied or removed.
  EXPECT_EQ(store_->schema_version(), latest + 1);
}

// ---- families, processors, arch releases ------------------------------------

// `depth` builds waiting for warty (score: build id % 1000), inserted by the
// engine itself, then analyzed.
void SociStoreTest::queue_in_bulk(int depth) {
  const std::string dar = std::to_string(warty_.id);
  const std::string builds =
      "INSERT INTO build (source_name, source_version, distro_arch_release_id, state, created, "
      "component, pocket, urgency) SELECT 'bulk' || CAST(x AS TEXT), '1', " +
      dar + ", 0, 0, 'main', 'release', 'medium' FROM ";
  const std::string queue =
      "INSERT INTO build_queue (build_id, distro_arch_release_id, score, created) SELECT id, "
      "distro_arch_release_id, CAST(id % 1000 AS INTEGER), 0 FROM build";
  if (GetParam() == "sqlite3") {
    backend_->raw("WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < " +
                  std::to_string(depth) + ") " + builds + "g");
  } else if (GetParam() == "postgresql") {
    backend_->raw(builds + "generate_series(1, " + std::to_string(depth) + ") AS g(x)");
  } else {
    // MariaDB: its sequence engine's seq_1_to_N table, CONCAT for ||.
    backend_->raw(
        "INSERT INTO build (source_name, source_version, distro_arch_release_id, state, created, "
        "component, pocket, urgency) SELECT CONCAT('bulk', seq), '1', " +
        dar + ", 0, 0, 'main', 'release', 'medium' FROM seq_1_to_" + std::to_string(depth));
  }
  if (GetParam() == "mariadb") {
    backend_->raw(
        "INSERT INTO build_queue (build_id, distro_arch_release_id, score, created) SELECT id, "
        "distro_arch_release_id, id % 1000, 0 FROM build");
    backend_->raw("ANALYZE TABLE build_queue, build");
  } else {
    backend_->raw(queue);
    backend_->raw("ANALYZE");
  }
}

TEST_P(SociStoreTest, CandidatesUseTheWaitingIndexOnADeepQueue) {
  seed();
  constexpr int kDepth = 20000;
  const std::string dar = std::to_string(warty_.id);
  queue_in_bulk(kDepth);

  auto top = store_->candidates({warty_.id, hoary_.id}, 10);
  auto start = std::chrono::steady_clock::now();
  top = store_->candidates({warty_.id, hoary_.id}, 10);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(top.size(), 10u);
  for (std::size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].entry.score, 999);  // 20 entries have the best score
    if (i > 0) {
      EXPECT_LT(top[i - 1].entry.id, top[i].entry.id);
    }
  }
  std::cout << GetParam() << ": candidates(10) over " << kDepth << " waiting entries took "
            << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() << " us\n";

  std::string sql = soci_store::candidates_query(10);
  sql.replace(sql.find(":d"), 2, dar);
  std::string plan;
  if (GetParam() == "sqlite3") {
    // EXPLAIN QUERY PLAN's detail is its fourth column.
    soci::session s(soci::sqlite3, backend_->options().connection);
    soci::rowset<soci::row> rows = s.prepare << "EXPLAIN QUERY PLAN " + sql;
    for (const auto& row : rows) plan += row.get<std::string>(3) + "\n";
  } else if (GetParam() == "postgresql") {
    for (const auto& line : backend_->query("EXPLAIN " + sql)) plan += line + "\n";
  } else {
    for (const auto& line : backend_->query("EXPLAIN FORMAT=JSON " + sql)) plan += line + "\n";
    EXPECT_EQ(plan.find("filesort"), std::string::npos) << plan;  // no sort of the queue
  }
  EXPECT_NE(plan.find("build_queue_waiting"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("SCAN q\n"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Seq Scan on build_queue"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // no sort of the queue
  EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
}

// ---- errors -------------------------------------------------------------------

// Statements are prepared once per pooled session and run again with other
// values (statement_cache.hpp): each run answers for its own values, and the
// kept statements do not grow with the calls.
TEST_P(SociStoreTest, AKeptStatementAnswersForTheValuesOfEachRun) {
  seed();
  std::vector<LibraryFile> files;
  for (int i = 0; i < 4; ++i) {
    LibraryFile f;
    f.filename = "file" + std::to_string(i);
    f.size = static_cast<std::uint64_t>(10 + i);
    f.sha1 = std::string(40, static_cast<char>('a' + i));
    f.sha256 = std::string(64, static_cast<char>('a' + i));
    f.mime = "text/plain";
    f.locator = "loc" + std::to_string(i);
    files.push_back(store_->add_library_file(f));
  }
  const std::size_t kept = store_->prepared_statements();
  for (int round = 0; round < 3; ++round) {
    for (const LibraryFile& f : files) {
      auto by_id = store_->find_library_file(f.id);
      ASSERT_TRUE(by_id);
      EXPECT_EQ(by_id->filename, f.filename);
      auto by_sha256 = store_->find_library_file_by_sha256(f.sha256);
      ASSERT_TRUE(by_sha256);
      EXPECT_EQ(by_sha256->id, f.id);
    }
    EXPECT_FALSE(store_->find_library_file(files.back().id + 100));
    EXPECT_FALSE(store_->find_library_file_by_sha256(std::string(64, 'z')));
    // Two statements, kept once for each pooled session that ran them.
    if (round == 0) {
      EXPECT_LE(store_->prepared_statements(), kept + 2 * 4);
    }
  }
  const std::size_t after_first_round = store_->prepared_statements();
  EXPECT_GT(after_first_round, kept);
  for (const LibraryFile& f : files) ASSERT_TRUE(store_->find_library_file(f.id));
  EXPECT_EQ(store_->prepared_statements(), after_first_round);
}

// The dispatcher asks for a different number of candidates on almost every
// claim: the store keeps a few statements for all of them (limits rounded up
// to a power of two), and still answers exactly the rows asked for.
TEST_P(SociStoreTest, CandidatesOfEveryLimitShareAFewKeptStatements) {
  seed();
  constexpr std::size_t kDepth = 100;
  queue_in_bulk(static_cast<int>(kDepth));
  const std::vector<QueuedBuild> all = store_->candidates({warty_.id}, kDepth);
  ASSERT_EQ(all.size(), kDepth);
  const std::size_t kept = store_->prepared_statements();
  for (std::size_t limit = 1; limit <= kDepth; ++limit) {
    const std::vector<QueuedBuild> some = store_->candidates({warty_.id}, limit);
    ASSERT_EQ(some.size(), limit);
    for (std::size_t i = 0; i < limit; ++i) EXPECT_EQ(some[i].entry.id, all[i].entry.id);
  }
  // Limits 1 to 100 are 8 texts (1, 2, 4, ..., 128), kept by at most the
  // pool's 4 sessions; one statement per limit would be 100.
  EXPECT_LE(store_->prepared_statements() - kept, 4u * 8u);
}

TEST_P(SociStoreTest, UnknownBackendIsAConfigError) {
  auto options = backend_->options();
  options.backend = "oracle";
  EXPECT_EQ(error_category_of([&] { SociStore s(options); }), ErrorCategory::kConfig);
}

INSTANTIATE_TEST_SUITE_P(Engines, SociStoreTest,
                         ::testing::Values("sqlite3", "postgresql", "mariadb"),
                         [](const auto& info) { return info.param; });

TEST(SociStoreSqlite, PathWithSpacesAndWalMode) {
  test::TempDir dir;
  auto path = dir / "a dir with spaces";
  std::filesystem::create_directories(path);
  SociStore store({"sqlite3", (path / "my store.sqlite").string(), 2, 5, true});
  store.add_processor_family("x86", {"386"});
  EXPECT_TRUE(std::filesystem::exists(path / "my store.sqlite"));
  SociStore again({"sqlite3", (path / "my store.sqlite").string(), 1, 5, false});
  EXPECT_EQ(again.processor_families().size(), 1u);
  soci::session sql(soci::sqlite3, "db=\"" + (path / "my store.sqlite").string() + "\"");
  std::string mode;
  sql << "PRAGMA journal_mode", soci::into(mode);
  EXPECT_EQ(mode, "wal");
}

TEST(SociStoreSqlite, BusyDatabaseIsARetryableStoreError) {
  test::TempDir dir;
  const auto path = (dir / "busy.sqlite").string();
  SociStore store({"sqlite3", path, 1, 0, true});
  soci::session other(soci::sqlite3, "db=" + path);
  other << "BEGIN IMMEDIATE";  // another process holds the write lock
  try {
    store.add_processor_family("x86", {"386"});
    ADD_FAILURE() << "wrote through a held lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kStore);
    EXPECT_TRUE(e.retryable()) << e.what();
  }
  other << "ROLLBACK";
  store.add_processor_family("x86", {"386"});  // the retry works
  EXPECT_EQ(store.processor_families().size(), 1u);
}

// A kept SQLite statement that stopped at its first row (a lookup by name)
// is reset after its use: otherwise its read transaction would stay open, and
// the session would go on reading the database as it was then.
TEST(SociStoreSqlite, AKeptStatementHoldsNoOldSnapshot) {
  test::TempDir dir;
  const auto path = (dir / "snapshot.sqlite").string();
  SociStore store({"sqlite3", path, 1, 5, true});
  store.add_processor_family("x86", {"386"});
  // Looks the family up by name (one row read of a scan that could go on).
  store.add_distro_arch_release({"ubuntu", "warty", "i386", "x86", std::nullopt, true});
  soci::session other(soci::sqlite3, "db=" + path);
  other << "INSERT INTO processor_family (name) VALUES ('arm')";
  EXPECT_EQ(store.processor_families().size(), 2u);
  EXPECT_GT(store.prepared_statements(), 0u);
}

// The server drops the connection (restart, failover): the call fails as
// retryable and the session reconnects, so the next call works.
TEST(SociStorePostgresql, LostConnectionIsRetryableAndReconnects) {
  PostgresBackend backend;
  auto options = backend.options();
  options.pool_size = 1;
  options.auto_upgrade = true;
  SociStore store(options);
  store.add_processor_family("x86", {"386"});
  soci::session admin(soci::postgresql, pg_base() + " dbname=buildd");
  admin << "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
               options.connection.substr(options.connection.rfind('=') + 1) + "'";
  try {
    store.processor_families();
    ADD_FAILURE() << "a terminated connection answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kStore);
    EXPECT_TRUE(e.retryable()) << e.what();
  }
  EXPECT_EQ(store.processor_families().size(), 1u);
}

// A server of its own (scripts/<fixture> on `first_port`), stopped and
// started under a live store: every pooled session fails retryably while it
// is down, and works again once it is back, without a new store.
void expect_reconnect_after_restart(const std::string& fixture_script, int first_port,
                                    const std::string& engine, const std::string& user) {
  buildd::test::TempDir dir;
  const std::string fixture = std::string(BUILDD_SOURCE_DIR) + "/scripts/" + fixture_script;
  const auto server = dir / "server";
  ASSERT_EQ(std::system((fixture + " start " + server.string() + " " + std::to_string(first_port) +
                         " >/dev/null")
                            .c_str()),
            0);
  const std::string text = buildd::test::read_file(server / "port");
  const std::string port = text.substr(0, text.find('\n'));
  SociStoreOptions options{
      engine, "host=127.0.0.1 port=" + port + " user=" + user + " dbname=buildd", 2, 10, true};
  {
    SociStore store(options);
    store.add_processor_family("x86", {"386"});
    ASSERT_EQ(std::system((fixture + " pause " + server.string()).c_str()), 0);
    for (int i = 0; i < 4; ++i) {
      try {
        store.processor_families();
        ADD_FAILURE() << "answered while the server was down";
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kStore);
        EXPECT_TRUE(e.retryable()) << e.what();
      }
    }
    ASSERT_EQ(std::system((fixture + " resume " + server.string()).c_str()), 0);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(store.processor_families().size(), 1u);
  }
  std::system((fixture + " stop " + server.string()).c_str());
}

TEST(SociStorePostgresql, ServerRestartedAfterAnOutageIsReconnected) {
  expect_reconnect_after_restart("pg-fixture", 25700, "postgresql", "postgres");
}

TEST(SociStorePostgresql, UnreachableServerIsRetryableStoreError) {
  SociStoreOptions options{"postgresql",
                           "host=127.0.0.1 port=1 dbname=buildd user=postgres connect_timeout=2", 1,
                           1, false};
  try {
    SociStore store(options);
    FAIL() << "opened a database on port 1";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kStore);
    EXPECT_TRUE(e.retryable());
  }
}

// MariaDB drops the connection (KILL, a restart): the call fails as retryable
// and the session reconnects, so the next call works.
TEST(SociStoreMariadb, LostConnectionIsRetryableAndReconnects) {
  MariadbBackend backend;
  auto options = backend.options();
  options.pool_size = 1;
  options.auto_upgrade = true;
  SociStore store(options);
  store.add_processor_family("x86", {"386"});
  soci::session admin(soci::mysql, mariadb_base() + " dbname=buildd");
  for (const auto& id : first_column(admin,
                                     "SELECT id FROM information_schema.processlist WHERE "
                                     "db = '" +
                                         backend.name() + "'")) {
    admin << "KILL " + id;
  }
  try {
    store.processor_families();
    ADD_FAILURE() << "a killed connection answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kStore);
    EXPECT_TRUE(e.retryable()) << e.what();
  }
  EXPECT_EQ(store.processor_families().size(), 1u);
}

TEST(SociStoreMariadb, ServerRestartedAfterAnOutageIsReconnected) {
  expect_reconnect_after_restart("mariadb-fixture", 23700, "mariadb", "buildd");
}

// MariaDB compares names exactly, as the other engines do: not case-folded,
// trailing spaces significant (the tables' binary no-pad collation).
TEST(SociStoreMariadb, NamesCompareExactly) {
  MariadbBackend backend;
  auto options = backend.options();
  options.auto_upgrade = true;
  SociStore store(options);
  store.add_processor_family("x86", {"386"});
  store.add_builder({"bob", "http://127.0.0.1:9/", "386"});
  EXPECT_NO_THROW(store.add_builder({"Bob", "http://127.0.0.1:9/", "386"}));
  EXPECT_NO_THROW(store.add_builder({"bob ", "http://127.0.0.1:9/", "386"}));
  EXPECT_EQ(store.builders().size(), 3u);
  EXPECT_EQ(store.find_builder("BOB"), std::nullopt);
  EXPECT_EQ(store.find_builder("Bob")->name, "Bob");
}

}  // namespace
}  // namespace buildd
