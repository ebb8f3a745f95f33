// Every status page and API endpoint, through the real HttpServer, over
// FakeStore and the real Librarian on a FakeArchive.

#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "buildd/librarian.hpp"
#include "buildd/web/api_model.hpp"
#include "buildd/web/status_pages.hpp"
#include "fakes/fake_archive.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using namespace buildd::test;
using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kEvilTail = "line 1\nline 2\n<script>alert('tail')</script>\n";
constexpr const char* kEvilSource = "<script>alert(\"src\")</script>";

class StatusPages : public ::testing::Test {
 protected:
  StatusPages()
      : time_(TimePoint(std::chrono::seconds(1700000000))),
        librarian_(store_, archive_, tmp_.path() / "lib", "http://master.test"),
        server_("127.0.0.1:0") {
    store_.add_processor_family("x86", {"386", "amd64"});
    store_.add_processor_family("arm", {"armhf"});
    LibraryFile chroot = librarian_.store_bytes("chroot", "chroot.tar.gz", "application/gzip");
    amd64_ = store_.add_distro_arch_release({"ubuntu", "noble", "amd64", "x86", chroot.id, true});
    armhf_ = store_.add_distro_arch_release({"ubuntu", "noble", "armhf", "arm", chroot.id, true});
    i386_ = store_.add_distro_arch_release({"ubuntu", "noble", "i386", "x86", std::nullopt, true});
    bob_ = store_.add_builder({"bob", "http://bob:8221/", "amd64"});
    frog_ = store_.add_builder({"frog", "http://frog:8221/", "386"});
    store_.set_builder_ok(frog_.id, false, "<b>disk</b> full");

    // Built by bob: FULLYBUILT with a log and a result file.
    done_ = add("hello", "1.0-1", amd64_.id, 1000);
    time_.advance(10min);
    LibraryFile log = librarian_.store_bytes("log", "buildlog_hello.txt.gz", "application/gzip");
    LibraryFile deb = librarian_.store_bytes("deb", "hello_1.0-1_amd64.deb", "application/x-deb");
    complete(done_, bob_.id, BuildState::kFullyBuilt, log.id, {{deb.filename, deb.id}}, "");
    // A dependency wait, also by bob.
    depwait_ = add("grep", "3.11-1", amd64_.id, 900);
    complete(depwait_, bob_.id, BuildState::kManualDepWait, std::nullopt, {},
             "libfoo-dev (>= 1.2) <&>");
    // Building on bob now, with a hostile log tail.
    running_ = add("bash", "5.2-1", amd64_.id, 800);
    Id running_queue = store_.queue_entry_for_build(running_.id)->id;
    store_.assign(running_queue, bob_.id, time_.now());
    store_.build(running_.id).state = BuildState::kBuilding;
    CycleChanges tail;
    tail.logtails.push_back({running_queue, kEvilTail});
    store_.commit(tail);
    // Waiting: x86 (all busy), arm (no builder), i386 (no chroot), hostile name.
    waiting_x86_ = add("sed", "4.9-1", amd64_.id, 500);
    waiting_arm_ = add("gawk", "5.2-1", armhf_.id, 400);
    waiting_nochroot_ = add("tar", "1.35-1", i386_.id, 300);
    evil_ = add(kEvilSource, "1<2", amd64_.id, 100);
    time_.advance(5min);

    add_status_routes(server_, store_, librarian_, metrics_, time_);
    server_.start();
  }

  Build add(const std::string& source, const std::string& version, Id dar, int score) {
    NewBuild nb;
    nb.source_name = source;
    nb.source_version = version;
    nb.distro_arch_release_id = dar;
    nb.score = score;
    return store_.add_build(nb);
  }

