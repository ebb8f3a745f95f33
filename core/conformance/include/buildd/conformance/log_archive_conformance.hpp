#pragma once

// One conformance suite for the LogArchive contract (log_archive.hpp), run
// against every archive plugin. A plugin's test instantiates it with a
// Context type:
//
//   struct MyContext {
//     explicit MyContext(const std::filesystem::path& scratch);
//     std::unique_ptr<buildd::LogArchive> archive();      // a working archive
//     std::unique_ptr<buildd::LogArchive> unavailable();  // one that cannot store
//     std::filesystem::path storage();  // the folder where objects rest as files
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Mine, LogArchiveConformance, MyContext);

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "buildd/conformance/archive_test_helpers.hpp"
#include "buildd/conformance/memory_library_store.hpp"
#include "buildd/conformance/scratch_dir.hpp"
#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/librarian.hpp"
#include "buildd/log_archive.hpp"

namespace buildd::test {

template <typename Context>
class LogArchiveConformance : public ::testing::Test {
 protected:
  LogArchiveConformance() : context_(scratch_.path() / "context") {}

  std::filesystem::path make_file(const std::string& name, const std::string& content) {
    auto path = scratch_.path() / name;
    write_file(path, content);
    return path;
  }

  // Regular files at rest under the archive's storage folder.
  std::size_t stored_objects() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(context_.storage()))
      if (e.is_regular_file()) ++n;
    return n;
  }
  // The inode of every object: a rewrite publishes a new inode.
  std::string fingerprint() {
    std::string out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(context_.storage()))
      if (e.is_regular_file())
        out += e.path().filename().string() + "@" +
               std::to_string(std::filesystem::hard_link_count(e.path())) + ":" +
               std::to_string(inode(e.path())) + " ";
    return out;
  }
  static std::uint64_t inode(const std::filesystem::path& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_ino;
  }

  TempDir scratch_;
  Context context_;
};

TYPED_TEST_SUITE_P(LogArchiveConformance);

