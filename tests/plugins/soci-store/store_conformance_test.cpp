// One conformance suite for the BuildStore contract (build_store.hpp), run
// against SQLite (a temp file) and a real PostgreSQL 15 (the CTest fixture
// started by scripts/pg-fixture; these tests fail when it is not there).

#include <gtest/gtest.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

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

std::string pg_base() {
  std::ifstream in(std::string(BUILDD_PG_FIXTURE_DIR) + "/port");
  std::string port;
  in >> port;
  if (port.empty()) {
    ADD_FAILURE() << "PostgreSQL fixture not running: no port file in " << BUILDD_PG_FIXTURE_DIR;
    throw std::runtime_error("no PostgreSQL fixture");
  }
  return "host=127.0.0.1 port=" + port + " user=postgres";
}

// A fresh database per test, so that tests can run in parallel.
class PostgresBackend : public Backend {
 public:
  PostgresBackend() {
    static std::atomic<int> counter{0};
    name_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    soci::session admin(soci::postgresql, pg_base() + " dbname=buildd");
    admin << "CREATE DATABASE " + name_;
  }
  ~PostgresBackend() override {
    try {
      soci::session admin(soci::postgresql, pg_base() + " dbname=buildd");
      admin << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)";
    } catch (...) {
    }
  }
  SociStoreOptions options() override {
    return SociStoreOptions{"postgresql", pg_base() + " dbname=" + name_, 4, 10, false};
  }
  void raw(const std::string& statement) override {
    soci::session sql(soci::postgresql, options().connection);
    sql << statement;
  }
  std::vector<std::string> query(const std::string& statement) override {
    soci::session sql(soci::postgresql, options().connection);
    return first_column(sql, statement);
  }

 private:
  std::string name_;
};

// ---- the fixture ----------------------------------------------------------

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite3") {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      backend_ = std::make_unique<PostgresBackend>();
    }
    store_ = open();
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }
  std::unique_ptr<SociStore> open() { return std::make_unique<SociStore>(backend_->options()); }

  // A schema with one family (x86: 386, amd64), two arch releases and a builder.
  void seed() {
    ASSERT_EQ(store_->upgrade(), store_->latest_schema_version());
    family_ = store_->add_processor_family("x86", {"386", "amd64"});
    store_->add_processor_family("arm", {"armel"});
    warty_ =
        store_->add_distro_arch_release({"ubuntu", "warty", "i386", "x86", std::nullopt, true});
    hoary_ =
        store_->add_distro_arch_release({"ubuntu", "hoary", "i386", "x86", std::nullopt, true});
    bob_ = store_->add_builder({"bob", "http://127.0.0.1:8221/", "386", false, false, 1});
  }

  Build add_build(Id dar, const std::string& source, int score) {
    NewBuild b;
    b.source_name = source;
    b.source_version = "1.0-1";
    b.distro_arch_release_id = dar;
    b.score = score;
    return store_->add_build(b);
  }

  LibraryFile add_file(const std::string& name, const std::string& seed_hex) {
    LibraryFile f;
    f.filename = name;
    f.size = 42;
    f.sha1 = std::string(40, seed_hex[0]);
    f.sha256 = std::string(64, seed_hex[0]);
    f.mime = "text/plain";
    f.locator = "ab/" + f.sha256;
    return store_->add_library_file(f);
  }

  static ErrorCategory category_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.category();
    }
    ADD_FAILURE() << "no buildd::Error thrown";
    return ErrorCategory::kInternal;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SociStore> store_;
  ProcessorFamily family_;
  DistroArchRelease warty_, hoary_;
  Builder bob_;
};

// ---- migrations -----------------------------------------------------------

TEST_P(StoreTest, FreshDatabaseGetsEveryMigration) {
  const int latest = static_cast<int>(soci_store::migrations().size());
  EXPECT_EQ(store_->schema_version(), 0);
  EXPECT_EQ(store_->latest_schema_version(), latest);
  EXPECT_EQ(store_->upgrade(), latest);
  EXPECT_EQ(store_->schema_version(), latest);
}

TEST_P(StoreTest, UpgradeTwiceAppliesNothingTheSecondTime) {
  const int latest = store_->latest_schema_version();
  EXPECT_EQ(store_->upgrade(), latest);
  EXPECT_EQ(store_->upgrade(), 0);
  auto other = open();
  EXPECT_EQ(other->upgrade(), 0);
  EXPECT_EQ(other->schema_version(), latest);
}

TEST_P(StoreTest, AutoUpgradeOnOpen) {
  auto options = backend_->options();
  options.auto_upgrade = true;
  SociStore upgraded(options);
  EXPECT_EQ(upgraded.schema_version(), upgraded.latest_schema_version());
}

