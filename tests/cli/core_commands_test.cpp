// The command line's own commands (--help, --version, plugins list, config
// check) and the shipped configurations in etc/, through the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace buildd::test {
namespace {

CommandResult master(const std::vector<std::string>& args) {
  return run_command(executable("buildd-master"), args);
}

TEST(CoreCommands, HelpListsEveryCommandGroup) {
  CommandResult r = master({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* command : {"plugins list", "config check", "db upgrade", "builder add",
                              "build add", "queue list", "scan-once", "run", "demo"})
    EXPECT_NE(r.out.find(command), std::string::npos) << command;
  // No command at all is a usage error, with the help on stderr.
  CommandResult none = master({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("Usage:"), std::string::npos);
}

TEST(CoreCommands, CommandHelpShowsItsOptions) {
  CommandResult r = master({"builder", "add", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--processor"), std::string::npos) << r.out;
}

TEST(CoreCommands, UnknownCommandAndBadOptionAreUsageErrors) {
  CommandResult unknown = master({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
  CommandResult bad = master({"plugins", "list", "--colour"});
  EXPECT_EQ(bad.exit_code, 2);
  CommandResult level = master({"--log-level", "loud", "plugins", "list"});
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_NE(level.err.find("unknown log level 'loud'"), std::string::npos) << level.err;
}

TEST(CoreCommands, Version) {
  CommandResult r = master({"--version"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("buildd-master ", 0), 0u) << r.out;
}

TEST(CoreCommands, PluginsListShowsTheFourInTreePlugins) {
  CommandResult r =
      master({"--config", "/nonexistent.yaml", "plugins", "list", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto plugins = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> kinds;
  for (const auto& p : plugins) kinds[p["name"]] = p["kind"];
  EXPECT_EQ(kinds["soci-store"], "store");
  EXPECT_EQ(kinds["xmlrpc-slave"], "slave-transport");
  EXPECT_EQ(kinds["file-librarian"], "log-archive");
  EXPECT_EQ(kinds["http-librarian"], "log-archive");
  EXPECT_EQ(kinds["fair-share-scheduler"], "scheduler");
  CommandResult text = master({"plugins", "list"});
  EXPECT_NE(text.out.find("NAME"), std::string::npos);
}

TEST(CoreCommands, ShippedConfigsPassConfigCheck) {
  for (const char* file : {"etc/buildd-master.yaml", "etc/embedded.yaml"}) {
    CommandResult r = master({"--config", (source_dir() / file).string(), "config", "check"});
    EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
    EXPECT_NE(r.out.find("config OK"), std::string::npos) << r.out;
  }
}

TEST(CoreCommands, EveryPluginExampleValidatesAgainstItsPlugin) {
  // Each example holds one section; the others come from the embedded default.
  const std::map<std::string, std::string> defaults = {
      {"store", "store:\n  plugin: soci-store\n  config: {backend: sqlite3, connection: /x.db}\n"},
      {"slave_transport", "slave_transport:\n  plugin: xmlrpc-slave\n"},
      {"archive", "archive:\n  plugin: file-librarian\n  config: {root: /x}\n"}};
  TempDir dir;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "etc" / "examples")) {
    std::string text = read_file(entry.path());
    for (const auto& [section, yaml] : defaults)
      if (text.find("\n" + section + ":") == std::string::npos && text.rfind(section + ":", 0) != 0)
        text += yaml;
    write_file(dir / "config.yaml", text);
    CommandResult r = master({"--config", (dir / "config.yaml").string(), "config", "check"});
    EXPECT_EQ(r.exit_code, 0) << entry.path() << ": " << r.err;
  }
}

TEST(CoreCommands, ConfigCheckNamesFileLineAndKey) {
  TempDir dir;
  write_file(dir / "bad.yaml",
             "master: {}\nstore:\n  plugin: soci-store\n  config:\n    backend: sqlite3\n"
             "    connection: /x.db\n    pool: 4\nslave_transport: {plugin: xmlrpc-slave}\n"
             "archive: {plugin: file-librarian, config: {root: /x}}\n");
  CommandResult r = master({"--config", (dir / "bad.yaml").string(), "config", "check"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find((dir / "bad.yaml").string() + ":7: unknown key 'pool' in store.config"),
            std::string::npos)
      << r.err;
  CommandResult wrong_kind = master({"--config", (dir / "kind.yaml").string(), "config", "check"});
  EXPECT_EQ(wrong_kind.exit_code, 2);  // missing file
  write_file(dir / "kind.yaml",
             "store: {plugin: file-librarian, config: {root: /x}}\n"
             "slave_transport: {plugin: xmlrpc-slave}\narchive: {plugin: file-librarian, config: "
             "{root: /x}}\n");
  wrong_kind = master({"--config", (dir / "kind.yaml").string(), "config", "check"});
  EXPECT_EQ(wrong_kind.exit_code, 2);
  EXPECT_NE(wrong_kind.err.find("a log-archive plugin; it needs a store plugin"), std::string::npos)
      << wrong_kind.err;
}

TEST(CoreCommands, ConfigCheckRefusesNumbersRunWouldMisread) {
  TempDir dir;
  const std::string rest =
      "store: {plugin: soci-store, config: {backend: sqlite3, connection: /x.db}}\n"
      "slave_transport: {plugin: xmlrpc-slave}\n"
      "archive: {plugin: file-librarian, config: {root: /x}}\n";
  struct Case {
    std::string master;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"scan_interval: 1e300",
            "master.scan_interval is 1e+300; it must be between 0.01 and "
            "3600 seconds"},
           {"max_in_flight: -5", "master.max_in_flight is -5; it must be between 1 and 4096"},
           {"builder_failure_threshold: 0", "master.builder_failure_threshold is 0"},
           {"lease_ttl: 1", "master.lease_ttl is 1; it must be between 3 and 3600 seconds"},
           {"arch_release_timeouts: [\"ubuntu/noble/amd64:x:1\"]", "is not DISTRIBUTION/"},
           // Found by tests/fuzz/config_fuzz: these reached std::chrono::seconds
           // out of its range (undefined behaviour) instead of being refused.
           {"arch_release_timeouts: [\"ubuntu/noble/amd64:1e300:1\"]", "at most 365 days"},
           {"arch_release_timeouts: [\"ubuntu/noble/amd64:1:inf\"]", "at most 365 days"},
           {"arch_release_timeouts: [\"ubuntu/noble/amd64:nan:1\"]", "at most 365 days"},
           {"job_args: [\"noble:archive_purpose=PRIMARY\"]", "is not ARCH_RELEASE:KEY=VALUE"},
           {"job_args: [\"*:archive_purpose\"]", "is not ARCH_RELEASE:KEY=VALUE"},
           {"job_args: [\"*:=PRIMARY\"]", "is not ARCH_RELEASE:KEY=VALUE"},
           {"job_args: [\"*:a b=c\"]", "is not ARCH_RELEASE:KEY=VALUE"},
           {"job_args: [\"ubuntu//amd64:a=b\"]", "is not ARCH_RELEASE:KEY=VALUE"},
       }) {
    SCOPED_TRACE(c.master);
    write_file(dir / "c.yaml", "master:\n  " + c.master + "\n" + rest);
    CommandResult r = master({"--config", (dir / "c.yaml").string(), "config", "check"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find((dir / "c.yaml").string()), std::string::npos) << r.err;
  }
}

TEST(CoreCommands, ConfigCheckRefusesDuplicateKeysAndMissingPlugins) {
  TempDir dir;
  write_file(dir / "dup.yaml",
             "master:\n  scan_interval: 5\n  scan_interval: 50\n"
             "store: {plugin: soci-store, config: {backend: sqlite3, connection: /x.db}}\n"
             "slave_transport: {plugin: xmlrpc-slave}\n"
             "archive: {plugin: file-librarian, config: {root: /x}}\n");
  CommandResult dup = master({"--config", (dir / "dup.yaml").string(), "config", "check"});
  EXPECT_EQ(dup.exit_code, 2);
  EXPECT_NE(dup.err.find(":3: duplicate key 'scan_interval' in master"), std::string::npos)
      << dup.err;
  write_file(dir / "nosuch.yaml",
             "store: {plugin: nosuch, config: {}}\nslave_transport: {plugin: xmlrpc-slave}\n"
             "archive: {plugin: file-librarian, config: {root: /x}}\n");
  CommandResult missing = master({"--config", (dir / "nosuch.yaml").string(), "config", "check"});
  EXPECT_EQ(missing.exit_code, 2) << "a mistyped plugin name is an input error";
  EXPECT_NE(missing.err.find("buildd-plugin-nosuch.so does not exist"), std::string::npos)
      << missing.err;
}

// A value outside a key's choices is refused by `config check` itself, with
// the file, the line and the allowed values, not later when the plugin opens.
TEST(CoreCommands, ConfigCheckRefusesUnknownChoices) {
  TempDir dir;
  write_file(dir / "oracle.yaml",
             "store:\n  plugin: soci-store\n  config:\n    backend: oracle\n"
             "    connection: /x.db\n"
             "slave_transport: {plugin: xmlrpc-slave}\n"
             "archive: {plugin: file-librarian, config: {root: /x}}\n");
  CommandResult r = master({"--config", (dir / "oracle.yaml").string(), "config", "check"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(
      r.err.find(":4: key 'backend' in store.config must be one of sqlite3, postgresql, mariadb, "
                 "not 'oracle'"),
      std::string::npos)
      << r.err;
  write_file(dir / "logs.yaml",
             "master: {log_format: xml}\n"
             "store: {plugin: soci-store, config: {backend: sqlite3, connection: /x.db}}\n"
             "slave_transport: {plugin: xmlrpc-slave}\n"
             "archive: {plugin: file-librarian, config: {root: /x}}\n");
  r = master({"--config", (dir / "logs.yaml").string(), "config", "check"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("key 'log_format' in master must be one of text, json, not 'xml'"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace buildd::test
