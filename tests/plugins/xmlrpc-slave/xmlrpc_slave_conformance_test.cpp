// xmlrpc-slave against the project's launchpad-buildd double (bin/buildd-slave,
// one process per test): the SlaveTransport contract suite, the same one
// the SDK installs for vendors' transports.

#include <gtest/gtest.h>

#include "buildd/conformance/slave_transport_conformance.hpp"
#include "support/slave_process.hpp"
#include "xmlrpc_slave.hpp"

namespace buildd::test {
namespace {

struct XmlRpcSlaveContext {
  explicit XmlRpcSlaveContext(const std::filesystem::path&) {}

  std::shared_ptr<SlaveTransport> transport() {
    return std::make_shared<xmlrpc_slave::XmlRpcSlaveTransport>(xmlrpc_slave::default_options());
  }
  Builder builder() {
    Builder b;
    b.id = 1;
    b.name = "bob";
    b.url = slave_.base_url();
    return b;
  }
  std::string foreign_url() { return "local://slot-1/"; }
  std::string arch_tag() { return "amd64"; }
  // The double reads the outcome from the .dsc.
  std::map<std::string, std::string> sources(BuildOutcome outcome) {
    const char* how = outcome == BuildOutcome::kOk            ? "Outcome: ok\n"
                      : outcome == BuildOutcome::kPackageFail ? "Outcome: packagefail\n"
                                                              : "Outcome: ok\nDuration: 120\n";
    return {{"hello_1.0-1.dsc", std::string("Source: hello\nVersion: 1.0-1\n") + how}};
  }

  SlaveProcess slave_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(BuilddSlave, SlaveTransportConformance, XmlRpcSlaveContext);

}  // namespace
}  // namespace buildd::test
