// Placeholder until the config loader lands (same session).
#include "buildd/config.hpp"
#include "buildd/error.hpp"
namespace buildd {
struct Config::Impl {};
const std::vector<ConfigKey>& master_config_keys() { static std::vector<ConfigKey> k; return k; }
Config::Config(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Config Config::load(const std::filesystem::path&) { throw Error(ErrorCategory::kInternal, "config: not yet"); }
Config Config::parse(const std::string&, const std::filesystem::path&) { throw Error(ErrorCategory::kInternal, "config: not yet"); }
}
