// KeyedCache's expiry sweep: stored keys are visited a bounded step at a time, and a scan done
// beside the worker (ScanExpired) leaves the next sweep only its findings to check again.
#include "engine/keyed_cache.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <string>

#include "engine/state_store.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

struct Int64Codec {
  static void Encode(const int64_t& v, std::string* out) {
    out->append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  static bool Decode(std::string_view in, int64_t* v) {
    if (in.size() != sizeof *v) return false;
    std::memcpy(v, in.data(), sizeof *v);
    return true;
  }
};
using Cache = engine::KeyedCache<int64_t, Int64Codec>;
constexpr engine::TableId kTable = 4;

size_t StoredKeys(const engine::StateStore& store) {
  std::optional<std::string> cursor;
  size_t n = 0;
  REQUIRE(store.Scan(kTable, "", &cursor, SIZE_MAX, [&](std::string_view, std::string_view) { ++n; }).ok());
  return n;
}

void Commit(Cache& cache, engine::StateStore& store, int64_t offset) {
  cache.Flush();
  store.Prepare(offset, -1);
  REQUIRE(store.Apply(-1).ok());
}

TEST_CASE("keyed cache: a sweep after a scan deletes what the scan found, unless changed since", "[engine]") {
  auto opened = engine::StateStore::Open({TempDir("vigil-keyed") + "/store"});
  REQUIRE(opened.ok());
  engine::StateStore& store = **opened;
  {
    Cache writer(&store, kTable, 100);
    for (int64_t k = 0; k < 10; ++k) *writer.GetForUpdate("k" + std::to_string(k)).value() = k;
    Commit(writer, store, 1);
  }
  REQUIRE(StoredKeys(store) == 10);
  Cache cache(&store, kTable, 100);
  const auto below = [](int64_t bound) { return [bound](const int64_t& v) { return v < bound; }; };
  REQUIRE(cache.ScanExpired(below(5)).ok());  // the store only: k0..k4
  REQUIRE(StoredKeys(store) == 10);
  *cache.GetForUpdate("k1").value() = 100;  // changed after the scan: its memory value decides
  REQUIRE(cache.Sweep(below(8)).ok());      // checks the scan's findings only
  Commit(cache, store, 2);
  CHECK(cache.swept() == 4);  // k0, k2, k3, k4
  CHECK(StoredKeys(store) == 6);
  CHECK(cache.Find("k1").value() != nullptr);
  CHECK(cache.Find("k3").value() == nullptr);
  CHECK(cache.Find("k6").value() != nullptr);
  REQUIRE(cache.Sweep(below(8)).ok());  // no scan since: reads the store itself
  Commit(cache, store, 3);
  CHECK(cache.swept() == 7);  // and k5, k6, k7
  CHECK(StoredKeys(store) == 3);
  REQUIRE(cache.Find("k1").value() != nullptr);
  CHECK(*cache.Find("k1").value() == 100);
}

}  // namespace
}  // namespace vigil::testing
