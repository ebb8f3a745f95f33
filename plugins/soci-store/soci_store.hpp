#pragma once

// SociStore: the BuildStore (build_store.hpp) on SOCI 4.0, with SQLite (the
// embedded default), PostgreSQL 15 or MariaDB 10.11 (SOCI's MySQL backend).
//
// Threading: thread-safe. The store owns a soci::connection_pool of
// `pool_size` sessions; every method borrows one for its duration, so at most
// `pool_size` calls run at once and the others wait for a free session.
// SQLite runs in WAL mode with a busy timeout, and its write transactions
// start with BEGIN IMMEDIATE so that two writers queue on the busy timeout
// instead of failing on a lock upgrade. Each pooled session keeps the
// statements it runs prepared (statement_cache.hpp): on PostgreSQL these are
// server-side prepared statements of that connection, so a pooler between
// the store and the server must keep a client on one connection (PgBouncer's
// session mode, not its transaction mode).
//
// Errors: as build_store.hpp. Database failures are Error(kStore); they are
// retryable when the database was unreachable, busy or locked, or the
// transaction lost a serialisation race (nothing was written then). A
// constraint violation the store did not check first is kConflict.
//
// Time: timestamps are BIGINT microseconds since the Unix epoch (UTC) and
// durations BIGINT microseconds, on every engine.
//
// MariaDB sessions run READ COMMITTED (PostgreSQL's default, so that a
// conditional write sees the rows as they are, not as the transaction's
// snapshot had them), in strict mode (a value too long is an error, never
// cut), in utf8mb4. Its DDL commits implicitly, so its migrations can be run
// again (see migrations.cpp); the upgrade is serialised between masters with
// GET_LOCK.

#include <memory>
#include <string>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/config.hpp"

namespace soci {
class connection_pool;
class session;
}  // namespace soci

namespace buildd::soci_store {

namespace detail {
class StatementCache;
}

// The plugin's config keys: the one place its defaults are written.
inline constexpr ConfigKey kConfigKeys[] = {
    {"backend", ConfigType::kString, true, nullptr,
     "database engine: \"sqlite3\" (embedded), \"postgresql\" or \"mariadb\"",
     "sqlite3|postgresql|mariadb"},
    {"connection", ConfigType::kString, true, nullptr,
     "sqlite3: the database file (an absolute path; a relative one is taken from the current "
     "directory); postgresql: a libpq connection string such as "
     "\"host=127.0.0.1 port=5432 dbname=buildd user=buildd\"; mariadb: SOCI's MySQL "
     "connection string such as \"host=127.0.0.1 port=3306 dbname=buildd user=buildd "
     "pass=secret\""},
    {"pool_size", ConfigType::kInteger, false, "4",
     "database sessions kept open (calls beyond that wait for a free one)"},
    {"busy_timeout", ConfigType::kSeconds, false, "10",
     "sqlite3: how long a writer waits for the database lock"},
    {"auto_upgrade", ConfigType::kBoolean, false, "false",
     "apply missing schema migrations when the store opens"},
};

// The store's settings. Start from default_options() (the keys' defaults);
// the members have no defaults of their own.
struct SociStoreOptions {
  std::string backend;  // "sqlite3", "postgresql" or "mariadb"
  // A file path (sqlite3), a libpq connection string (postgresql), or SOCI's
  // MySQL connection string (mariadb: "host=… port=… dbname=… user=… pass=…").
  std::string connection;
  int pool_size;
  int busy_timeout_seconds;
  bool auto_upgrade;  // run upgrade() when opening
};

// Reads a config validated against kConfigKeys.
SociStoreOptions options_from_config(const PluginConfig& config);
// options_from_config() of the keys' defaults with this backend and connection.
SociStoreOptions default_options(const std::string& backend, const std::string& connection);

enum class Engine { kSqlite, kPostgresql, kMariadb };

class SociStore final : public BuildStore {
 public:
  // Opens every session of the pool. Throws Error(kConfig) for an unknown
  // backend and Error(kStore, retryable) when the database cannot be opened.
  explicit SociStore(const SociStoreOptions& options);
  ~SociStore() override;

  int upgrade() override;
  int schema_version() override;
  int latest_schema_version() override;

  ProcessorFamily add_processor_family(const std::string& name,
                                       const std::vector<std::string>& processors) override;
  std::vector<ProcessorFamily> processor_families() override;
  std::vector<Processor> processors() override;
  DistroArchRelease add_distro_arch_release(const NewDistroArchRelease& dar) override;
  std::vector<DistroArchRelease> distro_arch_releases() override;
  std::optional<DistroArchRelease> find_distro_arch_release(const std::string& distribution,
                                                            const std::string& release,
                                                            const std::string& arch_tag) override;
  void set_chroot(Id distro_arch_release_id, Id library_file_id) override;

