// The admin commands of the real buildd-master binary, against a SQLite store
// and the file librarian in a temp dir.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <fstream>

#include <thread>

#include <nlohmann/json.hpp>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "buildd/child_process.hpp"
#include "buildd/compression.hpp"
#include "buildd/log_follow.hpp"
#include "buildd/web/api_model.hpp"
#include "soci_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using nlohmann::json;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class AdminCli : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_file(dir_ / "master.yaml",
                     "master:\n  work_dir: " + (dir_ / "work").string() +
                         "\nstore:\n  plugin: soci-store\n  config:\n    backend: sqlite3\n"
                         "    connection: " +
                         (dir_ / "db.sqlite").string() +
                         "\nslave_transport:\n  plugin: xmlrpc-slave\n"
                         "archive:\n  plugin: file-librarian\n  config:\n    root: " +
                         (dir_ / "archive").string() + "\n");
    std::filesystem::create_directories(dir_ / "work");
    test::write_file(dir_ / "foo_1.0-1.dsc", "Source: foo\nVersion: 1.0-1\n");
    test::write_file(dir_ / "foo_1.0.orig.tar.gz", "not really a tarball");
    test::write_file(dir_ / "chroot-warty-i386.tar.bz2", "chroot bytes");
  }

  Result run(const std::vector<std::string>& args) {
    std::vector<std::string> all{"--config", (dir_ / "master.yaml").string()};
    all.insert(all.end(), args.begin(), args.end());
    test::CommandResult r = test::run_command(test::executable("buildd-master"), all);
    return {r.exit_code, r.out, r.err};
  }
  Result ok(const std::vector<std::string>& args) {
    Result r = run(args);
    EXPECT_EQ(r.code, 0) << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << r.err;
    return r;
  }
  json ok_json(std::vector<std::string> args) {
    args.push_back("--format");
    args.push_back("json");
    json doc = json::parse(ok(args).out);
    EXPECT_EQ(doc["schema_version"], api::kJsonSchemaVersion);
    return doc;
  }
  // The records of a list command's JSON document (every one has a kind and
  // holds its records under one key).
  json records(const std::vector<std::string>& args, const char* key) { return ok_json(args)[key]; }
  json arch_releases() { return records({"archrelease", "list"}, "arch_releases"); }
  json builders() { return records({"builder", "list"}, "builders"); }
  json builds(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"build", "list"};
    args.insert(args.end(), more.begin(), more.end());
    return records(args, "builds");
  }
  // Running entries, then the waiting ones in dispatch order.
  json queue_entries() {
    json doc = ok_json({"queue", "list"});
    json all = doc["running"];
    for (const auto& w : doc["waiting"]) all.push_back(w);
    return all;
  }
  // Bad input: exit code 2, a message naming the problem.
  void bad(const std::vector<std::string>& args, const std::string& message) {
    Result r = run(args);
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
  }

  void seed() {
    ok({"db", "upgrade"});
    ok({"family", "add", "x86", "--processors", "386,amd64"});
    ok({"archrelease", "add", "ubuntu/warty/i386", "--family", "x86", "--chroot",
        (dir_ / "chroot-warty-i386.tar.bz2").string()});
    ok({"builder", "add", "bob", "http://127.0.0.1:8221/", "--processor", "386"});
  }
  std::string add_build(const std::string& source, const std::string& score) {
    Result r = ok({"build", "add", source, "1.0-1", "--archrelease", "ubuntu/warty/i386", "--file",
                   (dir_ / "foo_1.0-1.dsc").string(), (dir_ / "foo_1.0.orig.tar.gz").string(),
                   "--score", score});
    std::string id = r.out.substr(0, r.out.find('\n'));
    return id;
  }

  test::TempDir dir_;
};

TEST_F(AdminCli, DbUpgradeAppliesThenNothing) {
  Result first = ok({"db", "upgrade"});
  EXPECT_NE(first.out.find("applied migration 1"), std::string::npos) << first.out;
  const std::string latest = std::to_string(soci_store::migrations().size());
  EXPECT_NE(first.out.find("to " + latest), std::string::npos) << first.out;
  Result second = ok({"db", "upgrade"});
  EXPECT_NE(second.out.find("up to date (version " + latest + ")"), std::string::npos)
      << second.out;
}

TEST_F(AdminCli, DbUpgradeRefusesANewerDatabase) {
  ok({"db", "upgrade"});
  {
    // What a newer buildd-master would have left behind.
    soci::session sql(soci::sqlite3, "db=" + (dir_ / "db.sqlite").string());
    sql << "INSERT INTO schema_version (version, applied) VALUES (99, 0)";
  }
  Result r = run({"db", "upgrade"});
  EXPECT_EQ(r.code, 1);  // a store error, not bad input
  EXPECT_NE(
      r.err.find("database schema version 99 is newer than this buildd-master (knows " +
                 std::to_string(soci_store::migrations().size()) + "); upgrade buildd-master"),
      std::string::npos)
      << r.err;
}