TEST_P(StoreTest, NewerDatabaseIsRefused) {
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

TEST_P(StoreTest, FamiliesAndProcessors) {
  seed();
  auto families = store_->processor_families();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "x86");
  EXPECT_EQ(families[1].name, "arm");
  auto processors = store_->processors();
  ASSERT_EQ(processors.size(), 3u);
  EXPECT_EQ(processors[0].name, "386");
  EXPECT_EQ(processors[1].family_id, family_.id);

  EXPECT_EQ(category_of([&] { store_->add_processor_family("x86", {"x"}); }),
            ErrorCategory::kConflict);
  // A processor that exists elsewhere: nothing of the new family is written.
  EXPECT_EQ(category_of([&] {
              store_->add_processor_family("ppc", {"ppc64", "amd64"});
            }),
            ErrorCategory::kConflict);
  EXPECT_EQ(store_->processor_families().size(), 2u);
  EXPECT_EQ(store_->processors().size(), 3u);
}

TEST_P(StoreTest, ArchReleases) {
  seed();
  auto all = store_->distro_arch_releases();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].display_name(), "ubuntu/warty/i386");
  EXPECT_EQ(all[0].family_id, family_.id);
  EXPECT_FALSE(all[0].chroot_file_id);

  auto found = store_->find_distro_arch_release("ubuntu", "hoary", "i386");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, hoary_.id);
  EXPECT_FALSE(store_->find_distro_arch_release("ubuntu", "breezy", "i386"));

  EXPECT_EQ(category_of([&] {
              store_->add_distro_arch_release({"ubuntu", "warty", "i386", "x86", std::nullopt});
            }),
            ErrorCategory::kConflict);
  EXPECT_EQ(category_of([&] {
              store_->add_distro_arch_release({"ubuntu", "warty", "sparc", "nope", std::nullopt});
            }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(category_of([&] {
              store_->add_distro_arch_release({"ubuntu", "warty", "amd64", "x86", Id{999}});
            }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(store_->distro_arch_releases().size(), 2u);

  auto chroot = add_file("chroot-ubuntu-warty-i386.tar.bz2", "c");
  store_->set_chroot(warty_.id, chroot.id);
  EXPECT_EQ(store_->find_distro_arch_release("ubuntu", "warty", "i386")->chroot_file_id, chroot.id);
  EXPECT_EQ(category_of([&] { store_->set_chroot(warty_.id, 999); }), ErrorCategory::kNotFound);
  EXPECT_EQ(category_of([&] { store_->set_chroot(999, chroot.id); }), ErrorCategory::kNotFound);
}

// ---- builders ---------------------------------------------------------------

TEST_P(StoreTest, Builders) {
  seed();
  EXPECT_EQ(bob_.name, "bob");
  EXPECT_EQ(bob_.family_id, family_.id);
  EXPECT_TRUE(bob_.builderok);
  EXPECT_EQ(bob_.speed_index, 1);
  auto frog = store_->add_builder({"frog", "http://127.0.0.1:9/", "armel", true, true, 0});
  EXPECT_TRUE(frog.manual);
  EXPECT_TRUE(frog.virtualized);
  auto all = store_->builders();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "bob");
  EXPECT_EQ(all[1].name, "frog");
  EXPECT_EQ(store_->find_builder("frog")->url, "http://127.0.0.1:9/");
  EXPECT_FALSE(store_->find_builder("nobody"));

  EXPECT_EQ(category_of([&] {
              store_->add_builder({"bob", "http://x/", "386"});
            }),
            ErrorCategory::kConflict);
  EXPECT_EQ(category_of([&] {
              store_->add_builder({"new", "http://x/", "vax"});
            }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(store_->builders().size(), 2u);

  CycleChanges c;
  c.builders.push_back({bob_.id, false, "No route to host", 3});
  store_->commit(c);
  auto bob = store_->find_builder("bob");
  EXPECT_FALSE(bob->builderok);
  EXPECT_EQ(bob->failnotes, "No route to host");
  EXPECT_EQ(bob->failure_count, 3);

  store_->set_builder_ok(bob_.id, false, "disabled by operator");
  EXPECT_EQ(store_->find_builder("bob")->failure_count, 3);
  store_->set_builder_ok(bob_.id, true, "");
  bob = store_->find_builder("bob");
  EXPECT_TRUE(bob->builderok);
  EXPECT_EQ(bob->failure_count, 0);
  EXPECT_EQ(category_of([&] { store_->set_builder_ok(999, true, ""); }), ErrorCategory::kNotFound);
}

// ---- builds -------------------------------------------------------------------

TEST_P(StoreTest, AddBuildCreatesBuildFilesAndQueueEntry) {
  seed();
  auto dsc = add_file("foo_1.0-1.dsc", "d");
  auto tar = add_file("foo_1.0.orig.tar.gz", "e");
  NewBuild nb;
  nb.source_name = "foo";
  nb.source_version = "1.0-1";
  nb.distro_arch_release_id = warty_.id;
  nb.component = "universe";
  nb.pocket = "updates";
  nb.urgency = "high";
  nb.score = 1500;
  nb.manual_score = true;
  nb.source_files = {{"foo_1.0-1.dsc", dsc.id}, {"foo_1.0.orig.tar.gz", tar.id}};
  auto before = Clock::now();
  Build b = store_->add_build(nb);
  EXPECT_GT(b.id, 0);

  auto found = store_->find_build(b.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->source_name, "foo");
  EXPECT_EQ(found->state, BuildState::kNeedsBuild);
  EXPECT_EQ(found->component, "universe");
  EXPECT_EQ(found->pocket, "updates");
  EXPECT_EQ(found->urgency, "high");
  EXPECT_GE(found->created, before - 1s);
  EXPECT_FALSE(found->started);
  EXPECT_FALSE(found->builder_id);

  auto files = store_->source_files(b.id);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename, "foo_1.0-1.dsc");
  EXPECT_EQ(files[0].file.sha1, dsc.sha1);
  EXPECT_TRUE(store_->result_files(b.id).empty());

  auto entry = store_->queue_entry_for_build(b.id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->score, 1500);
  EXPECT_TRUE(entry->manual);
  EXPECT_FALSE(entry->builder_id);
  EXPECT_FALSE(store_->find_build(9999));

  nb.source_files = {{"missing.dsc", 9999}};
  EXPECT_EQ(category_of([&] { store_->add_build(nb); }), ErrorCategory::kNotFound);
  nb.source_files.clear();
  nb.distro_arch_release_id = 9999;
  EXPECT_EQ(category_of([&] { store_->add_build(nb); }), ErrorCategory::kNotFound);
  EXPECT_EQ(store_->builds(std::nullopt, 0).size(), 1u);
}

TEST_P(StoreTest, BuildsNewestFirstFilteredAndLimited) {
  seed();
  auto a = add_build(warty_.id, "a", 0);
  auto b = add_build(warty_.id, "b", 0);
  auto c = add_build(hoary_.id, "c", 0);
  store_->cancel_build(b.id);
  auto all = store_->builds(std::nullopt, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, c.id);
  EXPECT_EQ(all[2].id, a.id);
  auto two = store_->builds(std::nullopt, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].id, b.id);
  auto needs = store_->builds(BuildState::kNeedsBuild, 0);
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0].id, c.id);
  EXPECT_EQ(needs[1].id, a.id);
  EXPECT_EQ(store_->builds(BuildState::kCancelled, 0).size(), 1u);
}

