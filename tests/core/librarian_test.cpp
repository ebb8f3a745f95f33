// The librarian's own housekeeping (storing and serving files is covered by
// the archive conformance suites and the end-to-end tests).

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "buildd/compression.hpp"
#include "buildd/digest.hpp"
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

TEST(ContentWriter, GzipsAndHashesWhatItWritesInOnePass) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + " of the build log\n";
  {
    ContentWriter writer(dir / "log.gz", ContentWriter::Encoding::kGzip);
    for (std::size_t at = 0; at < text.size(); at += 7000)
      writer.write(text.data() + at, std::min<std::size_t>(7000, text.size() - at));
    const ContentDigest digest = writer.finish();
    writer.keep();
    EXPECT_EQ(writer.bytes_in(), text.size());
    const ContentDigest on_disk = digest_file(dir / "log.gz");
    EXPECT_EQ(digest.sha1, on_disk.sha1);
    EXPECT_EQ(digest.sha256, on_disk.sha256);
    EXPECT_EQ(digest.size, on_disk.size);
    EXPECT_LT(digest.size, text.size() / 4);
  }
  EXPECT_EQ(gunzip_string(read_file(dir / "log.gz")), text);

  {
    ContentWriter writer(dir / "as-is", ContentWriter::Encoding::kAsIs);
    writer.write("abc", 3);
    EXPECT_EQ(writer.finish().sha1, sha1_hex("abc"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "as-is")) << "not kept: removed";
  {
    ContentWriter writer(dir / "partial", ContentWriter::Encoding::kGzip);
    writer.write("half", 4);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "partial")) << "a failed transfer leaves nothing";
  write_file(dir / "taken", "x");
  EXPECT_THROW(ContentWriter(dir / "taken", ContentWriter::Encoding::kAsIs), Error);
  EXPECT_EQ(read_file(dir / "taken"), "x");
}

// ContentWriter keeps deflate states between writers and reuses them: each
// file is still a whole gzip member of its own content, also after a writer
// abandoned half-way and with a writer on another thread in between.
TEST(ContentWriter, EachFileIsItsOwnGzipWhenTheDeflateStateIsReused) {
  TempDir dir;
  auto gzip = [&](const std::string& name, const std::string& text, bool finish) {
    ContentWriter writer(dir / name, ContentWriter::Encoding::kGzip);
    writer.write(text.data(), text.size());
    if (!finish) return;
    writer.finish();
    writer.keep();
  };
  std::string big;
  for (int i = 0; i < 5000; ++i) big += "compiling part " + std::to_string(i) + "\n";
  gzip("first", big, true);
  gzip("abandoned", "never finished " + big, false);
  gzip("second", "a short log\n", true);
  std::thread other([&] { gzip("other-thread", "from another thread\n", true); });
  other.join();
  gzip("third", big + "the end\n", true);
  EXPECT_EQ(gunzip_string(read_file(dir / "first")), big);
  EXPECT_FALSE(std::filesystem::exists(dir / "abandoned"));
  EXPECT_EQ(gunzip_string(read_file(dir / "second")), "a short log\n");
  EXPECT_EQ(gunzip_string(read_file(dir / "other-thread")), "from another thread\n");
  EXPECT_EQ(gunzip_string(read_file(dir / "third")), big + "the end\n");
}

TEST(Librarian, StreamedFileIsRecordedOnceAndAFailedStreamLeavesNothing) {
  TempDir dir;
  FakeStore store;
  FakeArchive archive;
  Librarian librarian(store, archive, dir / "tmp", "http://master.test");
  const LibraryFile log = librarian.store_streamed(
      "buildlog.txt.gz", "application/gzip", ContentWriter::Encoding::kGzip, [](ByteSink& sink) {
        sink.write("first ", 6);
        sink.write("second\n", 7);
      });
  EXPECT_EQ(gunzip_string(archive.objects.at(log.locator)), "first second\n");
  EXPECT_EQ(log.sha256, sha256_hex(archive.objects.at(log.locator)));
  EXPECT_EQ(log.size, archive.objects.at(log.locator).size());

  EXPECT_THROW(librarian.store_streamed("other.deb", "application/octet-stream",
                                        ContentWriter::Encoding::kAsIs,
                                        [](ByteSink& sink) {
                                          sink.write("part", 4);
                                          throw Error(ErrorCategory::kTransport, "reset", true);
                                        }),
               Error);
  EXPECT_EQ(archive.objects.size(), 1u);
  EXPECT_FALSE(store.find_library_file_by_sha256(sha256_hex("part")));
  EXPECT_TRUE(std::filesystem::is_empty(dir / "tmp"));
}

// A plugin that hands back nothing (no locator, no stream) is reported as
// the plugin's error, naming the method; nothing is recorded.
TEST(Librarian, AnArchiveThatReturnsNothingIsAPluginError) {
  TempDir dir;
  FakeStore store;
  FakeArchive archive;
  Librarian librarian(store, archive, dir / "tmp", "http://master.test");
  const LibraryFile kept = librarian.store_bytes("kept", "kept.txt", "text/plain");
  archive.broken = true;
  try {
    librarian.store_bytes("lost", "lost.txt", "text/plain");
    ADD_FAILURE() << "a file without a locator was stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kPlugin);
    EXPECT_EQ(e.message(), "the log archive plugin's adopt() returned no locator for lost.txt");
  }
  EXPECT_FALSE(store.find_library_file_by_sha256(sha256_hex("lost")));
  try {
    librarian.open(kept);
    ADD_FAILURE() << "open() went on without a stream";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kPlugin);
    EXPECT_NE(e.message().find("open() returned no stream for kept.txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace buildd