TEST_F(AdminCli, FamilyArchReleaseAndTheirErrors) {
  seed();
  auto dars = arch_releases();
  ASSERT_EQ(dars.size(), 1u);
  EXPECT_EQ(dars[0]["name"], "ubuntu/warty/i386");
  EXPECT_EQ(dars[0]["family"], "x86");
  EXPECT_EQ(dars[0]["chroot"]["filename"], "chroot-warty-i386.tar.bz2");
  Result text = ok({"archrelease", "list"});
  EXPECT_NE(text.out.find("ubuntu/warty/i386"), std::string::npos);
  EXPECT_NE(text.out.find("ARCHRELEASE"), std::string::npos);

  bad({"family", "add", "x86", "--processors", "ppc"}, "already exists");
  bad({"family", "add", "arm", "--processors", "386"}, "processor 386 already exists");
  bad({"archrelease", "add", "ubuntu/hoary/i386", "--family", "vax"}, "unknown processor family");
  bad({"archrelease", "add", "ubuntu/warty/i386", "--family", "x86"}, "already exists");
  bad({"archrelease", "add", "ubuntu/warty", "--family", "x86"}, "DISTRO/RELEASE/ARCH");
  bad({"archrelease", "add", "ubuntu//i386", "--family", "x86"}, "DISTRO/RELEASE/ARCH");
  bad({"archrelease", "add", "ubuntu/hoary/i386", "--family", "x86", "--chroot",
       (dir_ / "missing.tar").string()},
      "no such file");
  EXPECT_EQ(arch_releases().size(), 1u);  // nothing written

  ok({"archrelease", "add", "ubuntu/hoary/i386", "--family", "x86"});
  EXPECT_TRUE(arch_releases()[1]["chroot"].is_null());
  ok({"archrelease", "set-chroot", "ubuntu/hoary/i386",
      (dir_ / "chroot-warty-i386.tar.bz2").string()});
  EXPECT_EQ(arch_releases()[1]["chroot"]["filename"], "chroot-warty-i386.tar.bz2");
  bad({"archrelease", "set-chroot", "ubuntu/breezy/i386",
       (dir_ / "chroot-warty-i386.tar.bz2").string()},
      "no arch release ubuntu/breezy/i386");
}

TEST_F(AdminCli, Builders) {
  seed();
  ok({"builder", "add", "frog", "http://127.0.0.1:9/", "--processor", "amd64", "--manual",
      "--virtualized"});
  auto list = builders();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "bob");
  EXPECT_EQ(list[0]["processor"], "386");
  EXPECT_EQ(list[0]["family"], "x86");
  EXPECT_EQ(list[0]["builderok"], true);
  EXPECT_EQ(list[1]["manual"], true);
  EXPECT_EQ(list[1]["virtualized"], true);
  EXPECT_NE(ok({"builder", "list"}).out.find("frog"), std::string::npos);

  ok({"builder", "disable", "bob", "--reason", "disk full"});
  auto bob = ok_json({"builder", "show", "bob"});
  EXPECT_EQ(bob["builderok"], false);
  EXPECT_EQ(bob["failnotes"], "disk full");
  EXPECT_NE(ok({"builder", "show", "bob"}).out.find("disk full"), std::string::npos);
  ok({"builder", "enable", "bob"});
  EXPECT_EQ(ok_json({"builder", "show", "bob"})["builderok"], true);

  ok({"builder", "set-url", "bob", "http://10.0.0.7:8221"});
  EXPECT_EQ(ok_json({"builder", "show", "bob"})["url"], "http://10.0.0.7:8221/");
  // The form is the CLI's to check; the scheme is the transport's (xmlrpc-slave: http(s)).
  bad({"builder", "set-url", "bob", "ftp://10.0.0.7/"}, "refused by the slave transport");
  bad({"builder", "set-url", "bob", "local://slot-1/"}, "http:// or https://");
  bad({"builder", "add", "toad", "10.0.0.7:8221", "--processor", "386"}, "must be absolute");
  EXPECT_EQ(builders().size(), 2u);  // toad not added
  bad({"builder", "set-url", "nobody", "http://10.0.0.7/"}, "no builder nobody");
  EXPECT_EQ(ok_json({"builder", "show", "bob"})["url"], "http://10.0.0.7:8221/");

  auto families = records({"family", "list"}, "families");
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0]["name"], "x86");
  EXPECT_EQ(families[0]["processors"], json::array({"386", "amd64"}));
  EXPECT_EQ(families[0]["builders"], 2);
  EXPECT_EQ(families[0]["usable_builders"], 1);  // frog is manual
  EXPECT_EQ(families[0]["arch_releases"], 1);
  EXPECT_NE(ok({"family", "list"}).out.find("386,amd64"), std::string::npos);

  bad({"builder", "add", "bob", "http://127.0.0.1:1/", "--processor", "386"}, "already exists");
  bad({"builder", "add", "newt", "http://127.0.0.1:1/", "--processor", "vax"},
      "unknown processor vax");
  bad({"builder", "add", "newt", "not-a-url", "--processor", "386"}, "URL");
  bad({"builder", "show", "nobody"}, "no builder nobody");
  bad({"builder", "enable", "nobody"}, "no builder nobody");
  EXPECT_EQ(builders().size(), 2u);
}

