#pragma once

// The domain records: plain values, copied freely, no behaviour beyond small
// helpers. They mirror the store's tables (see docs in DESIGN.md, "Data model").

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "buildd/build_state.hpp"
#include "buildd/export.hpp"

namespace buildd {

using Id = std::int64_t;
using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::microseconds;

struct ProcessorFamily {
  Id id = 0;
  std::string name;  // "x86"
};

struct Processor {
  Id id = 0;
  Id family_id = 0;
  std::string name;  // "386", "amd64"
};

// A distribution release for one architecture ("ubuntu/warty/i386"). Builds of
// it run on builders of its processor family, inside its chroot.
struct DistroArchRelease {
  Id id = 0;
  std::string distribution;  // "ubuntu"
  std::string release;       // "warty"
  std::string arch_tag;      // "i386"
  Id family_id = 0;
  std::optional<Id> chroot_file_id;  // a library file; none means "not buildable"
  bool official = true;

  // "ubuntu/warty/i386", the form the CLI takes and the messages print.
  BUILDD_API std::string display_name() const;
};

struct Builder {
  Id id = 0;
  std::string name;
  std::string url;  // base URL; the transport joins "rpc" and "filecache/..."
  Id processor_id = 0;
  Id family_id = 0;  // derived from the processor, loaded with the row
  bool builderok = true;
  std::string failnotes;
  std::optional<TimePoint> disabled_at;  // when builderok last went false; null while OK
  bool manual = false;                   // results are collected, nothing is dispatched to it
  bool virtualized = false;
  int speed_index = 0;
  int failure_count = 0;  // consecutive failures (modern Launchpad §2.3)
  // What the master last saw of the slave ("IDLE", "BUILDING 5-12",
  // "WAITING OK 5-12", "unreachable: …", "" before the first poll) and since
  // when it has been so. Written by the pipeline on every change, read by
  // the pages and `builder show`.
  std::string slave_state;
  std::optional<TimePoint> slave_state_since;
};

struct Build {
  Id id = 0;
  std::string source_name;
  std::string source_version;
  Id distro_arch_release_id = 0;
  BuildState state = BuildState::kNeedsBuild;
  TimePoint created{};
  std::optional<TimePoint> started;  // dispatch time of the current/last attempt
  std::optional<TimePoint> built;    // "datebuilt"
  std::optional<Duration> duration;  // "buildduration"
  std::optional<Id> builder_id;
  std::optional<Id> buildlog_id;  // library file of the gzipped log
  std::string dependencies;       // from a DEPFAIL
  int failure_count = 0;
  int give_back_count = 0;
  std::string component = "main";
  std::string pocket = "release";
  std::string urgency = "medium";
  // Who asked for the build ("primary", a PPA, a rebuild): what a fair-share
  // scheduler shares the builders between.
  std::string archive = "primary";
};

struct BuildQueueEntry {
  Id id = 0;
  Id build_id = 0;
  std::optional<Id> builder_id;  // null while waiting
  std::optional<TimePoint> buildstart;
  std::string logtail;
  int score = 0;        // "lastscore"; higher is dispatched first
  bool manual = false;  // score pinned by an operator
  TimePoint created{};
  std::optional<TimePoint> abort_sent;  // when abort() was sent for a cancel
  int attempt = 0;                      // dispatch attempts of this entry: claim() counts them
  // Bytes of the running build's whole log kept in the store so far (its
  // live log, BuildStore::live_log): 0 unless the worker reads its log from
  // an offset.
  std::uint64_t live_log_size = 0;
};

struct LibraryFile {
  Id id = 0;
  std::string filename;
  std::uint64_t size = 0;
  std::string sha1;    // 40 lowercase hex: the key of a slave's file cache
  std::string sha256;  // 64 lowercase hex: the key of the archive
  std::string mime;
  std::string locator;  // where the archive keeps the bytes (plugin-defined)
  TimePoint created{};
};

// A source (input) or result (output) file of a build, under the name the
// slave sees it by.
struct BuildFile {
  std::string filename;
  LibraryFile file;
};

// The cookie sent to build() and expected back in status(): "<build>-<queue>"
// for the first dispatch attempt, as the 2005 master did, and
// "<build>-<queue>-<attempt>" for the later ones. A fresh cookie per attempt
// keeps a killed attempt's leftovers on a restarted slave from wedging it
// (protocol.md, "A slave restarted in the middle of a build").
BUILDD_API std::string build_cookie(Id build_id, Id queue_id, int attempt = 1);

// Result file names come from slaves (untrusted). A safe name is 1..255 bytes,
// has no '/', no NUL or other control character, and is not "." or "..", nor
// contains "..".
BUILDD_API bool is_safe_result_filename(std::string_view name);

// Names people type (the CLI), checked before anything is stored. Each throws
// Error(kUsage) saying what is wrong and what is allowed; the offending text
// is quoted, cut to 60 characters and with control characters escaped.
//
// A source package name, Debian Policy 5.6.1: at least two characters of
// lowercase letters, digits, '+', '-' and '.', starting with a letter or a
// digit; at most 200 here.
BUILDD_API void check_source_name(std::string_view name);
// A version, Debian Policy 5.6.12: [epoch:]upstream_version[-debian_revision];
// the epoch is digits, the upstream version starts with a digit and holds
// letters, digits, '.', '+', '~' (and '-' only when there is a revision), the
// revision letters, digits, '.', '+' and '~'. At most 200 characters.
BUILDD_API void check_source_version(std::string_view version);
// Builder, processor family, processor, distribution, release, arch, archive and
// component names: 1 to 64 characters of letters, digits, '.', '_', '+' and
// '-', starting with a letter or a digit. `what` names the thing in the
// message ("builder name").
BUILDD_API void check_object_name(std::string_view what, std::string_view name);
// Free text a person attaches (a disable reason): 1 to 1,000 characters, no
// control characters but tab.
BUILDD_API void check_free_text(std::string_view what, std::string_view text);

}  // namespace buildd
