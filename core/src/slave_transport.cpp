#include "buildd/slave_transport.hpp"

#include "buildd/error.hpp"

namespace buildd {

Slave::~Slave() = default;

LogRead Slave::read_log(std::uint64_t /*offset*/, std::size_t /*max_bytes*/) {
  throw Error(ErrorCategory::kRefused,
              "builder " + builder_name() + ": this worker cannot read its log from an offset");
}

FetchedFile Slave::fetch_to_file(const std::string& name, const std::filesystem::path& destination,
                                 std::uint64_t max_bytes) {
  std::error_code ignored;
  std::filesystem::remove(destination, ignored);
  ContentWriter file(destination, ContentWriter::Encoding::kAsIs);
  FetchedFile fetched = fetch_file(name, file, max_bytes);
  file.finish();
  file.keep();
  return fetched;
}

const char* to_string(BuilderState state) {
  switch (state) {
    case BuilderState::kIdle:
      return "IDLE";
    case BuilderState::kBuilding:
      return "BUILDING";
    case BuilderState::kWaiting:
      return "WAITING";
    case BuilderState::kAborting:
      return "ABORTING";
    case BuilderState::kAborted:
      return "ABORTED";
    case BuilderState::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

const char* to_string(BuildResult result) {
  switch (result) {
    case BuildResult::kNone:
      return "NONE";
    case BuildResult::kOk:
      return "OK";
    case BuildResult::kPackageFail:
      return "PACKAGEFAIL";
    case BuildResult::kDepFail:
      return "DEPFAIL";
    case BuildResult::kGivenBack:
      return "GIVENBACK";
    case BuildResult::kChrootFail:
      return "CHROOTFAIL";
    case BuildResult::kBuilderFail:
      return "BUILDERFAIL";
    case BuildResult::kAborted:
      return "ABORTED";
    case BuildResult::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::unique_ptr<Slave> SlaveTransport::open(const Builder& builder) {
  std::unique_ptr<Slave> slave = connect(builder);
  if (!slave)
    throw Error(ErrorCategory::kPlugin,
                "the slave transport plugin's connect() returned no "
                "connection for builder " +
                    builder.name);
  return slave;
}

SlaveTransportChain::SlaveTransportChain(std::vector<Member> members)
    : members_(std::move(members)) {}

std::unique_ptr<Slave> SlaveTransportChain::connect(const Builder& builder) {
  std::string refusals;
  for (const Member& m : members_) {
    try {
      return m.transport->open(builder);
    } catch (const Error& e) {
      refusals += (refusals.empty() ? "" : "; ") + m.name + ": " + e.message();
    }
  }
  throw Error(ErrorCategory::kProtocol,
              "no slave transport takes " + builder.url + " (" + refusals + ")");
}

}  // namespace buildd