// ---- queue ------------------------------------------------------------------

TEST_P(StoreTest, CandidatesByScoreThenIdPerArchRelease) {
  seed();
  auto w1 = add_build(warty_.id, "w1", 10);
  auto w2 = add_build(warty_.id, "w2", 50);
  auto h1 = add_build(hoary_.id, "h1", 30);
  auto w3 = add_build(warty_.id, "w3", 10);
  auto h2 = add_build(hoary_.id, "h2", 50);

  auto ids = [](const std::vector<QueuedBuild>& q) {
    std::vector<Id> out;
    for (const auto& e : q) out.push_back(e.build.id);
    return out;
  };
  EXPECT_EQ(ids(store_->candidates({warty_.id}, 10)), (std::vector<Id>{w2.id, w1.id, w3.id}));
  EXPECT_EQ(ids(store_->candidates({hoary_.id}, 10)), (std::vector<Id>{h2.id, h1.id}));
  EXPECT_EQ(ids(store_->candidates({warty_.id, hoary_.id}, 10)),
            (std::vector<Id>{w2.id, h2.id, h1.id, w1.id, w3.id}));
  EXPECT_EQ(ids(store_->candidates({warty_.id, hoary_.id}, 3)),
            (std::vector<Id>{w2.id, h2.id, h1.id}));
  EXPECT_TRUE(store_->candidates({9999}, 10).empty());
  EXPECT_EQ(ids(store_->waiting(0)), (std::vector<Id>{w2.id, h2.id, h1.id, w1.id, w3.id}));
  EXPECT_EQ(store_->waiting(2).size(), 2u);
  auto first = store_->candidates({warty_.id}, 1).at(0);
  EXPECT_EQ(first.entry.build_id, w2.id);
  EXPECT_EQ(first.entry.score, 50);
  EXPECT_EQ(first.build.source_name, "w2");

  // A claimed entry is no longer a candidate, nor waiting.
  ASSERT_TRUE(store_->claim(first.entry.id, w2.id, bob_.id, Clock::now()));
  EXPECT_EQ(ids(store_->candidates({warty_.id}, 10)), (std::vector<Id>{w1.id, w3.id}));
  EXPECT_EQ(store_->waiting(0).size(), 4u);
}

TEST_P(StoreTest, ClaimIsCompareAndSet) {
  seed();
  auto b = add_build(warty_.id, "foo", 0);
  auto entry = *store_->queue_entry_for_build(b.id);
  auto now = TimePoint(std::chrono::microseconds(1700000000123456LL));
  EXPECT_TRUE(store_->claim(entry.id, b.id, bob_.id, now));
  EXPECT_FALSE(store_->claim(entry.id, b.id, bob_.id, now));
  EXPECT_FALSE(store_->claim(9999, b.id, bob_.id, now));

  auto build = *store_->find_build(b.id);
  EXPECT_EQ(build.state, BuildState::kBuilding);
  EXPECT_EQ(build.started, now);
  EXPECT_EQ(build.builder_id, bob_.id);
  auto claimed = *store_->queue_entry_for_build(b.id);
  EXPECT_EQ(claimed.builder_id, bob_.id);
  EXPECT_EQ(claimed.buildstart, now);
  auto active = store_->active_jobs();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].entry.id, entry.id);
  EXPECT_EQ(active[0].build.state, BuildState::kBuilding);
}

