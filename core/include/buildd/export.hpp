#pragma once

// Symbols of libbuildd-core.so that the executable, the plugins and the tests
// use. Everything else stays hidden (-fvisibility=hidden), so the core's ABI is
// exactly what is marked here. Types thrown or dynamic_cast across a plugin
// boundary must be marked too, so that their typeinfo is one and the same.
#define BUILDD_API __attribute__((visibility("default")))
