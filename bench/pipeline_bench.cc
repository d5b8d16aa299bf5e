// Engine throughput on one worker thread: parse → window (6 aggregates over 2 keys) → JSON output,
// from an in-memory source, next to a parse-only baseline measured in the same process. Then the cost
// of each window aggregate beyond count/avg: one window by card with count and avg over 30 days (the
// baseline), and the same window with one more output (sum for scale; stddev, zscore, distinct,
// time_since_last, ratio_to_avg, last over 30 days; sum and count with `where`) or with a composite key, each
// in ns/event against that baseline. The difference includes the extra column's JSON encoding.
//
//   build/release/bench/pipeline_bench            # prints events/s per core, ns/event and the ratios
//
// One task on the benchmark thread; the state store is real RocksDB (in a temp dir) behind the
// write-back cache, committed every 300 batches.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "engine/task.h"
#include "operators/register.h"

namespace vigil {
namespace {

constexpr size_t kEvents = 600'000;
constexpr size_t kSlice = 50'000;  // events per benchmark iteration

const std::string& Events() {
  static const std::string text = [] {
    std::mt19937_64 rng(1);
    std::string out;
    int64_t t = 1'522'540'800'000;
    char buf[256];
    for (size_t i = 0; i < kEvents; ++i) {
      t += static_cast<int64_t>(rng() % 17'000);
      const int n = std::snprintf(
          buf, sizeof buf,
          R"({"TRANSACTION_ID":%zu,"TX_DATETIME":"2018-04-01T00:00:00Z","TX_TIME_MS":%lld,"CUSTOMER_ID":%llu,"TERMINAL_ID":%llu,"TX_AMOUNT":%.2f})",
          i, static_cast<long long>(t), static_cast<unsigned long long>(rng() % 5000),
          static_cast<unsigned long long>(rng() % 10000), static_cast<double>(rng() % 20000) / 100);
      out.append(buf, static_cast<size_t>(n));
      out.push_back('\n');
    }
    return out;
  }();
  return text;
}

const char* kSchema = R"(name: bench
source: {kind: file, path: memory}
schema:
  event_time: TX_TIME_MS
  key: CUSTOMER_ID
  fields:
    - {name: TRANSACTION_ID, type: int64}
    - {name: TX_DATETIME, type: string}
    - {name: TX_TIME_MS, type: timestamp}
    - {name: CUSTOMER_ID, type: int64}
    - {name: TERMINAL_ID, type: int64}
    - {name: TX_AMOUNT, type: double, min: 0}
output: {kind: none}
batch: {max_events: 1000}
runtime: {workers: 1, commit_interval: 100s}
)";

const char* kWindows = R"(operators:
  - type: window
    key: CUSTOMER_ID
    lateness: 1h
    outputs:
      - {name: C_NB_1D, agg: count, window: 1d}
      - {name: C_AVG_7D, agg: avg, field: TX_AMOUNT, window: 7d}
      - {name: C_MAX_30D, agg: max, field: TX_AMOUNT, window: 30d}
  - type: window
    key: TERMINAL_ID
    lateness: 1h
    outputs:
      - {name: T_NB_1D, agg: count, window: 1d}
      - {name: T_SUM_7D, agg: sum, field: TX_AMOUNT, window: 7d}
      - {name: T_AVG_30D, agg: avg, field: TX_AMOUNT, window: 30d}
)";

//! Counts what it is given; the JSON encoding still happens.
class CountingSink final : public engine::Sink {
 public:
  base::Status Write(const engine::OutBatch& b) override {
    records += b.records.size();
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  uint64_t records = 0;
};

//! Serves the in-memory events in order, `max_events` at a time.
class MemoryReader final : public engine::PartitionReader {
 public:
  explicit MemoryReader(const std::vector<engine::RawEvent>* events) : events_(events) {}
  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    while (out->size() < max_events && next_ < events_->size()) out->push_back((*events_)[next_++]);
    return base::Status::OK();
  }
  size_t next_ = 0;