TEST_P(StoreTest, OneActiveJobPerBuilderAndAttemptsCounted) {
  seed();
  auto first = add_build(warty_.id, "first", 0);
  auto second = add_build(warty_.id, "second", 0);
  auto q1 = store_->queue_entry_for_build(first.id)->id;
  auto q2 = store_->queue_entry_for_build(second.id)->id;
  ASSERT_TRUE(store_->claim(q1, first.id, bob_.id, Clock::now()));
  // bob holds a job: the second claim is refused and changes nothing.
  EXPECT_FALSE(store_->claim(q2, second.id, bob_.id, Clock::now()));
  EXPECT_EQ(store_->find_build(second.id)->state, BuildState::kNeedsBuild);
  EXPECT_FALSE(store_->queue_entry_for_build(second.id)->builder_id);
  EXPECT_EQ(store_->queue_entry_for_build(first.id)->attempt, 1);
  ASSERT_TRUE(store_->active_job_for_builder(bob_.id));
  EXPECT_EQ(store_->active_job_for_builder(bob_.id)->build.id, first.id);

  // After a reset the entry is claimed again as its second attempt.
  CycleChanges reset;
  reset.resets.push_back({q1, first.id, 1});
  EXPECT_EQ(store_->commit(reset).stale, 0u);
  EXPECT_FALSE(store_->active_job_for_builder(bob_.id));
  ASSERT_TRUE(store_->claim(q1, first.id, bob_.id, Clock::now()));
  EXPECT_EQ(store_->queue_entry_for_build(first.id)->attempt, 2);
  // A reset of the first attempt, late, is stale: the second one runs on.
  EXPECT_EQ(store_->commit(reset).stale, 1u);
  EXPECT_EQ(store_->find_build(first.id)->state, BuildState::kBuilding);
  EXPECT_EQ(store_->queue_entry_for_build(first.id)->builder_id, bob_.id);
}

TEST_P(StoreTest, CommitTransitionsAreConditional) {
  seed();
  auto done = add_build(warty_.id, "done", 0);
  auto cancelled = add_build(warty_.id, "cancelled", 0);
  auto frog = store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  auto qd = store_->queue_entry_for_build(done.id)->id;
  auto qc = store_->queue_entry_for_build(cancelled.id)->id;
  ASSERT_TRUE(store_->claim(qd, done.id, bob_.id, Clock::now()));
  ASSERT_TRUE(store_->claim(qc, cancelled.id, frog.id, Clock::now()));
  auto log = add_file("buildlog.gz", "1");
  auto deb = add_file("done_1.0-1_i386.deb", "2");

  // The same completion twice: one set of rows, the second is stale.
  CycleChanges c;
  BuildCompletion completion;
  completion.build_id = done.id;
  completion.queue_id = qd;
  completion.state = BuildState::kFullyBuilt;
  completion.buildlog_id = log.id;
  completion.result_files = {{"done_1.0-1_i386.deb", deb.id}};
  c.completions.push_back(completion);
  EXPECT_EQ(store_->commit(c).stale, 0u);
  EXPECT_EQ(store_->commit(c).stale, 1u);
  EXPECT_EQ(store_->result_files(done.id).size(), 1u);
  EXPECT_EQ(store_->find_build(done.id)->state, BuildState::kFullyBuilt);

  // An operator's cancel wins over a reset committed after it.
  EXPECT_EQ(store_->cancel_build(cancelled.id), CancelOutcome::kCancelling);
  CycleChanges reset;
  reset.resets.push_back({qc, cancelled.id});
  EXPECT_EQ(store_->commit(reset).stale, 1u);
  EXPECT_EQ(store_->find_build(cancelled.id)->state, BuildState::kCancelling);
  EXPECT_EQ(store_->queue_entry_for_build(cancelled.id)->builder_id, frog.id);

  // The pipeline may disable a builder, never re-enable one the operator
  // disabled meanwhile; its failure count is written either way.
  store_->set_builder_ok(frog.id, false, "operator: broken disk");
  CycleChanges update;
  update.builders.push_back({frog.id, true, "", 3});
  store_->commit(update);
  auto f = *store_->find_builder("frog");
  EXPECT_FALSE(f.builderok);
  EXPECT_EQ(f.failnotes, "operator: broken disk");
  EXPECT_EQ(f.failure_count, 3);
}

