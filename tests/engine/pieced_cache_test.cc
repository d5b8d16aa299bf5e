// PiecedCache: a key's run of entries in pieces of at most kPieceBytes, reloaded exactly; a flush
// writes what changed (an append: the last piece and the header), deletes what eviction emptied,
// and a sweep forgets whole keys.
#include "engine/pieced_cache.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/state_store.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

using engine::EntryRun;

struct Run : EntryRun {
  int64_t meta = 0;
};
struct RunCodec {
  static void EncodeMeta(const Run& r, std::string* out) {
    out->append(reinterpret_cast<const char*>(&r.meta), sizeof r.meta);
  }
  static bool DecodeMeta(std::string_view in, Run* r) {
    if (in.size() != sizeof r->meta) return false;
    std::memcpy(&r->meta, in.data(), sizeof r->meta);
    return true;
  }
};
using Cache = engine::PiecedCache<Run, RunCodec>;
constexpr engine::TableId kTable = 3;
constexpr uint32_t kStride = 3;

//! The staged changes of the next commit: key → value (nullopt: a deletion).
std::map<std::string, std::optional<std::string>> Staged(const engine::StateStore& store) {
  std::map<std::string, std::optional<std::string>> changes;
  REQUIRE(store
              .ForEachStaged([&](std::string_view k, const std::string_view* v) {
                if (k.size() >= 2 && k[0] == 0 && k[1] == 0) return base::Status::OK();  // checkpoints
                changes[std::string(k)] = v ? std::optional<std::string>(*v) : std::nullopt;
                return base::Status::OK();
              })
              .ok());
  return changes;
}

size_t StoredRecords(const engine::StateStore& store) {
  std::optional<std::string> cursor;
  size_t n = 0;
  REQUIRE(store.Scan(kTable, "", &cursor, SIZE_MAX, [&](std::string_view, std::string_view) { ++n; }).ok());
  return n;
}

void Append(Run* r, double t) {
  r->stride = kStride;
  const double e[kStride] = {t, t * 2, t * 3};
  r->Insert(r->size(), e);
}

struct Fixture {
  Fixture() {
    auto s = engine::StateStore::Open({TempDir("vigil-pieced") + "/store"});
    REQUIRE(s.ok());
    store = std::move(*s);
    auto c = Cache::Make(store.get(), kTable, 100, "window 'w'");
    REQUIRE(c.ok());
    cache = std::move(*c);
  }
  //! Flushes and commits; returns what the commit wrote.
  std::map<std::string, std::optional<std::string>> Commit() {
    cache->Flush();
    store->Prepare(++offset, -1);
    auto changes = Staged(*store);
    REQUIRE(store->Apply(-1).ok());
    return changes;
  }
  std::unique_ptr<engine::StateStore> store;
  std::unique_ptr<Cache> cache;
  int64_t offset = 0;
};

TEST_CASE("pieced cache: a long run is stored in bounded pieces and reads back exactly", "[engine]") {
  Fixture f;
  constexpr int kEntries = 20'000;  // 480 KB of entries: several pieces
  {
    auto r = f.cache->GetForUpdate("hot");
    REQUIRE(r.ok());
    for (int i = 0; i < kEntries; ++i) Append(*r, i);
    (*r)->meta = 42;
  }
  const auto written = f.Commit();
  const uint64_t per_piece = engine::EntriesPerPiece(kStride);
  CHECK(written.size() == 1 + 1 + (kEntries + per_piece - 1) / per_piece);  // layout, header, pieces
  for (const auto& [key, value] : written) {
    REQUIRE(value.has_value());
    CHECK(key.size() + value->size() <= 64 * 1024);
  }
  // A second cache over the same store (a restart) loads every entry.
  auto other = Cache::Make(f.store.get(), kTable, 100, "window 'w'");
  REQUIRE(other.ok());
  Run copy;
  auto found = (*other)->Peek("hot", &copy);
  REQUIRE(found.ok());
  REQUIRE(*found);
  CHECK(copy.meta == 42);
  REQUIRE(copy.size() == kEntries);
  for (int i = 0; i < kEntries; i += 997) CHECK(copy.entry(i)[2] == i * 3.0);
  CHECK((*other)->Peek("cold", &copy).value() == false);
}

