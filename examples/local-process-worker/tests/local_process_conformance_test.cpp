// local-process under the SDK's SlaveTransport contract suite: each test gets
// a fresh slot in its own work folder, and example-build as the command.

#include <gtest/gtest.h>

#include <atomic>

#include "buildd/conformance/slave_transport_conformance.hpp"
#include "local_process_worker.hpp"

namespace {

using buildd::test::BuildOutcome;

struct LocalProcessContext {
  explicit LocalProcessContext(const std::filesystem::path& scratch)
      : work_dir_(scratch / "worker") {}

  std::shared_ptr<buildd::SlaveTransport> transport() {
    local_process_worker::Options o;
    o.work_dir = work_dir_;
    o.command = EXAMPLE_BUILD_COMMAND;
    o.arch_tag = arch_tag();
    o.max_logtail_bytes = 2048;
    o.download_timeout = 30;
    return std::make_shared<local_process_worker::LocalProcessTransport>(o);
  }
  buildd::Builder builder() {
    static std::atomic<int> slots{0};
    buildd::Builder b;
    b.id = 1;
    b.name = "slot-" + std::to_string(++slots);
    b.url = "local://" + b.name + "/";
    return b;
  }
  std::string foreign_url() { return "http://127.0.0.1:9/"; }
  std::string arch_tag() { return "amd64"; }
  // example-build reads the outcome from the source package's name.
  std::map<std::string, std::string> sources(BuildOutcome outcome) {
    const char* prefix = outcome == BuildOutcome::kOk            ? ""
                         : outcome == BuildOutcome::kPackageFail ? "fail-"
                                                                 : "slow-";
    return {{std::string(prefix) + "hello_1.0-1.dsc", "Source: hello\nVersion: 1.0-1\n"}};
  }

  std::filesystem::path work_dir_;
};

}  // namespace

namespace buildd::test {
INSTANTIATE_TYPED_TEST_SUITE_P(LocalProcess, SlaveTransportConformance, LocalProcessContext);
}  // namespace buildd::test
