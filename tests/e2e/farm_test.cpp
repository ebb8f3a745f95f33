// End to end: the real buildd-master binary, real buildd-slave processes over
// real sockets, and the store and librarian on the embedded default (SQLite,
// local folder) or on real servers (PostgreSQL, nginx).
#include <gtest/gtest.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "buildd/compression.hpp"
#include "buildd/digest.hpp"
#include "e2e/farm.hpp"
#include "support/nginx_server.hpp"
#include "xmlrpc_slave.hpp"

namespace buildd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Expected {
  std::string state;
  std::string title;
};

// The scenario shared by the embedded and the real-server runs: every
// outcome a slave can report, plus a cancel while building.
void run_outcome_scenario(Farm& farm) {
  farm.add_family_and_archrelease();
  farm.add_builders(3);
  std::map<long, Expected> expected;
  std::map<long, std::string> sources;
  auto add = [&](const std::string& source, const std::string& outcome, Expected e,
                 double duration = 0.1, const std::string& depends = "") {
    long id = farm.add_build(source, "1.0-1", outcome, duration, depends);
    expected[id] = std::move(e);
    sources[id] = source;
    return id;
  };
  for (const char* source : {"hello", "bash", "grep", "sed"})
    add(source, "ok", {"FULLYBUILT", "Fully built"});
  add("tar", "packagefail", {"FAILEDTOBUILD", "Failed to build"});
  long depwait = add("gzip", "depwait", {"MANUALDEPWAIT", "Manual dependency wait"}, 0.1,
                     "libfoo-dev (>= 1.2)");
  long chrootfail = add("xz-utils", "chrootfail", {"CHROOTWAIT", "Chroot wait"});
  // give_back_limit is 2 in the farm's config: given back twice, then failed.
  long givenback = add("zlib", "givenback", {"FAILEDTOBUILD", "Failed to build"});
  long cancelled = add("curl", "ok", {"CANCELLED", "Cancelled build"}, 60);

  farm.start_daemon();
  // Cancel the long build once it runs.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (farm.build(cancelled)["state"] != "BUILDING") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << farm.daemon_log();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(farm.cli_ok({"build", "cancel", std::to_string(cancelled)}), "");
  farm.wait_until_drained(120s);

  for (const auto& [id, want] : expected) {
    json b = farm.build(id);
    SCOPED_TRACE("build " + std::to_string(id) + " " + sources[id]);
    EXPECT_EQ(b["state"], want.state);
    EXPECT_EQ(b["state_title"], want.title);
    EXPECT_TRUE(b["queue"].is_null()) << "queue entry left behind";
    if (want.state == "FULLYBUILT") {
      // Every result file verified: what the librarian serves has the
      // recorded SHA-1 and size.
      ASSERT_EQ(b["result_files"].size(), 2u) << b.dump(2);
      for (const auto& f : b["result_files"]) {
        std::string body = http_get(f["url"]);
        EXPECT_EQ(sha1_hex(body), f["sha1"]);
        EXPECT_EQ(body.size(), f["size"]);
      }
      EXPECT_FALSE(b["builder"].is_null());
      EXPECT_GT(b["duration_seconds"].get<double>(), 0.0);
    } else {
      EXPECT_TRUE(b["result_files"].empty());
    }
    if (want.state != "CANCELLED") {
      // The whole log, stored gzipped under Launchpad's name, is what the
      // slave wrote for this build.
      ASSERT_TRUE(b["log"]["url"].is_string()) << b.dump(2);
      const std::string log_name =
          "buildlog_ubuntu-noble-amd64." + sources[id] + "_1.0-1_" + want.state + ".txt.gz";
      // The local librarian's URLs carry the file name; an HTTP archive's
      // are content addresses.
      const std::string url = b["log"]["url"];
      if (url.find("/+files/") != std::string::npos) {
        EXPECT_NE(url.find(log_name), std::string::npos) << url;
      }
      std::string log = farm.cli_ok({"build", "log", std::to_string(id)});
      if (id == chrootfail) {
        EXPECT_NE(log.find("tar: This does not look like a tar archive"), std::string::npos) << log;
      } else {
        EXPECT_NE(log.find("Package: " + sources[id]), std::string::npos) << log;
      }
      // The master serves a log as text (gzip-encoded to a client that takes
      // it, which cpp-httplib undoes); an HTTP archive serves the stored
      // gzipped bytes.
      const std::string served = http_get(url);
      if (url.find("/+files/") != std::string::npos) {
        EXPECT_EQ(served, log);
      } else {
        EXPECT_EQ(gunzip_string(served), log);
      }
    }
  }
  EXPECT_EQ(farm.build(depwait)["dependencies"], "libfoo-dev (>= 1.2)");
  EXPECT_EQ(farm.build(givenback)["dependencies"], "Given back 3 times (limit 2)");

  // Every slave ends IDLE and cleaned (its log is gone from the cache).
  xmlrpc_slave::XmlRpcSlaveTransport transport(xmlrpc_slave::default_options());
  for (auto& slave : farm.slaves()) {
    Builder row;
    row.name = "check";
    row.url = slave->base_url();
    EXPECT_EQ(transport.connect(row)->status().state, BuilderState::kIdle);
    EXPECT_THROW(http_get(slave->base_url() + "filecache/buildlog"), std::runtime_error);
  }
  EXPECT_EQ(farm.stop_daemon(), 0) << farm.daemon_log();
  for (const auto& b : farm.cli_records({"builder", "list"}, "builders"))
    EXPECT_TRUE(b["builderok"]) << b.dump();
}

