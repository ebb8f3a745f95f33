// End to end: the database as the shared engine. Several `buildd-master run`
// on one PostgreSQL share the builders through leases (nothing built twice, a
// killed master's builders taken over); a second master with the same id, or
// any second master on SQLite, refuses to start; a database restart in the
// middle of a drain loses nothing and the drain resumes.

#include <gtest/gtest.h>
#include <signal.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "e2e/farm.hpp"

namespace buildd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string pg_port() {
  const auto port_file = std::filesystem::path(BUILDD_E2E_PG_DIR) / "port";
  if (!std::filesystem::exists(port_file)) return "";
  const std::string text = read_file(port_file);
  return text.substr(0, text.find('\n'));
}

// A database of its own on the e2e PostgreSQL fixture.
class PgDatabase {
 public:
  PgDatabase() : name_("mm_" + std::to_string(::getpid())) {
    soci::session admin(soci::postgresql, base() + " dbname=buildd");
    admin << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)";
    admin << "CREATE DATABASE " + name_;
  }
  ~PgDatabase() {
    try {
      soci::session admin(soci::postgresql, base() + " dbname=buildd");
      admin << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)";
    } catch (...) {
    }
  }
  std::string store_yaml() const {
    return "    backend: postgresql\n    connection: \"" + base() + " dbname=" + name_ + "\"\n";
  }

 private:
  static std::string base() { return "host=127.0.0.1 port=" + pg_port() + " user=postgres"; }
  std::string name_;
};

// Backends of one master of a shared farm: the same store and the same
// archive folder (each master serves the librarian's files to the slaves).
FarmBackends shared_backends(const std::string& store_yaml, const std::filesystem::path& shared,
                             const std::string& id) {
  FarmBackends b = embedded_backends(shared);
  b.store_yaml = store_yaml;
  b.master_extra = "  id: " + id + "\n  lease_ttl: 3\n";
  return b;
}

// build id -> lines of the slaves' journal that report it finished OK.
std::map<std::string, int> ok_lines_by_build(const std::filesystem::path& journal) {
  std::map<std::string, int> count;
  std::istringstream in(read_file(journal));
  std::string time, builder, cookie, result;
  while (in >> time >> builder >> cookie >> result) {
    if (result == "BuildStatus.OK") ++count[cookie.substr(0, cookie.find('-'))];
  }
  return count;
}

TEST(MultiMaster, TwoMastersShareTheBuildersAndOneTakesOverWhenTheOtherIsKilled) {
  ASSERT_FALSE(pg_port().empty()) << "PostgreSQL fixture not running";
  PgDatabase db;
  TempDir shared;
  Farm alpha(shared_backends(db.store_yaml(), shared.path(), "alpha"));
  Farm beta(shared_backends(db.store_yaml(), shared.path(), "beta"));
  const auto journal = shared.path() / "journal";
  alpha.add_family_and_archrelease();
  alpha.add_builders(6, {"--journal", journal.string()});
  std::vector<long> ids;
  for (int i = 0; i < 24; ++i)
    ids.push_back(alpha.add_build("p" + std::to_string(i), "1.0-1", "ok", 0.3));

  alpha.start_daemon();
  beta.start_daemon();
  alpha.wait_until_drained(90s);
  // Both took a share of the builders (whoever started first gave half back).
  for (Farm* farm : {&alpha, &beta}) {
    EXPECT_TRUE(eventually(
        [&] { return farm->daemon_log().find(" holds 3 of 6 builders") != std::string::npos; },
        20s))
        << farm->daemon_log();
  }

  // Now a longer drain, and alpha is killed in the middle of it.
  for (int i = 0; i < 18; ++i)
    ids.push_back(alpha.add_build("q" + std::to_string(i), "1.0-1", "ok", 1.0));
  ASSERT_TRUE(eventually(
      [&] {
        int building = 0;
        for (const auto& b : alpha.cli_records({"build", "list"}, "builds"))
          building += b["state"] == "BUILDING";
        return building >= 4;
      },
      30s));
  alpha.signal_daemon(SIGKILL);
  beta.wait_until_drained(120s);
  EXPECT_NE(beta.daemon_log().find("master beta holds 6 of 6 builders (1 live master(s))"),
            std::string::npos)
      << beta.daemon_log();

  std::map<std::string, int> ok = ok_lines_by_build(journal);
  for (long id : ids) {
    json b = beta.build(id);
    SCOPED_TRACE("build " + std::to_string(id));
    EXPECT_EQ(b["state"], "FULLYBUILT");
    EXPECT_EQ(ok[std::to_string(id)], 1) << "built " << ok[std::to_string(id)] << " times";
    EXPECT_EQ(b["result_files"].size(), 2u);
  }
  for (const auto& b : beta.cli_records({"builder", "list"}, "builders")) {
    EXPECT_TRUE(b["builderok"]) << b.dump();
    EXPECT_TRUE(b["job"].is_null()) << b.dump();
  }
  EXPECT_EQ(beta.stop_daemon(), 0) << beta.daemon_log();
}

