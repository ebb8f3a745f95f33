#pragma once

#include <string>

#include "buildd/export.hpp"

#define TEST_PLUGIN_GOOD 0
#define TEST_PLUGIN_NO_ENTRY_POINT 1
#define TEST_PLUGIN_ABI_MISMATCH 2
#define TEST_PLUGIN_WRONG_KIND 3
#define TEST_PLUGIN_THROWS 4
#define TEST_PLUGIN_WRONG_OBJECT 5
#define TEST_PLUGIN_INTERFACE_MISMATCH 6
#define TEST_PLUGIN_FINGERPRINT_MISMATCH 7

namespace buildd::test {

// A second interface of the good test plugin's object: proves that the object
// still works (its code is still mapped) after the loader is gone.
class BUILDD_API Greeter {
 public:
  virtual ~Greeter() = default;
  virtual std::string greet() const = 0;
};

}  // namespace buildd::test
