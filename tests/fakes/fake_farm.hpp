#pragma once

// The smallest farm over the in-memory fakes, shared by the tests that run
// whole pipeline cycles: family x86 (processor 386), the arch release
// ubuntu/warty/i386 with a chroot in the real Librarian (on FakeArchive), and
// one builder "bob" whose scripted slave serves "the log" as its build log.
// Tests add their builds and build their BuilddMaster on top.

#include <memory>

#include "buildd/clock.hpp"
#include "buildd/librarian.hpp"
#include "fakes/fake_archive.hpp"
#include "fakes/fake_slave.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd::test {

struct FakeFarm {
  FakeFarm()
      : time_(TimePoint(std::chrono::seconds(1700000000))),
        librarian_(store_, archive_, tmp_.path() / "lib", "http://master.test") {
    store_.add_processor_family("x86", {"386"});
    chroot_ = librarian_.store_bytes("chroot", "chroot-warty-i386.tar.gz", "application/gzip");
    dar_ = store_.add_distro_arch_release({"ubuntu", "warty", "i386", "x86", chroot_.id, true});
    bob_ = store_.add_builder({"bob", "http://bob:8221", "386"});
    script_ = transport_.script("bob");
    script_->files["buildlog"] = "the log";
  }

  TempDir tmp_;
  ManualTimeSource time_;
  FakeStore store_;
  FakeArchive archive_;
  FakeTransport transport_;
  Librarian librarian_;
  LibraryFile chroot_;
  DistroArchRelease dar_;
  Builder bob_;
  std::shared_ptr<SlaveScript> script_;
};

}  // namespace buildd::test
