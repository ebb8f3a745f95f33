#include "file_librarian.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <thread>
#include <vector>

#include "buildd/conformance/log_archive_conformance.hpp"
#include "buildd/librarian.hpp"
#include "buildd/plugin_loader.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd::test {
namespace {

struct FileContext {
  explicit FileContext(const std::filesystem::path& scratch) : root_(scratch / "store") {}

  std::unique_ptr<LogArchive> archive() { return std::make_unique<FileLibrarian>(root_); }
  // A root below a regular file: nothing can ever be created there, as with
  // a read-only mount (which a test running as root cannot otherwise get).
  std::unique_ptr<LogArchive> unavailable() {
    std::filesystem::create_directories(root_.parent_path());
    write_file(root_.parent_path() / "not-a-folder", "");
    return std::make_unique<FileLibrarian>(root_.parent_path() / "not-a-folder" / "store");
  }
  std::filesystem::path storage() {
    std::filesystem::create_directories(root_);
    return root_;
  }

  std::filesystem::path root_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(FileLibrarian, LogArchiveConformance, FileContext);

namespace {

TEST(FileLibrarianTest, ObjectsLiveAtTheirContentAddress) {
  TempDir dir;
  FileLibrarian archive(dir / "root");
  write_file(dir / "src", "hello");
  ContentDigest digest = digest_file(dir / "src");
  std::string locator = archive.put(digest, dir / "src");
  EXPECT_EQ(locator, "sha256/" + digest.sha256);
  auto expected = dir / "root" / digest.sha256.substr(0, 2) / digest.sha256;
  EXPECT_EQ(archive.object_path(locator), expected);
  EXPECT_EQ(read_file(expected), "hello");
  EXPECT_EQ(archive.public_url(locator), std::nullopt);
}

// What the librarian streams is written once, in the archive's staging
// folder, and published there by a rename: no copy, nothing left behind.
TEST(FileLibrarianTest, StreamedFilesAreAdoptedByRename) {
  TempDir dir;
  FileLibrarian archive(dir / "root");
  ASSERT_EQ(archive.staging_dir(), dir / "root" / "tmp");
  FakeStore store;
  Librarian librarian(store, archive, dir / "master-tmp", "http://master.test");
  const LibraryFile first =
      librarian.store_streamed("a.deb", "application/octet-stream", ContentWriter::Encoding::kAsIs,
                               [](ByteSink& sink) { sink.write("deb bytes", 9); });
  EXPECT_EQ(read_file(archive.object_path(first.locator)), "deb bytes");
  // The same content again: recorded under its new name, stored once.
  const LibraryFile again =
      librarian.store_streamed("b.deb", "application/octet-stream", ContentWriter::Encoding::kAsIs,
                               [](ByteSink& sink) { sink.write("deb bytes", 9); });
  EXPECT_EQ(again.locator, first.locator);
  EXPECT_NE(again.id, first.id);
  EXPECT_TRUE(std::filesystem::is_empty(dir / "root" / "tmp"));
  EXPECT_TRUE(std::filesystem::is_empty(dir / "master-tmp"));

  // A file outside the staging folder is copied, and left where it was.
  write_file(dir / "elsewhere", "kept");
  const std::string locator = archive.adopt(digest_file(dir / "elsewhere"), dir / "elsewhere");
  EXPECT_EQ(read_file(archive.object_path(locator)), "kept");
  EXPECT_EQ(read_file(dir / "elsewhere"), "kept");
}

TEST(FileLibrarianTest, DiskFullIsRetryableAndLeavesNothingVisible) {
  TempDir dir;
  FileLibrarian archive(dir / "root");
  write_pseudo_random_file(dir / "big", 4 * 1024 * 1024);
  ContentDigest digest = digest_file(dir / "big");

  // RLIMIT_FSIZE makes write() fail with EFBIG past 1 MiB, as a full disk
  // fails with ENOSPC.
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = 1024 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  bool retryable = false;
  std::string message;
  try {
    archive.put(digest, dir / "big");
  } catch (const Error& e) {
    retryable = e.retryable() && e.category() == ErrorCategory::kArchive;
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_TRUE(retryable) << message;
  EXPECT_FALSE(archive.contains("sha256/" + digest.sha256));
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "root"))
    EXPECT_FALSE(e.is_regular_file()) << "left behind: " << e.path();

  // Once there is room again the same put succeeds.
  EXPECT_EQ(archive.put(digest, dir / "big"), "sha256/" + digest.sha256);
}

// A master killed in the middle of put() leaves its temp file; the next
// process to open the archive removes it, and leaves a live process's alone.
TEST(FileLibrarianTest, TempFilesOfDeadProcessesAreRemovedOnOpen) {
  TempDir dir;
  std::filesystem::create_directories(dir / "root" / "tmp");
  const std::string sha(64, 'a');
  write_file(dir / "root" / "tmp" / ("tmp-99999999-7-" + sha), "half an object");
  const std::string live = "tmp-" + std::to_string(::getpid()) + "-1-" + sha;
  write_file(dir / "root" / "tmp" / live, "being written");
  FileLibrarian archive(dir / "root");
  EXPECT_FALSE(std::filesystem::exists(dir / "root" / "tmp" / ("tmp-99999999-7-" + sha)));
  EXPECT_TRUE(std::filesystem::exists(dir / "root" / "tmp" / live));

  // put() writes its temp file there too, and publishes it away.
  write_file(dir / "src", "hello");
  ContentDigest digest = digest_file(dir / "src");
  archive.put(digest, dir / "src");
  std::size_t temps = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "root" / "tmp"))
    temps += e.path().filename() != live;
  EXPECT_EQ(temps, 0u);
}

// Every publish is made durable (its bytes, then its name) by the archive's
// grouped sync; puts running at the same time share them.
TEST(FileLibrarianTest, PutsAtTheSameTimeShareTheirSyncs) {
  TempDir dir;
  FileLibrarian archive(dir / "root");
  constexpr int kThreads = 8, kEach = 10;
  std::vector<std::thread> threads;
  std::vector<std::string> locators(kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const auto src = dir / ("src-" + std::to_string(t) + "-" + std::to_string(i));
        write_file(src, "object " + std::to_string(t * kEach + i));
        locators[t * kEach + i] = archive.put(digest_file(src), src);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int n = 0; n < kThreads * kEach; ++n)
    EXPECT_EQ(read_file(archive.object_path(locators[n])), "object " + std::to_string(n));
  EXPECT_GE(archive.syncs(), 2u);  // at least the bytes, then the names
  EXPECT_LE(archive.syncs(), 2u * kThreads * kEach);
}

TEST(FileLibrarianTest, MalformedLocatorsAreRejected) {
  TempDir dir;
  FileLibrarian archive(dir / "root");
  for (const std::string& bad : std::vector<std::string>{
           "", "sha256/../../etc/passwd", "sha256/ABC", "md5/" + std::string(64, 'a')}) {
    try {
      archive.open(bad);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::kArchive);
      EXPECT_FALSE(e.retryable());
    }
  }
}

TEST(FileLibrarianTest, PluginDescribesItself) {
  PluginInfo info = PluginLoader(plugin_dir()).inspect("file-librarian");
  EXPECT_EQ(info.name, "file-librarian");
  EXPECT_EQ(info.kind, PluginKind::kLogArchive);
  ASSERT_EQ(info.config_keys.size(), 1u);
  EXPECT_STREQ(info.config_keys[0].name, "root");
  EXPECT_TRUE(info.config_keys[0].required);
}

}  // namespace
}  // namespace buildd::test
