#pragma once

// Small network helpers shared by the demo, the benchmarks and the tests.

#include <cstdint>

#include "buildd/export.hpp"

namespace buildd {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice
// for port 0). Throws Error(kInternal) when no socket can be bound.
BUILDD_API std::uint16_t free_loopback_port();

}  // namespace buildd
