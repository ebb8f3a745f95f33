// The loader's checks, one deliberately broken plugin each, with the exact
// error. Each test would fail if its check were removed: the broken plugin
// would then load (or crash) instead of being refused with this message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "buildd/config.hpp"
#include "buildd/error.hpp"
#include "buildd/plugin_loader.hpp"
#include "support/test_support.hpp"
#include "test_plugin_api.hpp"

namespace buildd {
namespace {

const std::filesystem::path kDir = BUILDD_TEST_PLUGIN_DIR;

std::string file_of(const std::string& variant) {
  return (kDir / ("buildd-plugin-test-" + variant + ".so")).string();
}

Config archive_config(const std::string& variant, const std::string& config_body,
                      const std::filesystem::path& file = "/etc/buildd/test.yaml") {
  return Config::parse("archive:\n  plugin: " + variant + "\n" + config_body, file);
}

// Runs `body`, expects an Error of `category`, returns its message.
template <typename F>
std::string error_of(F body, ErrorCategory category) {
  try {
    body();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), category) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a buildd::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST(PluginLoader, GoodPluginCreatesAnObjectWithItsConfig) {
  PluginLoader loader(kDir);
  auto config = archive_config("test-good", "  config:\n    greeting: hello\n");
  auto object = loader.create_archive(config);
  ASSERT_NE(object, nullptr);
  auto* greeter = dynamic_cast<test::Greeter*>(object.get());
  ASSERT_NE(greeter, nullptr);
  EXPECT_EQ(greeter->greet(), "hello");
}

TEST(PluginLoader, ObjectKeepsItsLibraryLoadedAfterTheLoaderIsGone) {
  std::shared_ptr<LogArchive> object;
  {
    PluginLoader loader(kDir);
    object =
        loader.create_archive(archive_config("test-good", "  config: {greeting: still here}\n"));
  }
  // Calls a virtual function whose code lives in the plugin.
  EXPECT_EQ(dynamic_cast<test::Greeter&>(*object).greet(), "still here");
}

TEST(PluginLoader, InspectReadsTheDescriptor) {
  PluginInfo info = PluginLoader(kDir).inspect("test-good");
  EXPECT_EQ(info.name, "test-good");
  EXPECT_EQ(info.kind, PluginKind::kLogArchive);
  EXPECT_EQ(info.version, "9.9.9");
  EXPECT_EQ(info.file.string(), file_of("good"));
  ASSERT_EQ(info.config_keys.size(), 2u);
  EXPECT_STREQ(info.config_keys[0].name, "greeting");
}

TEST(PluginLoader, ResolvesNamesAndPaths) {
  PluginLoader loader("/opt/plugins");
  EXPECT_EQ(loader.resolve("soci-store"), "/opt/plugins/buildd-plugin-soci-store.so");
  EXPECT_EQ(loader.resolve("./x.so"), "./x.so");
  EXPECT_EQ(loader.resolve("/abs/y.so"), "/abs/y.so");
}

TEST(PluginLoader, MissingFileIsRefused) {
  PluginLoader loader(kDir);
  // A name or folder mistyped in the config: an input error (exit 2).
  EXPECT_EQ(error_of([&] { loader.inspect("test-absent"); }, ErrorCategory::kConfig),
            "plugin file " + file_of("absent") + " does not exist");
}

TEST(PluginLoader, MissingEntryPointIsRefused) {
  PluginLoader loader(kDir);
  EXPECT_EQ(error_of([&] { loader.inspect("test-no-entry-point"); }, ErrorCategory::kPlugin),
            "plugin file " + file_of("no-entry-point") +
                " does not export buildd_plugin_descriptor (not a buildd-master plugin?)");
}

TEST(PluginLoader, AbiMismatchNamesBothVersions) {
  PluginLoader loader(kDir);
  EXPECT_EQ(error_of([&] { loader.inspect("test-abi-mismatch"); }, ErrorCategory::kPlugin),
            "plugin file " + file_of("abi-mismatch") +
                " was built for plugin ABI 99, but this buildd-master speaks ABI " +
                std::to_string(kPluginAbiVersion));
}

TEST(PluginLoader, InterfaceVersionMismatchNamesBothVersions) {
  PluginLoader loader(kDir);
  EXPECT_EQ(error_of([&] { loader.inspect("test-interface-mismatch"); }, ErrorCategory::kPlugin),
            "plugin file " + file_of("interface-mismatch") +
                " implements the log-archive interface version 99, but this buildd-master needs "
                "version " +
                std::to_string(kLogArchiveInterfaceVersion) +
                ": rebuild the plugin against this buildd-master's SDK");
}

TEST(PluginLoader, BuildFingerprintMismatchNamesBothBuilds) {
  PluginLoader loader(kDir);
  EXPECT_EQ(error_of([&] { loader.inspect("test-fingerprint-mismatch"); }, ErrorCategory::kPlugin),
            "plugin file " + file_of("fingerprint-mismatch") +
                " was built with [g++ 99.0; boost 1_99], but this buildd-master was built with [" +
                core_build_fingerprint() +
                "]: rebuild the plugin against this buildd-master's SDK");
  // The core's fingerprint names what it covers.
  const std::string fingerprint = core_build_fingerprint();
  for (const char* part : {"g++ ", "libstdc++ cxx11 abi 1", "; boost 1_", "; spdlog 1.",
                           "; nlohmann_json 3.", "; headers "})
    EXPECT_NE(fingerprint.find(part), std::string::npos) << part << " in " << fingerprint;
  EXPECT_EQ(fingerprint.size() - fingerprint.find("; headers ") - 10, 64u);  // a SHA-256
}

TEST(PluginLoader, WrongKindIsRefusedBeforeAnyObjectIsCreated) {
  PluginLoader loader(kDir);
  auto config = archive_config("test-wrong-kind", "  config: {greeting: hi}\n");
  EXPECT_EQ(error_of([&] { loader.create_archive(config); }, ErrorCategory::kPlugin),
            "plugin 'test-wrong-kind' (" + file_of("wrong-kind") +
                ") is a store plugin, but section 'archive' needs a log-archive plugin");
}

TEST(PluginLoader, ThrowingFactoryIsReportedNotPropagated) {
  PluginLoader loader(kDir);
  auto config = archive_config("test-throws", "  config: {greeting: hi}\n");
  EXPECT_EQ(error_of([&] { loader.create_archive(config); }, ErrorCategory::kPlugin),
            "plugin 'test-throws' (" + file_of("throws") +
                ") failed to start: cannot reach the database at db.invalid");
}

TEST(PluginLoader, ObjectOfTheWrongInterfaceIsRefused) {
  PluginLoader loader(kDir);
  auto config = archive_config("test-wrong-object", "  config: {greeting: hi}\n");
  EXPECT_EQ(error_of([&] { loader.create_archive(config); }, ErrorCategory::kPlugin),
            "plugin 'test-wrong-object' (" + file_of("wrong-object") +
                ") returned an object that is not a log-archive");
}

TEST(PluginLoader, BadConfigNamesFileLineAndKey) {
  PluginLoader loader(kDir);
  auto missing = archive_config("test-good", "  config:\n    retries: 4\n");
  EXPECT_EQ(error_of([&] { loader.create_archive(missing); }, ErrorCategory::kConfig),
            "/etc/buildd/test.yaml:4: missing required key 'greeting' in archive.config");
  auto unknown = archive_config("test-good", "  config:\n    greeting: hi\n    colour: blue\n");
  EXPECT_EQ(error_of([&] { loader.create_archive(unknown); }, ErrorCategory::kConfig),
            "/etc/buildd/test.yaml:5: unknown key 'colour' in archive.config (known: greeting, "
            "retries)");
  auto wrong_type = archive_config("test-good", "  config:\n    greeting: hi\n    retries: many\n");
  EXPECT_EQ(error_of([&] { loader.create_archive(wrong_type); }, ErrorCategory::kConfig),
            "/etc/buildd/test.yaml:5: key 'retries' in archive.config must be a whole number "
            "(integer)");
}

TEST(PluginLoader, ListFindsEveryPluginInTheFolder) {
  test::TempDir dir;
  std::filesystem::copy_file(file_of("good"), dir / "buildd-plugin-a.so");
  std::filesystem::copy_file(file_of("good"), dir / "unrelated.so");
  auto plugins = PluginLoader(dir.path()).list();
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(plugins[0].file, dir / "buildd-plugin-a.so");
  EXPECT_TRUE(plugins[0].error.empty());
}

// One broken file is listed with its own error; the good ones still list.
TEST(PluginLoader, ListReportsEachBrokenFileAndListsTheRest) {
  test::TempDir dir;
  std::filesystem::copy_file(file_of("good"), dir / "buildd-plugin-a.so");
  test::write_file(dir / "buildd-plugin-garbage.so", "not an ELF file");
  std::filesystem::copy_file(file_of("fingerprint-mismatch"), dir / "buildd-plugin-old.so");
  auto plugins = PluginLoader(dir.path()).list();
  ASSERT_EQ(plugins.size(), 3u);  // by name: garbage, old, test-good
  EXPECT_EQ(plugins[0].name, "garbage");
  EXPECT_NE(plugins[0].error.find("cannot load plugin file " +
                                  (dir / "buildd-plugin-garbage.so").string()),
            std::string::npos)
      << plugins[0].error;
  EXPECT_EQ(plugins[1].name, "old");
  EXPECT_NE(plugins[1].error.find("was built with [g++ 99.0; boost 1_99]"), std::string::npos);
  EXPECT_EQ(plugins[2].name, "test-good");
  EXPECT_TRUE(plugins[2].error.empty());
}

// BUILDD_PLUGIN_PATH: its folders come first, like PATH; the default folder last.
TEST(PluginLoader, PluginPathIsSearchedBeforeThePluginFolder) {
  test::TempDir first, second, dir;
  std::filesystem::copy_file(file_of("good"), first / "buildd-plugin-a.so");
  std::filesystem::copy_file(file_of("good"), second / "buildd-plugin-a.so");
  std::filesystem::copy_file(file_of("good"), second / "buildd-plugin-b.so");
  std::filesystem::copy_file(file_of("good"), dir / "buildd-plugin-c.so");
  ::setenv("BUILDD_PLUGIN_PATH", (first.path().string() + "::" + second.path().string()).c_str(),
           1);
  PluginLoader loader(dir.path());
  ::unsetenv("BUILDD_PLUGIN_PATH");
  ASSERT_EQ(loader.search_path().size(), 3u);
  EXPECT_EQ(loader.resolve("a"), first / "buildd-plugin-a.so");
  EXPECT_EQ(loader.resolve("b"), second / "buildd-plugin-b.so");
  EXPECT_EQ(loader.resolve("c"), dir / "buildd-plugin-c.so");
  EXPECT_EQ(loader.resolve("absent"), dir / "buildd-plugin-absent.so");
  std::vector<std::filesystem::path> files;
  for (const auto& p : loader.list()) files.push_back(p.file);
  EXPECT_EQ(files.size(), 3u);  // second's a is hidden by first's
  EXPECT_NE(std::find(files.begin(), files.end(), first / "buildd-plugin-a.so"), files.end());
  EXPECT_EQ(std::find(files.begin(), files.end(), second / "buildd-plugin-a.so"), files.end());
  EXPECT_EQ(PluginLoader(dir.path()).search_path().size(), 1u);  // unset: the folder alone
}

// A slave_transport list: one transport per entry, each with its own config
// (an error names the entry), chained in the config's order.
TEST(PluginLoader, ASlaveTransportListMakesAChainOfItsEntries) {
  PluginLoader loader(BUILDD_PLUGIN_DIR);
  auto config = Config::parse(
      "slave_transport:\n  - plugin: xmlrpc-slave\n  - plugin: xmlrpc-slave\n"
      "    config: {call_timeout: 3}\n",
      "/etc/buildd/test.yaml");
  EXPECT_EQ(config.plugin_count(PluginKind::kSlaveTransport), 2u);
  auto transport = loader.create_transport(config);
  ASSERT_NE(dynamic_cast<SlaveTransportChain*>(transport.get()), nullptr);
  Builder bob;
  bob.name = "bob";
  bob.url = "http://127.0.0.1:9/";
  EXPECT_NE(transport->open(bob), nullptr);
  bob.url = "local://slot-1/";
  const std::string refused = error_of([&] { transport->open(bob); }, ErrorCategory::kProtocol);
  EXPECT_NE(refused.find("no slave transport takes local://slot-1/ (xmlrpc-slave: bob: "
                         "launchpad-buildd is reached over http:// or https://"),
            std::string::npos)
      << refused;

  auto bad = Config::parse(
      "slave_transport:\n  - plugin: xmlrpc-slave\n  - plugin: xmlrpc-slave\n"
      "    config: {call_timeout: soon}\n",
      "/etc/buildd/test.yaml");
  EXPECT_NE(error_of([&] { loader.create_transport(bad); }, ErrorCategory::kConfig)
                .find("/etc/buildd/test.yaml:4: key 'call_timeout' in slave_transport[1].config"),
            std::string::npos);
  // Only slave_transport may be a list; an empty one names nothing.
  auto count_error = [](const std::string& yaml, PluginKind kind) {
    return error_of([&] { Config::parse(yaml, "/b.yaml").plugin_count(kind); },
                    ErrorCategory::kConfig);
  };
  EXPECT_NE(count_error("store:\n  - plugin: soci-store\n", PluginKind::kStore)
                .find("section 'store' must be a mapping with plugin and config"),
            std::string::npos);
  EXPECT_NE(count_error("slave_transport: []\n", PluginKind::kSlaveTransport)
                .find("section 'slave_transport' lists no plugin"),
            std::string::npos);
}

}  // namespace
}  // namespace buildd
