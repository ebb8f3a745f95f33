// Deliberately broken (and one good) plugins, one per loader check. Each is
// built several times with a different TEST_PLUGIN_VARIANT.
#include <stdexcept>
#include <string>

#include "buildd/error.hpp"
#include "buildd/log_archive.hpp"
#include "buildd/plugin_entry.hpp"
#include "test_plugin_api.hpp"

namespace {

// A log archive that only answers what its config said, so a test can tell
// that the config reached it and that the library is still loaded.
class EchoArchive final : public buildd::LogArchive, public buildd::test::Greeter {
 public:
  explicit EchoArchive(std::string greeting) : greeting_(std::move(greeting)) {}
  std::string put(const buildd::ContentDigest& d, const std::filesystem::path&) override {
    return d.sha256;
  }
  bool contains(const std::string&) override { return false; }
  std::unique_ptr<std::istream> open(const std::string&) override {
    throw buildd::Error(buildd::ErrorCategory::kArchive, "empty");
  }
  std::optional<std::string> public_url(const std::string&) override { return std::nullopt; }
  std::string greet() const override { return greeting_; }

 private:
  std::string greeting_;
};

std::unique_ptr<buildd::PluginObject> create(const buildd::PluginConfig& config) {
#if TEST_PLUGIN_VARIANT == TEST_PLUGIN_THROWS
  (void)config;
  throw buildd::Error(buildd::ErrorCategory::kStore, "cannot reach the database at db.invalid");
#elif TEST_PLUGIN_VARIANT == TEST_PLUGIN_WRONG_OBJECT
  (void)config;
  struct NotAnArchive : buildd::PluginObject {};
  return std::make_unique<NotAnArchive>();
#else
  return std::make_unique<EchoArchive>(config.get_string("greeting"));
#endif
}

constexpr buildd::ConfigKey kKeys[] = {
    {"greeting", buildd::ConfigType::kString, true, nullptr, "what greet() answers"},
    {"retries", buildd::ConfigType::kInteger, false, "3", "an integer with a default"},
};

#if TEST_PLUGIN_VARIANT == TEST_PLUGIN_WRONG_KIND
constexpr auto kKind = buildd::PluginKind::kStore;
#else
constexpr auto kKind = buildd::PluginKind::kLogArchive;
#endif

buildd::PluginDescriptor make() {
  auto d = buildd::make_descriptor(kKind, "test-" TEST_PLUGIN_NAME, "9.9.9", "a test plugin", kKeys,
                                   &create);
#if TEST_PLUGIN_VARIANT == TEST_PLUGIN_ABI_MISMATCH
  d.abi_version = 99;
#elif TEST_PLUGIN_VARIANT == TEST_PLUGIN_INTERFACE_MISMATCH
  d.interface_version = 99;  // built against another log-archive interface
#elif TEST_PLUGIN_VARIANT == TEST_PLUGIN_FINGERPRINT_MISMATCH
  d.build_fingerprint = "g++ 99.0; boost 1_99";  // built with another toolchain
#endif
  return d;
}

const buildd::PluginDescriptor* descriptor() {
  static const buildd::PluginDescriptor d = make();
  return &d;
}

}  // namespace

#if TEST_PLUGIN_VARIANT != TEST_PLUGIN_NO_ENTRY_POINT
BUILDD_PLUGIN_ENTRY_POINT(descriptor)
#else
// Exports something, but not the entry point.
extern "C" __attribute__((visibility("default"))) int not_a_buildd_plugin() {
  return static_cast<int>(descriptor()->struct_size);
}
#endif
