// One memory budget for the state of the process (runtime.memory): the write-back caches' allowance,
// and a pipeline over more distinct keys than its small budget holds, whose write-back caches stay
// within their bound (the evicted keys read back from RocksDB, every count exact) and whose
// vigil_state_memory_bytes gauges report each part.
#include "engine/memory_budget.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "config/pipeline_config.h"
#include "connectors/file_io.h"
#include "engine/engine_probe.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("CacheBudget: no bound while within the limit, then an even share plus the unused part",
          "[engine][memory]") {
  engine::CacheBudget budget(1000);
  engine::CacheBudget::Account big(&budget), small(&budget);
  big.Set(600);
  small.Set(300);
  CHECK(budget.used() == 900);
  CHECK(big.Allowance() == SIZE_MAX);
  big.Set(900);
  CHECK(budget.used() == 1200);
  // Shares of 500; the small cache leaves 200 of its share unused, which the big one may keep.
  CHECK(big.Allowance() == 700);
  CHECK(small.Allowance() == 700);
  {
    engine::CacheBudget::Account third(&budget);
    third.Set(100);
    // Shares of 333: 233 + 33 unused, for the one cache above its share.
    CHECK(big.Allowance() == 333 + 266);
  }
  CHECK(budget.used() == 1200);  // the third account's bytes left with it
  engine::CacheBudget::Account unbounded(nullptr);
  unbounded.Set(1 << 30);
  CHECK(unbounded.Allowance() == SIZE_MAX);
  CHECK(budget.used() == 1200);
}

TEST_CASE("MemoryBudget: the split of runtime.memory, and the smallest budget", "[engine][memory]") {
  auto budget = engine::MemoryBudget::Make(1ull << 30);
  REQUIRE(budget.ok());
  CHECK((*budget)->block_cache_bytes() == 512u << 20);
  CHECK((*budget)->memtable_bytes() == 128u << 20);
  CHECK((*budget)->write_cache_bytes() == 512u << 20);
  auto tiny = engine::MemoryBudget::Make(1 << 20);
  REQUIRE_FALSE(tiny.ok());
  CHECK(tiny.status().message().find("below the minimum") != std::string::npos);
}

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
operators:
  - type: window
    key: K
    lateness: 10s
    outputs:
      - {name: C, agg: count, window: 1d}
output: {kind: none, fields: [ID, C]}
runtime: {workers: 1, commit_interval: 5ms, guarantee: at_least_once, memory: 16MiB}
)";

constexpr int kKeys = 60'000;

//! Each of kKeys keys once, then each once more a second later: the second pass counts 2.
std::string Events() {
  std::string text;
  char line[96];
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < kKeys; ++i) {
      const int n = std::snprintf(line, sizeof line, "{\"ID\":%d,\"T\":%d,\"K\":\"card-%06d\"}\n",
                                  pass * kKeys + i, 1000 * (pass + 1) + i / 1000, i);
      text.append(line, static_cast<size_t>(n));
    }
  }
  return text;
}

TEST_CASE("runtime.memory bounds the write-back caches over many distinct keys, and the gauges show it",
          "[engine][memory]") {
  auto spec = config::LoadPipelineText(kYaml, "memory.yaml");
  REQUIRE(spec.ok());
  spec->runtime.state_dir = TempDir("vigil-memory");
  spec->name = "memory";
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  std::vector<Captured> outputs;
  auto pipeline = engine::Pipeline::Build(
      {*spec}, registry,
      [&](const config::PipelineSpec&, const engine::Plan&) -> base::Result<engine::StageIo> {
        return engine::StageIo(connectors::FileSource::FromText(Events(), "input"),
                               std::make_unique<CapturingSink>(&outputs), nullptr);
      });
  INFO(pipeline.status().ToString());
  REQUIRE(pipeline.ok());
  const engine::MemoryBudget& budget = (*pipeline)->runtime(0).memory_budget();
  REQUIRE(budget.write_cache_bytes() == 8u << 20);
  REQUIRE((*pipeline)->Run().ok());
  const prometheus::Registry& metrics = *(*pipeline)->metrics();

  // Every count is exact: with commits every 5 ms, keys are evicted between their two events and
  // read back from RocksDB (how many depends on the timing).
  REQUIRE(outputs.size() == 2 * kKeys);
  size_t twice = 0;
  for (size_t i = kKeys; i < outputs.size(); ++i)
    twice += outputs[i].value.find("\"C\":2") != std::string::npos;
  CHECK(twice == kKeys);

  // The gauges as of the last commit (published before the stores close).
  const std::string text = engine::SerializeMetrics(metrics);
  INFO(text.substr(text.find("vigil_state_memory_bytes")));
  const double write_cache = engine::SampleValue(metrics, "vigil_state_memory_bytes", "kind", "write_cache");
  CHECK(write_cache > 0);
  // 60,000 keys of about 250 bytes each: far more than the 8 MiB bound, which holds after the last
  // commit (nothing changed since is left in the caches).
  CHECK(write_cache <= static_cast<double>(budget.write_cache_bytes()));
  CHECK(engine::SampleValue(metrics, "vigil_state_memory_bytes", "kind", "block_cache") > 0);
  CHECK(engine::SampleValue(metrics, "vigil_state_memory_bytes", "kind", "memtables") > 0);
  CHECK(engine::SampleValue(metrics, "vigil_state_memory_bytes", "kind", "pinned") >= 0);
  CHECK(engine::SampleValue(metrics, "vigil_state_memory_limit_bytes", "kind", "write_cache") == 8 << 20);
  CHECK(engine::SampleValue(metrics, "vigil_state_memory_limit_bytes", "kind", "block_cache") == 8 << 20);
  CHECK(engine::SampleValue(metrics, "vigil_state_memory_limit_bytes", "kind", "memtables") == 2 << 20);
  const double hit_ratio =
      engine::SampleValue(metrics, "vigil_state_block_cache_hit_ratio", "pipeline", "memory");
  CHECK(hit_ratio >= 0);
  CHECK(hit_ratio <= 1);
}

}  // namespace
}  // namespace vigil::testing