TEST_CASE("pieced cache: a commit writes what changed, deletes what eviction emptied", "[engine]") {
  Fixture f;
  const uint64_t per_piece = engine::EntriesPerPiece(kStride);
  Run* r = f.cache->GetForUpdate("k").value();
  for (uint64_t i = 0; i < 5 * per_piece; ++i) Append(r, static_cast<double>(i));
  f.Commit();
  const size_t pieces = StoredRecords(*f.store) - 2;
  CHECK(pieces == 5);

  SECTION("an append rewrites the last piece and the header") {
    r = f.cache->GetForUpdate("k").value();
    Append(r, 1e9);
    const auto w = f.Commit();
    CHECK(w.size() == 2);  // header, new sixth piece
  }
  SECTION("eviction deletes the pieces it emptied") {
    r = f.cache->GetForUpdate("k").value();
    r->Evict(2 * per_piece + 1);
    const auto w = f.Commit();
    int deletes = 0;
    for (const auto& [k, v] : w) deletes += v.has_value() ? 0 : 1;
    CHECK(deletes == 2);
    CHECK(w.size() == 3);  // two tombstones, the header
    CHECK(StoredRecords(*f.store) == 2 + 3);
    Run copy;
    REQUIRE(f.cache->Peek("k", &copy).value());
    auto again = Cache::Make(f.store.get(), kTable, 100, "w");
    REQUIRE((*again)->Peek("k", &copy).value());
    REQUIRE(copy.size() == 5 * per_piece - 2 * per_piece - 1);
    CHECK(copy.entry(0)[0] == static_cast<double>(2 * per_piece + 1));
  }
  SECTION("an insert in the middle rewrites the pieces from its position") {
    r = f.cache->GetForUpdate("k").value();
    const double e[kStride] = {-1, -1, -1};
    r->Insert(3 * per_piece + 5, e);
    const auto w = f.Commit();
    CHECK(w.size() == 1 + 3);  // header, pieces 3 and 4, and the new piece 5
    auto again = Cache::Make(f.store.get(), kTable, 100, "w");
    Run copy;
    REQUIRE((*again)->Peek("k", &copy).value());
    REQUIRE(copy.size() == 5 * per_piece + 1);
    CHECK(copy.entry(3 * per_piece + 5)[0] == -1);
    CHECK(copy.entry(3 * per_piece + 6)[0] == static_cast<double>(3 * per_piece + 5));
  }
  SECTION("an entry changed in place rewrites its piece") {
    r = f.cache->GetForUpdate("k").value();
    r->entry(per_piece + 7)[1] = -5;
    r->Touch(per_piece + 7);
    const auto w = f.Commit();
    CHECK(w.size() == 2);
    auto again = Cache::Make(f.store.get(), kTable, 100, "w");
    Run copy;
    REQUIRE((*again)->Peek("k", &copy).value());
    CHECK(copy.entry(per_piece + 7)[1] == -5);
  }
}

TEST_CASE("pieced cache: a flush stages its keys in the store's order, headers then pieces", "[engine]") {
  Fixture f;
  // Keys changed in an order unlike the store's (and unlike the hash map's): short and long keys,
  // binary ones, a run in pieces among small ones.
  const std::vector<std::string> keys = {"zeta",  std::string("\x00\x07", 2), "b", "alpha-long-key-0001",
                                         "alpha", std::string("\xff\x01", 2), "m", "alpha-long-key-0000"};
  for (const auto& key : keys) {
    auto r = f.cache->GetForUpdate(key);
    REQUIRE(r.ok());
    const int n = key == "m" ? 20'000 : 1;  // "m" outgrows its header: several pieces
    for (int i = 0; i < n; ++i) Append(*r, i);
  }
  f.cache->Flush();
  std::vector<std::string> staged;
  REQUIRE(f.store
              ->ForEachStaged([&](std::string_view k, const std::string_view*) {
                staged.emplace_back(k);
                return base::Status::OK();
              })
              .ok());
  // The layout record, every header, then the pieces: the store's own (bytewise) order.
  REQUIRE(staged.size() > keys.size() + 2);
  CHECK(std::is_sorted(staged.begin(), staged.end()));
  std::vector<std::string> headers;
  for (const auto& k : staged)
    if (k.size() > 2 && k[2] == '\x01') headers.push_back(k.substr(3));
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  CHECK(headers == expected);
}

TEST_CASE("pieced cache: a small run is one record, in pieces once it outgrows 4 KiB", "[engine]") {
  Fixture f;
  Run* r = f.cache->GetForUpdate("k").value();
  for (int i = 0; i < 100; ++i) Append(r, i);  // 2,400 bytes of entries
  CHECK(f.Commit().size() == 2);               // the layout, the header with its entries
  r = f.cache->GetForUpdate("k").value();
  for (int i = 100; i < 200; ++i) Append(r, i);  // 4,800 bytes: a piece
  auto w = f.Commit();
  CHECK(w.size() == 2);  // the header, piece 0
  CHECK(StoredRecords(*f.store) == 3);
  r = f.cache->GetForUpdate("k").value();
  r->Evict(150);  // 1,200 bytes: back in the header, the piece deleted
  w = f.Commit();
  REQUIRE(w.size() == 2);
  CHECK_FALSE(w.rbegin()->second.has_value());  // the piece's tombstone (pieces sort after headers)
  CHECK(StoredRecords(*f.store) == 2);
  auto again = Cache::Make(f.store.get(), kTable, 100, "w");
  Run copy;
  REQUIRE((*again)->Peek("k", &copy).value());
  REQUIRE(copy.size() == 50);
  CHECK(copy.entry(0)[0] == 150);
  CHECK(copy.entry(49)[2] == 199 * 3);
}

