#pragma once

// Options for the listening sockets of the HTTP servers (the master's
// embedded server and buildd-slave). TCP_NODELAY matters: cpp-httplib writes
// a response's headers and body in separate send() calls, and with Nagle's
// algorithm on, the body waits for the peer's delayed ACK — 40 ms per
// request on Linux. Accepted sockets inherit the option from the listener.

#include "buildd/export.hpp"

namespace buildd {

// SO_REUSEPORT (what cpp-httplib sets by default) plus TCP_NODELAY.
BUILDD_API void set_server_socket_options(int fd);

}  // namespace buildd
