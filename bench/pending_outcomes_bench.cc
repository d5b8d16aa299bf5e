// What keeping the scored events in the task's state until their labels are due costs
// (operators/pending_outcomes.h), per event, in steady state: the store holds 7 days of outcomes
// (200,000 events) and every batch both adds 500 and hands over the 500 that matured, with a commit
// to the real RocksDB store every 20 batches. The baseline, in the same process, writes each event
// once to a store (the same key and value bytes, committed alike) and never reads it back.
//
//   build/release/bench/pending_outcomes_bench    # events/s of each; the ratio is baseline / pending
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/time.h"
#include "engine/state_store.h"
#include "operators/pending_outcomes.h"

namespace vigil {
namespace {

constexpr size_t kWidth = 15;  // the Handbook's features
constexpr int64_t kDelay = 7 * base::kMsPerDay;
constexpr int64_t kWindowEvents = 200'000;
constexpr int64_t kStepMs = kDelay / kWindowEvents;  // event time between two events
constexpr size_t kBatch = 500;
constexpr int kBatchesPerCommit = 20;

struct Store {
  Store() {
    path = std::filesystem::temp_directory_path() / ("vigil-pending-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    store = engine::StateStore::Open({path.string()}).value();
  }
  ~Store() {
    store.reset();
    std::filesystem::remove_all(path);
  }
  std::filesystem::path path;
  std::unique_ptr<engine::StateStore> store;
};

operators::ScoredEvent Event(int64_t i) {
  operators::ScoredEvent e;
  e.id = i;
  e.time_ms = i * kStepMs;
  e.card = i % 100'000;
  e.score = 0.1f;
  e.offset = i;
  return e;
}

void BM_PendingOutcomes(benchmark::State& state) {
  Store s;
  operators::PendingOutcomes pending(s.store.get(), 1, kWidth, kDelay);
  std::vector<float> inputs(kWidth, 0.5f);
  std::vector<operators::OutcomeView> matured;
  int64_t next = 0;
  int batches = 0;
  size_t handed_over = 0;
  const auto batch = [&] {
    for (size_t i = 0; i < kBatch; ++i) pending.Add(Event(next++), "v1", inputs.data(), {});
    if (!pending.Mature((next - 1) * kStepMs - kDelay, &matured).ok()) state.SkipWithError("mature");
    handed_over += matured.size();
    if (++batches % kBatchesPerCommit == 0) {
      pending.Flush();
      if (!s.store->Commit(next).ok()) state.SkipWithError("commit");
    }
  };
  while (next < 2 * kWindowEvents) batch();  // steady state: a full window pending
  handed_over = 0;
  for (auto _ : state) batch();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["matured_per_batch"] =
      static_cast<double>(handed_over) / static_cast<double>(state.iterations());
}

void BM_StoreWriteOnly(benchmark::State& state) {
  Store s;
  std::string key(16, '\0'), value(1 + 80 + 2 + kWidth * sizeof(float), 'x');
  int64_t next = 0;
  int batches = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      const int64_t n = next++;
      std::memcpy(key.data(), &n, sizeof n);
      s.store->Put(1, key, value);
    }
    if (++batches % kBatchesPerCommit == 0 && !s.store->Commit(next).ok()) state.SkipWithError("commit");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}

BENCHMARK(BM_StoreWriteOnly)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK(BM_PendingOutcomes)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