TEST(EndToEnd, EmbeddedFarmReachesEveryFinalState) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  run_outcome_scenario(farm);
}

TEST(EndToEnd, RealServersPostgresqlAndNginx) {
  const auto port_file = std::filesystem::path(BUILDD_E2E_PG_DIR) / "port";
  ASSERT_TRUE(std::filesystem::exists(port_file))
      << "PostgreSQL fixture not running (" << port_file << ")";
  const std::string pg_port = read_file(port_file).substr(0, read_file(port_file).find('\n'));
  NginxServer nginx;
  FarmBackends backends{
      "    backend: postgresql\n    connection: \"host=127.0.0.1 port=" + pg_port +
          " dbname=buildd user=postgres\"\n",
      "archive:\n  plugin: http-librarian\n  config:\n    base_url: " + nginx.url() +
          "/librarian\n",
      ""};
  Farm farm(backends);
  run_outcome_scenario(farm);
  // The slaves fetched their chroot from nginx, not from the master.
  EXPECT_NE(read_file(nginx.access_log()).find("GET /librarian/"), std::string::npos);
}

// The third engine: the whole outcome scenario on a real MariaDB (its own
// database on the e2e fixture), with the local archive.
TEST(EndToEnd, RealServerMariadb) {
  const auto port_file = std::filesystem::path(BUILDD_E2E_MARIADB_DIR) / "port";
  ASSERT_TRUE(std::filesystem::exists(port_file))
      << "MariaDB fixture not running (" << port_file << ")";
  const std::string text = read_file(port_file);
  const std::string base =
      "host=127.0.0.1 port=" + text.substr(0, text.find('\n')) + " user=buildd";
  const std::string database = "farm_" + std::to_string(::getpid());
  {
    soci::session admin(soci::mysql, base + " dbname=buildd");
    admin << "DROP DATABASE IF EXISTS " + database;
    admin << "CREATE DATABASE " + database;
  }
  TempDir data;
  FarmBackends backends = embedded_backends(data.path());
  backends.store_yaml =
      "    backend: mariadb\n    connection: \"" + base + " dbname=" + database + "\"\n";
  {
    Farm farm(backends);
    run_outcome_scenario(farm);
  }
  soci::session admin(soci::mysql, base + " dbname=buildd");
  admin << "DROP DATABASE " + database;
}