 private:
  const std::vector<engine::RawEvent>* events_;
};

const std::vector<engine::RawEvent>& RawEvents() {
  static const std::vector<engine::RawEvent> raw = [] {
    std::vector<engine::RawEvent> out;
    const std::string& text = Events();
    size_t pos = 0;
    int64_t offset = 0;
    while (pos < text.size()) {
      const size_t nl = text.find('\n', pos);
      out.push_back({text.data() + pos, static_cast<uint32_t>(nl - pos), nullptr, 0, offset++});
      pos = nl + 1;
    }
    return out;
  }();
  return raw;
}

// One task, driven directly on the benchmark thread: steady-state events/s on one core, state in a
// real RocksDB store behind the write-back cache, committed every 300 batches as the runtime would.
void RunPipeline(benchmark::State& state, const std::string& yaml) {
  auto spec = config::LoadPipelineText(yaml, "bench.yaml");
  engine::OperatorRegistry registry;
  (void)operators::RegisterOperators(&registry);
  auto pipeline = engine::Pipeline::Build({*spec}, registry, nullptr);  // bound only: the task is driven here
  if (!pipeline.ok()) {
    state.SkipWithError(pipeline.status().message().c_str());
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("vigil-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto task = engine::Task::Open((*pipeline)->plan(0), 0, engine::TaskOptions{dir.string(), "memory", 200000},
                                 &(*pipeline)->probe(0));
  if (!task.ok()) {
    state.SkipWithError(task.status().ToString().c_str());
    return;
  }
  auto reader = std::make_unique<MemoryReader>(&RawEvents());
  MemoryReader* r = reader.get();
  (*task)->SetReaders(std::move(reader), nullptr);
  CountingSink sink;
  size_t batches = 0;
  for (auto _ : state) {
    for (size_t n = 0; n < kSlice; n += 1000) {
      auto read = (*task)->RunOnce(1000, 0, &sink, nullptr);
      if (!read.ok() || *read == 0) {
        state.SkipWithError("ran out of events");
        break;
      }
      if (++batches % 300 == 0) (void)(*task)->CommitState();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(sink.records));
  state.counters["events"] = static_cast<double>(r->next_);
  task->reset();
  std::filesystem::remove_all(dir);
}

void BM_ParseOnly(benchmark::State& state) { RunPipeline(state, kSchema); }
void BM_ParseWindowsJson(benchmark::State& state) { RunPipeline(state, std::string(kSchema) + kWindows); }

BENCHMARK(BM_ParseOnly)->Unit(benchmark::kMillisecond)->Iterations(kEvents / kSlice);
BENCHMARK(BM_ParseWindowsJson)->Unit(benchmark::kMillisecond)->Iterations(kEvents / kSlice);

//! One aggregate case: a window by `key` with count and avg of the amount over 30 days, plus `extra`.
struct AggregateCase {
  const char* name;
  const char* key;
  const char* extra;  //!< One more output list item, or "".
};

// A card's 30-day window holds about 60 events here (5,000 cards over 59 days). TX_DATETIME is the
// same string in every event, so [CUSTOMER_ID, TX_DATETIME] has the cards' cardinality and measures
// the composite key's encoding alone; [CUSTOMER_ID, TERMINAL_ID] is almost one key per event (random
// terminals), so it also measures a key space three times the cache (state read back from RocksDB).
const AggregateCase kAggregateCases[] = {
    {"count_avg", "CUSTOMER_ID", ""},
    // An aggregate that existed before, for scale: one more pass over the window and one more column.
    {"sum", "CUSTOMER_ID", "      - {name: X, agg: sum, field: TX_AMOUNT, window: 30d}\n"},
    {"stddev", "CUSTOMER_ID", "      - {name: X, agg: stddev, field: TX_AMOUNT, window: 30d}\n"},
    {"zscore", "CUSTOMER_ID", "      - {name: X, agg: zscore, field: TX_AMOUNT, window: 30d}\n"},
    {"distinct", "CUSTOMER_ID", "      - {name: X, agg: distinct, field: TERMINAL_ID, window: 30d}\n"},
    {"time_since_last", "CUSTOMER_ID", "      - {name: X, agg: time_since_last}\n"},
    {"ratio_to_avg", "CUSTOMER_ID", "      - {name: X, agg: ratio_to_avg, field: TX_AMOUNT, window: 30d}\n"},
    // The newest known value: read backwards from the window's end, so one entry here.
    {"last", "CUSTOMER_ID", "      - {name: X, agg: last, field: TX_AMOUNT, window: 30d}\n"},
    // `where`: the filter column's check on every entry (the amount is nonzero: every event passes, so
    // the result equals the unfiltered one and the difference is the check alone); a filtered count is
    // a pass over the window, an unfiltered one is not.
    {"sum_where", "CUSTOMER_ID",
     "      - {name: X, agg: sum, field: TX_AMOUNT, window: 30d, where: TX_AMOUNT}\n"},
    {"count_where", "CUSTOMER_ID", "      - {name: X, agg: count, window: 30d, where: TX_AMOUNT}\n"},
    {"key_card_x_constant", "[CUSTOMER_ID, TX_DATETIME]", ""},
    {"key_card_x_terminal", "[CUSTOMER_ID, TERMINAL_ID]", ""},
};

std::string AggregateYaml(const AggregateCase& c) {
  return std::string(kSchema) + "operators:\n  - type: window\n    key: " + c.key +
         "\n    lateness: 1h\n    outputs:\n"
         "      - {name: C_NB_30D, agg: count, window: 30d}\n"
         "      - {name: C_AVG_30D, agg: avg, field: TX_AMOUNT, window: 30d}\n" +
         c.extra;
}

std::string AggregateBenchmarkName(const AggregateCase& c) { return std::string("BM_Window/") + c.name; }

//! Console output plus a summary: events/s per core of each benchmark and their ratio.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates[r.benchmark_name()] = it->second.value;
    }
  }
  std::map<std::string, double> rates;
};

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  for (const auto& c : vigil::kAggregateCases) {
    benchmark::RegisterBenchmark(
        vigil::AggregateBenchmarkName(c).c_str(),
        [&c](benchmark::State& state) { vigil::RunPipeline(state, vigil::AggregateYaml(c)); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(vigil::kEvents / vigil::kSlice);
  }
  vigil::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double base = reporter.rates["BM_ParseOnly/iterations:12"];
  const double full = reporter.rates["BM_ParseWindowsJson/iterations:12"];
  if (base > 0 && full > 0) {
    std::printf("\nparse-only baseline:                 %10.0f events/s per core\n", base);
    std::printf(
        "parse -> 2 windows (6 aggs) -> JSON: %10.0f events/s per core  (%.2fx of baseline; target >= "
        "300000)\n",
        full, full / base);
  }
  // Per event, whole pipeline (parse, the window, JSON); "+" is the case minus the count/avg baseline.
  const auto ns = [&](const vigil::AggregateCase& c) {
    const double rate = reporter.rates[vigil::AggregateBenchmarkName(c) + "/iterations:12"];
    return rate > 0 ? 1e9 / rate : 0.0;
  };
  const double window_base = ns(vigil::kAggregateCases[0]);
  if (window_base > 0) {
    std::printf("\nwindow by card, count + avg over 30d (baseline): %7.0f ns/event\n", window_base);
    for (const auto& c : vigil::kAggregateCases) {
      if (&c == &vigil::kAggregateCases[0] || ns(c) == 0) continue;
      std::printf("  %-22s %7.0f ns/event  (%.3fx of baseline, %+6.0f ns/event)\n", c.name, ns(c),
                  ns(c) / window_base, ns(c) - window_base);
    }
  }
  return 0;
}