  Builder add_builder(const NewBuilder& builder) override;
  std::vector<Builder> builders() override;
  std::vector<Builder> removed_builders() override;
  std::optional<Builder> find_builder(const std::string& name) override;
  void set_builder_ok(Id builder_id, bool ok, const std::string& failnotes) override;
  void remove_builder(Id builder_id) override;
  void set_builder_url(Id builder_id, const std::string& url) override;
  void set_builder_slave_state(Id builder_id, const std::string& state, TimePoint since) override;

  Build add_build(const NewBuild& build) override;
  std::optional<Build> find_build(Id build_id) override;
  std::vector<Build> list_builds(const BuildListQuery& query) override;
  std::vector<Build> builds_by_builder(Id builder_id, std::size_t limit) override;
  std::vector<BuildFile> source_files(Id build_id) override;
  std::vector<BuildFile> result_files(Id build_id) override;
  std::optional<BuildQueueEntry> queue_entry_for_build(Id build_id) override;
  void retry_build(Id build_id) override;
  void rescore_build(Id build_id, int score) override;
  std::vector<Build> builds_of_source(const std::string& source_name,
                                      const std::string& source_version,
                                      Id distro_arch_release_id) override;
  CancelOutcome cancel_build(Id build_id) override;

  std::vector<QueuedBuild> active_jobs() override;
  std::vector<QueuedBuild> candidates(const std::vector<Id>& distro_arch_release_ids,
                                      std::size_t limit) override;
  std::vector<QueuedBuild> candidates_per_archive(const std::vector<Id>& distro_arch_release_ids,
                                                  std::size_t per_archive) override;
  std::map<std::string, std::size_t> running_per_archive() override;
  std::vector<QueuedBuild> waiting(std::size_t limit) override;
  std::optional<QueuedBuild> active_job_for_builder(Id builder_id) override;
  bool claim(Id queue_id, Id build_id, Id builder_id, TimePoint now) override;
  std::vector<bool> claim_all(const std::vector<Claim>& claims, TimePoint now) override;
  std::string live_log(Id queue_id, std::uint64_t offset, std::size_t max_bytes) override;
  CommitResult commit(const CycleChanges& changes) override;
  std::vector<CommitResult> commit_all(const std::vector<const CycleChanges*>& batch) override;

  MasterRegistration heartbeat(const std::string& master_id, const std::string& instance,
                               TimePoint now, std::chrono::seconds ttl,
                               const std::string& replacing = "") override;
  std::vector<std::string> live_masters(TimePoint now, std::chrono::seconds ttl) override;
  std::vector<Id> balance_leases(const std::string& master_id, std::size_t target, TimePoint now,
                                 std::chrono::seconds ttl) override;
  void leave(const std::string& master_id, const std::string& instance) override;

  LibraryFile add_library_file(const LibraryFile& file) override;
  std::optional<LibraryFile> find_library_file(Id id) override;
  std::optional<LibraryFile> find_library_file_by_sha256(const std::string& sha256) override;

  Engine engine() const { return engine_; }
  // Statements kept prepared, over every pooled session (statement_cache.hpp).
  // For tests and diagnostics: only while no other call runs.
  std::size_t prepared_statements() const;

 private:
  template <typename F>
  auto with_session(const char* what, F&& body);
  // One member of a commit_all() batch, in the caller's transaction.
  CommitResult apply(soci::session& sql, const CycleChanges& changes);

  Engine engine_;
  std::unique_ptr<soci::connection_pool> pool_;
  // One per pooled session, by its position in the pool; declared after the
  // pool so that the statements go before their sessions.
  std::vector<std::unique_ptr<detail::StatementCache>> statements_;
};

// The numbered schema migrations (migrations.cpp). Migration N's statements
// are written once for SQLite and PostgreSQL, and once more in MariaDB's
// dialect when it differs. "@ID@" becomes the engine's auto-increment primary
// key, "@TABLE@" MariaDB's table options.
struct Migration {
  int version;
  const char* description;
  std::vector<const char*> statements;
  std::vector<const char*> mariadb_statements = {};  // empty: the same statements
};
const std::vector<Migration>& migrations();

// The query candidates() runs once per arch release (":d" is the arch release
// id); exposed so that tests can check its plan uses the waiting-entries index.
std::string candidates_query(std::size_t limit);

}  // namespace buildd::soci_store