// A long, chatty build (600 compiler lines in 4 s: the log outruns the
// slave's 2 KiB tail between two scans) on one slave started with
// `slave_args`, followed with `build log --follow` until it ends.
struct ChattyBuild {
  std::string followed;  // what the follower printed
  std::string running;   // what `build log` printed while it ran, once it showed `seen`
  nlohmann::json job;    // its queue entry (`build show`) just after
  std::string log;       // `build log` once it ended
};

ChattyBuild follow_a_chatty_build(Farm& farm, const std::vector<std::string>& slave_args,
                                  const std::string& seen) {
  farm.add_family_and_archrelease();
  farm.add_builders(1, slave_args);
  const long id = farm.add_build("chatty", "1.0-1", "ok", 4.0, "", "primary", "Log-Lines: 600\n");
  auto followed = farm.dir() / "followed.log";
  ChildProcess follower(executable("buildd-master"),
                        {"--config", farm.config().string(), "build", "log", std::to_string(id),
                         "--follow", "--interval", "0.1"},
                        followed);
  farm.start_daemon();
  ChattyBuild out;
  EXPECT_TRUE(eventually(
      [&] {
        // Exit 2 ("has no log") until the first scan of the running build;
        // the build still BUILDING after the log was printed: a running log.
        out.running = farm.cli({"build", "log", std::to_string(id)}).out;
        if (out.running.find(seen) == std::string::npos) return false;
        const json b = farm.build(id);
        out.job = b["queue"];
        return b["state"] == "BUILDING";
      },
      60s))
      << farm.daemon_log();
  EXPECT_EQ(follower.wait(), 0);
  out.followed = read_file(followed);
  farm.wait_until_drained(60s);
  EXPECT_EQ(farm.build(id)["state"], "FULLYBUILT");
  out.log = farm.cli_ok({"build", "log", std::to_string(id)});
  return out;
}

// The farm's one slave ends IDLE and usable, its builder enabled; its probe
// says whether it reads its log from an offset.
void expect_slave_idle_and_usable(Farm& farm, bool reads_log_from_offset) {
  xmlrpc_slave::XmlRpcSlaveTransport transport(xmlrpc_slave::default_options());
  Builder row;
  row.name = "check";
  row.url = farm.slaves()[0]->base_url();
  EXPECT_EQ(transport.connect(row)->status().state, BuilderState::kIdle);
  EXPECT_EQ(transport.connect(row)->probe().reads_log_from_offset, reads_log_from_offset);
  EXPECT_EQ(farm.stop_daemon(), 0) << farm.daemon_log();
  EXPECT_TRUE(farm.cli_json({"builder", "show", "builder-1"})["builderok"]);
}

// The project's slave reads its log from an offset (the readlog extension):
// the master keeps the whole log as it grows, so a running build's log is
// all of it so far, and a follower prints the log byte for byte.
TEST(EndToEnd, AFollowedBuildPrintsItsWholeLogWhenTheSlaveReadsFromAnOffset) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  const ChattyBuild build = follow_a_chatty_build(farm, {}, "part300.cpp.o");
  EXPECT_EQ(build.followed, build.log);  // no gap, nothing twice
  EXPECT_GT(build.running.size(), 8192u);
  EXPECT_GE(build.job["live_log_bytes"].get<std::size_t>(), build.running.size())
      << build.job.dump();
  EXPECT_EQ(build.log.compare(0, build.running.size(), build.running), 0)
      << "the running log is the log's start";
  expect_slave_idle_and_usable(farm, true);
}

// An unmodified launchpad-buildd cannot (--no-readlog): the master keeps
// the tail only, the follower merges tails, and the build and the slave end
// as they would anyway.
TEST(EndToEnd, AFollowedBuildFallsBackToTailsWithoutTheExtension) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  const ChattyBuild build = follow_a_chatty_build(farm, {"--no-readlog"}, ".cpp.o");
  // The tail (plus the newline `build log` adds), and no live log.
  EXPECT_LE(build.running.size(), 2048u + 1);
  EXPECT_EQ(build.job["live_log_bytes"], 0) << build.job.dump();
  EXPECT_EQ(build.followed.substr(build.followed.size() - 200),
            build.log.substr(build.log.size() - 200));
  expect_slave_idle_and_usable(farm, false);
}