TEST(MultiMaster, ASecondMasterWithTheSameIdRefusesToStart) {
  ASSERT_FALSE(pg_port().empty()) << "PostgreSQL fixture not running";
  PgDatabase db;
  TempDir shared;
  Farm first(shared_backends(db.store_yaml(), shared.path(), "alpha"));
  Farm second(shared_backends(db.store_yaml(), shared.path(), "alpha"));  // another work_dir
  first.start_daemon();
  ASSERT_TRUE(eventually(
      [&] { return first.daemon_log().find("buildd-master running") != std::string::npos; }, 30s));
  CommandResult r = second.cli({"run"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("another buildd-master with id 'alpha'"), std::string::npos) << r.err;
  EXPECT_EQ(first.stop_daemon(), 0);
  // Once the first has left, the id is free again.
  CommandResult once = second.cli({"scan-once"});
  EXPECT_EQ(once.exit_code, 0) << once.err;
}

TEST(MultiMaster, SqliteAllowsOneMaster) {
  TempDir shared;
  Farm first(shared_backends(embedded_backends(shared.path()).store_yaml, shared.path(), "one"));
  Farm second(shared_backends(embedded_backends(shared.path()).store_yaml, shared.path(), "two"));
  first.start_daemon();
  ASSERT_TRUE(eventually(
      [&] { return first.daemon_log().find("buildd-master running") != std::string::npos; }, 30s));
  CommandResult r = second.cli({"run"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("SQLite allows one master"), std::string::npos) << r.err;
  EXPECT_EQ(first.stop_daemon(), 0);
}

TEST(DatabaseOutage, PostgresqlRestartedMidDrainLosesNothing) {
  // A server of its own, stopped and started by the test.
  TempDir shared;
  const std::string fixture = std::string(BUILDD_SOURCE_DIR) + "/scripts/pg-fixture";
  const auto pg = shared / "pg";
  ASSERT_EQ(std::system((fixture + " start " + pg.string() + " 25750 >/dev/null").c_str()), 0);
  const std::string port_text = read_file(pg / "port");
  const std::string store_yaml = "    backend: postgresql\n    connection: \"host=127.0.0.1 port=" +
                                 port_text.substr(0, port_text.find('\n')) +
                                 " user=postgres dbname=buildd\"\n";
  {
    Farm farm(shared_backends(store_yaml, shared.path(), "solo"));
    farm.add_family_and_archrelease();
    farm.add_builders(3);
    std::vector<long> ids;
    for (int i = 0; i < 24; ++i)
      ids.push_back(farm.add_build("p" + std::to_string(i), "1.0-1", "ok", 0.5));
    farm.start_daemon();
    auto finished = [&] {
      int n = 0;
      for (const auto& b : farm.cli_records({"build", "list"}, "builds"))
        n += b["state"] == "FULLYBUILT";
      return n;
    };
    ASSERT_TRUE(eventually([&] { return finished() >= 3; }, 60s)) << farm.daemon_log();
    ASSERT_EQ(std::system((fixture + " pause " + pg.string()).c_str()), 0);
    std::this_thread::sleep_for(15s);  // builds finish on the slaves meanwhile
    ASSERT_EQ(std::system((fixture + " resume " + pg.string()).c_str()), 0);
    const int before = finished();
    const auto back = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually([&] { return finished() > before; }, 5s))
        << "the drain did not resume within 5 s\n"
        << farm.daemon_log();
    std::cout << "drain resumed "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count()
              << " s after the server came back\n";
    farm.wait_until_drained(120s);
    for (long id : ids) EXPECT_EQ(farm.build(id)["state"], "FULLYBUILT") << id;
    const std::string log = farm.daemon_log();
    EXPECT_NE(log.find("the database is unavailable"), std::string::npos);
    EXPECT_NE(log.find("the database answers again"), std::string::npos);
    for (const auto& b : farm.cli_records({"builder", "list"}, "builders")) {
      EXPECT_TRUE(b["builderok"]) << b.dump();
      EXPECT_TRUE(b["job"].is_null()) << b.dump();
    }
    EXPECT_EQ(farm.stop_daemon(), 0) << log;
  }
  std::system((fixture + " stop " + pg.string()).c_str());
}

}  // namespace
}  // namespace buildd::test
