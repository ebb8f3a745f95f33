#pragma once

// Small network helpers shared by the pipeline, the demo, the benchmarks and
// the tests.

#include <cstdint>
#include <string>

#include "buildd/export.hpp"

namespace buildd {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice
// for port 0). Throws Error(kInternal) when no socket can be bound.
BUILDD_API std::uint16_t free_loopback_port();

// This machine's host name ("localhost" when it cannot be read): the
// default master id, and the host part of a master's instance.
BUILDD_API std::string host_name();

}  // namespace buildd
