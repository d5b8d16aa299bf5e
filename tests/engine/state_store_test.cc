// A store opened empty answers its reads without asking RocksDB until its first write (a replay's
// scratch store never writes): these tests check that every kind of write ends that, so no read
// ever misses a record that is there.
#include "engine/state_store.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr engine::TableId kTable = 1;

std::optional<std::string> Read(const engine::StateStore& store, std::string_view key) {
  std::string value;
  auto found = store.Get(kTable, key, &value);
  REQUIRE(found.ok());
  return *found ? std::optional<std::string>(value) : std::nullopt;
}

size_t Count(const engine::StateStore& store) {
  std::optional<std::string> cursor;
  size_t n = 0;
  REQUIRE(store.Scan(kTable, "", &cursor, 100, [&](std::string_view, std::string_view) { ++n; }).ok());
  return n;
}

TEST_CASE("a new store reads what its first commit, restore or reopen holds", "[engine][unit]") {
  const std::string root = TempDir("vigil-store");

  SECTION("a commit") {
    auto store = engine::StateStore::Open(engine::StateStoreOptions{root + "/commit"});
    REQUIRE(store.ok());
    CHECK((*store)->empty());
    CHECK(Read(**store, "card-1") == std::nullopt);
    CHECK(Count(**store) == 0);
    (*store)->Put(kTable, "card-1", "window");
    CHECK(Read(**store, "card-1") == std::nullopt);  // staged, not committed
    REQUIRE((*store)->Commit(10).ok());
    CHECK(Read(**store, "card-1") == "window");
    CHECK(Count(**store) == 1);
    (*store)->Delete(kTable, "card-1");
    REQUIRE((*store)->Commit(11).ok());
    CHECK(Read(**store, "card-1") == std::nullopt);
  }

  SECTION("a commit in two steps, as with a changelog") {
    auto store = engine::StateStore::Open(engine::StateStoreOptions{root + "/apply"});
    REQUIRE(store.ok());
    (*store)->Put(kTable, "card-2", "window");
    (*store)->Prepare(5, -1);
    REQUIRE((*store)->Apply(7).ok());
    CHECK(Read(**store, "card-2") == "window");
  }

  SECTION("a restore from the changelog") {
    auto store = engine::StateStore::Open(engine::StateStoreOptions{root + "/restore"});
    REQUIRE(store.ok());
    CHECK(Read(**store, "card-3") == std::nullopt);
    std::string key = "card-3";
    key.insert(0, std::string{static_cast<char>(kTable >> 8), static_cast<char>(kTable & 0xff)});
    const std::vector<std::pair<std::string, std::optional<std::string>>> changes = {{key, "restored"}};
    REQUIRE((*store)->ApplyRestored(changes, 3).ok());
    CHECK(Read(**store, "card-3") == "restored");
    CHECK(Count(**store) == 1);
  }

  SECTION("a reopened store") {
    const std::string dir = root + "/reopen";
    {
      auto store = engine::StateStore::Open(engine::StateStoreOptions{dir});
      REQUIRE(store.ok());
      (*store)->Put(kTable, "card-4", "window");
      REQUIRE((*store)->Commit(1).ok());
      REQUIRE((*store)->Close().ok());
    }
    auto store = engine::StateStore::Open(engine::StateStoreOptions{dir});
    REQUIRE(store.ok());
    CHECK_FALSE((*store)->empty());
    CHECK(Read(**store, "card-4") == "window");
    CHECK(Count(**store) == 1);
  }
}

}  // namespace
}  // namespace vigil::testing