// `builder remove` takes a builder out of the farm without losing the builds
// it built; `builder add` of the same name brings it back, history and all.
TEST_F(AdminCli, BuilderRemoveKeepsItsBuildsAndAddBringsItBack) {
  seed();
  ok({"builder", "add", "frog", "http://127.0.0.1:9/", "--processor", "amd64"});
  const Id frog_id = builders()[1]["id"].get<Id>();
  std::string id = add_build("foo", "10");
  {
    soci_store::SociStore store({"sqlite3", (dir_ / "db.sqlite").string(), 1, 10, false});
    auto entry = *store.queue_entry_for_build(std::stoll(id));
    ASSERT_TRUE(store.claim(entry.id, std::stoll(id), frog_id, Clock::now()));
  }
  bad({"builder", "remove", "frog"}, "holds build " + id);  // it is building
  EXPECT_EQ(builders().size(), 2u);
  ok({"build", "cancel", id});
  {
    soci_store::SociStore store({"sqlite3", (dir_ / "db.sqlite").string(), 1, 10, false});
    CycleChanges done;  // the pipeline's end of the cancel: the entry is gone
    BuildCompletion c;
    c.build_id = std::stoll(id);
    c.queue_id = store.queue_entry_for_build(c.build_id)->id;
    c.state = BuildState::kCancelled;
    done.completions.push_back(c);
    store.commit(done);
  }
  Result removed = ok({"builder", "remove", "frog"});
  EXPECT_NE(removed.out.find("builder frog removed"), std::string::npos) << removed.out;
  ASSERT_EQ(builders().size(), 1u);
  EXPECT_EQ(builders()[0]["name"], "bob");
  EXPECT_EQ(ok_json({"build", "show", id})["builder"], "frog");  // its build keeps its name
  bad({"builder", "show", "frog"}, "no builder frog");
  bad({"builder", "remove", "frog"}, "no builder frog");
  bad({"builder", "remove", "nobody"}, "no builder nobody");

  ok({"builder", "add", "frog", "http://127.0.0.1:10/", "--processor", "386"});
  json frog = ok_json({"builder", "show", "frog"});
  EXPECT_EQ(frog["id"], frog_id);  // the same builder, back
  EXPECT_EQ(frog["url"], "http://127.0.0.1:10/");
  EXPECT_EQ(frog["processor"], "386");
  EXPECT_EQ(frog["builderok"], true);
  EXPECT_EQ(frog["history"].size(), 1u);
}

TEST_F(AdminCli, BuildListPagesAndFiltersBySource) {
  seed();
  add_build("foo", "10");
  add_build("bar", "10");
  add_build("baz", "10");
  EXPECT_EQ(builds({"--source", "foo"}).size(), 1u);
  EXPECT_EQ(builds({"--source", "bar"}).size(), 1u);
  json page = ok_json({"build", "list", "--limit", "1", "--offset", "1"});
  ASSERT_EQ(page["builds"].size(), 1u);
  EXPECT_EQ(page["builds"][0]["source_name"], "bar");
  EXPECT_EQ(page["more"], true);
  EXPECT_NE(ok({"build", "list", "--limit", "1"}).out.find("(more: --offset 1)"),
            std::string::npos);
  bad({"build", "list", "--offset", "-1"}, "--offset must be a whole number");
  bad({"build", "list", "--source", "Not A Name"}, "source");

  // queue list says why each build waits, and warns of a family nothing can build.
  Result queue = ok({"queue", "list"});
  EXPECT_NE(queue.out.find("WHY IT WAITS"), std::string::npos) << queue.out;
  EXPECT_NE(queue.out.find("next poll: an idle builder of family x86 is free"), std::string::npos)
      << queue.out;
  ok({"builder", "disable", "bob", "--reason", "disk full"});
  queue = ok({"queue", "list"});
  EXPECT_NE(queue.out.find("warning: family x86 has 3 queued builds that cannot be dispatched: "
                           "all builders of family x86 are disabled or manual"),
            std::string::npos)
      << queue.out;
  json bob = ok_json({"builder", "show", "bob"});
  EXPECT_TRUE(bob["disabled_at"].is_string());  // when, beside why
  EXPECT_EQ(bob["failnotes"], "disk full");
}

