// The in-memory FakeStore the pipeline tests use passes the same BuildStore
// conformance suite as the SOCI store, so that what the pipeline tests prove
// holds against the real stores too.

#include "buildd/conformance/store_conformance.hpp"
#include "fakes/fake_store.hpp"
#include "support/test_support.hpp"

namespace buildd::test {
namespace {

struct FakeStoreContext {
  explicit FakeStoreContext(const std::filesystem::path&) {}
  // One object is the whole database: every handle is that object.
  std::shared_ptr<BuildStore> open() { return store_; }
  static constexpr StoreQuirks kQuirks{};
  std::shared_ptr<FakeStore> store_ = std::make_shared<FakeStore>();
};

INSTANTIATE_TYPED_TEST_SUITE_P(Fake, StoreConformance, FakeStoreContext);

}  // namespace
}  // namespace buildd::test