  void complete(const Build& b, Id builder, BuildState state, std::optional<Id> log,
                std::vector<std::pair<std::string, Id>> files, std::string deps) {
    Id queue = store_.queue_entry_for_build(b.id)->id;
    store_.assign(queue, builder, time_.now() - 3min);
    CycleChanges c;
    std::vector<std::pair<std::string, LibraryFile>> recorded;
    for (const auto& [name, id] : files) recorded.emplace_back(name, *store_.find_library_file(id));
    c.completions.push_back(BuildCompletion{
        b.id, queue, state, time_.now(), Duration(std::chrono::seconds(180)), builder,
        log ? store_.find_library_file(*log) : std::nullopt, std::move(deps), std::move(recorded)});
    store_.commit(c);
  }

  httplib::Result get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_.actual_port());
    return client.Get(path.c_str());
  }
  // `refresh`: the page reloads itself every 10 s (all but a running build's,
  // which updates its live log instead).
  std::string html(const std::string& path, bool refresh = true) {
    auto r = get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8") << path;
    EXPECT_EQ(r->body.find("<meta http-equiv=\"refresh\" content=\"10\">") != std::string::npos,
              refresh)
        << path;
    EXPECT_NE(r->body.find("<a href=\"/queue\""), std::string::npos) << "nav on " << path;
    return r->body;
  }
  json api(const std::string& path) {
    auto r = get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(r->body);
  }

  TempDir tmp_;
  ManualTimeSource time_;
  FakeStore store_;
  FakeArchive archive_;
  Librarian librarian_;
  Metrics metrics_;
  HttpServer server_;
  DistroArchRelease amd64_, armhf_, i386_;
  Builder bob_, frog_;
  Build done_, depwait_, running_, waiting_x86_, waiting_arm_, waiting_nochroot_, evil_;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(HtmlEscape, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

TEST_F(StatusPages, RootRedirectsToBuilders) {
  auto r = get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->get_header_value("Location"), "/builders");
}

TEST_F(StatusPages, BuildersApiGivesStatesJobsAndFamilyCounts) {
  json j = api("/api/builders");
  ASSERT_EQ(j["builders"].size(), 2u);
  const json& bob = j["builders"][0];
  EXPECT_EQ(bob["name"], "bob");
  EXPECT_EQ(bob["family"], "x86");
  EXPECT_EQ(bob["processor"], "amd64");
  EXPECT_EQ(bob["state"], "building");
  EXPECT_EQ(j["schema_version"], api::kJsonSchemaVersion);
  EXPECT_EQ(j["kind"], "builders");
  EXPECT_EQ(bob["builderok"], true);
  EXPECT_TRUE(bob["disabled_at"].is_null());
  EXPECT_EQ(bob["job"]["build_id"], running_.id);
  EXPECT_EQ(bob["job"]["source_name"], "bash");
  EXPECT_EQ(bob["job"]["elapsed_seconds"], 300.0);
  EXPECT_EQ(bob["job"]["logtail"], "line 1\nline 2\n<script>alert('tail')</script>\n");
  const json& frog = j["builders"][1];
  EXPECT_EQ(frog["state"], "disabled");
  EXPECT_EQ(frog["builderok"], false);
  EXPECT_TRUE(frog["disabled_at"].is_string());  // when it was disabled, beside why
  EXPECT_EQ(frog["failnotes"], "<b>disk</b> full");
  EXPECT_TRUE(frog["job"].is_null());
  json x86, arm;
  for (const auto& f : j["families"]) (f["name"] == "x86" ? x86 : arm) = f;
  EXPECT_EQ(x86["building"], 1);
  EXPECT_EQ(x86["disabled"], 1);
  EXPECT_EQ(x86["idle"], 0);
  EXPECT_EQ(arm["idle"], 0);
  EXPECT_EQ(arm["building"], 0);
}

