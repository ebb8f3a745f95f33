// Config validation: every error names the file, the line and the key.
#include <gtest/gtest.h>

#include "buildd/config.hpp"
#include "buildd/error.hpp"
#include "support/test_support.hpp"

namespace buildd {
namespace {

std::string config_error(const std::string& yaml) {
  try {
    Config::parse(yaml, "/srv/b.yaml");
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kConfig);
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return "";
}

TEST(Config, DefaultsAreFilledIn) {
  Config c = Config::parse("master:\n  scan_interval: 2.5\n", "/srv/b.yaml");
  EXPECT_DOUBLE_EQ(c.master().get_seconds("scan_interval"), 2.5);
  EXPECT_EQ(c.master().get_int("max_in_flight"), 64);
  EXPECT_EQ(c.master().get_string("http_listen"), "127.0.0.1:8222");
  EXPECT_FALSE(c.master().has("public_url"));
}

TEST(Config, RelativePathsResolveAgainstTheConfigFolder) {
  Config c = Config::parse("master:\n  work_dir: state\n", "/srv/conf/b.yaml");
  EXPECT_EQ(c.master().get_path("work_dir"), "/srv/conf/state");
}

TEST(Config, UnknownKeyNamesLineAndKnownKeys) {
  EXPECT_EQ(config_error("master:\n  scan_intervall: 5\n")
                .rfind("/srv/b.yaml:2: unknown key 'scan_intervall' in master (known: work_dir", 0),
            0u);
}

TEST(Config, UnknownTopLevelKey) {
  EXPECT_EQ(config_error("master: {}\nstorage: {}\n"),
            "/srv/b.yaml:2: unknown top-level key 'storage' (known: master, store, "
            "slave_transport, archive, scheduler)");
}

TEST(Config, DuplicateKeysAreRefused) {
  EXPECT_EQ(config_error("master:\n  scan_interval: 5\n  scan_interval: 50\n"),
            "/srv/b.yaml:3: duplicate key 'scan_interval' in master");
  EXPECT_EQ(config_error("master: {}\nmaster: {}\n"), "/srv/b.yaml:2: duplicate section 'master'");
}

TEST(Config, WrongTypes) {
  EXPECT_EQ(config_error("master:\n  max_in_flight: lots\n"),
            "/srv/b.yaml:2: key 'max_in_flight' in master must be a whole number (integer)");
  EXPECT_EQ(config_error("master:\n  scan_interval: -1\n"),
            "/srv/b.yaml:2: key 'scan_interval' in master must be a non-negative number of "
            "seconds (seconds)");
  EXPECT_EQ(config_error("master:\n  http_listen: [a, b]\n"),
            "/srv/b.yaml:2: key 'http_listen' in master must be a single value (string)");
}

TEST(Config, BadYamlNamesTheLine) {
  EXPECT_EQ(config_error("master:\n  a: [1, 2\n").rfind("/srv/b.yaml:3: not valid YAML", 0), 0u);
}

TEST(Config, MissingFile) {
  try {
    Config::load("/nonexistent/buildd.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kConfig);
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/buildd.yaml: cannot read the config file: No such file or directory");
    EXPECT_EQ(exit_code_for(e), 2);
  }
}

TEST(Config, PluginSectionNeedsPlugin) {
  Config c = Config::parse("store:\n  config: {}\n", "/srv/b.yaml");
  try {
    c.plugin_for(PluginKind::kStore);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "/srv/b.yaml:2: missing required key 'plugin' in store");
  }
  Config absent = Config::parse("master: {}\n", "/srv/b.yaml");
  EXPECT_THROW(absent.plugin_for(PluginKind::kLogArchive), Error);
}

TEST(Config, StringListsAndBooleans) {
  const ConfigKey keys[] = {{"names", ConfigType::kStringList, true, nullptr, ""},
                            {"on", ConfigType::kBoolean, false, "false", ""}};
  Config c = Config::parse("store:\n  plugin: x\n  config:\n    names: [a, b]\n    on: yes\n",
                           "/srv/b.yaml");
  PluginConfig pc = c.plugin_config(PluginKind::kStore, keys, 2);
  EXPECT_EQ(pc.get_string_list("names"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(pc.get_bool("on"));
  EXPECT_THROW(pc.get_int("names"), Error);
}

}  // namespace
}  // namespace buildd