TYPED_TEST_P(LogArchiveConformance, RoundTripKeepsBytesAndDigests) {
  auto archive = this->context_.archive();
  std::string content = "build log line 1\nbuild log line 2\n";
  content.push_back('\0');
  content += "binary tail \xff\xfe";
  auto source = this->make_file("log.txt", content);
  ContentDigest digest = digest_file(source);

  std::string locator = archive->put(digest, source);
  EXPECT_FALSE(locator.empty());
  EXPECT_TRUE(archive->contains(locator));
  auto in = archive->open(locator);
  ASSERT_TRUE(in);
  std::string back((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, content);
  EXPECT_EQ(sha256_hex(back), digest.sha256);
  EXPECT_EQ(sha1_hex(back), digest.sha1);
  EXPECT_EQ(this->stored_objects(), 1u);
}

TYPED_TEST_P(LogArchiveConformance, SameContentTwiceIsStoredOnce) {
  auto archive = this->context_.archive();
  auto a = this->make_file("a", "same bytes");
  auto b = this->make_file("b", "same bytes");
  auto first = archive->put(digest_file(a), a);
  auto after_first = this->fingerprint();
  auto second = archive->put(digest_file(b), b);
  EXPECT_EQ(first, second);
  EXPECT_EQ(this->stored_objects(), 1u);
  EXPECT_EQ(this->fingerprint(), after_first) << "the second put rewrote the object";

  auto c = this->make_file("c", "other bytes");
  EXPECT_NE(archive->put(digest_file(c), c), first);
  EXPECT_EQ(this->stored_objects(), 2u);
}

TYPED_TEST_P(LogArchiveConformance, ConcurrentPutsOfTheSameContent) {
  auto archive = this->context_.archive();
  std::string content(3 * 1024 * 1024 + 17, 'x');
  for (std::size_t i = 0; i < content.size(); i += 4096) content[i] = static_cast<char>(i / 4096);
  auto source = this->make_file("shared", content);
  ContentDigest digest = digest_file(source);

  constexpr int kThreads = 8;
  std::vector<std::string> locators(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        locators[t] = archive->put(digest, source);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    EXPECT_EQ(locators[t], locators[0]);
  }
  EXPECT_EQ(this->stored_objects(), 1u);
  auto in = archive->open(locators[0]);
  auto [sha256, size] = digest_stream(*in);
  EXPECT_EQ(sha256, digest.sha256);
  EXPECT_EQ(size, content.size());
}

TYPED_TEST_P(LogArchiveConformance, LargeFileIsStreamedInBoundedMemory) {
  constexpr std::uint64_t kSize = 100ull * 1024 * 1024 + 123;
  constexpr std::uint64_t kMaxGrowthKib = 32 * 1024;
  auto archive = this->context_.archive();
  auto source = this->scratch_.path() / "chroot.tar.gz";
  write_pseudo_random_file(source, kSize);
  ContentDigest digest = digest_file(source);

  std::uint64_t before = peak_rss_kib(true);
  std::string locator = archive->put(digest, source);
  auto in = archive->open(locator);
  auto [sha256, size] = digest_stream(*in);
  in.reset();
  std::uint64_t growth = peak_rss_kib() - before;

  EXPECT_EQ(size, kSize);
  EXPECT_EQ(sha256, digest.sha256);
  EXPECT_LT(growth, kMaxGrowthKib)
      << "peak RSS grew by " << growth << " KiB for a " << kSize / 1024 << " KiB file";
}

TYPED_TEST_P(LogArchiveConformance, MissingObjectIsNotRetryable) {
  auto archive = this->context_.archive();
  std::string locator =
      archive->put(digest_file(this->make_file("x", "x")), this->make_file("x", "x"));
  std::string absent = locator.substr(0, locator.size() - 64) + std::string(64, '0');
  EXPECT_FALSE(archive->contains(absent));
  try {
    archive->open(absent);
    FAIL() << "open() of an absent object returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kArchive);
    EXPECT_FALSE(e.retryable()) << e.what();
  }
}

TYPED_TEST_P(LogArchiveConformance, UnavailableArchiveFailsRetryably) {
  auto archive = this->context_.unavailable();
  auto source = this->make_file("log", "a log that cannot be stored now");
  try {
    archive->put(digest_file(source), source);
    FAIL() << "put() on an unavailable archive returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kArchive);
    EXPECT_TRUE(e.retryable()) << e.what();
  }
}

TYPED_TEST_P(LogArchiveConformance, LibrarianStoresOnceAndServesUrls) {
  auto archive = this->context_.archive();
  MemoryLibraryStore store;
  Librarian librarian(store, *archive, this->scratch_.path() / "librarian-tmp",
                      "http://master.example:8222/");
  LibraryFile first =
      librarian.store_bytes("chroot bytes", "chroot-sid-amd64.tar.gz", "application/gzip");
  LibraryFile again =
      librarian.store_bytes("chroot bytes", "chroot-sid-amd64.tar.gz", "application/gzip");
  EXPECT_EQ(first.id, again.id);
  EXPECT_EQ(store.record_count(), 1u);
  EXPECT_EQ(first.sha1, sha1_hex("chroot bytes"));
  EXPECT_EQ(first.sha256, sha256_hex("chroot bytes"));
  EXPECT_EQ(first.size, 12u);

  LibraryFile renamed =
      librarian.store_bytes("chroot bytes", "other-name.tar.gz", "application/gzip");
  EXPECT_NE(renamed.id, first.id);
  EXPECT_EQ(renamed.locator, first.locator);
  EXPECT_EQ(this->stored_objects(), 1u);

  auto in = librarian.open(renamed);
  std::string back((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, "chroot bytes");

  std::string url = librarian.url_for(first);
  if (auto public_url = archive->public_url(first.locator))
    EXPECT_EQ(url, *public_url);
  else
    EXPECT_EQ(url, "http://master.example:8222/+files/" + std::to_string(first.id) +
                       "/chroot-sid-amd64.tar.gz");
  EXPECT_TRUE(std::filesystem::is_empty(this->scratch_.path() / "librarian-tmp"))
      << "the librarian left temp files behind";
}

REGISTER_TYPED_TEST_SUITE_P(LogArchiveConformance, RoundTripKeepsBytesAndDigests,
                            SameContentTwiceIsStoredOnce, ConcurrentPutsOfTheSameContent,
                            LargeFileIsStreamedInBoundedMemory, MissingObjectIsNotRetryable,
                            UnavailableArchiveFailsRetryably, LibrarianStoresOnceAndServesUrls);

}  // namespace buildd::test
