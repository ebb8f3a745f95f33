#pragma once

// How the master's process uses the C heap. Called once at the start of
// main(), before any thread exists (the CLI and the benchmark harness).

#include "buildd/export.hpp"

namespace buildd {

// Memory taken by a burst (a storm of large slave replies, a big page) goes
// back to the system once it is freed, instead of staying in the heap for the
// life of the daemon: blocks from 128 KiB up are mapped and unmapped on their
// own (glibc would otherwise raise that threshold up to 32 MiB after the first
// large free), and the poll workers share a few malloc arenas instead of up to
// eight per core, each holding its own free memory.
BUILDD_API void limit_heap_growth();

}  // namespace buildd
