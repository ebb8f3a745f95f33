#pragma once

// Decoding of launchpad-buildd's replies (docs/protocol.md): the checks on a
// response body before xmlrpc-c parses it, the outcome of a call (result or
// Fault), and each method's result turned into the transport's types (status
// in its struct and 2005 array forms, filemaps, info, ensurepresent, build).
// Kept apart from the HTTP carriage so that the replies, which are untrusted,
// can be fed to these functions directly (unit tests, tests/fuzz).
//
// Errors: buildd::Error only. FaultError (kRefused, with its code) for a Fault;
// kProtocol for a body that XML-RPC never needs and for a result of the wrong
// shape; messages name the builder, the method and the field.
//
// Thread-safe (no state).

#include <cstdint>
#include <string>
#include <vector>

#include <xmlrpc-c/base.hpp>

#include "buildd/slave_transport.hpp"
#include "launchpad_slave.hpp"

namespace buildd::xmlrpc_slave {

// Throws kProtocol for a body that must not reach xmlrpc-c's parser, none of
// which XML-RPC or launchpad-buildd ever needs:
// - a DOCTYPE or an entity declaration: the parser xmlrpc-c bundles expands
//   entities (a 760-byte "billion laughs" kept it busy for seconds);
// - an <i8> element: xmlrpc-c 1.33 crashes (SIGSEGV while formatting its own
//   error message) on one that is not a valid 64-bit number, e.g. <i8>1x</i8>;
//   launchpad-buildd never sends one and no field of the protocol is an i8;
// - a NUL byte: XML never has one, and every UTF-16 body has one. The parser
//   reads UTF-16, where the two checks above, which read the bytes as ASCII,
//   would see nothing.
void refuse_unsafe_xml(const std::string& response_xml);

// The result of a parsed call, or FaultError for a Fault; `where` ("builder
// bob: status()") starts the message.
xmlrpc_c::value result_of(const xmlrpc_c::rpcOutcome& outcome, const std::string& where);

// Each method's result. `builder` names the slave in messages.
std::vector<std::string> decode_echo(const xmlrpc_c::value& result, const std::string& builder);
SlaveInfo decode_info(const xmlrpc_c::value& result, const std::string& builder);
// Either wire form; a longer log tail keeps its last `max_logtail_bytes` bytes.
SlaveStatus decode_status(const xmlrpc_c::value& result, const std::string& builder,
                          std::uint64_t max_logtail_bytes);
EnsurePresentResult decode_ensure_present(const xmlrpc_c::value& result,
                                          const std::string& builder);
BuildStartResult decode_build_start(const xmlrpc_c::value& result, const std::string& builder);
// readlog() (buildd-slave's extension): {"data": base64, "size": int >= 0}.
LogRead decode_readlog(const xmlrpc_c::value& result, const std::string& builder);
// abort() and clean(): a bare string.
std::string decode_text(const xmlrpc_c::value& result, const std::string& builder,
                        const char* method);

}  // namespace buildd::xmlrpc_slave