TEST_P(StoreTest, SlaveStateIsRecorded) {
  seed();
  EXPECT_EQ(store_->find_builder("bob")->slave_state, "");
  EXPECT_FALSE(store_->find_builder("bob")->slave_state_since);
  auto at = TimePoint(std::chrono::microseconds(1700000000123456LL));
  store_->set_builder_slave_state(bob_.id, "WAITING OK 5-12", at);
  auto b = *store_->find_builder("bob");
  EXPECT_EQ(b.slave_state, "WAITING OK 5-12");
  EXPECT_EQ(b.slave_state_since, at);
}

TEST_P(StoreTest, AMasterIdIsHeldByOneLiveInstance) {
  seed();
  const auto ttl = std::chrono::seconds(30);
  const auto t0 = TimePoint(std::chrono::seconds(1700000000));
  EXPECT_TRUE(store_->heartbeat("m1", "host:1", t0, ttl).held);
  EXPECT_TRUE(store_->heartbeat("m1", "host:1", t0 + 10s, ttl).held) << "renewal";
  MasterRegistration other = store_->heartbeat("m1", "host:2", t0 + 20s, ttl);
  EXPECT_FALSE(other.held);
  EXPECT_EQ(other.holder_id, "m1");
  EXPECT_EQ(other.holder_instance, "host:1");
  EXPECT_EQ(other.holder_heartbeat, t0 + 10s);
  // Replacing an instance known dead, or once its heartbeat is stale.
  EXPECT_TRUE(store_->heartbeat("m1", "host:2", t0 + 20s, ttl, "host:1").held);
  EXPECT_TRUE(store_->heartbeat("m1", "host:3", t0 + 60s, ttl).held);
  EXPECT_EQ(store_->live_masters(t0 + 60s, ttl), std::vector<std::string>{"m1"});
  store_->leave("m1", "host:3");
  EXPECT_TRUE(store_->live_masters(t0 + 60s, ttl).empty());
}

TEST_P(StoreTest, LeasesSpreadOverLiveMastersAndOutliveADeadOne) {
  seed();
  for (int i = 0; i < 3; ++i) {
    store_->add_builder({"b" + std::to_string(i), "http://127.0.0.1:9/", "386"});
  }
  const auto ttl = std::chrono::seconds(30);
  const auto t0 = TimePoint(std::chrono::seconds(1700000000));
  if (GetParam() == "sqlite3") {
    // One master per SQLite database.
    ASSERT_TRUE(store_->heartbeat("a", "host:1", t0, ttl).held);
    MasterRegistration b = store_->heartbeat("b", "host:2", t0, ttl);
    EXPECT_FALSE(b.held);
    EXPECT_EQ(b.holder_id, "a");
    EXPECT_EQ(store_->balance_leases("a", 4, t0, ttl).size(), 4u);
    return;
  }
  ASSERT_TRUE(store_->heartbeat("a", "host:1", t0, ttl).held);
  EXPECT_EQ(store_->balance_leases("a", 4, t0, ttl).size(), 4u);  // alone: all four
  ASSERT_TRUE(store_->heartbeat("b", "host:2", t0 + 5s, ttl).held);
  EXPECT_EQ(store_->live_masters(t0 + 5s, ttl), (std::vector<std::string>{"a", "b"}));
  // b finds nothing free until a gives back what is beyond its share.
  EXPECT_TRUE(store_->balance_leases("b", 2, t0 + 5s, ttl).empty());
  auto a_held = store_->balance_leases("a", 2, t0 + 6s, ttl);
  auto b_held = store_->balance_leases("b", 2, t0 + 7s, ttl);
  EXPECT_EQ(a_held.size(), 2u);
  EXPECT_EQ(b_held.size(), 2u);
  std::set<Id> all(a_held.begin(), a_held.end());
  all.insert(b_held.begin(), b_held.end());
  EXPECT_EQ(all.size(), 4u) << "no builder leased twice";
  // a dies: its leases expire ttl after their last renewal, then b takes all.
  ASSERT_TRUE(store_->heartbeat("b", "host:2", t0 + 30s, ttl).held);
  EXPECT_EQ(store_->balance_leases("b", 4, t0 + 30s, ttl).size(), 2u);
  EXPECT_EQ(store_->live_masters(t0 + 37s, ttl), std::vector<std::string>{"b"});
  EXPECT_EQ(store_->balance_leases("b", 4, t0 + 37s, ttl).size(), 4u);
}

TEST_P(StoreTest, BuildsByBuilderNewestFirst) {
  seed();
  auto frog = store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  std::vector<Id> bobs;
  for (int i = 0; i < 3; ++i) {
    auto b = add_build(warty_.id, "b" + std::to_string(i), 0);
    auto q = store_->queue_entry_for_build(b.id)->id;
    ASSERT_TRUE(store_->claim(q, b.id, i == 1 ? frog.id : bob_.id, Clock::now()));
    if (i == 0) {
      // bob finishes its first build before it can take another.
      CycleChanges done;
      BuildCompletion c;
      c.build_id = b.id;
      c.queue_id = q;
      c.state = BuildState::kFailedToBuild;
      done.completions.push_back(c);
      store_->commit(done);
    }
    if (i != 1) bobs.push_back(b.id);
  }
  add_build(warty_.id, "unclaimed", 0);
  auto mine = store_->builds_by_builder(bob_.id, 0);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].id, bobs[1]);
  EXPECT_EQ(mine[1].id, bobs[0]);
  EXPECT_EQ(store_->builds_by_builder(bob_.id, 1).size(), 1u);
  EXPECT_EQ(store_->builds_by_builder(frog.id, 0).size(), 1u);
  EXPECT_TRUE(store_->builds_by_builder(9999, 0).empty());
}

