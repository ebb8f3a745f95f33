#pragma once

// One conformance suite for the BuildStore contract (build_store.hpp), run
// against every store: the SOCI store on each engine, and the in-memory fake
// the pipeline tests use. A store's test instantiates it with a Context type:
//
//   struct MyContext {
//     explicit MyContext(const std::filesystem::path& scratch);
//     // A store on the context's database, empty at first. Every call is
//     // another handle on the same database (as a second master would have).
//     std::shared_ptr<buildd::BuildStore> open();
//     static constexpr buildd::test::StoreQuirks kQuirks{...};
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Mine, StoreConformance, MyContext);
//
// What is particular to one engine (migrations, query plans, reconnects)
// stays in that store's own tests.

#include <gtest/gtest.h>
#include <algorithm>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "buildd/build_store.hpp"
#include "buildd/clock.hpp"
#include "buildd/conformance/scratch_dir.hpp"
#include "buildd/error.hpp"

namespace buildd::test {

// What the contract lets a store do differently.
struct StoreQuirks {
  // One master per database, enforced by heartbeat() (SQLite: one writer).
  bool one_master_per_database = false;
};

// The category of the buildd::Error that f throws (a failure when none).
inline ErrorCategory error_category_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.category();
  }
  ADD_FAILURE() << "no buildd::Error thrown";
  return ErrorCategory::kInternal;
}

template <typename Context>
class StoreConformance : public ::testing::Test {
 protected:
  StoreConformance() : context_(scratch_.path()) {}
  void SetUp() override { store_ = context_.open(); }
  void TearDown() override { store_.reset(); }

  std::shared_ptr<BuildStore> open() { return context_.open(); }

  // A schema with one family (x86: 386, amd64), two arch releases and a builder.
  void seed() {
    store_->upgrade();
    family_ = store_->add_processor_family("x86", {"386", "amd64"});
    store_->add_processor_family("arm", {"armel"});
    warty_ =
        store_->add_distro_arch_release({"ubuntu", "warty", "i386", "x86", std::nullopt, true});
    hoary_ =
        store_->add_distro_arch_release({"ubuntu", "hoary", "i386", "x86", std::nullopt, true});
    bob_ = store_->add_builder({"bob", "http://127.0.0.1:8221/", "386", false, false, 1});
  }

  Build add_build(Id dar, const std::string& source, int score,
                  const std::string& archive = "primary") {
    NewBuild b;
    b.source_name = source;
    b.source_version = "1.0-1";
    b.distro_arch_release_id = dar;
    b.score = score;
    b.archive = archive;
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

  static ErrorCategory category_of(const std::function<void()>& f) { return error_category_of(f); }

  TempDir scratch_;
  Context context_;
  std::shared_ptr<BuildStore> store_;
  ProcessorFamily family_;
  DistroArchRelease warty_, hoary_;
  Builder bob_;
};

TYPED_TEST_SUITE_P(StoreConformance);

using namespace std::chrono_literals;

TYPED_TEST_P(StoreConformance, FamiliesAndProcessors) {
  this->seed();
  auto families = this->store_->processor_families();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "x86");
  EXPECT_EQ(families[1].name, "arm");
  auto processors = this->store_->processors();
  ASSERT_EQ(processors.size(), 3u);
  EXPECT_EQ(processors[0].name, "386");
  EXPECT_EQ(processors[1].family_id, this->family_.id);

  EXPECT_EQ(this->category_of([&] { this->store_->add_processor_family("x86", {"x"}); }),
            ErrorCategory::kConflict);
  // A processor that exists elsewhere: nothing of the new family is written.
  EXPECT_EQ(this->category_of([&] {
    this->store_->add_processor_family("ppc", {"ppc64", "amd64"});
  }),
            ErrorCategory::kConflict);
  EXPECT_EQ(this->store_->processor_families().size(), 2u);
  EXPECT_EQ(this->store_->processors().size(), 3u);
}

