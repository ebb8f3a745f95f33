#pragma once

// The XML-RPC face of one builder: an xmlrpc-c registry holding the
// launchpad-buildd methods (echo, info, status, ensurepresent, build, abort,
// clean, proxy_info) of the builder's protocol generation.
//
// Threading: handle() may be called from many threads at once (the registry
// is read-only after construction; the Builder locks its own state).
// Errors: never throws; every failure becomes an XML-RPC fault with
// launchpad-buildd's codes (8001 unknown procedure, 8002 anything else).

#include <string>

#include <xmlrpc-c/registry.hpp>

#include "builder.hpp"
#include "faults.hpp"

namespace buildd::slave {

class RpcEndpoint {
 public:
  RpcEndpoint(Builder& builder, const BuilderFaults& faults, int index);
  RpcEndpoint(const RpcEndpoint&) = delete;
  RpcEndpoint& operator=(const RpcEndpoint&) = delete;

  // The response document for one request body.
  std::string handle(const std::string& body) const;

  // A fault response document.
  static std::string fault_response(int code, const std::string& text);

 private:
  xmlrpc_c::registry registry_;
};

}  // namespace buildd::slave