// `build add --archive` records who asked; `queue list` shows the order of
// the configured scheduler and why each build is at its place.
TEST_F(AdminCli, QueueListShowsTheSchedulersOrderAndWhy) {
  seed();
  auto add = [&](const std::string& source, const std::string& archive) {
    ok({"build", "add", source, "1.0-1", "--archrelease", "ubuntu/warty/i386", "--file",
        (dir_ / "foo_1.0-1.dsc").string(), "--archive", archive});
  };
  add("rebuild-a", "rebuild");
  add("rebuild-b", "rebuild");
  add("fix", "security");
  bad({"build", "add", "bar", "1.0-1", "--archrelease", "ubuntu/warty/i386", "--file",
       (dir_ / "foo_1.0-1.dsc").string(), "--archive", "no good"},
      "archive name 'no good' is not allowed");
  EXPECT_EQ(builds({"--source", "fix"})[0]["archive"], "security");

  auto order = [&] {
    std::vector<std::string> out;
    const json doc = ok_json({"queue", "list"});
    for (const auto& w : doc["waiting"])
      out.push_back(w["source_name"].get<std::string>() + " " + w["explain"].get<std::string>());
    return out;
  };
  // The default: Launchpad's score, then the oldest.
  std::vector<std::string> by_score = order();
  ASSERT_EQ(by_score.size(), 3u);
  EXPECT_EQ(by_score[0], "rebuild-a score 2510: main 1000 + release 1500 + medium 10");
  EXPECT_EQ(by_score[2].substr(0, 4), "fix ");

  // Fair share: the security archive's build goes before the rebuild's second.
  std::ofstream(dir_ / "master.yaml", std::ios::app)
      << "scheduler:\n  plugin: fair-share-scheduler\n";
  std::vector<std::string> shared = order();
  ASSERT_EQ(shared.size(), 3u);
  EXPECT_EQ(shared[0].substr(0, 10), "rebuild-a ");
  EXPECT_EQ(shared[1],
            "fix priority 2510 = score 2510 (main 1000 + release 1500 + medium 10) - share 0 "
            "(archive security: 0 dispatched before it, weight 1)");
  EXPECT_NE(shared[2].find("rebuild-b priority 2010"), std::string::npos) << shared[2];
  Result text = ok({"queue", "list"});
  EXPECT_NE(text.out.find("ARCHIVE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("WHY HERE"), std::string::npos) << text.out;
  EXPECT_NE(ok({"config", "check"}).out.find("scheduler: fair-share-scheduler"), std::string::npos);
}

// Under --format json a failure is one JSON object on stderr, with the same
// exit code as in text.
TEST_F(AdminCli, JsonFormatErrorsAreJson) {
  seed();
  Result missing = run({"build", "show", "99", "--format", "json"});
  EXPECT_EQ(missing.code, 2);
  json error = json::parse(missing.err)["error"];
  EXPECT_NE(error["message"].get<std::string>().find("no build 99"), std::string::npos);
  EXPECT_EQ(error["category"], "not-found");
  EXPECT_EQ(error["exit_code"], 2);
  EXPECT_EQ(error["retryable"], false);
  Result usage = run({"builder", "list", "--format=json", "--bogus"});
  EXPECT_EQ(usage.code, 2);
  EXPECT_EQ(json::parse(usage.err)["error"]["category"], "usage");
  Result text = run({"build", "show", "99"});
  EXPECT_EQ(text.code, 2);
  EXPECT_EQ(text.err.rfind("buildd-master: ", 0), 0u) << text.err;
}

TEST_F(AdminCli, BuildsAndQueue) {
  seed();
  std::string low = add_build("low", "10");
  std::string high = add_build("high", "500");
  EXPECT_EQ(low, "1");
  EXPECT_EQ(high, "2");

  auto queue = queue_entries();
  ASSERT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue[0]["source_name"], "high");  // dispatch order: score first
  EXPECT_EQ(queue[0]["family"], "x86");
  EXPECT_EQ(queue[0]["score"], 500);
  EXPECT_TRUE(queue[0]["builder"].is_null());
  EXPECT_NE(ok({"queue", "list"}).out.find("high"), std::string::npos);

  auto show = ok_json({"build", "show", high});
  EXPECT_EQ(show["id"], 2);
  EXPECT_EQ(show["kind"], "build");
  EXPECT_EQ(show["source_name"], "high");
  EXPECT_EQ(show["source_version"], "1.0-1");
  EXPECT_EQ(show["arch_release"], "ubuntu/warty/i386");
  EXPECT_EQ(show["state"], "NEEDSBUILD");
  EXPECT_EQ(show["state_title"], "Needs building");
  EXPECT_EQ(show["state_value"], 0);
  EXPECT_TRUE(show["builder"].is_null());
  EXPECT_EQ(show["created"].get<std::string>().size(), 20u);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(show["created"].get<std::string>().back(), 'Z');
  ASSERT_EQ(show["source_files"].size(), 2u);
  EXPECT_EQ(show["source_files"][0]["filename"], "foo_1.0-1.dsc");
  EXPECT_EQ(show["source_files"][0]["sha1"].get<std::string>().size(), 40u);
  EXPECT_TRUE(show["result_files"].empty());
  Result text = ok({"build", "show", high});
  EXPECT_NE(text.out.find("Needs building (0)"), std::string::npos) << text.out;

  auto list = builds();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], 2);  // newest first

  Result cancel = ok({"build", "cancel", low});
  EXPECT_NE(cancel.out.find("cancelled"), std::string::npos);
  auto cancelled = builds({"--state", "CANCELLED"});
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0]["id"], 1);
  EXPECT_EQ(cancelled[0]["state_title"], "Cancelled build");
  EXPECT_EQ(queue_entries().size(), 1u);
  bad({"build", "cancel", low}, "already final");

  ok({"build", "retry", low});
  EXPECT_EQ(ok_json({"build", "show", low})["state"], "NEEDSBUILD");
  EXPECT_EQ(queue_entries().size(), 2u);
  bad({"build", "retry", low}, "cannot be retried");

  // Rescoring pins a waiting build's score; the dispatch order follows.
  ok({"build", "rescore", low, "900"});
  queue = queue_entries();
  EXPECT_EQ(queue[0]["source_name"], "low");
  EXPECT_EQ(queue[0]["score"], 900);
  bad({"build", "rescore", low, "lots"}, "SCORE must be an integer");
  bad({"build", "rescore", "99", "1"}, "no build 99");

  // The same version of an active build is refused unless --force.
  bad({"build", "add", "high", "1.0-1", "--archrelease", "ubuntu/warty/i386", "--file",
       (dir_ / "foo_1.0-1.dsc").string()},
      "build 2 of high 1.0-1 on ubuntu/warty/i386 is already NEEDSBUILD; --force queues another");
  EXPECT_EQ(builds().size(), 2u);
  ok({"build", "add", "high", "1.0-1", "--archrelease", "ubuntu/warty/i386", "--file",
      (dir_ / "foo_1.0-1.dsc").string(), "--force"});
  ok({"build", "add", "high", "1.0-2", "--archrelease", "ubuntu/warty/i386", "--file",
      (dir_ / "foo_1.0-1.dsc").string()});
  EXPECT_EQ(builds().size(), 4u);
  ok({"build", "cancel", "3"});
  ok({"build", "cancel", "4"});

  bad({"build", "show", "99"}, "no build 99");
  bad({"build", "show", "x"}, "positive number");
  bad({"build", "list", "--state", "NOPE"}, "unknown build state");
  bad({"build", "log", high}, "has no log");
  bad({"build", "add", "foo", "1.0", "--archrelease", "ubuntu/breezy/i386", "--file",
       (dir_ / "foo_1.0-1.dsc").string()},
      "no arch release");
  bad({"build", "add", "foo", "1.0", "--archrelease", "ubuntu/warty/i386", "--file",
       (dir_ / "missing.dsc").string()},
      "no such file");
  bad({"build", "add", "foo", "1.0", "--archrelease", "warty", "--file",
       (dir_ / "foo_1.0-1.dsc").string()},
      "DISTRO/RELEASE/ARCH");
  EXPECT_EQ(builds().size(), 4u);  // nothing written
}