TYPED_TEST_P(StoreConformance, ArchReleases) {
  this->seed();
  auto all = this->store_->distro_arch_releases();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].display_name(), "ubuntu/warty/i386");
  EXPECT_EQ(all[0].family_id, this->family_.id);
  EXPECT_FALSE(all[0].chroot_file_id);

  auto found = this->store_->find_distro_arch_release("ubuntu", "hoary", "i386");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, this->hoary_.id);
  EXPECT_FALSE(this->store_->find_distro_arch_release("ubuntu", "breezy", "i386"));

  EXPECT_EQ(this->category_of([&] {
    this->store_->add_distro_arch_release({"ubuntu", "warty", "i386", "x86", std::nullopt});
  }),
            ErrorCategory::kConflict);
  EXPECT_EQ(this->category_of([&] {
    this->store_->add_distro_arch_release({"ubuntu", "warty", "sparc", "nope", std::nullopt});
  }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(this->category_of([&] {
    this->store_->add_distro_arch_release({"ubuntu", "warty", "amd64", "x86", Id{999}});
  }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(this->store_->distro_arch_releases().size(), 2u);

  auto chroot = this->add_file("chroot-ubuntu-warty-i386.tar.bz2", "c");
  this->store_->set_chroot(this->warty_.id, chroot.id);
  EXPECT_EQ(this->store_->find_distro_arch_release("ubuntu", "warty", "i386")->chroot_file_id,
            chroot.id);
  EXPECT_EQ(this->category_of([&] { this->store_->set_chroot(this->warty_.id, 999); }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(this->category_of([&] { this->store_->set_chroot(999, chroot.id); }),
            ErrorCategory::kNotFound);
}

// ---- builders ---------------------------------------------------------------

TYPED_TEST_P(StoreConformance, Builders) {
  this->seed();
  EXPECT_EQ(this->bob_.name, "bob");
  EXPECT_EQ(this->bob_.family_id, this->family_.id);
  EXPECT_TRUE(this->bob_.builderok);
  EXPECT_EQ(this->bob_.speed_index, 1);
  auto frog = this->store_->add_builder({"frog", "http://127.0.0.1:9/", "armel", true, true, 0});
  EXPECT_TRUE(frog.manual);
  EXPECT_TRUE(frog.virtualized);
  auto all = this->store_->builders();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "bob");
  EXPECT_EQ(all[1].name, "frog");
  EXPECT_EQ(this->store_->find_builder("frog")->url, "http://127.0.0.1:9/");
  EXPECT_FALSE(this->store_->find_builder("nobody"));

  EXPECT_EQ(this->category_of([&] {
    this->store_->add_builder({"bob", "http://x/", "386"});
  }),
            ErrorCategory::kConflict);
  EXPECT_EQ(this->category_of([&] {
    this->store_->add_builder({"new", "http://x/", "vax"});
  }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(this->store_->builders().size(), 2u);

  CycleChanges c;
  c.builders.push_back({this->bob_.id, false, "No route to host", 3});
  this->store_->commit(c);
  auto bob = this->store_->find_builder("bob");
  EXPECT_FALSE(bob->builderok);
  EXPECT_EQ(bob->failnotes, "No route to host");
  EXPECT_EQ(bob->failure_count, 3);

  this->store_->set_builder_ok(this->bob_.id, false, "disabled by operator");
  EXPECT_EQ(this->store_->find_builder("bob")->failure_count, 3);
  this->store_->set_builder_ok(this->bob_.id, true, "");
  bob = this->store_->find_builder("bob");
  EXPECT_TRUE(bob->builderok);
  EXPECT_EQ(bob->failure_count, 0);
  EXPECT_EQ(this->category_of([&] { this->store_->set_builder_ok(999, true, ""); }),
            ErrorCategory::kNotFound);
}

// When a builder was disabled is stamped on the way from OK to not OK (by the
// pipeline or the operator), kept while it stays disabled, cleared on enable.
TYPED_TEST_P(StoreConformance, DisabledAtIsStampedOnceAndClearedOnEnable) {
  this->seed();
  EXPECT_FALSE(this->bob_.disabled_at);
  const TimePoint before = Clock::now() - std::chrono::seconds(1);
  CycleChanges c;
  c.builders.push_back({this->bob_.id, false, "No route to host", 1});
  this->store_->commit(c);
  auto first = this->store_->find_builder("bob")->disabled_at;
  ASSERT_TRUE(first);
  EXPECT_GE(*first, before);
  EXPECT_LE(*first, Clock::now() + std::chrono::seconds(1));
  this->store_->set_builder_ok(this->bob_.id, false, "disk replaced");  // already disabled
  EXPECT_EQ(this->store_->find_builder("bob")->disabled_at, first);
  EXPECT_EQ(this->store_->find_builder("bob")->failnotes, "disk replaced");
  this->store_->set_builder_ok(this->bob_.id, true, "");
  EXPECT_FALSE(this->store_->find_builder("bob")->disabled_at);
  this->store_->set_builder_ok(this->bob_.id, false, "by hand");
  EXPECT_TRUE(this->store_->find_builder("bob")->disabled_at);
}

// A removed builder leaves builders(), find_builder() and the leases, is never
// claimed for, keeps its builds, and comes back (same id) when added again.
TYPED_TEST_P(StoreConformance, RemovedBuilderLeavesTheFarmAndComesBackByName) {
  this->seed();
  auto frog = this->store_->add_builder({"frog", "http://127.0.0.1:9/", "armel"});
  auto b = this->add_build(this->warty_.id, "a", 0);
  auto e = *this->store_->queue_entry_for_build(b.id);
  ASSERT_TRUE(this->store_->claim(e.id, b.id, frog.id, Clock::now()));
  EXPECT_EQ(this->category_of([&] { this->store_->remove_builder(frog.id); }),
            ErrorCategory::kConflict);  // it holds a job
  ASSERT_TRUE(this->store_->find_builder("frog"));
  CycleChanges done;
  BuildCompletion x;
  x.build_id = b.id;
  x.queue_id = e.id;
  x.state = BuildState::kFailedToBuild;
  done.completions.push_back(x);
  this->store_->commit(done);
  this->store_->remove_builder(frog.id);
  EXPECT_FALSE(this->store_->find_builder("frog"));
  ASSERT_EQ(this->store_->builders().size(), 1u);
  auto removed = this->store_->removed_builders();
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].id, frog.id);
  EXPECT_EQ(this->store_->find_build(b.id)->builder_id, frog.id);  // history kept
  EXPECT_EQ(this->category_of([&] { this->store_->remove_builder(frog.id); }),
            ErrorCategory::kNotFound);
  EXPECT_EQ(this->category_of([&] { this->store_->remove_builder(9999); }),
            ErrorCategory::kNotFound);
  // Never claimed for, never leased.
  auto w = this->add_build(this->warty_.id, "w", 0);
  auto we = *this->store_->queue_entry_for_build(w.id);
  EXPECT_FALSE(this->store_->claim(we.id, w.id, frog.id, Clock::now()));
  auto held = this->store_->balance_leases("m1", 10, Clock::now(), std::chrono::seconds(10));
  EXPECT_EQ(held, std::vector<Id>{this->bob_.id});

  auto back = this->store_->add_builder({"frog", "http://127.0.0.1:10/", "386"});
  EXPECT_EQ(back.id, frog.id);
  EXPECT_EQ(back.url, "http://127.0.0.1:10/");
  EXPECT_EQ(back.family_id, this->family_.id);
  EXPECT_TRUE(back.builderok);
  EXPECT_TRUE(this->store_->removed_builders().empty());
  EXPECT_EQ(this->store_->builds_by_builder(frog.id, 0).size(), 1u);
  EXPECT_TRUE(this->store_->claim(we.id, w.id, frog.id, Clock::now()));
}

// ---- builds -------------------------------------------------------------------

TYPED_TEST_P(StoreConformance, AddBuildCreatesBuildFilesAndQueueEntry) {
  this->seed();
  auto dsc = this->add_file("foo_1.0-1.dsc", "d");
  auto tar = this->add_file("foo_1.0.orig.tar.gz", "e");
  NewBuild nb;
  nb.source_name = "foo";
  nb.source_version = "1.0-1";
  nb.distro_arch_release_id = this->warty_.id;
  nb.component = "universe";
  nb.pocket = "updates";
  nb.urgency = "high";
  nb.score = 1500;
  nb.manual_score = true;
  nb.source_files = {{"foo_1.0-1.dsc", dsc.id}, {"foo_1.0.orig.tar.gz", tar.id}};
  auto before = Clock::now();
  Build b = this->store_->add_build(nb);
  EXPECT_GT(b.id, 0);

  auto found = this->store_->find_build(b.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->source_name, "foo");
  EXPECT_EQ(found->state, BuildState::kNeedsBuild);
  EXPECT_EQ(found->component, "universe");
  EXPECT_EQ(found->pocket, "updates");
  EXPECT_EQ(found->urgency, "high");
  EXPECT_GE(found->created, before - 1s);
  EXPECT_FALSE(found->started);
  EXPECT_FALSE(found->builder_id);

  auto files = this->store_->source_files(b.id);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename, "foo_1.0-1.dsc");
  EXPECT_EQ(files[0].file.sha1, dsc.sha1);
  EXPECT_TRUE(this->store_->result_files(b.id).empty());

  auto entry = this->store_->queue_entry_for_build(b.id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->score, 1500);
  EXPECT_TRUE(entry->manual);
  EXPECT_FALSE(entry->builder_id);
  EXPECT_FALSE(this->store_->find_build(9999));

  nb.source_files = {{"missing.dsc", 9999}};
  EXPECT_EQ(this->category_of([&] { this->store_->add_build(nb); }), ErrorCategory::kNotFound);
  nb.source_files.clear();
  nb.distro_arch_release_id = 9999;
  EXPECT_EQ(this->category_of([&] { this->store_->add_build(nb); }), ErrorCategory::kNotFound);
  EXPECT_EQ(this->store_->builds(std::nullopt, 0).size(), 1u);
}

TYPED_TEST_P(StoreConformance, BuildsNewestFirstFilteredAndLimited) {
  this->seed();
  auto a = this->add_build(this->warty_.id, "a", 0);
  auto b = this->add_build(this->warty_.id, "b", 0);
  auto c = this->add_build(this->hoary_.id, "c", 0);
  this->store_->cancel_build(b.id);
  auto all = this->store_->builds(std::nullopt, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, c.id);
  EXPECT_EQ(all[2].id, a.id);
  auto two = this->store_->builds(std::nullopt, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].id, b.id);
  auto needs = this->store_->builds(BuildState::kNeedsBuild, 0);
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0].id, c.id);
  EXPECT_EQ(needs[1].id, a.id);
  EXPECT_EQ(this->store_->builds(BuildState::kCancelled, 0).size(), 1u);

  // Pages and one source package.
  auto page = this->store_->list_builds({std::nullopt, "", 1, 1});
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, b.id);
  auto rest = this->store_->list_builds({std::nullopt, "", 1, 0});  // offset, no limit
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[1].id, a.id);
  EXPECT_TRUE(this->store_->list_builds({std::nullopt, "", 3, 5}).empty());
  auto of_c = this->store_->list_builds({std::nullopt, "c", 0, 0});
  ASSERT_EQ(of_c.size(), 1u);
  EXPECT_EQ(of_c[0].id, c.id);
  EXPECT_TRUE(this->store_->list_builds({BuildState::kCancelled, "c", 0, 0}).empty());
  EXPECT_EQ(this->store_->list_builds({BuildState::kCancelled, "b", 0, 0}).size(), 1u);
}

