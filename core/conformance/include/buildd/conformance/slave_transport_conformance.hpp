#pragma once

// One conformance suite for the SlaveTransport contract (slave_transport.hpp),
// run against a transport and a worker it drives: the in-tree xmlrpc-slave
// against the project's launchpad-buildd double, and any vendor's transport.
// It drives the worker as the master does — probe, start (inputs by URL and
// SHA-1), status, the result files, abort, clean — and ends each test by
// asking whether the worker is IDLE again. A transport's test instantiates it with a Context:
//
//   struct MyContext {
//     explicit MyContext(const std::filesystem::path& scratch);
//     std::shared_ptr<buildd::SlaveTransport> transport();
//     // A builder whose worker is IDLE and serves only this test.
//     buildd::Builder builder();
//     // A URL the transport does not serve (connect() must throw).
//     std::string foreign_url();
//     std::string arch_tag();  // what the worker's probe() reports
//     // The source files (name -> content) of a build with this outcome.
//     std::map<std::string, std::string> sources(buildd::test::BuildOutcome outcome);
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Mine, SlaveTransportConformance, MyContext);
//
// The suite serves the inputs itself, over HTTP on 127.0.0.1 (the core's
// HttpServer), so the worker must be able to download from there.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "buildd/conformance/scratch_dir.hpp"
#include "buildd/content_writer.hpp"
#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/http_server.hpp"
#include "buildd/slave_transport.hpp"

namespace buildd::test {

enum class BuildOutcome {
  kOk,               // WAITING, OK, at least one result file
  kPackageFail,      // WAITING, PACKAGEFAIL
  kRunsUntilAborted  // BUILDING for at least a minute unless aborted
};

// Bytes fetched from a worker, kept in memory.
class StringSink : public ByteSink {
 public:
  void write(const char* data, std::size_t size) override { bytes.append(data, size); }
  std::string bytes;
};

template <typename Context>
class SlaveTransportConformance : public ::testing::Test {
 protected:
  SlaveTransportConformance() : context_(scratch_.path()) {}

  void SetUp() override {
    server_ = std::make_unique<HttpServer>("127.0.0.1:0");
    server_->add_route("/files/([0-9a-f]{40})", [this](const HttpRequest& request) {
      std::lock_guard lock(files_mutex_);
      auto it = files_.find(request.matches[1]);
      if (it == files_.end()) return HttpResponse::text(404, "no such file");
      HttpResponse r = HttpResponse::text(200, it->second);
      r.content_type = "application/octet-stream";
      return r;
    });
    server_->start();
    transport_ = context_.transport();
    builder_ = context_.builder();
    slave_ = transport_->open(builder_);
  }

  void TearDown() override {
    // Whatever a test left behind is aborted and cleaned: the next test, and
    // the worker's owner, get an IDLE worker.
    if (!slave_) return;
    try {
      SlaveStatus s = slave_->status();
      if (s.state == BuilderState::kBuilding) slave_->abort();
      s = wait_until_not({BuilderState::kBuilding, BuilderState::kAborting});
      if (s.state != BuilderState::kIdle) slave_->clean();
    } catch (const std::exception&) {
    }
  }

  // Serves `content` at a URL of the suite's server; its SHA-1.
  std::string serve(const std::string& content) {
    const std::string sha1 = sha1_hex(content);
    std::lock_guard lock(files_mutex_);
    files_[sha1] = content;
    return sha1;
  }
  std::string url_of(const std::string& sha1) const {
    return server_->base_url() + "/files/" + sha1;
  }

