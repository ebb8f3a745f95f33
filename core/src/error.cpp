#include "buildd/error.hpp"

#include <utility>

namespace buildd {

const char* category_name(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kUsage:
      return "usage";
    case ErrorCategory::kConfig:
      return "config";
    case ErrorCategory::kPlugin:
      return "plugin";
    case ErrorCategory::kNotFound:
      return "not-found";
    case ErrorCategory::kConflict:
      return "conflict";
    case ErrorCategory::kStore:
      return "store";
    case ErrorCategory::kTransport:
      return "transport";
    case ErrorCategory::kRefused:
      return "refused";
    case ErrorCategory::kProtocol:
      return "protocol";
    case ErrorCategory::kArchive:
      return "archive";
    case ErrorCategory::kInternal:
      return "internal";
  }
  return "unknown";
}

Error::Error(ErrorCategory category, std::string message, bool retryable)
    : std::runtime_error(message),
      category_(category),
      retryable_(retryable),
      message_(std::move(message)) {}

Error& Error::add_context(const std::string& context) {
  message_ = context + ": " + message_;
  return *this;
}

int exit_code_for(const Error& error) {
  switch (error.category()) {
    case ErrorCategory::kUsage:
    case ErrorCategory::kConfig:
    case ErrorCategory::kNotFound:
    case ErrorCategory::kConflict:
      return 2;
    default:
      return 1;
  }
}

}  // namespace buildd