// ---- queue ------------------------------------------------------------------

TYPED_TEST_P(StoreConformance, CandidatesByScoreThenIdPerArchRelease) {
  this->seed();
  auto w1 = this->add_build(this->warty_.id, "w1", 10);
  auto w2 = this->add_build(this->warty_.id, "w2", 50);
  auto h1 = this->add_build(this->hoary_.id, "h1", 30);
  auto w3 = this->add_build(this->warty_.id, "w3", 10);
  auto h2 = this->add_build(this->hoary_.id, "h2", 50);

  auto ids = [](const std::vector<QueuedBuild>& q) {
    std::vector<Id> out;
    for (const auto& e : q) out.push_back(e.build.id);
    return out;
  };
  EXPECT_EQ(ids(this->store_->candidates({this->warty_.id}, 10)),
            (std::vector<Id>{w2.id, w1.id, w3.id}));
  EXPECT_EQ(ids(this->store_->candidates({this->hoary_.id}, 10)), (std::vector<Id>{h2.id, h1.id}));
  EXPECT_EQ(ids(this->store_->candidates({this->warty_.id, this->hoary_.id}, 10)),
            (std::vector<Id>{w2.id, h2.id, h1.id, w1.id, w3.id}));
  EXPECT_EQ(ids(this->store_->candidates({this->warty_.id, this->hoary_.id}, 3)),
            (std::vector<Id>{w2.id, h2.id, h1.id}));
  EXPECT_TRUE(this->store_->candidates({9999}, 10).empty());
  EXPECT_EQ(ids(this->store_->waiting(0)), (std::vector<Id>{w2.id, h2.id, h1.id, w1.id, w3.id}));
  EXPECT_EQ(this->store_->waiting(2).size(), 2u);
  auto first = this->store_->candidates({this->warty_.id}, 1).at(0);
  EXPECT_EQ(first.entry.build_id, w2.id);
  EXPECT_EQ(first.entry.score, 50);
  EXPECT_EQ(first.build.source_name, "w2");

  // A claimed entry is no longer a candidate, nor waiting.
  ASSERT_TRUE(this->store_->claim(first.entry.id, w2.id, this->bob_.id, Clock::now()));
  EXPECT_EQ(ids(this->store_->candidates({this->warty_.id}, 10)), (std::vector<Id>{w1.id, w3.id}));
  EXPECT_EQ(this->store_->waiting(0).size(), 4u);
}

// What a fair-share scheduler reads: the best of each archive, and how many
// builds each archive has running. The archive survives a retry.
TYPED_TEST_P(StoreConformance, CandidatesAndRunningBuildsPerArchive) {
  this->seed();
  auto a1 = this->add_build(this->warty_.id, "a1", 50, "rebuild");
  auto a2 = this->add_build(this->warty_.id, "a2", 40, "rebuild");
  auto a3 = this->add_build(this->warty_.id, "a3", 30, "rebuild");
  auto p1 = this->add_build(this->warty_.id, "p1", 10);
  auto s1 = this->add_build(this->warty_.id, "s1", 5, "security-ppa");
  auto h1 = this->add_build(this->hoary_.id, "h1", 99, "rebuild");
  EXPECT_EQ(this->store_->find_build(a1.id)->archive, "rebuild");
  EXPECT_EQ(this->store_->find_build(p1.id)->archive, "primary");

  auto ids = [](const std::vector<QueuedBuild>& q) {
    std::vector<Id> out;
    for (const auto& e : q) out.push_back(e.build.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(ids(this->store_->candidates_per_archive({this->warty_.id}, 2)),
            (std::vector<Id>{a1.id, a2.id, p1.id, s1.id}));
  EXPECT_EQ(ids(this->store_->candidates_per_archive({this->warty_.id, this->hoary_.id}, 1)),
            (std::vector<Id>{a1.id, p1.id, s1.id, h1.id}));
  EXPECT_TRUE(this->store_->candidates_per_archive({this->warty_.id}, 0).empty());
  EXPECT_TRUE(this->store_->candidates_per_archive({9999}, 5).empty());
  for (const auto& q : this->store_->candidates_per_archive({this->warty_.id}, 5))
    EXPECT_EQ(q.build.archive, q.build.id == p1.id   ? "primary"
                               : q.build.id == s1.id ? "security-ppa"
                                                     : "rebuild");
  EXPECT_TRUE(this->store_->running_per_archive().empty());

  // A claimed entry counts as running and is no longer a candidate.
  const auto q1 = this->store_->queue_entry_for_build(a1.id)->id;
  ASSERT_TRUE(this->store_->claim(q1, a1.id, this->bob_.id, Clock::now()));
  EXPECT_EQ(this->store_->running_per_archive(),
            (std::map<std::string, std::size_t>{{"rebuild", 1}}));
  EXPECT_EQ(ids(this->store_->candidates_per_archive({this->warty_.id}, 2)),
            (std::vector<Id>{a2.id, a3.id, p1.id, s1.id}));

  // Failed, then retried: back among its archive's candidates.
  CycleChanges c;
  BuildCompletion failed;
  failed.build_id = a1.id;
  failed.queue_id = q1;
  failed.state = BuildState::kFailedToBuild;
  failed.built = Clock::now();
  c.completions.push_back(failed);
  this->store_->commit(c);
  EXPECT_TRUE(this->store_->running_per_archive().empty());
  this->store_->retry_build(a1.id);
  EXPECT_EQ(ids(this->store_->candidates_per_archive({this->warty_.id}, 1)),
            (std::vector<Id>{a1.id, p1.id, s1.id}));
}

TYPED_TEST_P(StoreConformance, ClaimIsCompareAndSet) {
  this->seed();
  auto b = this->add_build(this->warty_.id, "foo", 0);
  auto entry = *this->store_->queue_entry_for_build(b.id);
  auto now = TimePoint(std::chrono::microseconds(1700000000123456LL));
  EXPECT_TRUE(this->store_->claim(entry.id, b.id, this->bob_.id, now));
  EXPECT_FALSE(this->store_->claim(entry.id, b.id, this->bob_.id, now));
  EXPECT_FALSE(this->store_->claim(9999, b.id, this->bob_.id, now));

  auto build = *this->store_->find_build(b.id);
  EXPECT_EQ(build.state, BuildState::kBuilding);
  EXPECT_EQ(build.started, now);
  EXPECT_EQ(build.builder_id, this->bob_.id);
  auto claimed = *this->store_->queue_entry_for_build(b.id);
  EXPECT_EQ(claimed.builder_id, this->bob_.id);
  EXPECT_EQ(claimed.buildstart, now);
  auto active = this->store_->active_jobs();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].entry.id, entry.id);
  EXPECT_EQ(active[0].build.state, BuildState::kBuilding);
}