TEST(EndToEnd, BuilderFailDisablesTheBuilderAndRequeuesTheBuild) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  farm.add_family_and_archrelease();
  farm.add_builders(1);
  long id = farm.add_build("hello", "2.10-3", "builderfail");
  farm.cli_ok({"scan-once"});  // dispatch
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  json builder;
  do {
    std::this_thread::sleep_for(200ms);
    farm.cli_ok({"scan-once"});
    builder = farm.cli_json({"builder", "show", "builder-1"});
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  } while (builder["builderok"]);
  EXPECT_EQ(builder["failnotes"], "Builder returned BUILDERFAIL when asked for its status");
  json b = farm.build(id);
  EXPECT_EQ(b["state_title"], "Needs building");
  ASSERT_FALSE(b["queue"].is_null());
  EXPECT_TRUE(b["queue"]["builder"].is_null());
}

TEST(EndToEnd, HostileResultFileNamesFailTheBuildAndWriteNothingOutside) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  farm.add_family_and_archrelease();
  farm.add_builders(1, {"--fault", "hostile-filemap"});
  long id = farm.add_build("evil", "1.0", "ok");
  farm.start_daemon();
  farm.wait_until_drained(60s);
  json b = farm.build(id);
  EXPECT_EQ(b["state_title"], "Failed to build");
  const std::string note = b["dependencies"];
  EXPECT_EQ(note.rfind("Unsafe result file name(s) from the slave: ", 0), 0u) << note;
  EXPECT_NE(note.find("../../etc/passwd"), std::string::npos) << note;
  EXPECT_TRUE(b["result_files"].empty());
  // The log is still kept; nothing named by the slave exists outside the librarian.
  EXPECT_TRUE(b["log"]["url"].is_string());
  EXPECT_FALSE(std::filesystem::exists(data.path() / "etc" / "passwd"));
  EXPECT_FALSE(std::filesystem::exists(farm.dir() / "etc" / "passwd"));
  EXPECT_FALSE(std::filesystem::exists(farm.dir() / "work" / "a" / "b"));
  EXPECT_EQ(farm.stop_daemon(), 0);
}

TEST(EndToEnd, RestartMidDrainFinishesEveryBuildExactlyOnce) {
  TempDir data;
  Farm farm(embedded_backends(data.path()));
  farm.add_family_and_archrelease();
  farm.add_builders(2);
  std::vector<long> ids;
  for (int i = 0; i < 8; ++i)
    ids.push_back(farm.add_build("pkg" + std::to_string(i), "1", "ok", 0.3));
  farm.start_daemon();
  // Stop as soon as something has finished while the rest is still queued or building.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    int done = 0;
    for (const auto& b : farm.cli_records({"build", "list"}, "builds"))
      done += b["state"] == "FULLYBUILT";
    if (done >= 2) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << farm.daemon_log();
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(farm.stop_daemon(), 0);
  int final_before = 0;
  for (const auto& b : farm.cli_records({"build", "list"}, "builds"))
    final_before += b["state"] == "FULLYBUILT";
  EXPECT_LT(final_before, 8) << "the daemon drained everything before it was stopped";
  farm.start_daemon();
  farm.wait_until_drained(90s);
  EXPECT_EQ(farm.stop_daemon(), 0);
  for (long id : ids) {
    json b = farm.build(id);
    EXPECT_EQ(b["state"], "FULLYBUILT") << b.dump(2);
    // Exactly once: one .changes and one .deb, not two of each.
    EXPECT_EQ(b["result_files"].size(), 2u) << b.dump(2);
  }
}

}  // namespace
}  // namespace buildd::test