  // status() until its state is none of `states` (at most `timeout`).
  SlaveStatus wait_until_not(const std::vector<BuilderState>& states,
                             std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      SlaveStatus s = slave_->status();
      bool waiting = false;
      for (BuilderState state : states) waiting = waiting || s.state == state;
      if (!waiting || std::chrono::steady_clock::now() > deadline) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // The job of a build of `outcome`, its chroot and sources served by the
  // suite: what the master dispatches.
  JobSpec job_of(BuildOutcome outcome, const std::string& job_id) {
    JobSpec job;
    job.job_id = job_id;
    const std::string chroot = serve("chroot of the conformance suite " + job_id);
    job.chroot = {"chroot.tar.gz", chroot, url_of(chroot)};
    for (const auto& [name, content] : context_.sources(outcome)) {
      const std::string sha1 = serve(content);
      job.sources.push_back({name, sha1, url_of(sha1)});
    }
    job.source_name = "hello";
    job.source_version = "1.0-1";
    job.release = "noble";
    job.pocket = "release";
    job.component = "main";
    job.arch_tag = context_.arch_tag();
    job.arch_indep = true;
    return job;
  }

  StartResult start(BuildOutcome outcome, const std::string& job_id) {
    return slave_->start(job_of(outcome, job_id));
  }

  // start(), then status() until the build ends: the WAITING status, having
  // checked that build() answered BUILDING and that the worker kept the id.
  SlaveStatus build_to_end(BuildOutcome outcome, const std::string& build_id) {
    StartResult r = start(outcome, build_id);
    EXPECT_TRUE(r.started) << r.not_now;
    SlaveStatus s = wait_until_not({BuilderState::kBuilding});
    EXPECT_EQ(s.state, BuilderState::kWaiting) << s.state_text;
    EXPECT_EQ(s.build_id, build_id);
    return s;
  }

  // Cleans a WAITING worker and checks that it is IDLE and usable.
  void clean_and_expect_idle() {
    slave_->clean();
    SlaveStatus s = wait_until_not({BuilderState::kWaiting, BuilderState::kAborted});
    EXPECT_EQ(s.state, BuilderState::kIdle) << s.state_text;
    EXPECT_EQ(s.build_id, "");
  }

  TempDir scratch_;
  Context context_;
  std::unique_ptr<HttpServer> server_;
  std::mutex files_mutex_;
  std::map<std::string, std::string> files_;
  std::shared_ptr<SlaveTransport> transport_;
  Builder builder_;
  std::unique_ptr<Slave> slave_;
};

TYPED_TEST_SUITE_P(SlaveTransportConformance);

TYPED_TEST_P(SlaveTransportConformance, ConnectRefusesAUrlItDoesNotServe) {
  Builder foreign = this->builder_;
  foreign.url = this->context_.foreign_url();
  EXPECT_THROW(this->transport_->open(foreign), Error);
}

TYPED_TEST_P(SlaveTransportConformance, AFreshWorkerIsIdleAndProbesWithItsArch) {
  SlaveStatus s = this->slave_->status();
  EXPECT_EQ(s.state, BuilderState::kIdle) << s.state_text;
  EXPECT_EQ(s.build_id, "");
  WorkerInfo info = this->slave_->probe();
  EXPECT_EQ(info.arch_tag, this->context_.arch_tag());
  EXPECT_FALSE(info.protocol.empty()) << "probe() does not say what the worker speaks";
  EXPECT_EQ(this->slave_->builder_name(), this->builder_.name);
}

TYPED_TEST_P(SlaveTransportConformance, AnInputWithTheWrongDigestIsRefusedAndLeavesItIdle) {
  JobSpec job = this->job_of(BuildOutcome::kOk, "5-9");
  ASSERT_FALSE(job.sources.empty());
  // The URL serves bytes whose SHA-1 is not the one the job names.
  const std::string wrong = sha1_hex("bytes never served");
  {
    std::lock_guard lock(this->files_mutex_);
    this->files_[wrong] = "other bytes";
  }
  job.sources.front().sha1 = wrong;
  job.sources.front().url = this->url_of(wrong);
  EXPECT_THROW(this->slave_->start(job), Error) << "a source with the wrong SHA-1 was taken";
  SlaveStatus s = this->slave_->status();
  EXPECT_EQ(s.state, BuilderState::kIdle) << s.state_text;
  EXPECT_EQ(s.build_id, "");
  // The worker is usable: the same build with the right bytes runs.
  s = this->build_to_end(BuildOutcome::kOk, "5-10");
  EXPECT_EQ(s.result, BuildResult::kOk) << s.result_text;
  this->clean_and_expect_idle();
}

TYPED_TEST_P(SlaveTransportConformance, AnInputThatCannotBeFetchedIsRefusedAndLeavesItIdle) {
  JobSpec job = this->job_of(BuildOutcome::kOk, "6-9");
  const std::string never_served = sha1_hex("a chroot nobody serves");
  job.chroot = {"chroot.tar.gz", never_served, this->url_of(never_served)};
  EXPECT_THROW(this->slave_->start(job), Error) << "a chroot the URL does not serve was taken";
  SlaveStatus s = this->slave_->status();
  EXPECT_EQ(s.state, BuilderState::kIdle) << s.state_text;
  EXPECT_EQ(s.build_id, "");
}

TYPED_TEST_P(SlaveTransportConformance, ASuccessfulBuildEndsWaitingOkWithItsFiles) {
  SlaveStatus s = this->build_to_end(BuildOutcome::kOk, "7-11");
  ASSERT_EQ(s.result, BuildResult::kOk) << s.result_text;
  ASSERT_FALSE(s.filemap.empty()) << "an OK build with no result file";
  for (const auto& [name, sha1] : s.filemap) {
    StringSink sink;
    FetchedFile fetched = this->slave_->fetch_file(sha1, sink, 1ull << 30);
    EXPECT_EQ(fetched.sha1, sha1) << name;
    EXPECT_EQ(sha1_hex(sink.bytes), sha1) << name;
    EXPECT_EQ(fetched.size, sink.bytes.size()) << name;
  }
  StringSink log;
  this->slave_->fetch_file("buildlog", log, 1ull << 30);
  EXPECT_FALSE(log.bytes.empty()) << "no build log";
  this->clean_and_expect_idle();
}

TYPED_TEST_P(SlaveTransportConformance, AFailedBuildEndsWaitingPackageFail) {
  SlaveStatus s = this->build_to_end(BuildOutcome::kPackageFail, "8-12");
  EXPECT_EQ(s.result, BuildResult::kPackageFail) << s.result_text;
  this->clean_and_expect_idle();
}

TYPED_TEST_P(SlaveTransportConformance, AbortEndsARunningBuildAborted) {
  StartResult r = this->start(BuildOutcome::kRunsUntilAborted, "9-13");
  ASSERT_TRUE(r.started) << r.not_now;
  SlaveStatus s = this->slave_->status();
  EXPECT_EQ(s.state, BuilderState::kBuilding) << s.state_text;
  EXPECT_EQ(s.build_id, "9-13");
  this->slave_->abort();
  s = this->wait_until_not({BuilderState::kBuilding, BuilderState::kAborting});
  // Modern slaves end an abort WAITING with the result ABORTED; 2005 ones ABORTED.
  EXPECT_TRUE(s.state == BuilderState::kAborted ||
              (s.state == BuilderState::kWaiting && s.result == BuildResult::kAborted))
      << s.state_text << " " << s.result_text;
  this->clean_and_expect_idle();
}

TYPED_TEST_P(SlaveTransportConformance, CallsOutOfTurnAreRefusedWithoutHarm) {
  EXPECT_THROW(this->slave_->abort(), Error) << "abort() of an IDLE worker";
  EXPECT_EQ(this->slave_->status().state, BuilderState::kIdle);
  StartResult r = this->start(BuildOutcome::kRunsUntilAborted, "10-14");
  ASSERT_TRUE(r.started) << r.not_now;
  EXPECT_THROW(this->slave_->clean(), Error) << "clean() of a BUILDING worker";
  SlaveStatus s = this->slave_->status();
  EXPECT_EQ(s.state, BuilderState::kBuilding) << "clean() stopped the build: " << s.state_text;
  EXPECT_EQ(s.build_id, "10-14");
  // A second job for a busy worker is not started (not now, or refused), and
  // the running one goes on under its own id.
  try {
    EXPECT_FALSE(this->start(BuildOutcome::kOk, "10-15").started);
  } catch (const Error&) {
  }
  s = this->slave_->status();
  EXPECT_EQ(s.state, BuilderState::kBuilding) << "start() stopped the build: " << s.state_text;
  EXPECT_EQ(s.build_id, "10-14");
}

TYPED_TEST_P(SlaveTransportConformance, FetchEnforcesTheSizeLimitAndRefusesUnknownFiles) {
  SlaveStatus s = this->build_to_end(BuildOutcome::kOk, "11-15");
  ASSERT_EQ(s.result, BuildResult::kOk) << s.result_text;
  ASSERT_FALSE(s.filemap.empty());
  const std::string sha1 = s.filemap.begin()->second;
  StringSink whole;
  const std::uint64_t size = this->slave_->fetch_file(sha1, whole, 1ull << 30).size;
  ASSERT_GT(size, 0u);
  StringSink cut;
  try {
    this->slave_->fetch_file(sha1, cut, size - 1);
    ADD_FAILURE() << "a file larger than max_bytes was fetched";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kProtocol) << e.what();
  }
  StringSink none;
  EXPECT_THROW(this->slave_->fetch_file(std::string(40, '0'), none, 1ull << 30), Error);
  this->clean_and_expect_idle();
}

// A worker whose probe() offers reads_log_from_offset reads its running
// build's log from any offset, within its answer's promises (no more than
// asked, within the log's size, the same bytes from a later offset); one
// that does not refuses read_log().
TYPED_TEST_P(SlaveTransportConformance, ReadingTheLogFromAnOffsetIsConsistentOrRefused) {
  const WorkerInfo info = this->slave_->probe();
  if (!info.reads_log_from_offset) {
    EXPECT_THROW(this->slave_->read_log(0, 100), Error);
    return;
  }
  StartResult r = this->start(BuildOutcome::kRunsUntilAborted, "12-16");
  ASSERT_TRUE(r.started) << r.not_now;
  LogRead whole;
  for (int tries = 0; tries < 100 && whole.bytes.size() < 2; ++tries) {
    whole = this->slave_->read_log(0, 1 << 20);
    if (whole.bytes.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(whole.bytes.size(), 2u) << "a running build that logs nothing";
  EXPECT_LE(whole.bytes.size(), whole.log_size);
  const LogRead part = this->slave_->read_log(1, 1);
  EXPECT_EQ(part.bytes, whole.bytes.substr(1, 1));
  EXPECT_GE(part.log_size, whole.log_size) << "a log only grows";
  EXPECT_EQ(this->slave_->read_log(part.log_size + 1000, 10).bytes, "");
  this->slave_->abort();
  this->wait_until_not({BuilderState::kBuilding, BuilderState::kAborting});
  this->clean_and_expect_idle();
}

REGISTER_TYPED_TEST_SUITE_P(SlaveTransportConformance, ConnectRefusesAUrlItDoesNotServe,
                            AFreshWorkerIsIdleAndProbesWithItsArch,
                            AnInputWithTheWrongDigestIsRefusedAndLeavesItIdle,
                            AnInputThatCannotBeFetchedIsRefusedAndLeavesItIdle,
                            ASuccessfulBuildEndsWaitingOkWithItsFiles,
                            AFailedBuildEndsWaitingPackageFail, AbortEndsARunningBuildAborted,
                            CallsOutOfTurnAreRefusedWithoutHarm,
                            FetchEnforcesTheSizeLimitAndRefusesUnknownFiles,
                            ReadingTheLogFromAnOffsetIsConsistentOrRefused);

}  // namespace buildd::test
