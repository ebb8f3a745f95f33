// The master's config section read into MasterSettings (what `run` uses);
// refusals of bad values are tested through the real binary
// (core_commands_test.cpp).

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "buildd/config.hpp"
#include "runtime.hpp"

namespace buildd::test {
namespace {

using Args = std::map<std::string, std::string>;

TEST(MasterSettings, JobArgumentsForEveryArchReleaseAndTheirOwn) {
  const Config config = Config::parse(
      "master:\n"
      "  job_args: [\"*:archive_purpose=PRIMARY\", \"*:mirror=http://a\",\n"
      "             \"ubuntu/noble/amd64:mirror=http://b:8080/x?y=z\"]\n"
      "store: {plugin: soci-store, config: {backend: sqlite3, connection: /x.db}}\n"
      "slave_transport: {plugin: xmlrpc-slave}\n"
      "archive: {plugin: file-librarian, config: {root: /x}}\n",
      "/etc/buildd-master/buildd-master.yaml");
  const MasterSettings s = cli::master_settings_from(config.master());
  // The value is everything after the first '=' (':' and '=' included).
  EXPECT_EQ(s.job_args_for("ubuntu/noble/amd64"),
            (Args{{"archive_purpose", "PRIMARY"}, {"mirror", "http://b:8080/x?y=z"}}));
  EXPECT_EQ(s.job_args_for("ubuntu/noble/i386"),
            (Args{{"archive_purpose", "PRIMARY"}, {"mirror", "http://a"}}));
  EXPECT_TRUE(MasterSettings{}.job_args_for("ubuntu/noble/i386").empty());
}

}  // namespace
}  // namespace buildd::test