TEST_P(StoreTest, CommitAppliesEveryKindOfChange) {
  seed();
  auto done = add_build(warty_.id, "done", 0);
  auto lost = add_build(warty_.id, "lost", 0);
  auto running = add_build(hoary_.id, "running", 0);
  auto t0 = TimePoint(std::chrono::microseconds(1700000000000000LL));
  auto frog = store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  auto toad = store_->add_builder({"toad", "http://127.0.0.1:10/", "amd64"});
  auto qd = store_->queue_entry_for_build(done.id)->id;
  auto ql = store_->queue_entry_for_build(lost.id)->id;
  auto qr = store_->queue_entry_for_build(running.id)->id;
  ASSERT_TRUE(store_->claim(qd, done.id, bob_.id, t0));
  ASSERT_TRUE(store_->claim(ql, lost.id, frog.id, t0));
  ASSERT_TRUE(store_->claim(qr, running.id, toad.id, t0));
  auto log = add_file("buildlog.gz", "1");
  auto deb = add_file("done_1.0-1_i386.deb", "2");

  CycleChanges c;
  c.logtails.push_back({qr, "compiling…"});
  c.aborts.push_back({qr, t0 + 5s});
  c.resets.push_back({ql, lost.id});
  c.counters.push_back({lost.id, 1, 2});
  c.builders.push_back({frog.id, false, "lost the job", 1});
  BuildCompletion completion;
  completion.build_id = done.id;
  completion.queue_id = qd;
  completion.state = BuildState::kFullyBuilt;
  completion.built = t0 + 60s;
  completion.duration = Duration(60000000);
  completion.buildlog_id = log.id;
  completion.result_files = {{"done_1.0-1_i386.deb", deb.id}};
  c.completions.push_back(completion);
  store_->commit(c);

  auto d = *store_->find_build(done.id);
  EXPECT_EQ(d.state, BuildState::kFullyBuilt);
  EXPECT_EQ(d.built, t0 + 60s);
  EXPECT_EQ(d.duration, Duration(60000000));
  EXPECT_EQ(d.buildlog_id, log.id);
  EXPECT_EQ(d.builder_id, bob_.id);  // kept when the completion names none
  EXPECT_FALSE(store_->queue_entry_for_build(done.id));
  auto results = store_->result_files(done.id);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].filename, "done_1.0-1_i386.deb");
  EXPECT_EQ(results[0].file.id, deb.id);

  auto l = *store_->find_build(lost.id);
  EXPECT_EQ(l.state, BuildState::kNeedsBuild);
  EXPECT_FALSE(l.started);
  EXPECT_EQ(l.failure_count, 1);
  EXPECT_EQ(l.give_back_count, 2);
  auto le = *store_->queue_entry_for_build(lost.id);
  EXPECT_FALSE(le.builder_id);
  EXPECT_FALSE(le.buildstart);

  auto re = *store_->queue_entry_for_build(running.id);
  EXPECT_EQ(re.logtail, "compiling…");
  EXPECT_EQ(re.abort_sent, t0 + 5s);
  EXPECT_FALSE(store_->find_builder("frog")->builderok);
  EXPECT_EQ(store_->find_builder("frog")->failnotes, "lost the job");

  store_->commit(CycleChanges{});  // nothing to do is fine
}

TEST_P(StoreTest, CommitIsAllOrNothing) {
  seed();
  auto a = add_build(warty_.id, "a", 0);
  auto b = add_build(warty_.id, "b", 0);
  auto t0 = Clock::now();
  auto qa = store_->queue_entry_for_build(a.id)->id;
  auto qb = store_->queue_entry_for_build(b.id)->id;
  ASSERT_TRUE(store_->claim(qa, a.id, bob_.id, t0));
  auto frog = store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  ASSERT_TRUE(store_->claim(qb, b.id, frog.id, t0));

  CycleChanges c;
  c.logtails.push_back({qa, "should not stay"});
  c.builders.push_back({bob_.id, false, "should not stay", 7});
  BuildCompletion good;
  good.build_id = a.id;
  good.queue_id = qa;
  good.state = BuildState::kFailedToBuild;
  c.completions.push_back(good);
  BuildCompletion bad;
  bad.build_id = b.id;
  bad.queue_id = qb;
  bad.state = BuildState::kFullyBuilt;
  bad.result_files = {{"b.deb", 424242}};  // no such library file
  c.completions.push_back(bad);
  EXPECT_THROW(store_->commit(c), Error);

  EXPECT_EQ(store_->find_build(a.id)->state, BuildState::kBuilding);
  EXPECT_EQ(store_->find_build(b.id)->state, BuildState::kBuilding);
  ASSERT_TRUE(store_->queue_entry_for_build(a.id));
  EXPECT_EQ(store_->queue_entry_for_build(a.id)->logtail, "");
  ASSERT_TRUE(store_->queue_entry_for_build(b.id));
  EXPECT_TRUE(store_->find_builder("bob")->builderok);
  EXPECT_EQ(store_->find_builder("bob")->failure_count, 0);
  EXPECT_TRUE(store_->result_files(b.id).empty());
  // The store is still usable after the rollback.
  CycleChanges ok;
  ok.logtails.push_back({qa, "fine"});
  store_->commit(ok);
  EXPECT_EQ(store_->queue_entry_for_build(a.id)->logtail, "fine");
}