//! Keys k0..k9 of 3,000 entries each (in pieces), kN's meta N, committed.
void TenKeys(Fixture& f) {
  for (int k = 0; k < 10; ++k) {
    Run* r = f.cache->GetForUpdate("k" + std::to_string(k)).value();
    for (int i = 0; i < 3000; ++i) Append(r, i);
    r->meta = k;
  }
  f.Commit();
}

TEST_CASE("pieced cache: a sweep deletes expired keys whole, cached or not", "[engine]") {
  Fixture f;
  TenKeys(f);
  const size_t before = StoredRecords(*f.store);
  auto fresh = Cache::Make(f.store.get(), kTable, 100, "w");
  REQUIRE(fresh.ok());
  (*fresh)->GetForUpdate("k1").value()->meta = 100;  // cached: its memory value decides
  REQUIRE((*fresh)->Sweep([](const Run& r) { return r.meta < 5; }).ok());
  (*fresh)->Flush();
  REQUIRE(f.store->Commit(99).ok());
  CHECK((*fresh)->swept() == 4);  // k0, k2, k3, k4
  CHECK(StoredRecords(*f.store) == before - 4 * (before - 1) / 10);
  Run copy;
  CHECK((*fresh)->Peek("k2", &copy).value() == false);
  CHECK((*fresh)->Peek("k1", &copy).value() == true);
  CHECK((*fresh)->Peek("k7", &copy).value() == true);
}

TEST_CASE("pieced cache: a sweep after a scan deletes what the scan found, unless changed since",
          "[engine]") {
  Fixture f;
  TenKeys(f);
  const size_t before = StoredRecords(*f.store);
  auto fresh = Cache::Make(f.store.get(), kTable, 100, "w");
  REQUIRE(fresh.ok());
  Cache& cache = **fresh;
  // The scan reads the store only: k0..k4 (k1 not yet in memory).
  REQUIRE(cache.ScanExpired([](const Run& r) { return r.meta < 5; }).ok());
  REQUIRE(StoredRecords(*f.store) == before);
  cache.GetForUpdate("k1").value()->meta = 100;  // changed after the scan: its memory value decides
  // The sweep checks only what the scan found, with its own predicate: k5..k7 wait for a later sweep.
  REQUIRE(cache.Sweep([](const Run& r) { return r.meta < 8; }).ok());
  cache.Flush();
  REQUIRE(f.store->Commit(99).ok());
  CHECK(cache.swept() == 4);  // k0, k2, k3, k4
  const size_t per_key = (before - 1) / 10;
  CHECK(StoredRecords(*f.store) == before - 4 * per_key);
  Run copy;
  CHECK(cache.Peek("k1", &copy).value() == true);
  CHECK(cache.Peek("k3", &copy).value() == false);
  CHECK(cache.Peek("k6", &copy).value() == true);
  // Without a scan since, the sweep reads the store itself.
  REQUIRE(cache.Sweep([](const Run& r) { return r.meta < 8; }).ok());
  cache.Flush();
  REQUIRE(f.store->Commit(100).ok());
  CHECK(cache.swept() == 7);  // and k5, k6, k7
  CHECK(StoredRecords(*f.store) == before - 7 * per_key);
  CHECK(cache.Peek("k1", &copy).value() == true);
  CHECK(cache.Peek("k8", &copy).value() == true);
}

TEST_CASE("pieced cache: a table of the older layout is refused", "[engine]") {
  auto store = engine::StateStore::Open({TempDir("vigil-pieced-old") + "/store"});
  REQUIRE(store.ok());
  (*store)->Put(kTable, std::string(8, 'x'), "one value per key");
  REQUIRE((*store)->Commit(1).ok());
  auto cache = Cache::Make(store->get(), kTable, 100, "window 'customer'");
  REQUIRE_FALSE(cache.ok());
  CHECK_THAT(cache.status().message(), Catch::Contains("window 'customer'") &&
                                           Catch::Contains("older layout") && Catch::Contains("vigil reset"));
}

}  // namespace
}  // namespace vigil::testing
