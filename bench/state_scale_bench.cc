// State at scale under one memory budget: the same pipeline (parse → derive → a window by card and one
// by terminal, 10 aggregates → JSON) over transactions generated in process, run twice in this
// process with `runtime.memory` (default 1GiB): over 100,000 cards and 10,000 terminals, then over
// 10,000,000 cards and 1,000,000 terminals, cards and terminals drawn uniformly at random. Prints each
// run's events/s, the ratio of the two (large / small), peak RSS (VmHWM, reset before each run), the
// block cache's hit ratio (RocksDB statistics), the write-back caches' hit ratio and the state's
// memory by kind, as of the last commit.
//
//   build/release/bench/state_scale_bench [--events N] [--small-cards N] [--small-terminals N]
//       [--large-cards N] [--large-terminals N] [--memory SIZE] [--partitions N] [--days N]
//
// Each run is a real Runtime (its control thread committing every second, `--partitions` tasks on as
// many workers) over a Source whose readers generate the events: partition p gets the cards
// c ≡ p (mod partitions), as a topic keyed by card would, and any terminal (each task then holds its
// own terminal windows, as a stage keyed by card does). The output sink counts the records; their
// JSON encoding still happens. State lives in a fresh directory under the system temp directory.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/engine_probe.h"
#include "engine/pipeline.h"
#include "operators/register.h"

