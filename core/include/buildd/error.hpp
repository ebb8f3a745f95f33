#pragma once

// One exception type for the whole project, with a category, a retryable flag
// and a context chain ("while collecting build 42 from bob: GET
// /filecache/ab12…: HTTP 404"). Plugins throw it from their objects' methods;
// it is exported from libbuildd-core.so so that its typeinfo is shared.

#include <stdexcept>
#include <string>

#include "buildd/export.hpp"

namespace buildd {

enum class ErrorCategory {
  kUsage,      // bad CLI arguments or operator input (exit code 2)
  kConfig,     // bad config file (exit code 2)
  kPlugin,     // a plugin could not be loaded or created
  kNotFound,   // a named record does not exist
  kConflict,   // a duplicate or a state that forbids the change
  kStore,      // the database failed
  kTransport,  // a slave could not be reached, timed out, reset the connection
  kRefused,    // a slave is up but refused the call (launchpad-buildd: an XML-RPC Fault)
  kProtocol,   // a slave answered with something of the wrong shape
  kArchive,    // the librarian failed (down, refused, disk full)
  kInternal,
};

BUILDD_API const char* category_name(ErrorCategory category);

class BUILDD_API Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, std::string message, bool retryable = false);

  ErrorCategory category() const noexcept { return category_; }
  // Retryable errors leave everything as it was: the caller may try again
  // later (next poll) and nothing is lost.
  bool retryable() const noexcept { return retryable_; }
  // Prepends "context: " to the message; returns *this for rethrowing.
  Error& add_context(const std::string& context);

  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorCategory category_;
  bool retryable_;
  std::string message_;
};

// Exit code of the CLI for an error of this category: 2 for usage, config and
// operator-input errors (kUsage, kConfig, kNotFound, kConflict), 1 otherwise.
BUILDD_API int exit_code_for(const Error& error);

}  // namespace buildd