TYPED_TEST_P(StoreConformance, ClaimAllJudgesEachClaimAlone) {
  this->seed();
  auto first = this->add_build(this->warty_.id, "first", 0);
  auto second = this->add_build(this->warty_.id, "second", 0);
  auto third = this->add_build(this->warty_.id, "third", 0);
  const Id q1 = this->store_->queue_entry_for_build(first.id)->id;
  const Id q2 = this->store_->queue_entry_for_build(second.id)->id;
  const Id q3 = this->store_->queue_entry_for_build(third.id)->id;
  auto toad = this->store_->add_builder({"toad", "http://127.0.0.1:9/", "386"});
  auto newt = this->store_->add_builder({"newt", "http://127.0.0.1:9/", "386"});
  const auto now = TimePoint(std::chrono::microseconds(1700000000123456LL));
  // Won; lost (the entry was just taken); lost (bob holds a job now); won;
  // lost (no such entry).
  const std::vector<bool> won = this->store_->claim_all({{q1, first.id, this->bob_.id},
                                                         {q1, first.id, toad.id},
                                                         {q2, second.id, this->bob_.id},
                                                         {q3, third.id, toad.id},
                                                         {9999, second.id, newt.id}},
                                                        now);
  EXPECT_EQ(won, (std::vector<bool>{true, false, false, true, false}));
  EXPECT_EQ(this->store_->active_job_for_builder(this->bob_.id)->build.id, first.id);
  EXPECT_EQ(this->store_->active_job_for_builder(toad.id)->build.id, third.id);
  EXPECT_FALSE(this->store_->active_job_for_builder(newt.id));
  EXPECT_EQ(this->store_->find_build(first.id)->state, BuildState::kBuilding);
  EXPECT_EQ(this->store_->find_build(first.id)->started, now);
  EXPECT_EQ(this->store_->find_build(first.id)->builder_id, this->bob_.id);
  // A lost claim leaves no trace.
  EXPECT_EQ(this->store_->find_build(second.id)->state, BuildState::kNeedsBuild);
  EXPECT_FALSE(this->store_->find_build(second.id)->builder_id);
  EXPECT_FALSE(this->store_->queue_entry_for_build(second.id)->builder_id);
  EXPECT_EQ(this->store_->queue_entry_for_build(second.id)->attempt, 0);
  EXPECT_EQ(this->store_->queue_entry_for_build(third.id)->attempt, 1);
  EXPECT_TRUE(this->store_->claim_all({}, now).empty());
  // The store is usable after the lost claims.
  EXPECT_TRUE(this->store_->claim(q2, second.id, newt.id, now));
}

TYPED_TEST_P(StoreConformance, OneActiveJobPerBuilderAndAttemptsCounted) {
  this->seed();
  auto first = this->add_build(this->warty_.id, "first", 0);
  auto second = this->add_build(this->warty_.id, "second", 0);
  auto q1 = this->store_->queue_entry_for_build(first.id)->id;
  auto q2 = this->store_->queue_entry_for_build(second.id)->id;
  ASSERT_TRUE(this->store_->claim(q1, first.id, this->bob_.id, Clock::now()));
  // bob holds a job: the second claim is refused and changes nothing.
  EXPECT_FALSE(this->store_->claim(q2, second.id, this->bob_.id, Clock::now()));
  EXPECT_EQ(this->store_->find_build(second.id)->state, BuildState::kNeedsBuild);
  EXPECT_FALSE(this->store_->queue_entry_for_build(second.id)->builder_id);
  EXPECT_EQ(this->store_->queue_entry_for_build(first.id)->attempt, 1);
  ASSERT_TRUE(this->store_->active_job_for_builder(this->bob_.id));
  EXPECT_EQ(this->store_->active_job_for_builder(this->bob_.id)->build.id, first.id);

  // After a reset the entry is claimed again as its second attempt.
  CycleChanges reset;
  reset.resets.push_back({q1, first.id, 1});
  EXPECT_EQ(this->store_->commit(reset).stale, 0u);
  EXPECT_FALSE(this->store_->active_job_for_builder(this->bob_.id));
  ASSERT_TRUE(this->store_->claim(q1, first.id, this->bob_.id, Clock::now()));
  EXPECT_EQ(this->store_->queue_entry_for_build(first.id)->attempt, 2);
  // A reset of the first attempt, late, is stale: the second one runs on.
  EXPECT_EQ(this->store_->commit(reset).stale, 1u);
  EXPECT_EQ(this->store_->find_build(first.id)->state, BuildState::kBuilding);
  EXPECT_EQ(this->store_->queue_entry_for_build(first.id)->builder_id, this->bob_.id);
}

TYPED_TEST_P(StoreConformance, CommitTransitionsAreConditional) {
  this->seed();
  auto done = this->add_build(this->warty_.id, "done", 0);
  auto cancelled = this->add_build(this->warty_.id, "cancelled", 0);
  auto frog = this->store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  auto qd = this->store_->queue_entry_for_build(done.id)->id;
  auto qc = this->store_->queue_entry_for_build(cancelled.id)->id;
  ASSERT_TRUE(this->store_->claim(qd, done.id, this->bob_.id, Clock::now()));
  ASSERT_TRUE(this->store_->claim(qc, cancelled.id, frog.id, Clock::now()));
  auto log = this->add_file("buildlog.gz", "1");
  auto deb = this->add_file("done_1.0-1_i386.deb", "2");

  // The same completion twice: one set of rows, the second is stale.
  CycleChanges c;
  BuildCompletion completion;
  completion.build_id = done.id;
  completion.queue_id = qd;
  completion.state = BuildState::kFullyBuilt;
  completion.buildlog = log;
  completion.result_files = {{"done_1.0-1_i386.deb", deb}};
  c.completions.push_back(completion);
  EXPECT_EQ(this->store_->commit(c).stale, 0u);
  EXPECT_EQ(this->store_->commit(c).stale, 1u);
  EXPECT_EQ(this->store_->result_files(done.id).size(), 1u);
  EXPECT_EQ(this->store_->find_build(done.id)->state, BuildState::kFullyBuilt);

  // An operator's cancel wins over a reset committed after it.
  EXPECT_EQ(this->store_->cancel_build(cancelled.id), CancelOutcome::kCancelling);
  CycleChanges reset;
  reset.resets.push_back({qc, cancelled.id});
  EXPECT_EQ(this->store_->commit(reset).stale, 1u);
  EXPECT_EQ(this->store_->find_build(cancelled.id)->state, BuildState::kCancelling);
  EXPECT_EQ(this->store_->queue_entry_for_build(cancelled.id)->builder_id, frog.id);

  // The pipeline may disable a builder, never re-enable one the operator
  // disabled meanwhile; its failure count is written either way.
  this->store_->set_builder_ok(frog.id, false, "operator: broken disk");
  CycleChanges update;
  update.builders.push_back({frog.id, true, "", 3});
  this->store_->commit(update);
  auto f = *this->store_->find_builder("frog");
  EXPECT_FALSE(f.builderok);
  EXPECT_EQ(f.failnotes, "operator: broken disk");
  EXPECT_EQ(f.failure_count, 3);
}