namespace vigil {
namespace {

struct Options {
  uint64_t events = 10'000'000;
  uint64_t small_cards = 100'000, small_terminals = 10'000;
  uint64_t large_cards = 10'000'000, large_terminals = 1'000'000;
  std::string memory = "1GiB";
  int partitions = 2;
  int days = 30;
};

std::string PipelineYaml(const Options& o, const std::string& state_dir) {
  return R"(name: state-scale
source: {kind: file, path: generated}
schema:
  event_time: TX_TIME_MS
  key: CUSTOMER_ID
  fields:
    - {name: TRANSACTION_ID, type: int64}
    - {name: TX_TIME_MS, type: timestamp, format: epoch_ms}
    - {name: CUSTOMER_ID, type: int64}
    - {name: TERMINAL_ID, type: int64}
    - {name: TX_AMOUNT, type: double, min: 0}
operators:
  - type: derive
    outputs:
      - {name: TX_HOUR, fn: hour_of_day, args: [TX_TIME_MS]}
      - {name: TX_DURING_NIGHT, fn: le, args: [TX_HOUR, 6]}
  - type: window
    name: card
    key: CUSTOMER_ID
    lateness: 1h
    outputs:
      - {name: C_NB_1D, agg: count, window: 1d}
      - {name: C_NB_7D, agg: count, window: 7d}
      - {name: C_NB_30D, agg: count, window: 30d}
      - {name: C_AVG_1D, agg: avg, field: TX_AMOUNT, window: 1d}
      - {name: C_AVG_7D, agg: avg, field: TX_AMOUNT, window: 7d}
      - {name: C_AVG_30D, agg: avg, field: TX_AMOUNT, window: 30d}
  - type: window
    name: terminal
    key: TERMINAL_ID
    lateness: 1h
    outputs:
      - {name: T_NB_1D, agg: count, window: 1d}
      - {name: T_NB_7D, agg: count, window: 7d}
      - {name: T_NB_30D, agg: count, window: 30d}
      - {name: T_AVG_30D, agg: avg, field: TX_AMOUNT, window: 30d}
output: {kind: none}
batch: {max_events: 1000}
runtime: {workers: )" +
         std::to_string(o.partitions) +
         ", commit_interval: 1s, guarantee: at_least_once, memory: " + o.memory +
         ", state_dir: " + state_dir + "}\n";
}

//! splitmix64: fast, and good enough to draw ids uniformly.
uint64_t Next(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

//! Generates its partition's events: `count` of them, times spread evenly over `days` from
//! 2018-04-01, cards c ≡ partition (mod partitions) and any terminal, uniformly at random.
class GeneratedReader final : public engine::PartitionReader {
 public:
  GeneratedReader(int partition, int partitions, uint64_t count, uint64_t cards, uint64_t terminals, int days,
                  std::atomic<int>* unfinished)
      : partition_(partition),
        partitions_(partitions),
        count_(count),
        terminals_(terminals),
        step_ms_(static_cast<double>(days) * 86'400'000.0 / static_cast<double>(count)),
        seed_(0x5eed + static_cast<uint64_t>(partition)),
        per_partition_((cards - static_cast<uint64_t>(partition) + partitions - 1) / partitions),
        unfinished_(unfinished) {}

  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    const uint64_t n = std::min<uint64_t>(max_events, count_ - next_);
    text_.resize(n * kLine);
    for (uint64_t i = 0; i < n; ++i, ++next_) {
      char* line = text_.data() + i * kLine;
      const uint64_t card = Next(&seed_) % per_partition_ * partitions_ + static_cast<uint64_t>(partition_);
      const uint64_t terminal = Next(&seed_) % terminals_;
      const uint64_t cents = Next(&seed_) % 20'000;
      const auto t = kStart + static_cast<int64_t>(static_cast<double>(next_) * step_ms_);
      const int size = std::snprintf(
          line, kLine,
          R"({"TRANSACTION_ID":%llu,"TX_TIME_MS":%lld,"CUSTOMER_ID":%llu,"TERMINAL_ID":%llu,"TX_AMOUNT":%llu.%02llu})",
          static_cast<unsigned long long>(next_ * partitions_ + partition_), static_cast<long long>(t),
          static_cast<unsigned long long>(card), static_cast<unsigned long long>(terminal),
          static_cast<unsigned long long>(cents / 100), static_cast<unsigned long long>(cents % 100));
      out->push_back({line, static_cast<uint32_t>(size), nullptr, 0, static_cast<int64_t>(next_)});
    }
    if (next_ == count_ && !done_) {
      done_ = true;
      unfinished_->fetch_sub(1);
    }
    return base::Status::OK();
  }
  int64_t Lag() const override { return static_cast<int64_t>(count_ - next_); }

 private:
  static constexpr size_t kLine = 160;
  static constexpr int64_t kStart = 1'522'540'800'000;  // 2018-04-01
  int partition_, partitions_;
  uint64_t count_, terminals_;
  double step_ms_;
  uint64_t seed_;
  uint64_t per_partition_;  //!< Cards of this partition.
  uint64_t next_ = 0;
  bool done_ = false;
  std::atomic<int>* unfinished_;
  std::string text_;
};

//! `partitions` generated partitions, `events` in all; finished once every reader gave its last.
class GeneratedSource final : public engine::Source {
 public:
  GeneratedSource(const Options& o, uint64_t cards, uint64_t terminals)
      : options_(o), cards_(cards), terminals_(terminals), unfinished_(o.partitions) {}
  base::Status Start(engine::SourceListener* listener) override {
    for (int p = 0; p < options_.partitions; ++p) {
      VIGIL_RETURN_IF_ERROR(listener->PrepareAssign(p).status());
      const uint64_t count =
          options_.events / options_.partitions + (p == 0 ? options_.events % options_.partitions : 0);
      VIGIL_RETURN_IF_ERROR(
          listener->Assigned(p,
                             std::make_unique<GeneratedReader>(p, options_.partitions, count, cards_,
                                                               terminals_, options_.days, &unfinished_),
                             nullptr));
    }
    return base::Status::OK();
  }
  base::Status Poll(int timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 10)));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset>) override { return base::Status::OK(); }
  bool Finished() const override { return unfinished_.load() == 0; }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

 private:
  Options options_;
  uint64_t cards_, terminals_;
  std::atomic<int> unfinished_;
  std::string name_ = "generated";
};

//! Counts what it is given; the JSON encoding still happens.
class CountingSink final : public engine::Sink {
 public:
  base::Status Write(const engine::OutBatch& b) override {
    records += b.records.size();
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  std::atomic<uint64_t> records = 0;
};

//! The peak resident set since the last reset, in bytes (VmHWM).
uint64_t PeakRss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

//! Resets VmHWM to the current RSS (Linux 4.0+), so each run reports its own peak.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct RunResult {
  double events_per_second = 0;
  double seconds = 0;
  uint64_t out = 0;
  uint64_t peak_rss = 0;
  double block_cache_hit_ratio = 0, write_cache_hit_ratio = 0;
  double block_cache = 0, memtables = 0, write_cache = 0;
};