TEST_F(StatusPages, BuildersPageShowsBuildersAndKeepsLogTailAsText) {
  std::string body = html("/builders");
  EXPECT_TRUE(contains(body, "<a href=\"/builders/bob\">bob</a>"));
  EXPECT_TRUE(contains(body, ">frog</a>"));
  EXPECT_TRUE(contains(body, "building bash"));
  EXPECT_TRUE(contains(body, "5m 00s"));  // elapsed
  EXPECT_TRUE(contains(body, "&lt;b&gt;disk&lt;/b&gt; full"));
  EXPECT_TRUE(contains(body, "&lt;script&gt;alert(&#39;tail&#39;)&lt;/script&gt;"));
  EXPECT_FALSE(contains(body, "<script>"));
  EXPECT_FALSE(contains(body, "<b>disk"));
}

TEST_F(StatusPages, BuilderPageAndApiGiveHistoryAndFailures) {
  json j = api("/api/builders/bob");
  EXPECT_EQ(j["name"], "bob");
  ASSERT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["history"][0]["id"], depwait_.id);  // newest first
  EXPECT_EQ(j["history"][1]["id"], done_.id);
  EXPECT_EQ(j["failed_builds"], 1);
  EXPECT_EQ(j["builds_by_state"]["FULLYBUILT"], 1);
  std::string body = html("/builders/bob");
  EXPECT_TRUE(contains(body, "Builder bob"));
  EXPECT_TRUE(contains(body, "Fully built"));
  EXPECT_TRUE(contains(body, "Manual dependency wait"));
  EXPECT_TRUE(contains(body, "href=\"/builds/" + std::to_string(done_.id) + "\""));
  auto missing = get("/builders/nobody");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(get("/api/builders/nobody")->status, 404);
}

TEST_F(StatusPages, QueueListsWaitingBuildsInDispatchOrderWithReasons) {
  json j = api("/api/queue");
  EXPECT_EQ(j["kind"], "queue");
  EXPECT_EQ(j["waiting_total"], 4);
  ASSERT_EQ(j["waiting"].size(), 4u);
  ASSERT_EQ(j["running"].size(), 1u);
  EXPECT_EQ(j["running"][0]["builder"], "bob");
  const json& b = j["waiting"];
  EXPECT_EQ(b[0]["build_id"], waiting_x86_.id);
  // The score is the scheduler's, now: the default's, with time in queue.
  EXPECT_EQ(b[0]["score"], 2610);
  EXPECT_EQ(b[0]["explain"], "score 2610: main 1000 + release 1500 + medium 10 + queued >4h 100");
  EXPECT_EQ(b[0]["archive"], "primary");
  EXPECT_EQ(b[0]["family"], "x86");
  EXPECT_EQ(b[0]["reason"], "all 1 builders of family x86 are busy");
  // FakeStore leaves created at the epoch.
  EXPECT_EQ(b[0]["age_seconds"], 1700000000.0 + 15 * 60);
  EXPECT_EQ(b[1]["build_id"], waiting_arm_.id);
  EXPECT_EQ(b[1]["reason"], "no builder of family arm");
  EXPECT_EQ(b[2]["build_id"], waiting_nochroot_.id);
  EXPECT_EQ(b[2]["reason"], "no chroot for ubuntu/noble/i386");
  EXPECT_EQ(b[3]["source_name"], kEvilSource);
  EXPECT_EQ(j["waiting_by_family"]["x86"], 3);
  EXPECT_EQ(j["waiting_by_family"]["arm"], 1);
  // arm has a queued build and no builder at all: a stalled family, with a banner.
  ASSERT_EQ(j["stalled_families"].size(), 1u);
  EXPECT_EQ(j["stalled_families"][0]["family"], "arm");
  EXPECT_EQ(j["stalled_families"][0]["queued"], 1);
  std::string body = html("/queue");
  EXPECT_TRUE(contains(body, "no builder of family arm"));
  EXPECT_TRUE(contains(body, "<th>Why here</th>"));
  EXPECT_TRUE(contains(body, "main 1000 + release 1500 + medium 10 + queued &gt;4h 100"));
  EXPECT_TRUE(contains(body,
                       "<p class=\"banner\">Family arm has 1 queued builds that cannot be "
                       "dispatched: no builder of family arm.</p>"));
  EXPECT_TRUE(contains(html("/builders"), "<p class=\"banner\">Family arm has 1 queued builds"));
  EXPECT_LT(body.find(">sed 4.9-1<"), body.find(">gawk 5.2-1<"));
  EXPECT_TRUE(contains(body, "&lt;script&gt;alert(&quot;src&quot;)&lt;/script&gt; 1&lt;2"));
  EXPECT_FALSE(contains(body, "<script>"));
}