// Names people type are checked before anything is written: Debian's rules
// for source names and versions, a charset and a length for the rest, and
// limits that are whole numbers. Each refusal exits 2, quotes what was wrong
// (cut and escaped) and leaves the database as it was.
TEST_F(AdminCli, BadNamesAndLimitsAreRefusedAndNothingIsWritten) {
  seed();
  const std::string dsc = (dir_ / "foo_1.0-1.dsc").string();
  auto add = [&](const std::string& source, const std::string& version) {
    return std::vector<std::string>{
        "build", "add", source, version, "--archrelease", "ubuntu/warty/i386", "--file", dsc};
  };
  bad(add("", "1.0"), "source name '' is not allowed");
  bad(add("Foo", "1.0"), "Debian Policy 5.6.1");
  bad(add("<script>alert(1)</script>", "1.0"), "source name '<script>");
  bad(add("foo\nbar", "1.0"), "source name 'foo\\x0abar'");
  bad(add(std::string(100'000, 'a'), "1.0"), "aaa…' is not allowed");
  bad(add("foo", ""), "version '' is not allowed");
  bad(add("foo", "a1.0"), "Debian Policy 5.6.12");
  bad(add("foo", "1.0-"), "version '1.0-'");
  bad(add("foo", "x:1.0"), "version 'x:1.0'");
  bad(add("foo", "1.0 beta"), "version '1.0 beta'");
  auto with = [&](std::vector<std::string> args, const std::string& option,
                  const std::string& value) {
    args.push_back(option);
    args.push_back(value);
    return args;
  };
  bad(with(add("foo", "1.0"), "--pocket", "nowhere"), "--pocket must be release");
  bad(with(add("foo", "1.0"), "--urgency", "asap"), "--urgency must be low");
  bad(with(add("foo", "1.0"), "--component", "main stuff"), "component 'main stuff'");
  // Valid Debian versions are accepted.
  ok(add("foo", "2:1.0~rc1+dfsg-0ubuntu1.1"));
  ok(add("g++-12", "12.2.0-14"));

  bad({"builder", "add", "", "http://127.0.0.1:1/", "--processor", "386"}, "builder name ''");
  bad({"builder", "add", "<b>x</b>", "http://127.0.0.1:1/", "--processor", "386"},
      "builder name '<b>x</b>' is not allowed");
  bad({"builder", "add", std::string(65, 'b'), "http://127.0.0.1:1/", "--processor", "386"},
      "1 to 64 characters");
  bad({"builder", "add", "newt", "http://127.0.0.1:1/a b", "--processor", "386"}, "no spaces");
  bad({"family", "add", "x 86", "--processors", "z80"}, "family name 'x 86'");
  bad({"family", "add", "z", "--processors", "z80,bad/one"}, "processor name 'bad/one'");
  bad({"archrelease", "add", "ubuntu/war ty/i386", "--family", "x86"}, "release name 'war ty'");
  bad({"builder", "disable", "bob", "--reason", "line\nbreak"}, "no control characters");
  bad({"builder", "disable", "bob", "--reason", std::string(1001, 'r')}, "1 to 1,000");

  bad({"build", "list", "--limit", "-1"}, "--limit must be a whole number");
  bad({"queue", "list", "--limit", "ten"}, "--limit must be a whole number");
  EXPECT_EQ(builds({"--limit", "1"}).size(), 1u);

  EXPECT_EQ(builds().size(), 2u);  // the two valid ones
  EXPECT_EQ(builders().size(), 1u);
  EXPECT_EQ(ok_json({"builder", "show", "bob"})["builderok"], true);
}

// A finished build (written through the store as the pipeline would) shows
// its builder, dates, duration, log URL and result files, and `build log`
// prints the log gunzipped.
TEST_F(AdminCli, FinishedBuildShowsResultsAndLog) {
  seed();
  test::write_file(dir_ / "log.txt", "dpkg-buildpackage: full build\nDone.\n");
  gzip_file(dir_ / "log.txt", dir_ / "buildlog_ubuntu-warty-i386.foo_1.0-1_FULLYBUILT.txt.gz");
  test::write_file(dir_ / "foo_1.0-1_i386.deb", "a deb");
  // The files go into the librarian through the CLI (as sources of another build).
  ok({"build", "add", "carrier", "1", "--archrelease", "ubuntu/warty/i386", "--file",
      (dir_ / "buildlog_ubuntu-warty-i386.foo_1.0-1_FULLYBUILT.txt.gz").string(),
      (dir_ / "foo_1.0-1_i386.deb").string()});
  std::string id = add_build("foo", "100");

  soci_store::SociStore store({"sqlite3", (dir_ / "db.sqlite").string(), 1, 10, false});
  auto log = store.find_library_file(store.source_files(1).at(0).file.id);
  auto deb = store.source_files(1).at(1).file;
  ASSERT_TRUE(log);
  Id build_id = std::stoll(id);
  auto entry = *store.queue_entry_for_build(build_id);
  auto bob = *store.find_builder("bob");
  auto start = TimePoint(std::chrono::seconds(1700000000));
  ASSERT_TRUE(store.claim(entry.id, build_id, bob.id, start));

  auto running = queue_entries();
  ASSERT_EQ(running.size(), 2u);
  EXPECT_EQ(running[0]["build_id"], build_id);  // running entries come first
  EXPECT_EQ(running[0]["builder"], "bob");
  EXPECT_EQ(ok_json({"builder", "show", "bob"})["job"]["build_id"], build_id);

  CycleChanges changes;
  BuildCompletion done;
  done.build_id = build_id;
  done.queue_id = entry.id;
  done.state = BuildState::kFullyBuilt;
  done.built = start + std::chrono::seconds(90);
  done.duration = std::chrono::seconds(90);
  done.buildlog = *log;
  done.result_files = {{"foo_1.0-1_i386.deb", deb}};
  changes.completions.push_back(done);
  store.commit(changes);

  auto show = ok_json({"build", "show", id});
  EXPECT_EQ(show["state"], "FULLYBUILT");
  EXPECT_EQ(show["state_title"], "Fully built");
  EXPECT_EQ(show["state_value"], 1);
  EXPECT_EQ(show["builder"], "bob");
  EXPECT_EQ(show["started"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(show["built"], "2023-11-14T22:14:50Z");
  EXPECT_EQ(show["duration_seconds"], 90.0);
  EXPECT_NE(show["log"]["url"].get<std::string>().find(
                "buildlog_ubuntu-warty-i386.foo_1.0-1_FULLYBUILT.txt.gz"),
            std::string::npos);
  ASSERT_EQ(show["result_files"].size(), 1u);
  EXPECT_EQ(show["result_files"][0]["filename"], "foo_1.0-1_i386.deb");
  EXPECT_EQ(show["result_files"][0]["size"], 5);
  EXPECT_EQ(show["result_files"][0]["sha1"], deb.sha1);
  EXPECT_FALSE(show["result_files"][0]["url"].get<std::string>().empty());
  EXPECT_TRUE(show["queue"].is_null());
  Result text = ok({"build", "show", id});
  EXPECT_NE(text.out.find("Fully built (1)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("0:01:30"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("foo_1.0-1_i386.deb"), std::string::npos) << text.out;

  EXPECT_EQ(ok({"build", "log", id}).out, "dpkg-buildpackage: full build\nDone.\n");
  EXPECT_EQ(builds({"--state", "Fully built"}).size(), 1u);
  bad({"build", "cancel", id}, "already final");
  bad({"build", "retry", id}, "cannot be retried");
}

// ---- build log of a running build, and --follow ----------------------------------

class FollowCli : public AdminCli {
 protected:
  // A running build on bob, and `log` gzipped in the librarian (carried in as
  // a source file of another build) for completing it later.
  void start_build(const std::string& log) {
    seed();
    test::write_file(dir_ / "log.txt", log);
    gzip_file(dir_ / "log.txt", dir_ / "buildlog_ubuntu-warty-i386.foo_1.0-1_FULLYBUILT.txt.gz");
    ok({"build", "add", "carrier", "1", "--archrelease", "ubuntu/warty/i386", "--file",
        (dir_ / "buildlog_ubuntu-warty-i386.foo_1.0-1_FULLYBUILT.txt.gz").string()});
    id_ = std::stoll(add_build("foo", "100"));
    store_ = std::make_unique<soci_store::SociStore>(
        soci_store::SociStoreOptions{"sqlite3", (dir_ / "db.sqlite").string(), 1, 10, false});
    log_id_ = store_->source_files(1).at(0).file.id;
    queue_id_ = store_->queue_entry_for_build(id_)->id;
    ASSERT_TRUE(store_->claim(queue_id_, id_, store_->find_builder("bob")->id, Clock::now()));
  }
  void set_tail(const std::string& tail) {
    CycleChanges changes;
    changes.logtails.push_back({queue_id_, tail});
    store_->commit(changes);
  }
  void complete() {
    CycleChanges changes;
    BuildCompletion done;
    done.build_id = id_;
    done.queue_id = queue_id_;
    done.state = BuildState::kFullyBuilt;
    done.built = Clock::now();
    done.duration = std::chrono::seconds(1);
    done.buildlog = store_->find_library_file(log_id_);
    changes.completions.push_back(done);
    store_->commit(changes);
  }
  std::unique_ptr<ChildProcess> follow(const std::filesystem::path& out) {
    return std::make_unique<ChildProcess>(
        test::executable("buildd-master"),
        std::vector<std::string>{"--config", (dir_ / "master.yaml").string(), "build", "log",
                                 std::to_string(id_), "--follow", "--interval", "0.05"},
        out);
  }
  // Waits until `file` holds `text`; false after 20 s.
  static bool wait_for(const std::filesystem::path& file, const std::string& text) {
    for (int i = 0; i < 2000; ++i) {
      if (std::filesystem::exists(file) && test::read_file(file).find(text) != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  Id id_ = 0, queue_id_ = 0, log_id_ = 0;
  std::unique_ptr<soci_store::SociStore> store_;
};

std::string numbered_lines(int from, int to) {
  std::string text;
  for (int i = from; i <= to; ++i)
    text += "step " + std::to_string(i) + ": dpkg-buildpackage is doing something\n";
  return text;
}

TEST_F(FollowCli, ARunningBuildPrintsItsLatestTail) {
  start_build("whole log\n");
  bad({"build", "log", std::to_string(id_)}, "has no log");  // no tail yet
  set_tail("the latest lines\nof a running build");
  EXPECT_EQ(ok({"build", "log", std::to_string(id_)}).out,
            "the latest lines\nof a running build\n");
  bad({"build", "log", std::to_string(id_), "--follow", "--interval", "0"}, "--interval");
}

// The tail changes in the store (from another thread, as the master's scans
// would) while --follow runs: every line comes out once, in order, and the
// output ends with the rest of the stored log.
TEST_F(FollowCli, FollowPrintsEachLineOnceThenTheStoredLog) {
  const std::string log = numbered_lines(1, 80) + "the end\n";
  start_build(log);
  const std::size_t window = 400;  // the slave's tail: its last bytes, cut mid-line
  const std::size_t running_end = log.find("step 70:") + 10;
  auto out = dir_ / "follow.out";
  auto proc = follow(out);
  std::string writer_error;
  std::thread writer([&] {
    for (std::size_t end = 50; end < running_end; end += 130) {
      const std::string tail =
          log.substr(end > window ? end - window : 0, end > window ? window : end);
      set_tail(tail);
      // The follower prints the tail's whole lines; the next tail is stored
      // once it has, so that the log never moves past the window.
      const std::string whole = tail.substr(0, tail.rfind('\n') + 1);
      const std::string last_line = whole.substr(whole.rfind('\n', whole.size() - 2) + 1);
      if (whole.size() > 1 && !wait_for(out, last_line)) {
        writer_error = "follow never printed " + last_line;
        break;
      }
    }
    complete();
  });
  const int code = proc->wait();
  writer.join();
  ASSERT_EQ(writer_error, "");
  EXPECT_EQ(code, 0);
  const std::string printed = test::read_file(out);
  EXPECT_EQ(printed, log);  // each line exactly once, ending with the stored log
  EXPECT_EQ(printed.find(kGapMarker), std::string::npos);
}

// A slave that reads its log from an offset: the master appends each poll's
// new bytes to the store's live log, and the follower prints them as they
// are, however far the log moved between two polls (no gap), then the rest
// of the stored log. Plain `build log` prints the live log so far.
TEST_F(FollowCli, FollowPrintsTheLiveLogByteForByte) {
  const std::string log = numbered_lines(1, 300) + "the end\n";
  start_build(log);
  const int attempt = store_->queue_entry_for_build(id_)->attempt;
  std::uint64_t appended = 0;
  auto append_up_to = [&](std::size_t end) {
    CycleChanges changes;
    changes.live_logs.push_back(
        {queue_id_, attempt, appended, log.substr(appended, end - appended)});
    ASSERT_EQ(store_->commit(changes).stale, 0u);
    appended = end;
  };
  append_up_to(100);  // cut mid-line
  EXPECT_EQ(ok({"build", "log", std::to_string(id_)}).out, log.substr(0, 100));
  auto out = dir_ / "follow.out";
  auto proc = follow(out);
  ASSERT_TRUE(wait_for(out, log.substr(0, 100)));
  append_up_to(log.find("step 250:") + 3);  // ~14 KB at once: far past any tail window
  ASSERT_TRUE(wait_for(out, log.substr(0, log.find("step 250:") + 3)));
  complete();
  EXPECT_EQ(proc->wait(), 0);
  EXPECT_EQ(test::read_file(out), log);
}

TEST_F(FollowCli, FollowShowsAGapWhenTheLogMovedPastTheWindow) {
  const std::string log = numbered_lines(1, 40);
  start_build(log);
  set_tail(numbered_lines(1, 3));
  auto out = dir_ / "follow.out";
  auto proc = follow(out);
  ASSERT_TRUE(wait_for(out, "step 3:"));
  set_tail(numbered_lines(30, 32));
  ASSERT_TRUE(wait_for(out, "step 32:"));
  complete();
  EXPECT_EQ(proc->wait(), 0);
  EXPECT_EQ(test::read_file(out),
            numbered_lines(1, 3) + std::string(kGapMarker) + numbered_lines(30, 40));
}

TEST_F(FollowCli, CtrlCStopsFollowing) {
  start_build("whole log\n");
  set_tail("building\n");
  auto out = dir_ / "follow.out";
  auto proc = follow(out);
  ASSERT_TRUE(wait_for(out, "building\n"));
  proc->signal(SIGINT);
  EXPECT_EQ(proc->wait(), 130);
  EXPECT_EQ(test::read_file(out), "building\n");
}

TEST_F(FollowCli, FollowingAFinishedBuildPrintsItsLog) {
  start_build("all of it\n");
  complete();
  EXPECT_EQ(ok({"build", "log", std::to_string(id_), "--follow"}).out, "all of it\n");
}

}  // namespace
}  // namespace buildd
