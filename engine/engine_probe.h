#pragma once
// EngineProbe: the runtime's Prometheus metrics. The only engine file that includes prometheus-cpp.
// Labels stay low-cardinality: pipeline, reason, partition — never a card or a key.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.h"
#include "engine/memory_budget.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace vigil::engine {

//! Thread-safe: every method may be called from any thread (prometheus-cpp metrics are atomic).
class EngineProbe {
 public:
  //! Registers the metrics in `registry` (shared with other probes of the process).
  EngineProbe(std::shared_ptr<prometheus::Registry> registry, const std::string& pipeline);
  ~EngineProbe();

  //! One processed batch: rows read, rows written, seconds from read to sink.
  void BatchDone(uint64_t events_in, uint64_t events_out, double seconds);
  //! The events of a batch whose outputs were just handed to the sinks, at `now_ms` (wall clock, ms
  //! since the epoch): each one's time since its record's timestamp, when it has one.
  void DecisionsWritten(std::span<const RawEvent> events, double now_ms);
  //! One dead-lettered event.
  void DeadLettered(DlqReason reason, uint64_t n = 1);
  //! One commit and how long it took.
  void Committed(double seconds);
  //! How long a commit kept the workers paused (its in-memory staging, or all of it when the sinks
  //! cannot hold their records back).
  void CommitPaused(double seconds);
  //! Consumer lag of a partition, in events.
  void SetLag(int32_t partition, int64_t lag);
  //! Keys in the write-back caches and RocksDB, and the caches' hit ratio.
  void SetState(uint64_t cached_keys, uint64_t stored_keys, double hit_ratio);
  //! The state's memory (vigil_state_memory_bytes by kind: block_cache, memtables, pinned,
  //! write_cache), its bounds (vigil_state_memory_limit_bytes by kind: block_cache (memtables
  //! included), memtables, write_cache) and the block cache's hit ratio, process-wide.
  void SetMemory(const MemoryUsage& usage, const MemoryBudget& budget);
  //! Partitions currently assigned to this process.
  void SetAssigned(int partitions);
  //! One partition's state restored from the changelog: changes read, seconds taken.
  void Restored(uint64_t changes, double seconds);
  //! Counts `keys` deleted by the expiry sweeps (vigil_state_expired_keys_total).
  void Expired(uint64_t keys);
  //! Counts a drop of the work since the last commit, to be read again: a commit refused by a
  //! rebalance, or partitions lost (vigil_rewinds_total).
  void Rewound();
  //! How far, in event time, a partition's label stream (its latest label time) is behind the
  //! events being scored, in seconds; 0 when it is level with them.
  void SetLabelLag(int32_t partition, double seconds);
  //! One batch scored without waiting any longer for a label stream that did not reach its time
  //! within labels.max_wait.
  void LabelWaitTimedOut();

  //! The registry, for the HTTP /metrics endpoint and other probes.
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::string pipeline_;
  prometheus::Counter* events_in_;
  prometheus::Counter* events_out_;
  prometheus::Counter* batches_;
  std::array<prometheus::Counter*, kDlqReasonCount> dlq_{};
  prometheus::Histogram* batch_latency_;
  prometheus::Histogram* decision_latency_;
  std::vector<double> latency_bounds_;  // the latency histograms' bucket bounds, in seconds
  prometheus::Histogram* commit_latency_;
  prometheus::Histogram* commit_pause_;
  prometheus::Family<prometheus::Gauge>* lag_family_;
  prometheus::Gauge* cached_keys_;
  prometheus::Gauge* stored_keys_;
  prometheus::Gauge* hit_ratio_;
  std::array<prometheus::Gauge*, 4> memory_{};        //!< block_cache, memtables, pinned, write_cache.
  std::array<prometheus::Gauge*, 3> memory_limit_{};  //!< block_cache, memtables, write_cache.
  prometheus::Gauge* block_cache_hit_ratio_;
  prometheus::Gauge* assigned_;
  prometheus::Counter* restored_changes_;
  prometheus::Counter* restore_seconds_;
  prometheus::Gauge* restore_rate_;
  prometheus::Counter* expired_keys_;
  prometheus::Counter* rewinds_;
  prometheus::Family<prometheus::Gauge>* label_lag_family_;
  prometheus::Counter* label_wait_timeouts_;
};

//! Renders a registry in the Prometheus text format (for GET /metrics).
std::string SerializeMetrics(const prometheus::Registry& registry);
//! The value of the first counter or gauge sample of `name` with the label `label`=`value` (any sample
//! when `label` is empty); -1 when there is none. For tests and benchmarks reading a registry back.
double SampleValue(const prometheus::Registry& registry, std::string_view name, std::string_view label = {},
                   std::string_view value = {});
//! A new registry (so callers need not include prometheus-cpp).
std::shared_ptr<prometheus::Registry> NewMetricsRegistry();

}  // namespace vigil::engine