TEST_F(StatusPages, QueueSaysNextPollWhenABuilderIsIdle) {
  store_.add_builder({"cat", "http://cat:8221/", "amd64"});
  json j = api("/api/queue");
  EXPECT_EQ(j["waiting"][0]["reason"], "next poll: an idle builder of family x86 is free");
  EXPECT_EQ(j["waiting"][3]["reason"], "1 earlier builds of family x86 take the 1 idle builders");
}

TEST_F(StatusPages, QueueAndBuildersNameDirtyAndUnreachableBuilders) {
  auto cat = store_.add_builder({"cat", "http://cat:8221/", "amd64"});
  auto dog = store_.add_builder({"dog", "http://dog:8221/", "amd64"});
  const TimePoint since = TimePoint(std::chrono::seconds(1700000100));
  store_.set_builder_slave_state(cat.id, "WAITING OK 5-12", since);
  store_.set_builder_slave_state(dog.id, "unreachable: connection refused", since);
  json q = api("/api/queue");
  EXPECT_EQ(q["waiting"][0]["reason"],
            "x86: cat dirty (WAITING OK 5-12), cleaning; dog unreachable since "
            "2023-11-14T22:15:00Z; 1 busy; 1 disabled");
  json b = api("/api/builders");
  std::map<std::string, json> by_name;
  for (const auto& x : b["builders"]) by_name[x["name"]] = x;
  EXPECT_EQ(by_name["cat"]["state"], "dirty");
  EXPECT_EQ(by_name["cat"]["slave_state"], "WAITING OK 5-12");
  EXPECT_EQ(by_name["cat"]["slave_state_since"], "2023-11-14T22:15:00Z");
  EXPECT_EQ(by_name["dog"]["state"], "unreachable");
  EXPECT_EQ(by_name["bob"]["state"], "building");
  for (const auto& f : b["families"]) {
    if (f["name"] != "x86") continue;
    EXPECT_EQ(f["dirty"], 1);
    EXPECT_EQ(f["unreachable"], 1);
    EXPECT_EQ(f["disabled"], 1);
  }
}

TEST_F(StatusPages, BuildsListFiltersByState) {
  json all = api("/api/builds");
  EXPECT_EQ(all["builds"].size(), 7u);
  EXPECT_EQ(all["builds"][0]["id"], evil_.id);  // newest first
  json built = api("/api/builds?state=FULLYBUILT");
  ASSERT_EQ(built["builds"].size(), 1u);
  EXPECT_EQ(built["state"], "FULLYBUILT");
  EXPECT_EQ(built["builds"][0]["id"], done_.id);
  EXPECT_EQ(built["builds"][0]["builder"], "bob");
  EXPECT_EQ(built["builds"][0]["duration_seconds"], 180.0);
  EXPECT_EQ(api("/api/builds?limit=2")["builds"].size(), 2u);
  std::string body = html("/builds?state=MANUALDEPWAIT");
  EXPECT_TRUE(contains(body, "Builds (Manual dependency wait)"));
  EXPECT_TRUE(contains(body, "grep 3.11-1"));
  EXPECT_FALSE(contains(body, "hello 1.0-1"));
  EXPECT_FALSE(contains(html("/builds"), "<script>"));
  auto bad = get("/api/builds?state=NOSUCH");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(get("/builds?state=NOSUCH")->status, 400);
}

