#include "soci_store.hpp"

namespace buildd::soci_store {

// Append only: a released migration is never edited, a change is a new one.
// Booleans are INTEGER 0/1, times BIGINT microseconds since the epoch (UTC),
// so that every engine stores the same values.
//
// MariaDB gets its own dialect of a statement where SQLite and PostgreSQL
// agree and it differs: an indexed text column has a bounded length
// (VARCHAR(255), or 64 for digests), free text is MEDIUMTEXT (TEXT stops at
// 64 KiB), and an index cannot be partial. "@TABLE@" is its table options:
// InnoDB, utf8mb4 with a binary collation that does not pad, so that names
// compare exactly as on the other engines (not case-folded, "a" != "a ").
// MariaDB commits each DDL statement on its own, so its statements are
// written to be run again (IF NOT EXISTS): a migration cut short by a crash
// is completed by the next upgrade.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "tables: processor_family, processor, library_file, distro_arch_release, builder, build, "
       "build_queue, build_source_file, build_result_file",
       {
           "CREATE TABLE processor_family (id @ID@, name TEXT NOT NULL UNIQUE)",
           "CREATE TABLE processor (id @ID@, family_id BIGINT NOT NULL REFERENCES "
           "processor_family(id), name TEXT NOT NULL UNIQUE)",
           "CREATE TABLE library_file (id @ID@, filename TEXT NOT NULL, size BIGINT NOT NULL, "
           "sha1 TEXT NOT NULL, sha256 TEXT NOT NULL, mime TEXT NOT NULL, locator TEXT NOT NULL, "
           "created BIGINT NOT NULL)",
           "CREATE TABLE distro_arch_release (id @ID@, distribution TEXT NOT NULL, "
           "release_name TEXT NOT NULL, arch_tag TEXT NOT NULL, family_id BIGINT NOT NULL "
           "REFERENCES processor_family(id), chroot_file_id BIGINT REFERENCES library_file(id), "
           "official INTEGER NOT NULL DEFAULT 1, UNIQUE (distribution, release_name, arch_tag))",
           "CREATE TABLE builder (id @ID@, name TEXT NOT NULL UNIQUE, url TEXT NOT NULL, "
           "processor_id BIGINT NOT NULL REFERENCES processor(id), builderok INTEGER NOT NULL "
           "DEFAULT 1, failnotes TEXT NOT NULL DEFAULT '', manual INTEGER NOT NULL DEFAULT 0, "
           "virtualized INTEGER NOT NULL DEFAULT 0, speed_index INTEGER NOT NULL DEFAULT 0, "
           "failure_count INTEGER NOT NULL DEFAULT 0, clean_status INTEGER NOT NULL DEFAULT 0)",
           "CREATE TABLE build (id @ID@, source_name TEXT NOT NULL, source_version TEXT NOT NULL, "
           "distro_arch_release_id BIGINT NOT NULL REFERENCES distro_arch_release(id), "
           "state INTEGER NOT NULL, created BIGINT NOT NULL, started BIGINT, built BIGINT, "
           "duration BIGINT, builder_id BIGINT REFERENCES builder(id), buildlog_id BIGINT "
           "REFERENCES library_file(id), dependencies TEXT NOT NULL DEFAULT '', failure_count "
           "INTEGER NOT NULL DEFAULT 0, give_back_count INTEGER NOT NULL DEFAULT 0, component "
           "TEXT NOT NULL, pocket TEXT NOT NULL, urgency TEXT NOT NULL, score INTEGER NOT NULL "
           "DEFAULT 0, manual_score INTEGER NOT NULL DEFAULT 0)",
           // distro_arch_release_id is a copy of the build's, so that the
           // dispatch index below covers the whole candidate query.
           "CREATE TABLE build_queue (id @ID@, build_id BIGINT NOT NULL UNIQUE REFERENCES "
           "build(id), distro_arch_release_id BIGINT NOT NULL REFERENCES distro_arch_release(id), "
           "builder_id BIGINT REFERENCES builder(id), buildstart BIGINT, logtail TEXT NOT NULL "
           "DEFAULT '', score INTEGER NOT NULL DEFAULT 0, manual INTEGER NOT NULL DEFAULT 0, "
           "created BIGINT NOT NULL, abort_sent BIGINT)",
           "CREATE TABLE build_source_file (id @ID@, build_id BIGINT NOT NULL REFERENCES "
           "build(id), filename TEXT NOT NULL, library_file_id BIGINT NOT NULL REFERENCES "
           "library_file(id))",
           "CREATE TABLE build_result_file (id @ID@, build_id BIGINT NOT NULL REFERENCES "
           "build(id), filename TEXT NOT NULL, library_file_id BIGINT NOT NULL REFERENCES "
           "library_file(id))",
       },
       {
           "CREATE TABLE IF NOT EXISTS processor_family (id @ID@, name VARCHAR(255) NOT NULL "
           "UNIQUE) @TABLE@",
           "CREATE TABLE IF NOT EXISTS processor (id @ID@, family_id BIGINT NOT NULL REFERENCES "
           "processor_family(id), name VARCHAR(255) NOT NULL UNIQUE) @TABLE@",
           "CREATE TABLE IF NOT EXISTS library_file (id @ID@, filename MEDIUMTEXT NOT NULL, size "
           "BIGINT NOT "
           "NULL, sha1 VARCHAR(64) NOT NULL, sha256 VARCHAR(64) NOT NULL, mime VARCHAR(255) NOT "
           "NULL, locator MEDIUMTEXT NOT NULL, created BIGINT NOT NULL) @TABLE@",
           "CREATE TABLE IF NOT EXISTS distro_arch_release (id @ID@, distribution VARCHAR(255) NOT "
           "NULL, "
           "release_name VARCHAR(255) NOT NULL, arch_tag VARCHAR(255) NOT NULL, family_id BIGINT "
           "NOT NULL REFERENCES processor_family(id), chroot_file_id BIGINT REFERENCES "
           "library_file(id), official INTEGER NOT NULL DEFAULT 1, UNIQUE (distribution, "
           "release_name, arch_tag)) @TABLE@",
           "CREATE TABLE IF NOT EXISTS builder (id @ID@, name VARCHAR(255) NOT NULL UNIQUE, url "
           "MEDIUMTEXT NOT "
           "NULL, processor_id BIGINT NOT NULL REFERENCES processor(id), builderok INTEGER NOT "
           "NULL DEFAULT 1, failnotes MEDIUMTEXT NOT NULL DEFAULT '', manual INTEGER NOT NULL "
           "DEFAULT 0, virtualized INTEGER NOT NULL DEFAULT 0, speed_index INTEGER NOT NULL "
           "DEFAULT 0, failure_count INTEGER NOT NULL DEFAULT 0, clean_status INTEGER NOT NULL "
           "DEFAULT 0) @TABLE@",
           "CREATE TABLE IF NOT EXISTS build (id @ID@, source_name VARCHAR(255) NOT NULL, "
           "source_version "
           "VARCHAR(255) NOT NULL, distro_arch_release_id BIGINT NOT NULL REFERENCES "
           "distro_arch_release(id), state INTEGER NOT NULL, created BIGINT NOT NULL, started "
           "BIGINT, built BIGINT, duration BIGINT, builder_id BIGINT REFERENCES builder(id), "
           "buildlog_id BIGINT REFERENCES library_file(id), dependencies MEDIUMTEXT NOT NULL "
           "DEFAULT '', failure_count INTEGER NOT NULL DEFAULT 0, give_back_count INTEGER NOT "
           "NULL DEFAULT 0, component VARCHAR(255) NOT NULL, pocket VARCHAR(255) NOT NULL, "
           "urgency VARCHAR(255) NOT NULL, score INTEGER NOT NULL DEFAULT 0, manual_score INTEGER "
           "NOT NULL DEFAULT 0) @TABLE@",
           "CREATE TABLE IF NOT EXISTS build_queue (id @ID@, build_id BIGINT NOT NULL UNIQUE "
           "REFERENCES "
           "build(id), distro_arch_release_id BIGINT NOT NULL REFERENCES distro_arch_release(id), "
           "builder_id BIGINT REFERENCES builder(id), buildstart BIGINT, logtail MEDIUMTEXT NOT "
           "NULL DEFAULT '', score INTEGER NOT NULL DEFAULT 0, manual INTEGER NOT NULL DEFAULT 0, "
           "created BIGINT NOT NULL, abort_sent BIGINT) @TABLE@",
           "CREATE TABLE IF NOT EXISTS build_source_file (id @ID@, build_id BIGINT NOT NULL "
           "REFERENCES "
           "build(id), filename MEDIUMTEXT NOT NULL, library_file_id BIGINT NOT NULL REFERENCES "
           "library_file(id)) @TABLE@",
           "CREATE TABLE IF NOT EXISTS build_result_file (id @ID@, build_id BIGINT NOT NULL "
           "REFERENCES "
           "build(id), filename MEDIUMTEXT NOT NULL, library_file_id BIGINT NOT NULL REFERENCES "
           "library_file(id)) @TABLE@",
       }},
      {2,
       "indexes: dispatch order of waiting queue entries, active jobs, builds by state, files",
       {
           "CREATE INDEX build_queue_waiting ON build_queue (distro_arch_release_id, score DESC, "
           "id) WHERE builder_id IS NULL",
           "CREATE INDEX build_queue_builder ON build_queue (builder_id)",
           "CREATE INDEX build_state ON build (state, id)",
           "CREATE INDEX library_file_sha256 ON library_file (sha256)",
           "CREATE INDEX build_source_file_build ON build_source_file (build_id)",
           "CREATE INDEX build_result_file_build ON build_result_file (build_id)",
       },
       {
           // Not partial: waiting entries are the builder_id IS NULL range.
           "CREATE INDEX IF NOT EXISTS build_queue_waiting ON build_queue (distro_arch_release_id, "
           "builder_id, "
           "score DESC, id)",
           "CREATE INDEX IF NOT EXISTS build_queue_builder ON build_queue (builder_id)",
           "CREATE INDEX IF NOT EXISTS build_state ON build (state, id)",
           "CREATE INDEX IF NOT EXISTS library_file_sha256 ON library_file (sha256)",
           "CREATE INDEX IF NOT EXISTS build_source_file_build ON build_source_file (build_id)",
           "CREATE INDEX IF NOT EXISTS build_result_file_build ON build_result_file (build_id)",
       }},
      {3,
       "index: builds by builder, newest first",
       {
           "CREATE INDEX build_builder ON build (builder_id, id)",
       }},
      {4,
       "builder reconciliation: the slave's last state, dispatch attempts, one active job per "
       "builder",
       {
           "ALTER TABLE builder ADD COLUMN slave_state TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE builder ADD COLUMN slave_state_since BIGINT",
           "ALTER TABLE build_queue ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0",
           "CREATE UNIQUE INDEX build_queue_one_job_per_builder ON build_queue (builder_id) "
           "WHERE builder_id IS NOT NULL",
       },
       {
           "ALTER TABLE builder ADD COLUMN IF NOT EXISTS slave_state VARCHAR(255) NOT NULL DEFAULT "
           "''",
           "ALTER TABLE builder ADD COLUMN IF NOT EXISTS slave_state_since BIGINT",
           "ALTER TABLE build_queue ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 0",
           // A unique index holds any number of NULLs: waiting entries.
           "CREATE UNIQUE INDEX IF NOT EXISTS build_queue_one_job_per_builder ON build_queue "
           "(builder_id)",
       }},
      {5,
       "several masters: their heartbeats and the builders leased to them",
       {
           "CREATE TABLE master (id TEXT PRIMARY KEY, instance TEXT NOT NULL, heartbeat BIGINT NOT "
           "NULL)",
           "CREATE TABLE builder_lease (builder_id BIGINT PRIMARY KEY REFERENCES builder(id), "
           "master_id TEXT NOT NULL, expires BIGINT NOT NULL)",
           "CREATE INDEX builder_lease_master ON builder_lease (master_id)",
       },
       {
           "CREATE TABLE IF NOT EXISTS master (id VARCHAR(255) PRIMARY KEY, instance VARCHAR(255) "
           "NOT NULL, "
           "heartbeat BIGINT NOT NULL) @TABLE@",
           "CREATE TABLE IF NOT EXISTS builder_lease (builder_id BIGINT PRIMARY KEY REFERENCES "
           "builder(id), "
           "master_id VARCHAR(255) NOT NULL, expires BIGINT NOT NULL) @TABLE@",
           "CREATE INDEX IF NOT EXISTS builder_lease_master ON builder_lease (master_id)",
       }},
      {6,
       "index: builds by source version (build add refuses a duplicate)",
       {
           "CREATE INDEX build_source ON build (source_name, source_version)",
       },
       {
           "CREATE INDEX IF NOT EXISTS build_source ON build (source_name, source_version)",
       }},
      {7,
       "builders: removed (kept for their builds' history) and when they were disabled",
       {
           "ALTER TABLE builder ADD COLUMN removed INTEGER NOT NULL DEFAULT 0",
           "ALTER TABLE builder ADD COLUMN disabled_at BIGINT",
       },
       {
           "ALTER TABLE builder ADD COLUMN IF NOT EXISTS removed INTEGER NOT NULL DEFAULT 0",
           "ALTER TABLE builder ADD COLUMN IF NOT EXISTS disabled_at BIGINT",
       }},
      {8,
       "archives: who asked for each build, and the waiting entries of each archive in "
       "dispatch order (fair-share scheduling)",
       {
           "ALTER TABLE build ADD COLUMN archive TEXT NOT NULL DEFAULT 'primary'",
           // A copy of the build's, as distro_arch_release_id is, so that the
           // index covers candidates_per_archive().
           "ALTER TABLE build_queue ADD COLUMN archive TEXT NOT NULL DEFAULT 'primary'",
           "CREATE INDEX build_queue_waiting_archive ON build_queue (distro_arch_release_id, "
           "archive, score DESC, id) WHERE builder_id IS NULL",
       },
       {
           "ALTER TABLE build ADD COLUMN IF NOT EXISTS archive VARCHAR(255) NOT NULL DEFAULT "
           "'primary'",
           "ALTER TABLE build_queue ADD COLUMN IF NOT EXISTS archive VARCHAR(255) NOT NULL "
           "DEFAULT 'primary'",
           "CREATE INDEX IF NOT EXISTS build_queue_waiting_archive ON build_queue "
           "(distro_arch_release_id, builder_id, archive, score DESC, id)",
       }},
      {9,
       "live logs: the whole log of a running build, kept as it grows (build log --follow)",
       {
           "ALTER TABLE build_queue ADD COLUMN live_log_size BIGINT NOT NULL DEFAULT 0",
           // Base64 text: every engine stores it alike (no bytea, no blob
           // API), and a log may hold any byte. A chunk goes with its entry.
           "CREATE TABLE build_live_log (queue_id BIGINT NOT NULL REFERENCES build_queue(id) ON "
           "DELETE CASCADE, log_offset BIGINT NOT NULL, size BIGINT NOT NULL, data TEXT NOT NULL, "
           "PRIMARY KEY (queue_id, log_offset))",
       },
       {
           "ALTER TABLE build_queue ADD COLUMN IF NOT EXISTS live_log_size BIGINT NOT NULL "
           "DEFAULT 0",
           "CREATE TABLE IF NOT EXISTS build_live_log (queue_id BIGINT NOT NULL REFERENCES "
           "build_queue(id) ON DELETE CASCADE, log_offset BIGINT NOT NULL, size BIGINT NOT NULL, "
           "data MEDIUMTEXT NOT NULL, PRIMARY KEY (queue_id, log_offset)) @TABLE@",
       }},
  };
  return kMigrations;
}

}  // namespace buildd::soci_store