base::Result<RunResult> RunOnce(const Options& o, uint64_t cards, uint64_t terminals) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vigil-state-scale-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  VIGIL_ASSIGN_OR_RETURN(config::PipelineSpec spec,
                         config::LoadPipelineText(PipelineYaml(o, dir.string()), "state_scale.yaml"));
  engine::OperatorRegistry registry;
  VIGIL_RETURN_IF_ERROR(operators::RegisterOperators(&registry));
  spec.name = "state-scale";
  auto sink = std::make_unique<CountingSink>();
  CountingSink* counted = sink.get();
  RunResult r;
  ResetPeakRss();
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<prometheus::Registry> metrics;
  {
    VIGIL_ASSIGN_OR_RETURN(
        auto pipeline,
        engine::Pipeline::Build(
            {spec}, registry,
            [&](const config::PipelineSpec&, const engine::Plan&) -> base::Result<engine::StageIo> {
              return engine::StageIo(std::make_unique<GeneratedSource>(o, cards, terminals), std::move(sink),
                                     nullptr);
            }));
    metrics = pipeline->metrics();
    VIGIL_RETURN_IF_ERROR(pipeline->Run());
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.out = counted->records.load();
    r.peak_rss = PeakRss();
  }
  r.events_per_second = static_cast<double>(o.events) / r.seconds;
  r.block_cache_hit_ratio = engine::SampleValue(*metrics, "vigil_state_block_cache_hit_ratio");
  r.write_cache_hit_ratio = engine::SampleValue(*metrics, "vigil_state_cache_hit_ratio");
  r.block_cache = engine::SampleValue(*metrics, "vigil_state_memory_bytes", "kind", "block_cache");
  r.memtables = engine::SampleValue(*metrics, "vigil_state_memory_bytes", "kind", "memtables");
  r.write_cache = engine::SampleValue(*metrics, "vigil_state_memory_bytes", "kind", "write_cache");
  std::filesystem::remove_all(dir);
  return r;
}

void Print(const char* name, uint64_t cards, uint64_t terminals, const RunResult& r) {
  constexpr double kMiB = 1 << 20;
  std::printf(
      "%-6s %10llu cards %9llu terminals: %9.0f events/s (%.1f s, %llu out), peak RSS %6.0f MiB, "
      "block cache hit ratio %.3f, write-back cache hit ratio %.3f; at the end: block cache %.0f MiB, "
      "memtables %.0f MiB, write-back caches %.0f MiB\n",
      name, static_cast<unsigned long long>(cards), static_cast<unsigned long long>(terminals),
      r.events_per_second, r.seconds, static_cast<unsigned long long>(r.out),
      static_cast<double>(r.peak_rss) / kMiB, r.block_cache_hit_ratio, r.write_cache_hit_ratio,
      r.block_cache / kMiB, r.memtables / kMiB, r.write_cache / kMiB);
  std::fflush(stdout);
}

bool ParseFlags(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    uint64_t n = 0;
    const bool number = std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc();
    if (flag == "--memory") {
      o->memory = value;
      continue;
    }
    if (!number || n == 0) return false;
    if (flag == "--events")
      o->events = n;
    else if (flag == "--small-cards")
      o->small_cards = n;
    else if (flag == "--small-terminals")
      o->small_terminals = n;
    else if (flag == "--large-cards")
      o->large_cards = n;
    else if (flag == "--large-terminals")
      o->large_terminals = n;
    else if (flag == "--partitions")
      o->partitions = static_cast<int>(n);
    else if (flag == "--days")
      o->days = static_cast<int>(n);
    else
      return false;
  }
  return argc % 2 == 1;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  vigil::Options o;
  if (!vigil::ParseFlags(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: state_scale_bench [--events N] [--small-cards N] [--small-terminals N] "
                 "[--large-cards N] [--large-terminals N] [--memory SIZE] [--partitions N] [--days N]\n");
    return 2;
  }
  std::printf("%llu events per run, runtime.memory %s, %d partitions on %d workers, %d days\n",
              static_cast<unsigned long long>(o.events), o.memory.c_str(), o.partitions, o.partitions,
              o.days);
  auto small = vigil::RunOnce(o, o.small_cards, o.small_terminals);
  if (!small.ok()) {
    std::fprintf(stderr, "small run: %s\n", small.status().ToString().c_str());
    return 1;
  }
  vigil::Print("small", o.small_cards, o.small_terminals, *small);
  auto large = vigil::RunOnce(o, o.large_cards, o.large_terminals);
  if (!large.ok()) {
    std::fprintf(stderr, "large run: %s\n", large.status().ToString().c_str());
    return 1;
  }
  vigil::Print("large", o.large_cards, o.large_terminals, *large);
  std::printf(
      "large / small events/s: %.2f (target >= 0.70); peak RSS of the large run %.2f GiB (target <= 2)\n",
      large->events_per_second / small->events_per_second, static_cast<double>(large->peak_rss) / (1 << 30));
  return 0;
}
