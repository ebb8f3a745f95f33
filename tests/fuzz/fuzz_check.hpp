#pragma once

// FUZZ_CHECK(condition): an oracle of a harness. A broken one is a finding:
// it names the condition and the line, then aborts so that libFuzzer keeps
// the input.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                            \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