// A running build's live log: appended only at its end by the attempt that
// read it, read back byte for byte from any offset, cleared by a reset and
// gone with its entry.
TYPED_TEST_P(StoreConformance, LiveLogGrowsAtItsEndAndGoesWithItsEntry) {
  this->seed();
  auto b = this->add_build(this->warty_.id, "foo", 0);
  const Id q = this->store_->queue_entry_for_build(b.id)->id;
  ASSERT_TRUE(this->store_->claim(q, b.id, this->bob_.id, Clock::now()));
  const int attempt = this->store_->queue_entry_for_build(b.id)->attempt;
  const std::string first("RUN: sbuild\n\0\xff\xfe", 15);  // any byte, NUL included
  const std::string second = "Status: successful\n";
  auto append = [&](std::uint64_t offset, const std::string& bytes, int at = 0) {
    CycleChanges c;
    c.live_logs.push_back({q, at == 0 ? attempt : at, offset, bytes});
    return this->store_->commit(c).stale;
  };
  EXPECT_EQ(append(0, first), 0u);
  EXPECT_EQ(append(first.size(), second), 0u);
  EXPECT_EQ(append(first.size(), "again"), 1u);  // another master appended these first
  EXPECT_EQ(append(first.size() + second.size(), "late", attempt + 1), 1u);  // not its attempt
  EXPECT_EQ(this->store_->queue_entry_for_build(b.id)->live_log_size, first.size() + second.size());
  EXPECT_EQ(this->store_->live_log(q, 0, 1000), first + second);
  EXPECT_EQ(this->store_->live_log(q, 13, 4), (first + second).substr(13, 4));  // across chunks
  EXPECT_EQ(this->store_->live_log(q, first.size() + second.size(), 10), "");
  EXPECT_EQ(this->store_->live_log(q + 1000, 0, 10), "");

  CycleChanges reset;
  reset.resets.push_back({q, b.id, attempt});
  EXPECT_EQ(this->store_->commit(reset).stale, 0u);
  EXPECT_EQ(this->store_->queue_entry_for_build(b.id)->live_log_size, 0u);
  EXPECT_EQ(this->store_->live_log(q, 0, 10), "");
  EXPECT_EQ(append(0, "waiting"), 1u);  // no builder: nothing to follow

  ASSERT_TRUE(this->store_->claim(q, b.id, this->bob_.id, Clock::now()));
  const int next = this->store_->queue_entry_for_build(b.id)->attempt;
  EXPECT_EQ(append(0, "second try\n", next), 0u);
  EXPECT_EQ(this->store_->live_log(q, 0, 100), "second try\n");
  CycleChanges done;
  BuildCompletion completion;
  completion.build_id = b.id;
  completion.queue_id = q;
  completion.state = BuildState::kFullyBuilt;
  done.completions.push_back(completion);
  EXPECT_EQ(this->store_->commit(done).stale, 0u);
  EXPECT_EQ(this->store_->live_log(q, 0, 100), "");
}

TYPED_TEST_P(StoreConformance, SlaveStateIsRecorded) {
  this->seed();
  EXPECT_EQ(this->store_->find_builder("bob")->slave_state, "");
  EXPECT_FALSE(this->store_->find_builder("bob")->slave_state_since);
  auto at = TimePoint(std::chrono::microseconds(1700000000123456LL));
  this->store_->set_builder_slave_state(this->bob_.id, "WAITING OK 5-12", at);
  auto b = *this->store_->find_builder("bob");
  EXPECT_EQ(b.slave_state, "WAITING OK 5-12");
  EXPECT_EQ(b.slave_state_since, at);
  // The pipeline records it in its commits, with the other changes.
  CycleChanges changes;
  changes.slave_states.push_back(SlaveStateUpdate{this->bob_.id, "IDLE", at + 5s});
  changes.builders.push_back(BuilderUpdate{this->bob_.id, true, "", 1});
  EXPECT_EQ(this->store_->commit(changes).stale, 0u);
  b = *this->store_->find_builder("bob");
  EXPECT_EQ(b.slave_state, "IDLE");
  EXPECT_EQ(b.slave_state_since, at + 5s);
  EXPECT_EQ(b.failure_count, 1);
}

// A group commit: several pollers' changes in one call, each told whether
// its own were stale.
TYPED_TEST_P(StoreConformance, CommitAllReportsEachMembersStaleChanges) {
  this->seed();
  const Build waiting = this->add_build(this->warty_.id, "foo", 10);
  const Id queue_id = this->store_->queue_entry_for_build(waiting.id)->id;
  CycleChanges applies, stale, states;
  applies.builders.push_back(BuilderUpdate{this->bob_.id, true, "", 2});
  // A log tail for an entry no builder holds: dropped, counted stale.
  stale.logtails.push_back(LogTailUpdate{queue_id, "tail"});
  // A completion of a build whose entry is gone: dropped whole, and the log
  // it carries is not recorded either.
  const Build cancelled = this->add_build(this->warty_.id, "gone", 10);
  const Id gone_queue_id = this->store_->queue_entry_for_build(cancelled.id)->id;
  ASSERT_EQ(this->store_->cancel_build(cancelled.id), CancelOutcome::kCancelled);
  LibraryFile unrecorded_log;
  unrecorded_log.filename = "buildlog_gone.txt.gz";
  unrecorded_log.sha1 = std::string(40, '9');
  unrecorded_log.sha256 = std::string(64, '9');
  unrecorded_log.locator = "99/" + unrecorded_log.sha256;
  BuildCompletion late;
  late.build_id = cancelled.id;
  late.queue_id = gone_queue_id;
  late.buildlog = unrecorded_log;
  stale.completions.push_back(late);
  states.slave_states.push_back(SlaveStateUpdate{this->bob_.id, "IDLE", TimePoint(1s)});
  const std::vector<CommitResult> results = this->store_->commit_all({&applies, &stale, &states});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].stale, 0u);
  EXPECT_EQ(results[1].stale, 2u);
  EXPECT_EQ(results[2].stale, 0u);
  EXPECT_FALSE(this->store_->find_library_file_by_sha256(unrecorded_log.sha256));
  EXPECT_EQ(this->store_->find_build(cancelled.id)->state, BuildState::kCancelled);
  const Builder b = *this->store_->find_builder("bob");
  EXPECT_EQ(b.failure_count, 2);
  EXPECT_EQ(b.slave_state, "IDLE");
  EXPECT_EQ(this->store_->queue_entry_for_build(waiting.id)->logtail, "");
}

TYPED_TEST_P(StoreConformance, AMasterIdIsHeldByOneLiveInstance) {
  this->seed();
  const auto ttl = std::chrono::seconds(30);
  const auto t0 = TimePoint(std::chrono::seconds(1700000000));
  EXPECT_TRUE(this->store_->heartbeat("m1", "host:1", t0, ttl).held);
  EXPECT_TRUE(this->store_->heartbeat("m1", "host:1", t0 + 10s, ttl).held) << "renewal";
  MasterRegistration other = this->store_->heartbeat("m1", "host:2", t0 + 20s, ttl);
  EXPECT_FALSE(other.held);
  EXPECT_EQ(other.holder_id, "m1");
  EXPECT_EQ(other.holder_instance, "host:1");
  EXPECT_EQ(other.holder_heartbeat, t0 + 10s);
  // Replacing an instance known dead, or once its heartbeat is stale.
  EXPECT_TRUE(this->store_->heartbeat("m1", "host:2", t0 + 20s, ttl, "host:1").held);
  EXPECT_TRUE(this->store_->heartbeat("m1", "host:3", t0 + 60s, ttl).held);
  EXPECT_EQ(this->store_->live_masters(t0 + 60s, ttl), std::vector<std::string>{"m1"});
  this->store_->leave("m1", "host:3");
  EXPECT_TRUE(this->store_->live_masters(t0 + 60s, ttl).empty());
}