TEST_P(StoreTest, CancelRules) {
  seed();
  auto waiting = add_build(warty_.id, "waiting", 0);
  auto running = add_build(warty_.id, "running", 0);
  auto q = store_->queue_entry_for_build(running.id)->id;
  ASSERT_TRUE(store_->claim(q, running.id, bob_.id, Clock::now()));

  EXPECT_EQ(store_->cancel_build(waiting.id), CancelOutcome::kCancelled);
  EXPECT_EQ(store_->find_build(waiting.id)->state, BuildState::kCancelled);
  EXPECT_FALSE(store_->queue_entry_for_build(waiting.id));

  EXPECT_EQ(store_->cancel_build(running.id), CancelOutcome::kCancelling);
  EXPECT_EQ(store_->find_build(running.id)->state, BuildState::kCancelling);
  EXPECT_TRUE(store_->queue_entry_for_build(running.id));
  EXPECT_EQ(store_->cancel_build(running.id), CancelOutcome::kCancelling);

  EXPECT_EQ(store_->cancel_build(waiting.id), CancelOutcome::kAlreadyFinal);
  EXPECT_EQ(category_of([&] { store_->cancel_build(9999); }), ErrorCategory::kNotFound);
}

TEST_P(StoreTest, RetryRules) {
  seed();
  auto b = add_build(warty_.id, "foo", 777);
  EXPECT_EQ(category_of([&] { store_->retry_build(b.id); }), ErrorCategory::kConflict);
  auto q = store_->queue_entry_for_build(b.id)->id;
  ASSERT_TRUE(store_->claim(q, b.id, bob_.id, Clock::now()));
  EXPECT_EQ(category_of([&] { store_->retry_build(b.id); }), ErrorCategory::kConflict);

  auto log = add_file("log.gz", "3");
  CycleChanges c;
  BuildCompletion failed;
  failed.build_id = b.id;
  failed.queue_id = q;
  failed.state = BuildState::kFailedToBuild;
  failed.built = Clock::now();
  failed.buildlog_id = log.id;
  c.completions.push_back(failed);
  store_->commit(c);
  EXPECT_FALSE(store_->queue_entry_for_build(b.id));

  store_->retry_build(b.id);
  auto retried = *store_->find_build(b.id);
  EXPECT_EQ(retried.state, BuildState::kNeedsBuild);
  EXPECT_FALSE(retried.started);
  EXPECT_FALSE(retried.built);
  EXPECT_FALSE(retried.buildlog_id);
  auto entry = store_->queue_entry_for_build(b.id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->score, 777);
  EXPECT_FALSE(entry->builder_id);
  EXPECT_EQ(store_->candidates({warty_.id}, 5).size(), 1u);
  EXPECT_EQ(category_of([&] { store_->retry_build(b.id); }), ErrorCategory::kConflict);
  EXPECT_EQ(category_of([&] { store_->retry_build(9999); }), ErrorCategory::kNotFound);

  auto done = add_build(warty_.id, "ok", 0);
  auto dq = store_->queue_entry_for_build(done.id)->id;
  ASSERT_TRUE(store_->claim(dq, done.id, bob_.id, Clock::now()));
  CycleChanges built;
  BuildCompletion fully_built;
  fully_built.build_id = done.id;
  fully_built.queue_id = dq;
  fully_built.state = BuildState::kFullyBuilt;
  built.completions.push_back(fully_built);
  store_->commit(built);
  EXPECT_EQ(category_of([&] { store_->retry_build(done.id); }), ErrorCategory::kConflict);
}

// ---- library files ------------------------------------------------------------

TEST_P(StoreTest, LibraryFiles) {
  seed();
  auto f = add_file("foo.dsc", "a");
  EXPECT_GT(f.id, 0);
  auto found = store_->find_library_file(f.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->filename, "foo.dsc");
  EXPECT_EQ(found->size, 42u);
  EXPECT_EQ(found->sha1, f.sha1);
  EXPECT_EQ(found->mime, "text/plain");
  EXPECT_EQ(found->locator, f.locator);
  EXPECT_EQ(found->created, f.created);
  EXPECT_EQ(store_->find_library_file_by_sha256(f.sha256)->id, f.id);
  EXPECT_FALSE(store_->find_library_file(9999));
  EXPECT_FALSE(store_->find_library_file_by_sha256(std::string(64, '0')));
}

