#include "engine/engine_probe.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>

namespace vigil::engine {

EngineProbe::EngineProbe(std::shared_ptr<prometheus::Registry> registry, const std::string& pipeline)
    : registry_(std::move(registry)), pipeline_(pipeline) {
  using namespace prometheus;
  const Labels labels{{"pipeline", pipeline}};
  events_in_ = &BuildCounter()
                    .Name("vigil_events_in_total")
                    .Help("Events read from the source.")
                    .Register(*registry_)
                    .Add(labels);
  events_out_ = &BuildCounter()
                     .Name("vigil_events_out_total")
                     .Help("Records written to the output sink.")
                     .Register(*registry_)
                     .Add(labels);
  batches_ = &BuildCounter()
                  .Name("vigil_batches_total")
                  .Help("Micro-batches processed.")
                  .Register(*registry_)
                  .Add(labels);
  auto& dlq = BuildCounter()
                  .Name("vigil_dead_letters_total")
                  .Help("Events sent to the dead-letter sink, by reason.")
                  .Register(*registry_);
  for (size_t i = 1; i < dlq_.size(); ++i) {
    dlq_[i] =
        &dlq.Add({{"pipeline", pipeline}, {"reason", std::string(DlqReasonName(static_cast<DlqReason>(i)))}});
  }
  // Half-octave steps, 2^(k/2) s from 43 µs to 11.3 s: histogram_quantile, which interpolates inside a
  // bucket, is then within a factor √2 of the true quantile. The powers of two (..., 0.25, 0.5, 1, 2 s)
  // are exact bounds, so alert thresholds on them are exact.
  Histogram::BucketBoundaries latency;
  for (int k = -29; k <= 7; ++k) {
    const int odd = k & 1;
    latency.push_back(std::ldexp(odd ? std::sqrt(2.0) : 1.0, (k - odd) / 2));
  }
  batch_latency_ = &BuildHistogram()
                        .Name("vigil_batch_latency_seconds")
                        .Help("Time from reading a micro-batch to handing its records to the sink.")
                        .Register(*registry_)
                        .Add(labels, latency);
  decision_latency_ =
      &BuildHistogram()
           .Name("vigil_decision_latency_seconds")
           .Help(
               "Time from an input record's timestamp (its producer's clock, or the broker's) to its "
               "output handed to the sink, for records that carry one (Kafka).")
           .Register(*registry_)
           .Add(labels, latency);
  latency_bounds_ = latency;
  commit_latency_ = &BuildHistogram()
                         .Name("vigil_commit_latency_seconds")
                         .Help("Time to flush state and sinks and commit offsets.")
                         .Register(*registry_)
                         .Add(labels, latency);
  commit_pause_ = &BuildHistogram()
                       .Name("vigil_commit_pause_seconds")
                       .Help("Time a commit kept the workers paused (staging the state in memory).")
                       .Register(*registry_)
                       .Add(labels, latency);
  lag_family_ = &BuildGauge()
                     .Name("vigil_consumer_lag_events")
                     .Help("Events behind the partition end.")
                     .Register(*registry_);
  cached_keys_ = &BuildGauge()
                      .Name("vigil_state_cached_keys")
                      .Help("Keys held in the write-back caches.")
                      .Register(*registry_)
                      .Add(labels);
  stored_keys_ = &BuildGauge()
                      .Name("vigil_state_stored_keys")
                      .Help("Estimated keys in the RocksDB stores.")
                      .Register(*registry_)
                      .Add(labels);
  hit_ratio_ = &BuildGauge()
                    .Name("vigil_state_cache_hit_ratio")
                    .Help("Share of state lookups served from memory.")
                    .Register(*registry_)
                    .Add(labels);
  auto& memory = BuildGauge()
                     .Name("vigil_state_memory_bytes")
                     .Help(
                         "Memory held by the state of every task of the process (runtime.memory), by kind: "
                         "block_cache (RocksDB blocks), memtables, pinned (blocks in use now, part of "
                         "block_cache), write_cache (the write-back caches, approximate).")
                     .Register(*registry_);
  const char* kinds[] = {"block_cache", "memtables", "pinned", "write_cache"};
  for (size_t i = 0; i < memory_.size(); ++i)
    memory_[i] = &memory.Add({{"pipeline", pipeline}, {"kind", kinds[i]}});
  auto& limit = BuildGauge()
                    .Name("vigil_state_memory_limit_bytes")
                    .Help(
                        "Bounds of the state's memory: block_cache (the shared RocksDB cache, memtables "
                        "included), memtables, write_cache.")
                    .Register(*registry_);
  const char* limit_kinds[] = {"block_cache", "memtables", "write_cache"};
  for (size_t i = 0; i < memory_limit_.size(); ++i)
    memory_limit_[i] = &limit.Add({{"pipeline", pipeline}, {"kind", limit_kinds[i]}});
  block_cache_hit_ratio_ = &BuildGauge()
                                .Name("vigil_state_block_cache_hit_ratio")
                                .Help("Share of RocksDB block reads served from the shared block cache.")
                                .Register(*registry_)
                                .Add(labels);
  restored_changes_ = &BuildCounter()
                           .Name("vigil_restore_changes_total")
                           .Help("State changes read back from the changelog when partitions were assigned.")
                           .Register(*registry_)
                           .Add(labels);
  restore_seconds_ = &BuildCounter()
                          .Name("vigil_restore_seconds_total")
                          .Help("Time spent restoring state from the changelog.")
                          .Register(*registry_)
                          .Add(labels);
  restore_rate_ = &BuildGauge()
                       .Name("vigil_restore_rate")
                       .Help("Changes per second of the last restore.")
                       .Register(*registry_)
                       .Add(labels);
  expired_keys_ =
      &BuildCounter()
           .Name("vigil_state_expired_keys_total")
           .Help(
               "Keys the expiry deleted: window states, and label chunks (64 ids), that no window can read.")
           .Register(*registry_)
           .Add(labels);
  rewinds_ = &BuildCounter()
                  .Name("vigil_rewinds_total")
                  .Help(
                      "Times the work since the last commit was dropped, to be read again: a commit refused "
                      "because the group rebalanced meanwhile, or partitions lost with the group session.")
                  .Register(*registry_)
                  .Add(labels);
  label_lag_family_ = &BuildGauge()
                           .Name("vigil_label_lag_seconds")
                           .Help("Event time by which the label stream is behind the events being scored.")
                           .Register(*registry_);
  label_wait_timeouts_ =
      &BuildCounter()
           .Name("vigil_label_wait_timeouts_total")
           .Help("Batches scored after waiting labels.max_wait for a lagging label stream.")
           .Register(*registry_)
           .Add(labels);
  assigned_ = &BuildGauge()
                   .Name("vigil_assigned_partitions")
                   .Help("Input partitions owned by this process.")
                   .Register(*registry_)
                   .Add(labels);
}

EngineProbe::~EngineProbe() = default;

void EngineProbe::DecisionsWritten(std::span<const RawEvent> events, double now_ms) {
  // One histogram update (one lock) per batch: the buckets are counted here, on the worker's own
  // scratch, with Observe's rule (the first bound at or above the value; past the last, +Inf).
  thread_local std::vector<double> counts;
  counts.assign(latency_bounds_.size() + 1, 0.0);
  double sum = 0;
  bool any = false;
  for (const RawEvent& e : events) {
    if (e.timestamp_ms < 0) continue;
    const double seconds = std::max(0.0, now_ms - static_cast<double>(e.timestamp_ms)) / 1000.0;
    counts[static_cast<size_t>(std::lower_bound(latency_bounds_.begin(), latency_bounds_.end(), seconds) -
                               latency_bounds_.begin())] += 1;
    sum += seconds;
    any = true;
  }
  if (any) decision_latency_->ObserveMultiple(counts, sum);
}

void EngineProbe::BatchDone(uint64_t events_in, uint64_t events_out, double seconds) {
  events_in_->Increment(static_cast<double>(events_in));
  events_out_->Increment(static_cast<double>(events_out));
  batches_->Increment();
  batch_latency_->Observe(seconds);
}

void EngineProbe::DeadLettered(DlqReason reason, uint64_t n) {
  const auto i = static_cast<size_t>(reason);
  if (i > 0 && i < dlq_.size()) dlq_[i]->Increment(static_cast<double>(n));
}

void EngineProbe::Committed(double seconds) { commit_latency_->Observe(seconds); }

void EngineProbe::CommitPaused(double seconds) { commit_pause_->Observe(seconds); }

void EngineProbe::SetLag(int32_t partition, int64_t lag) {
  lag_family_->Add({{"pipeline", pipeline_}, {"partition", std::to_string(partition)}})
      .Set(static_cast<double>(lag));
}

void EngineProbe::SetState(uint64_t cached_keys, uint64_t stored_keys, double hit_ratio) {
  cached_keys_->Set(static_cast<double>(cached_keys));
  stored_keys_->Set(static_cast<double>(stored_keys));
  hit_ratio_->Set(hit_ratio);
}

void EngineProbe::SetMemory(const MemoryUsage& usage, const MemoryBudget& budget) {
  const size_t values[] = {usage.block_cache, usage.memtables, usage.pinned, usage.write_cache};
  for (size_t i = 0; i < memory_.size(); ++i) memory_[i]->Set(static_cast<double>(values[i]));
  const size_t limits[] = {budget.block_cache_bytes(), budget.memtable_bytes(), budget.write_cache_bytes()};
  for (size_t i = 0; i < memory_limit_.size(); ++i) memory_limit_[i]->Set(static_cast<double>(limits[i]));
  const uint64_t reads = usage.block_cache_hits + usage.block_cache_misses;
  block_cache_hit_ratio_->Set(reads ? static_cast<double>(usage.block_cache_hits) / static_cast<double>(reads)
                                    : 1.0);
}

void EngineProbe::SetAssigned(int partitions) { assigned_->Set(partitions); }

void EngineProbe::Restored(uint64_t changes, double seconds) {
  restored_changes_->Increment(static_cast<double>(changes));
  restore_seconds_->Increment(seconds);
  if (seconds > 0 && changes > 0) restore_rate_->Set(static_cast<double>(changes) / seconds);
}

void EngineProbe::SetLabelLag(int32_t partition, double seconds) {
  label_lag_family_->Add({{"pipeline", pipeline_}, {"partition", std::to_string(partition)}}).Set(seconds);
}

void EngineProbe::Rewound() { rewinds_->Increment(); }

void EngineProbe::Expired(uint64_t keys) {
  if (keys > 0) expired_keys_->Increment(static_cast<double>(keys));
}

void EngineProbe::LabelWaitTimedOut() { label_wait_timeouts_->Increment(); }

std::string SerializeMetrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

double SampleValue(const prometheus::Registry& registry, std::string_view name, std::string_view label,
                   std::string_view value) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) {
      const bool match = label.empty() || std::any_of(m.label.begin(), m.label.end(), [&](const auto& l) {
                           return l.name == label && l.value == value;
                         });
      if (!match) continue;
      if (family.type == prometheus::MetricType::Counter) return m.counter.value;
      if (family.type == prometheus::MetricType::Gauge) return m.gauge.value;
    }
  }
  return -1;
}

std::shared_ptr<prometheus::Registry> NewMetricsRegistry() {
  return std::make_shared<prometheus::Registry>();
}

}  // namespace vigil::engine