TYPED_TEST_P(StoreConformance, LeasesSpreadOverLiveMastersAndOutliveADeadOne) {
  this->seed();
  for (int i = 0; i < 3; ++i) {
    this->store_->add_builder({"b" + std::to_string(i), "http://127.0.0.1:9/", "386"});
  }
  const auto ttl = std::chrono::seconds(30);
  const auto t0 = TimePoint(std::chrono::seconds(1700000000));
  if (TypeParam::kQuirks.one_master_per_database) {
    // One master per database (SQLite).
    ASSERT_TRUE(this->store_->heartbeat("a", "host:1", t0, ttl).held);
    MasterRegistration b = this->store_->heartbeat("b", "host:2", t0, ttl);
    EXPECT_FALSE(b.held);
    EXPECT_EQ(b.holder_id, "a");
    EXPECT_EQ(this->store_->balance_leases("a", 4, t0, ttl).size(), 4u);
    return;
  }
  ASSERT_TRUE(this->store_->heartbeat("a", "host:1", t0, ttl).held);
  EXPECT_EQ(this->store_->balance_leases("a", 4, t0, ttl).size(), 4u);  // alone: all four
  ASSERT_TRUE(this->store_->heartbeat("b", "host:2", t0 + 5s, ttl).held);
  EXPECT_EQ(this->store_->live_masters(t0 + 5s, ttl), (std::vector<std::string>{"a", "b"}));
  // b finds nothing free until a gives back what is beyond its share.
  EXPECT_TRUE(this->store_->balance_leases("b", 2, t0 + 5s, ttl).empty());
  auto a_held = this->store_->balance_leases("a", 2, t0 + 6s, ttl);
  auto b_held = this->store_->balance_leases("b", 2, t0 + 7s, ttl);
  EXPECT_EQ(a_held.size(), 2u);
  EXPECT_EQ(b_held.size(), 2u);
  std::set<Id> all(a_held.begin(), a_held.end());
  all.insert(b_held.begin(), b_held.end());
  EXPECT_EQ(all.size(), 4u) << "no builder leased twice";
  // a dies: its leases expire ttl after their last renewal, then b takes all.
  ASSERT_TRUE(this->store_->heartbeat("b", "host:2", t0 + 30s, ttl).held);
  EXPECT_EQ(this->store_->balance_leases("b", 4, t0 + 30s, ttl).size(), 2u);
  EXPECT_EQ(this->store_->live_masters(t0 + 37s, ttl), std::vector<std::string>{"b"});
  EXPECT_EQ(this->store_->balance_leases("b", 4, t0 + 37s, ttl).size(), 4u);
}

TYPED_TEST_P(StoreConformance, BuildsByBuilderNewestFirst) {
  this->seed();
  auto frog = this->store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  std::vector<Id> bobs;
  for (int i = 0; i < 3; ++i) {
    auto b = this->add_build(this->warty_.id, "b" + std::to_string(i), 0);
    auto q = this->store_->queue_entry_for_build(b.id)->id;
    ASSERT_TRUE(this->store_->claim(q, b.id, i == 1 ? frog.id : this->bob_.id, Clock::now()));
    if (i == 0) {
      // bob finishes its first build before it can take another.
      CycleChanges done;
      BuildCompletion c;
      c.build_id = b.id;
      c.queue_id = q;
      c.state = BuildState::kFailedToBuild;
      done.completions.push_back(c);
      this->store_->commit(done);
    }
    if (i != 1) bobs.push_back(b.id);
  }
  this->add_build(this->warty_.id, "unclaimed", 0);
  auto mine = this->store_->builds_by_builder(this->bob_.id, 0);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].id, bobs[1]);
  EXPECT_EQ(mine[1].id, bobs[0]);
  EXPECT_EQ(this->store_->builds_by_builder(this->bob_.id, 1).size(), 1u);
  EXPECT_EQ(this->store_->builds_by_builder(frog.id, 0).size(), 1u);
  EXPECT_TRUE(this->store_->builds_by_builder(9999, 0).empty());
}

TYPED_TEST_P(StoreConformance, CommitAppliesEveryKindOfChange) {
  this->seed();
  auto done = this->add_build(this->warty_.id, "done", 0);
  auto lost = this->add_build(this->warty_.id, "lost", 0);
  auto running = this->add_build(this->hoary_.id, "running", 0);
  auto t0 = TimePoint(std::chrono::microseconds(1700000000000000LL));
  auto frog = this->store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  auto toad = this->store_->add_builder({"toad", "http://127.0.0.1:10/", "amd64"});
  auto qd = this->store_->queue_entry_for_build(done.id)->id;
  auto ql = this->store_->queue_entry_for_build(lost.id)->id;
  auto qr = this->store_->queue_entry_for_build(running.id)->id;
  ASSERT_TRUE(this->store_->claim(qd, done.id, this->bob_.id, t0));
  ASSERT_TRUE(this->store_->claim(ql, lost.id, frog.id, t0));
  ASSERT_TRUE(this->store_->claim(qr, running.id, toad.id, t0));
  auto log = this->add_file("buildlog.gz", "1");
  auto deb = this->add_file("done_1.0-1_i386.deb", "2");

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
  completion.buildlog = log;
  // One file recorded already, one the completion records (id 0).
  LibraryFile changes_file;
  changes_file.filename = "done_1.0-1_i386.changes";
  changes_file.size = 7;
  changes_file.sha1 = std::string(40, '3');
  changes_file.sha256 = std::string(64, '3');
  changes_file.mime = "text/plain";
  changes_file.locator = "33/" + changes_file.sha256;
  completion.result_files = {{"done_1.0-1_i386.deb", deb},
                             {"done_1.0-1_i386.changes", changes_file}};
  c.completions.push_back(completion);
  this->store_->commit(c);

  auto d = *this->store_->find_build(done.id);
  EXPECT_EQ(d.state, BuildState::kFullyBuilt);
  EXPECT_EQ(d.built, t0 + 60s);
  EXPECT_EQ(d.duration, Duration(60000000));
  EXPECT_EQ(d.buildlog_id, log.id);
  EXPECT_EQ(d.builder_id, this->bob_.id);  // kept when the completion names none
  EXPECT_FALSE(this->store_->queue_entry_for_build(done.id));
  auto results = this->store_->result_files(done.id);
  std::sort(results.begin(), results.end(),
            [](const BuildFile& x, const BuildFile& y) { return x.file.id < y.file.id; });
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].filename, "done_1.0-1_i386.deb");
  EXPECT_EQ(results[0].file.id, deb.id);
  EXPECT_EQ(results[1].filename, "done_1.0-1_i386.changes");
  EXPECT_NE(results[1].file.id, 0u);
  EXPECT_EQ(results[1].file.sha256, changes_file.sha256);
  EXPECT_EQ(results[1].file.locator, changes_file.locator);
  const auto recorded = this->store_->find_library_file_by_sha256(changes_file.sha256);
  ASSERT_TRUE(recorded);
  EXPECT_EQ(recorded->id, results[1].file.id);

  auto l = *this->store_->find_build(lost.id);
  EXPECT_EQ(l.state, BuildState::kNeedsBuild);
  EXPECT_FALSE(l.started);
  EXPECT_EQ(l.failure_count, 1);
  EXPECT_EQ(l.give_back_count, 2);
  auto le = *this->store_->queue_entry_for_build(lost.id);
  EXPECT_FALSE(le.builder_id);
  EXPECT_FALSE(le.buildstart);

  auto re = *this->store_->queue_entry_for_build(running.id);
  EXPECT_EQ(re.logtail, "compiling…");
  EXPECT_EQ(re.abort_sent, t0 + 5s);
  EXPECT_FALSE(this->store_->find_builder("frog")->builderok);
  EXPECT_EQ(this->store_->find_builder("frog")->failnotes, "lost the job");

  this->store_->commit(CycleChanges{});  // nothing to do is fine
}

