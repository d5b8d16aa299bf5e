// What a commit costs for a key that took one more event, by the key's size: a hot key (20,000
// events in its window, a busy terminal's 30 + 7 days and more) against a normal key (50 events),
// stored in pieces (engine/pieced_cache.h) and, as the baseline measured in the same process, in one
// record per key (the layout before pieces, re-encoded whole at every commit). Entries have 7 doubles:
// the Handbook's terminal window (time and the label slots).
//
//   build/release/bench/state_commit_bench     # µs per commit and bytes staged per commit, per case
//
// Each iteration: the key slides by one event (evicts its oldest, appends one), then the cache
// flushes and the real RocksDB store (in a temp dir) commits.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "engine/keyed_cache.h"
#include "engine/pieced_cache.h"
#include "engine/state_store.h"

namespace vigil {
namespace {

constexpr uint32_t kStride = 7;

struct Run : engine::EntryRun {};
struct RunCodec {
  static void EncodeMeta(const Run&, std::string*) {}
  static bool DecodeMeta(std::string_view in, Run*) { return in.empty(); }
};
//! The baseline: the whole run in one value.
struct WholeCodec {
  static void Encode(const Run& r, std::string* out) {
    const size_t skip = size_t{r.head} * r.stride;
    out->append(reinterpret_cast<const char*>(r.data.data() + skip), (r.data.size() - skip) * sizeof(double));
  }
  static bool Decode(std::string_view in, Run* r) {
    r->data.resize(in.size() / sizeof(double));
    std::memcpy(r->data.data(), in.data(), in.size());
    r->stride = kStride;
    return true;
  }
};

struct Store {
  Store() {
    path = std::filesystem::temp_directory_path() / ("vigil-commit-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    store = engine::StateStore::Open({path.string()}).value();
  }
  ~Store() {
    store.reset();
    std::filesystem::remove_all(path);
  }
  //! Commits and returns the bytes of keys and values staged.
  size_t Commit(int64_t offset) {
    store->Prepare(offset, -1);
    size_t bytes = 0;
    (void)store->ForEachStaged([&](std::string_view k, const std::string_view* v) {
      bytes += k.size() + (v ? v->size() : 0);
      return base::Status::OK();
    });
    (void)store->Apply(-1);
    return bytes;
  }
  std::filesystem::path path;
  std::unique_ptr<engine::StateStore> store;
};

void Slide(Run* r, double t, size_t keep) {
  r->stride = kStride;
  double e[kStride] = {t};
  if (r->size() >= keep) r->Evict(1);
  r->Insert(r->size(), e);
}

void BM_Pieced(benchmark::State& state) {
  const auto events = static_cast<size_t>(state.range(0));
  Store s;
  auto cache = engine::PiecedCache<Run, RunCodec>::Make(s.store.get(), 1, 1000, "bench").value();
  int64_t offset = 0;
  Run* r = *cache->GetForUpdate("key");
  for (size_t i = 0; i < events; ++i) Slide(r, static_cast<double>(i), events);
  cache->Flush();
  s.Commit(++offset);
  size_t bytes = 0;
  double t = static_cast<double>(events);
  for (auto _ : state) {
    Slide(*cache->GetForUpdate("key"), t++, events);
    cache->Flush();
    bytes += s.Commit(++offset);
  }
  state.counters["bytes/commit"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

void BM_Whole(benchmark::State& state) {
  const auto events = static_cast<size_t>(state.range(0));
  Store s;
  engine::KeyedCache<Run, WholeCodec> cache(s.store.get(), 1, 1000);
  int64_t offset = 0;
  Run* r = *cache.GetForUpdate("key");
  for (size_t i = 0; i < events; ++i) Slide(r, static_cast<double>(i), events);
  cache.Flush();
  s.Commit(++offset);
  size_t bytes = 0;
  double t = static_cast<double>(events);
  for (auto _ : state) {
    Slide(*cache.GetForUpdate("key"), t++, events);
    cache.Flush();
    bytes += s.Commit(++offset);
  }
  state.counters["bytes/commit"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

BENCHMARK(BM_Pieced)->Arg(50)->Arg(20'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Whole)->Arg(50)->Arg(20'000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
