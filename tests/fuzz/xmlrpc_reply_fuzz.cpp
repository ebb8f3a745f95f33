// Fuzzes what the master does with a slave's XML-RPC reply body: the refusal
// of bodies xmlrpc-c must not parse (a DOCTYPE, an <i8>, a NUL byte),
// xmlrpc-c's parse (as xmlrpc_c::client_xml runs it on the body the carriage
// returns), the Fault check, every method's decoding (status in its struct
// and 2005 array forms, filemaps, info, echo, ensurepresent, build,
// abort/clean) and the scan's decisions on the decoded status.
//
// Expected refusals are buildd::Error (kProtocol, kRefused) and girerr::error
// from xmlrpc-c's parser (which the transport reports as kProtocol); anything
// else escaping, a broken invariant, a crash or a sanitizer report is a
// finding.

#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/girerr.hpp>
#include <xmlrpc-c/xml.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "buildd/digest.hpp"
#include "buildd/error.hpp"
#include "buildd/pipeline/decisions.hpp"
#include "fuzz_check.hpp"
#include "reply.hpp"

namespace {

using namespace buildd;
using namespace buildd::xmlrpc_slave;

// Small, so that inputs reach the cut.
constexpr std::uint64_t kMaxLogtail = 64;

template <typename Decode>
void expect_error_or_value(Decode decode) {
  try {
    decode();
  } catch (const Error& error) {
    FUZZ_CHECK(error.category() == ErrorCategory::kProtocol);
  }
}

void exercise_status(const xmlrpc_c::value& result) {
  SlaveStatus status;
  try {
    status = decode_status(result, "fuzz", kMaxLogtail);
  } catch (const Error& error) {
    FUZZ_CHECK(error.category() == ErrorCategory::kProtocol);
    return;
  }
  FUZZ_CHECK(status.logtail.size() <= kMaxLogtail);
  FUZZ_CHECK(!status.log_size || status.logtail.size() <= *status.log_size);
  for (const auto& [name, sha1] : status.filemap) FUZZ_CHECK(is_sha1_hex(sha1));
  FUZZ_CHECK((status.state == BuilderState::kUnknown) ==
             (status.state_text != "BuilderStatus.IDLE" &&
              status.state_text != "BuilderStatus.BUILDING" &&
              status.state_text != "BuilderStatus.WAITING" &&
              status.state_text != "BuilderStatus.ABORTING" &&
              status.state_text != "BuilderStatus.ABORTED"));

  // What the pipeline does with it next.
  JobView job;
  job.build_id = 5;
  job.queue_id = 12;
  const MasterSettings settings;
  (void)decide_scan(job, status, settings, TimePoint{});
  (void)decide_reconcile(status);
  (void)describe_slave_state(status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    refuse_unsafe_xml(body);
  } catch (const Error& error) {
    FUZZ_CHECK(error.category() == ErrorCategory::kProtocol);
    return 0;
  }
  xmlrpc_c::rpcOutcome outcome;
  try {
    xmlrpc_c::xml::parseResponse(body, &outcome);
  } catch (const girerr::error&) {
    return 0;  // not an XML-RPC response
  }
  xmlrpc_c::value result;
  try {
    result = result_of(outcome, "builder fuzz: status()");
  } catch (const Error& error) {
    FUZZ_CHECK(error.category() == ErrorCategory::kRefused ||
               error.category() == ErrorCategory::kProtocol);
    FUZZ_CHECK(error.category() != ErrorCategory::kRefused || !outcome.succeeded());
    return 0;
  }
  exercise_status(result);
  expect_error_or_value([&] { (void)decode_echo(result, "fuzz"); });
  expect_error_or_value([&] { (void)decode_info(result, "fuzz"); });
  expect_error_or_value([&] { (void)decode_ensure_present(result, "fuzz"); });
  expect_error_or_value([&] { (void)decode_build_start(result, "fuzz"); });
  expect_error_or_value([&] { (void)decode_text(result, "fuzz", "clean"); });
  expect_error_or_value([&] {
    const LogRead read = decode_readlog(result, "fuzz");
    FUZZ_CHECK(read.log_size <= 0x7fffffff);  // never a negative size read as huge
  });
  return 0;
}