TEST_F(StatusPages, BuildsListPagesAndSearchesBySource) {
  json first = api("/api/builds?limit=3");
  ASSERT_EQ(first["builds"].size(), 3u);
  EXPECT_EQ(first["more"], true);
  json second = api("/api/builds?limit=3&offset=3");
  ASSERT_EQ(second["builds"].size(), 3u);
  EXPECT_EQ(second["more"], true);
  json last = api("/api/builds?limit=3&offset=6");
  ASSERT_EQ(last["builds"].size(), 1u);
  EXPECT_EQ(last["more"], false);
  std::set<Id> seen;
  for (const json* page : {&first, &second, &last})
    for (const auto& b : (*page)["builds"]) seen.insert(b["id"].get<Id>());
  EXPECT_EQ(seen.size(), 7u);  // every build once across the pages
  EXPECT_GT(first["builds"][2]["id"].get<Id>(), second["builds"][0]["id"].get<Id>());

  json grep = api("/api/builds?source=grep");
  ASSERT_EQ(grep["builds"].size(), 1u);
  EXPECT_EQ(grep["builds"][0]["source_name"], "grep");
  EXPECT_EQ(grep["source_name"], "grep");
  EXPECT_EQ(api("/api/builds?source=grep&state=FULLYBUILT")["builds"].size(), 0u);

  std::string page = html("/builds?limit=3&offset=3");
  EXPECT_TRUE(contains(page, "rel=\"prev\" href=\"/builds?limit=3&amp;offset=0\""));
  EXPECT_TRUE(contains(page, "rel=\"next\" href=\"/builds?limit=3&amp;offset=6\""));
  EXPECT_TRUE(contains(page, "<input name=\"source\" value=\"\">"));
  EXPECT_TRUE(contains(html("/builds?source=grep"), "<input name=\"source\" value=\"grep\">"));
  EXPECT_EQ(get("/api/builds?offset=-1")->status, 400);
  EXPECT_EQ(get("/api/builds?limit=x")->status, 400);
}

TEST_F(StatusPages, RemovedBuilderLeavesTheListButStillNamesItsBuilds) {
  auto cat = store_.add_builder({"cat", "http://cat:8221/", "amd64"});
  store_.build(depwait_.id).builder_id = cat.id;
  store_.remove_builder(cat.id);
  const json builders = api("/api/builders");
  for (const auto& b : builders["builders"]) EXPECT_NE(b["name"], "cat");
  EXPECT_EQ(get("/api/builders/cat")->status, 404);
  EXPECT_EQ(api("/api/builds/" + std::to_string(depwait_.id))["builder"], "cat");
  EXPECT_THROW(store_.remove_builder(bob_.id), Error);  // bob holds a job
}

TEST_F(StatusPages, BuildPageLinksLogAndResultFiles) {
  json j = api("/api/builds/" + std::to_string(done_.id));
  EXPECT_EQ(j["state"], "FULLYBUILT");
  EXPECT_EQ(j["state_title"], "Fully built");
  EXPECT_EQ(j["builder"], "bob");
  EXPECT_EQ(j["arch_release"], "ubuntu/noble/amd64");
  EXPECT_EQ(j["duration_seconds"], 180.0);
  ASSERT_FALSE(j["log"].is_null());
  EXPECT_EQ(j["log"]["filename"], "buildlog_hello.txt.gz");
  EXPECT_TRUE(j["log"]["url"].get<std::string>().rfind("http://archive.test/", 0) == 0);
  ASSERT_EQ(j["result_files"].size(), 1u);
  EXPECT_EQ(j["result_files"][0]["filename"], "hello_1.0-1_amd64.deb");
  EXPECT_TRUE(j["queue"].is_null());
  std::string body = html("/builds/" + std::to_string(done_.id));
  EXPECT_TRUE(contains(body, "Build " + std::to_string(done_.id) + ": hello 1.0-1"));
  EXPECT_TRUE(contains(body, ">Fully built<"));
  EXPECT_TRUE(contains(body, ">buildlog_hello.txt.gz</a>"));
  EXPECT_TRUE(contains(body, ">hello_1.0-1_amd64.deb</a>"));
  EXPECT_TRUE(contains(body, "3m 00s"));
  EXPECT_EQ(get("/builds/999999")->status, 404);
  EXPECT_EQ(get("/api/builds/999999")->status, 404);
}