// Counters are deltas: two writers' failures both count, and an operator's
// reset committed meanwhile is kept (a count read before it never comes back).
TYPED_TEST_P(StoreConformance, CountersAreDeltas) {
  this->seed();
  auto b = this->add_build(this->warty_.id, "foo", 0);
  auto other = this->open();  // a second master's handle
  CycleChanges failed;
  failed.builders.push_back({this->bob_.id, true, "", 1});
  failed.counters.push_back({b.id, 1, 1});
  this->store_->commit(failed);
  other->commit(failed);
  EXPECT_EQ(this->store_->find_builder("bob")->failure_count, 2);
  EXPECT_EQ(this->store_->find_build(b.id)->failure_count, 2);
  EXPECT_EQ(this->store_->find_build(b.id)->give_back_count, 2);

  this->store_->set_builder_ok(this->bob_.id, true, "");  // the operator zeroes it
  other->commit(failed);
  EXPECT_EQ(this->store_->find_builder("bob")->failure_count, 1);

  // A build came back: zeroed first, then the step's own failures added.
  CycleChanges works;
  works.builders.push_back({this->bob_.id, true, "", 0, true});
  this->store_->commit(works);
  EXPECT_EQ(this->store_->find_builder("bob")->failure_count, 0);
  works.builders[0].failure_delta = 1;
  this->store_->commit(works);
  EXPECT_EQ(this->store_->find_builder("bob")->failure_count, 1);
  EXPECT_TRUE(this->store_->find_builder("bob")->builderok);
}

// The operator's corrections: a builder's new URL, a waiting build's score
// (pinned; refused once dispatched), and the builds of one source version.
TYPED_TEST_P(StoreConformance, OperatorCorrections) {
  this->seed();
  this->store_->set_builder_url(this->bob_.id, "http://10.0.0.7:8221/");
  EXPECT_EQ(this->store_->find_builder("bob")->url, "http://10.0.0.7:8221/");
  EXPECT_EQ(this->category_of([&] { this->store_->set_builder_url(999, "http://x/"); }),
            ErrorCategory::kNotFound);

  auto low = this->add_build(this->warty_.id, "low", 10);
  auto high = this->add_build(this->warty_.id, "high", 50);
  this->store_->rescore_build(low.id, 900);
  auto entry = *this->store_->queue_entry_for_build(low.id);
  EXPECT_EQ(entry.score, 900);
  EXPECT_TRUE(entry.manual);
  EXPECT_EQ(this->store_->candidates({this->warty_.id}, 1).at(0).build.id, low.id);
  auto q = this->store_->queue_entry_for_build(high.id)->id;
  ASSERT_TRUE(this->store_->claim(q, high.id, this->bob_.id, Clock::now()));
  EXPECT_EQ(this->category_of([&] { this->store_->rescore_build(high.id, 1); }),
            ErrorCategory::kConflict);
  EXPECT_EQ(this->store_->queue_entry_for_build(high.id)->score, 50);
  EXPECT_EQ(this->category_of([&] { this->store_->rescore_build(9999, 1); }),
            ErrorCategory::kNotFound);

  auto again = this->add_build(this->warty_.id, "low", 0);
  this->add_build(this->hoary_.id, "low", 0);
  auto same = this->store_->builds_of_source("low", "1.0-1", this->warty_.id);
  ASSERT_EQ(same.size(), 2u);
  EXPECT_EQ(same[0].id, again.id);  // newest first
  EXPECT_EQ(same[1].id, low.id);
  EXPECT_TRUE(this->store_->builds_of_source("low", "2.0-1", this->warty_.id).empty());
}

TYPED_TEST_P(StoreConformance, CommitIsAllOrNothing) {
  this->seed();
  auto a = this->add_build(this->warty_.id, "a", 0);
  auto b = this->add_build(this->warty_.id, "b", 0);
  auto t0 = Clock::now();
  auto qa = this->store_->queue_entry_for_build(a.id)->id;
  auto qb = this->store_->queue_entry_for_build(b.id)->id;
  ASSERT_TRUE(this->store_->claim(qa, a.id, this->bob_.id, t0));
  auto frog = this->store_->add_builder({"frog", "http://127.0.0.1:9/", "amd64"});
  ASSERT_TRUE(this->store_->claim(qb, b.id, frog.id, t0));

  CycleChanges c;
  c.logtails.push_back({qa, "should not stay"});
  c.builders.push_back({this->bob_.id, false, "should not stay", 7});
  BuildCompletion good;
  good.build_id = a.id;
  good.queue_id = qa;
  good.state = BuildState::kFailedToBuild;
  c.completions.push_back(good);
  BuildCompletion bad;
  bad.build_id = b.id;
  bad.queue_id = qb;
  bad.state = BuildState::kFullyBuilt;
  LibraryFile missing;
  missing.id = 424242;  // no such library file
  bad.result_files = {{"b.deb", missing}};
  c.completions.push_back(bad);
  EXPECT_THROW(this->store_->commit(c), Error);

  EXPECT_EQ(this->store_->find_build(a.id)->state, BuildState::kBuilding);
  EXPECT_EQ(this->store_->find_build(b.id)->state, BuildState::kBuilding);
  ASSERT_TRUE(this->store_->queue_entry_for_build(a.id));
  EXPECT_EQ(this->store_->queue_entry_for_build(a.id)->logtail, "");
  ASSERT_TRUE(this->store_->queue_entry_for_build(b.id));
  EXPECT_TRUE(this->store_->find_builder("bob")->builderok);
  EXPECT_EQ(this->store_->find_builder("bob")->failure_count, 0);
  EXPECT_TRUE(this->store_->result_files(b.id).empty());
  // The store is still usable after the rollback.
  CycleChanges ok;
  ok.logtails.push_back({qa, "fine"});
  this->store_->commit(ok);
  EXPECT_EQ(this->store_->queue_entry_for_build(a.id)->logtail, "fine");
}

TYPED_TEST_P(StoreConformance, CancelRules) {
  this->seed();
  auto waiting = this->add_build(this->warty_.id, "waiting", 0);
  auto running = this->add_build(this->warty_.id, "running", 0);
  auto q = this->store_->queue_entry_for_build(running.id)->id;
  ASSERT_TRUE(this->store_->claim(q, running.id, this->bob_.id, Clock::now()));

  EXPECT_EQ(this->store_->cancel_build(waiting.id), CancelOutcome::kCancelled);
  EXPECT_EQ(this->store_->find_build(waiting.id)->state, BuildState::kCancelled);
  EXPECT_FALSE(this->store_->queue_entry_for_build(waiting.id));

  EXPECT_EQ(this->store_->cancel_build(running.id), CancelOutcome::kCancelling);
  EXPECT_EQ(this->store_->find_build(running.id)->state, BuildState::kCancelling);
  EXPECT_TRUE(this->store_->queue_entry_for_build(running.id));
  EXPECT_EQ(this->store_->cancel_build(running.id), CancelOutcome::kCancelling);

  EXPECT_EQ(this->store_->cancel_build(waiting.id), CancelOutcome::kAlreadyFinal);
  EXPECT_EQ(this->category_of([&] { this->store_->cancel_build(9999); }), ErrorCategory::kNotFound);
}

