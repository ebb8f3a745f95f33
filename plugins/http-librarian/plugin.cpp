// Registration of http-librarian; the implementation is http_librarian.cpp.

#include "buildd/plugin_entry.hpp"
#include "http_librarian.hpp"

namespace {

const buildd::ConfigKey kKeys[] = {
    {"base_url", buildd::ConfigType::kString, true, nullptr,
     "where objects are PUT and GET: <base_url>/<sha256[0:2]>/<sha256>"},
    {"public_base_url", buildd::ConfigType::kString, false, nullptr,
     "the same objects as slaves reach them (default: base_url)"},
    {"ca_file", buildd::ConfigType::kPath, false, nullptr,
     "CA bundle for https (default: the system's; https is always verified)"},
    {"basic_auth_env", buildd::ConfigType::kString, false, nullptr,
     "name of an environment variable holding user:password for Basic auth"},
    {"bearer_token_env", buildd::ConfigType::kString, false, nullptr,
     "name of an environment variable holding a Bearer token"},
    {"aws_sigv4", buildd::ConfigType::kString, false, nullptr,
     "sign requests with AWS SigV4, e.g. aws:amz:us-east-1:s3"},
    {"aws_access_key_env", buildd::ConfigType::kString, false, nullptr,
     "name of an environment variable holding the AWS access key id"},
    {"aws_secret_key_env", buildd::ConfigType::kString, false, nullptr,
     "name of an environment variable holding the AWS secret key"},
    {"timeout", buildd::ConfigType::kSeconds, false, "60",
     "abandon a transfer that moves no byte for this long"},
    {"connect_timeout", buildd::ConfigType::kSeconds, false, "10", "connection timeout"},
    {"temp_dir", buildd::ConfigType::kPath, false, nullptr,
     "where open() downloads objects (default: the system temp dir)"},
};

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
  buildd::HttpLibrarianOptions o;
  o.base_url = config.get_string("base_url");
  o.public_base_url = config.get_string_or("public_base_url", "");
  if (config.has("ca_file")) o.ca_file = config.get_path("ca_file");
  o.basic_auth_env = config.get_string_or("basic_auth_env", "");
  o.bearer_token_env = config.get_string_or("bearer_token_env", "");
  o.aws_sigv4 = config.get_string_or("aws_sigv4", "");
  o.aws_access_key_env = config.get_string_or("aws_access_key_env", "");
  o.aws_secret_key_env = config.get_string_or("aws_secret_key_env", "");
  o.timeout = std::chrono::duration<double>(config.get_seconds("timeout"));
  o.connect_timeout = std::chrono::duration<double>(config.get_seconds("connect_timeout"));
  if (config.has("temp_dir")) o.temp_dir = config.get_path("temp_dir");
  return std::make_unique<buildd::HttpLibrarian>(std::move(o));
}

const buildd::PluginDescriptor* descriptor() {
  static const auto d = buildd::make_descriptor(
      buildd::PluginKind::kLogArchive, "http-librarian", "0.1.0",
      "stores files on an HTTP server with PUT and GET (nginx WebDAV, S3 with SigV4)", kKeys,
      &create);
  return &d;
}

}  // namespace

BUILDD_PLUGIN_ENTRY_POINT(descriptor)