TEST_F(StatusPages, BuildPageShowsDependenciesAndRunningJob) {
  std::string dep = html("/builds/" + std::to_string(depwait_.id));
  EXPECT_TRUE(contains(dep, "libfoo-dev (&gt;= 1.2) &lt;&amp;&gt;"));
  json run = api("/api/builds/" + std::to_string(running_.id));
  EXPECT_EQ(run["state"], "BUILDING");
  EXPECT_EQ(run["queue"]["builder"], "bob");
  EXPECT_EQ(run["queue"]["elapsed_seconds"], 300.0);
  std::string body = html("/builds/" + std::to_string(running_.id), false);
  EXPECT_TRUE(contains(body, "&lt;script&gt;alert(&#39;tail&#39;)"));
  EXPECT_FALSE(contains(body, "<script>alert"));
  std::string evil = html("/builds/" + std::to_string(evil_.id));
  EXPECT_TRUE(contains(evil, "<title>Build " + std::to_string(evil_.id) +
                                 ": &lt;script&gt;alert(&quot;src&quot;)&lt;/script&gt; 1&lt;2"));
  EXPECT_FALSE(contains(evil, "<script>"));
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

// A running build's page shows its whole stored tail in a <pre> that an
// inline script updates from /api/builds/<id>/log, and reloads at the end.
TEST_F(StatusPages, RunningBuildPageShowsALiveLog) {
  const std::string id = std::to_string(running_.id);
  std::string body = html("/builds/" + id, false);
  const auto pre = body.find("<pre id=\"livelog\"");
  ASSERT_NE(pre, std::string::npos) << body;
  const auto pre_end = body.find("</pre>", pre);
  EXPECT_EQ(body.substr(body.find('>', pre) + 1, pre_end - body.find('>', pre) - 1),
            html_escape(kEvilTail));
  // One script, the page's own: the tail's is text.
  EXPECT_EQ(count(body, "<script"), 1u);
  EXPECT_TRUE(contains(body, "fetch('/api/builds/" + id + "/log'"));
  EXPECT_TRUE(contains(body, "location.reload()"));
  EXPECT_TRUE(contains(body, "pre.textContent=j.logtail"));

  json live = api("/api/builds/" + id + "/log");
  EXPECT_EQ(live["state"], "BUILDING");
  EXPECT_EQ(live["final"], false);
  EXPECT_EQ(live["logtail"], kEvilTail);
  // The tail moves on: the endpoint follows.
  CycleChanges c;
  c.logtails.push_back({store_.queue_entry_for_build(running_.id)->id, "line 3\n"});
  store_.commit(c);
  EXPECT_EQ(api("/api/builds/" + id + "/log")["logtail"], "line 3\n");
  // Finished builds: final, no tail; their pages reload every 10 s again.
  json done = api("/api/builds/" + std::to_string(done_.id) + "/log");
  EXPECT_EQ(done["state"], "FULLYBUILT");
  EXPECT_EQ(done["final"], true);
  EXPECT_EQ(done["logtail"], "");
  std::string finished = html("/builds/" + std::to_string(done_.id));
  EXPECT_FALSE(contains(finished, "livelog"));
  EXPECT_FALSE(contains(finished, "<script"));
  EXPECT_EQ(get("/api/builds/999999/log")->status, 404);
}

// When the store keeps a running build's whole log (its slave reads its log
// from an offset), the page shows all of it: the endpoint reads it from an
// offset, never splitting a character, and the script appends each read.
TEST_F(StatusPages, RunningBuildPageShowsItsWholeLogWhenTheStoreKeepsIt) {
  const std::string id = std::to_string(running_.id);
  EXPECT_TRUE(contains(html("/builds/" + id, false), "The last lines the builder reported"));
  EXPECT_EQ(api("/api/builds/" + id + "/log")["live_log_bytes"], 0);
  const BuildQueueEntry entry = *store_.queue_entry_for_build(running_.id);
  const std::string log = "RUN: sbuild <b>\n\xff caf\xc3\xa9\n";
  const std::size_t cut = log.size() - 2;  // inside the two bytes of "é"
  CycleChanges c;
  c.live_logs.push_back({entry.id, entry.attempt, 0, log.substr(0, cut)});
  ASSERT_EQ(store_.commit(c).stale, 0u);

  std::string body = html("/builds/" + id, false);
  EXPECT_TRUE(contains(body, "The whole log so far"));
  EXPECT_TRUE(contains(body, "pre.textContent+=j.live_log"));
  EXPECT_TRUE(contains(body, "'?offset='+live"));
  json first = api("/api/builds/" + id + "/log?offset=0");
  EXPECT_EQ(first["live_log_bytes"], cut);
  EXPECT_EQ(first["live_log"], "RUN: sbuild <b>\n\xef\xbf\xbd caf");  // \xff shown as U+FFFD
  EXPECT_EQ(first["next_offset"], cut - 1);  // "é" waits for its second byte

  c.live_logs = {{entry.id, entry.attempt, cut, log.substr(cut)}};
  ASSERT_EQ(store_.commit(c).stale, 0u);
  json next = api("/api/builds/" + id + "/log?offset=" + first["next_offset"].dump());
  EXPECT_EQ(next["live_log"], "\xc3\xa9\n");
  EXPECT_EQ(next["next_offset"], log.size());
  EXPECT_EQ(api("/api/builds/" + id + "/log?offset=" + std::to_string(log.size()))["live_log"], "");
  EXPECT_EQ(get("/api/builds/" + id + "/log?offset=-1")->status, 400);
}

// A failed build's page shows the last 50 lines of its stored log, escaped;
// a successful one's does not.
TEST_F(StatusPages, FailedBuildPageShowsTheEndOfItsLog) {
  std::string log;
  for (int i = 1; i <= 59; ++i) log += "log line " + std::to_string(i) + "\n";
  log += "<script>alert('log')</script> & \xff\xfe bad bytes";
  log += '\0';
  log += "nul\n";
  write_file(tmp_.path() / "failed.log", log);
  LibraryFile gz = librarian_.store_gzipped(
      tmp_.path() / "failed.log", "buildlog_ubuntu-noble-amd64.sed_4.9-1_FAILEDTOBUILD.txt.gz");
  complete(waiting_x86_, bob_.id, BuildState::kFailedToBuild, gz.id, {}, "");
  std::string body = html("/builds/" + std::to_string(waiting_x86_.id));
  EXPECT_TRUE(contains(body, "Last 50 lines of the log")) << body;
  EXPECT_FALSE(contains(body, "log line 10\n"));
  EXPECT_TRUE(contains(body, "log line 11\n"));
  EXPECT_TRUE(contains(body, "log line 59\n"));
  EXPECT_TRUE(contains(body,
                       "&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt; &amp; "
                       "\xEF\xBF\xBD\xEF\xBF\xBD bad bytesnul"));
  EXPECT_FALSE(contains(body, "<script"));
  EXPECT_FALSE(contains(body, std::string(1, '\0')));
  EXPECT_FALSE(contains(html("/builds/" + std::to_string(done_.id)), "Last 50 lines"));
  // A dependency wait without a log shows none.
  EXPECT_FALSE(contains(html("/builds/" + std::to_string(depwait_.id)), "Last 50 lines"));
}

TEST_F(StatusPages, OnlyGetAndHeadAreServed) {
  httplib::Client client("127.0.0.1", server_.actual_port());
  auto post = client.Post("/builders", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto head = client.Head("/api/builders");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

}  // namespace
}  // namespace buildd