// ---- concurrency ----------------------------------------------------------------

// Two stores (two masters) on one database, claiming in parallel threads:
// every entry is claimed exactly once.
TEST_P(StoreTest, ParallelClaimsFromTwoStoresTakeEachEntryOnce) {
  seed();
  constexpr int kBuilds = 60;
  for (int i = 0; i < kBuilds; ++i) add_build(warty_.id, "p" + std::to_string(i), i % 7);
  // One active job per builder: every claim attempt uses a builder of its
  // own (a lost race burns it), so up to one per thread and entry.
  constexpr int kThreads = 4;
  std::vector<Id> builders;
  for (int i = 0; i < kBuilds * kThreads; ++i) {
    builders.push_back(
        store_->add_builder({"b" + std::to_string(i), "http://127.0.0.1:9/", "386"}).id);
  }
  std::atomic<std::size_t> next_builder{0};
  auto second = open();
  std::mutex mutex;
  std::multiset<Id> claimed;
  auto worker = [&](SociStore* store) {
    for (;;) {
      auto candidates = store->candidates({warty_.id}, 5);
      if (candidates.empty()) return;
      for (const auto& c : candidates) {
        bool won = false;
        const Id builder = builders.at(next_builder++);
        for (int attempt = 0;; ++attempt) {
          try {
            won = store->claim(c.entry.id, c.build.id, builder, Clock::now());
            break;
          } catch (const Error& e) {
            if (!e.retryable() || attempt > 20) throw;
          }
        }
        if (won) {
          std::lock_guard<std::mutex> lock(mutex);
          claimed.insert(c.entry.id);
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads / 2; ++i) {
    threads.emplace_back(worker, store_.get());
    threads.emplace_back(worker, second.get());
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kBuilds));
  EXPECT_EQ(std::set<Id>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(kBuilds));
  const auto active = store_->active_jobs();
  EXPECT_EQ(active.size(), static_cast<std::size_t>(kBuilds));
  std::set<Id> holders;
  for (const auto& job : active) holders.insert(*job.entry.builder_id);
  EXPECT_EQ(holders.size(), active.size());  // no builder holds two
  EXPECT_TRUE(store_->waiting(0).empty());
}

// ---- dispatch cost ---------------------------------------------------------------

// A deep queue: the candidate query walks the partial index of waiting entries
// (never the whole queue), so its cost does not grow with the queue.
TEST_P(StoreTest, CandidatesUseTheWaitingIndexOnADeepQueue) {
  seed();
  constexpr int kDepth = 20000;
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
                  std::to_string(kDepth) + ") " + builds + "g");
  } else {
    backend_->raw(builds + "generate_series(1, " + std::to_string(kDepth) + ") AS g(x)");
  }
  backend_->raw(queue);
  backend_->raw("ANALYZE");

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
  } else {
    for (const auto& line : backend_->query("EXPLAIN " + sql)) plan += line + "\n";
  }
  EXPECT_NE(plan.find("build_queue_waiting"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("SCAN q\n"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Seq Scan on build_queue"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // no sort of the queue
  EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
}

// ---- errors -------------------------------------------------------------------

TEST_P(StoreTest, UnknownBackendIsAConfigError) {
  auto options = backend_->options();
  options.backend = "oracle";
  EXPECT_EQ(category_of([&] { SociStore s(options); }), ErrorCategory::kConfig);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, ::testing::Values("sqlite3", "postgresql"),
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

TEST(SociStorePostgresql, ServerRestartedAfterAnOutageIsReconnected) {
  // A server of its own: the test stops and starts it.
  buildd::test::TempDir dir;
  const std::string fixture = std::string(BUILDD_SOURCE_DIR) + "/scripts/pg-fixture";
  const auto pg = dir / "pg";
  ASSERT_EQ(std::system((fixture + " start " + pg.string() + " 25700 >/dev/null").c_str()), 0);
  const std::string text = buildd::test::read_file(pg / "port");
  const std::string port = text.substr(0, text.find('\n'));
  SociStoreOptions options{
      "postgresql", "host=127.0.0.1 port=" + port + " user=postgres dbname=buildd", 2, 10, true};
  {
    SociStore store(options);
    store.add_processor_family("x86", {"386"});
    ASSERT_EQ(std::system((fixture + " pause " + pg.string()).c_str()), 0);
    // Every pooled session fails while the server is down: retryable.
    for (int i = 0; i < 4; ++i) {
      try {
        store.processor_families();
        ADD_FAILURE() << "answered while the server was down";
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kStore);
        EXPECT_TRUE(e.retryable()) << e.what();
      }
    }
    ASSERT_EQ(std::system((fixture + " resume " + pg.string()).c_str()), 0);
    // Back: every session works again, without a new store.
    for (int i = 0; i < 4; ++i) EXPECT_EQ(store.processor_families().size(), 1u);
  }
  std::system((fixture + " stop " + pg.string()).c_str());
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

}  // namespace
}  // namespace buildd