TYPED_TEST_P(StoreConformance, RetryRules) {
  this->seed();
  auto b = this->add_build(this->warty_.id, "foo", 777);
  EXPECT_EQ(this->category_of([&] { this->store_->retry_build(b.id); }), ErrorCategory::kConflict);
  auto q = this->store_->queue_entry_for_build(b.id)->id;
  ASSERT_TRUE(this->store_->claim(q, b.id, this->bob_.id, Clock::now()));
  EXPECT_EQ(this->category_of([&] { this->store_->retry_build(b.id); }), ErrorCategory::kConflict);

  auto log = this->add_file("log.gz", "3");
  CycleChanges c;
  BuildCompletion failed;
  failed.build_id = b.id;
  failed.queue_id = q;
  failed.state = BuildState::kFailedToBuild;
  failed.built = Clock::now();
  failed.buildlog = log;
  c.completions.push_back(failed);
  this->store_->commit(c);
  EXPECT_FALSE(this->store_->queue_entry_for_build(b.id));

  this->store_->retry_build(b.id);
  auto retried = *this->store_->find_build(b.id);
  EXPECT_EQ(retried.state, BuildState::kNeedsBuild);
  EXPECT_FALSE(retried.started);
  EXPECT_FALSE(retried.built);
  EXPECT_FALSE(retried.buildlog_id);
  auto entry = this->store_->queue_entry_for_build(b.id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->score, 777);
  EXPECT_FALSE(entry->builder_id);
  EXPECT_EQ(this->store_->candidates({this->warty_.id}, 5).size(), 1u);
  EXPECT_EQ(this->category_of([&] { this->store_->retry_build(b.id); }), ErrorCategory::kConflict);
  EXPECT_EQ(this->category_of([&] { this->store_->retry_build(9999); }), ErrorCategory::kNotFound);

  auto done = this->add_build(this->warty_.id, "ok", 0);
  auto dq = this->store_->queue_entry_for_build(done.id)->id;
  ASSERT_TRUE(this->store_->claim(dq, done.id, this->bob_.id, Clock::now()));
  CycleChanges built;
  BuildCompletion fully_built;
  fully_built.build_id = done.id;
  fully_built.queue_id = dq;
  fully_built.state = BuildState::kFullyBuilt;
  built.completions.push_back(fully_built);
  this->store_->commit(built);
  EXPECT_EQ(this->category_of([&] { this->store_->retry_build(done.id); }),
            ErrorCategory::kConflict);
}

// ---- library files ------------------------------------------------------------

TYPED_TEST_P(StoreConformance, LibraryFiles) {
  this->seed();
  auto f = this->add_file("foo.dsc", "a");
  EXPECT_GT(f.id, 0);
  auto found = this->store_->find_library_file(f.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->filename, "foo.dsc");
  EXPECT_EQ(found->size, 42u);
  EXPECT_EQ(found->sha1, f.sha1);
  EXPECT_EQ(found->mime, "text/plain");
  EXPECT_EQ(found->locator, f.locator);
  EXPECT_EQ(found->created, f.created);
  EXPECT_EQ(this->store_->find_library_file_by_sha256(f.sha256)->id, f.id);
  EXPECT_FALSE(this->store_->find_library_file(9999));
  EXPECT_FALSE(this->store_->find_library_file_by_sha256(std::string(64, '0')));
}

// ---- concurrency ----------------------------------------------------------------

// Two stores (two masters) on one database, claiming in parallel threads:
// every entry is claimed exactly once.
TYPED_TEST_P(StoreConformance, ParallelClaimsFromTwoStoresTakeEachEntryOnce) {
  this->seed();
  constexpr int kBuilds = 60;
  for (int i = 0; i < kBuilds; ++i)
    this->add_build(this->warty_.id, "p" + std::to_string(i), i % 7);
  // One active job per builder: every claim attempt uses a builder of its
  // own (a lost race burns it), so up to one per thread and entry.
  constexpr int kThreads = 4;
  std::vector<Id> builders;
  for (int i = 0; i < kBuilds * kThreads; ++i) {
    builders.push_back(
        this->store_->add_builder({"b" + std::to_string(i), "http://127.0.0.1:9/", "386"}).id);
  }
  std::atomic<std::size_t> next_builder{0};
  auto second = this->open();
  std::mutex mutex;
  std::multiset<Id> claimed;
  // `batched`: the candidates are claimed in one claim_all().
  auto worker = [&](BuildStore* store, bool batched) {
    for (;;) {
      auto candidates = store->candidates({this->warty_.id}, 5);
      if (candidates.empty()) return;
      std::vector<Claim> claims;
      for (const auto& c : candidates)
        claims.push_back(Claim{c.entry.id, c.build.id, builders.at(next_builder++)});
      // A busy database or a deadlock: the call wrote nothing; again.
      auto retried = [](auto&& call) {
        for (int attempt = 0;; ++attempt) {
          try {
            return call();
          } catch (const Error& e) {
            if (!e.retryable() || attempt > 20) throw;
          }
        }
      };
      std::vector<bool> won;
      if (batched) {
        won = retried([&] { return store->claim_all(claims, Clock::now()); });
      } else {
        for (const Claim& c : claims) {
          won.push_back(retried(
              [&] { return store->claim(c.queue_id, c.build_id, c.builder_id, Clock::now()); }));
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (std::size_t i = 0; i < claims.size(); ++i) {
        if (won.at(i)) claimed.insert(claims[i].queue_id);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads / 2; ++i) {
    threads.emplace_back(worker, this->store_.get(), i % 2 == 0);
    threads.emplace_back(worker, second.get(), i % 2 == 1);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kBuilds));
  EXPECT_EQ(std::set<Id>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(kBuilds));
  const auto active = this->store_->active_jobs();
  EXPECT_EQ(active.size(), static_cast<std::size_t>(kBuilds));
  std::set<Id> holders;
  for (const auto& job : active) holders.insert(*job.entry.builder_id);
  EXPECT_EQ(holders.size(), active.size());  // no builder holds two
  EXPECT_TRUE(this->store_->waiting(0).empty());
}

// ---- dispatch cost ---------------------------------------------------------------

// A deep queue: the candidate query walks the partial index of waiting entries
// (never the whole queue), so its cost does not grow with the queue.

REGISTER_TYPED_TEST_SUITE_P(
    StoreConformance, CountersAreDeltas, OperatorCorrections, FamiliesAndProcessors, ArchReleases,
    Builders, DisabledAtIsStampedOnceAndClearedOnEnable, CommitAllReportsEachMembersStaleChanges,
    RemovedBuilderLeavesTheFarmAndComesBackByName, AddBuildCreatesBuildFilesAndQueueEntry,
    BuildsNewestFirstFilteredAndLimited, CandidatesByScoreThenIdPerArchRelease,
    CandidatesAndRunningBuildsPerArchive, ClaimIsCompareAndSet, ClaimAllJudgesEachClaimAlone,
    OneActiveJobPerBuilderAndAttemptsCounted, CommitTransitionsAreConditional,
    LiveLogGrowsAtItsEndAndGoesWithItsEntry, SlaveStateIsRecorded, AMasterIdIsHeldByOneLiveInstance,
    LeasesSpreadOverLiveMastersAndOutliveADeadOne, BuildsByBuilderNewestFirst,
    CommitAppliesEveryKindOfChange, CommitIsAllOrNothing, CancelRules, RetryRules, LibraryFiles,
    ParallelClaimsFromTwoStoresTakeEachEntryOnce);

}  // namespace buildd::test
