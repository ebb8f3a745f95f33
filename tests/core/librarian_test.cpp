// The librarian's own housekeeping (storing and serving files is covered by
// the archive conformance suites and the end-to-end tests).

#include <gtest/gtest.h>
#include <unistd.h>

#include "buildd/librarian.hpp"
#include "fakes/fake_archive.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

using namespace buildd::test;

TEST(Librarian, TempFilesOfDeadProcessesAreRemovedAtStart) {
  TempDir dir;
  const auto tmp = dir / "tmp";
  std::filesystem::create_directories(tmp);
  // A pid above the kernel's limit is never a live process.
  write_file(tmp / "tmp-99999999-3-buildlog", "half a log");
  const std::string mine = "tmp-" + std::to_string(::getpid()) + "-1-result";
  write_file(tmp / mine, "still being written");
  write_file(tmp / "notes.txt", "not ours");
  FakeStore store;
  FakeArchive archive;
  Librarian librarian(store, archive, tmp, "http://master.test");
  EXPECT_FALSE(std::filesystem::exists(tmp / "tmp-99999999-3-buildlog"));
  EXPECT_TRUE(std::filesystem::exists(tmp / mine)) << "a live process's file";
  EXPECT_TRUE(std::filesystem::exists(tmp / "notes.txt"));
  EXPECT_EQ(Librarian::remove_dead_temp_files(tmp), 0u);
}

}  // namespace
}  // namespace buildd
