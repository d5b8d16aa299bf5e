#pragma once
// Stages: a pipeline over a partitioned Kafka topic whose windows are keyed by something other than the
// topic's key (a per-terminal window over transactions keyed by customer) cannot compute them in the
// input's tasks: a terminal's events are spread over every partition. It is cut, before each window
// whose key differs from the current one, into stages joined by repartition topics, as Kafka Streams
// does:
//
//   transactions (by CUSTOMER_ID) → [parse, derive, window customer] →
//   <group>.<topic>.repartition.TERMINAL_ID <group>.<topic>.repartition.TERMINAL_ID (by TERMINAL_ID) →
//   [parse, window terminal, score] → decisions
//
// Each stage is an ordinary pipeline (its own consumer group "<group>.by_<KEY>" after the first, tasks,
// changelog and transactional producer), so exactly-once, restore and rebalancing hold stage by stage,
// hence end to end. A stage writes every column it has (JSON, doubles in shortest round-trip form,
// so features stay bit-exact) keyed by the next stage's key; the next stage's schema is those columns.
//
// A window with a composite key (`key: [CUSTOMER_ID, TERMINAL_ID]`) stays in the current stage when
// one of its columns is that stage's key (all events of one card × terminal are in one partition of a
// topic keyed by card); otherwise it starts a stage repartitioned by its first column.
//
// The next stage sees a key's events as each input partition is processed, not in event-time order;
// its windows' lateness must cover that. `vigil run` keeps a feeding stage's partitions within a quarter
// of the next stages' smallest lateness of each other (Runtime::set_event_time_alignment).
//
// Labels are read by the one stage partitioned like them: `labels.source.key` names the event field
// the label records are keyed by (default: the source's key). Operators that read labels (`$label`
// window outputs, `score` with performance monitoring, rollout or a feature log) must be in that stage.

#include <string>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/operator_registry.h"

namespace vigil::engine {

//! The stages of `spec` when its source has more than one partition: one spec per stage, in data
//! order; the spec itself when no window is re-keyed (or the source's key is unknown). Errors (labels
//! needed in a stage that does not read them) are located in the file.
base::Result<std::vector<config::PipelineSpec>> SplitStages(const config::PipelineSpec& spec,
                                                            const OperatorRegistry& registry);

//! How far apart in event time stage `s`'s partitions may be (Runtime::set_event_time_alignment): a
//! quarter of the smallest lateness of the windows of the stages after it; -1 for the last stage.
int64_t StageAlignmentMs(const std::vector<config::PipelineSpec>& stages, size_t s);

//! The topic a stage writes for the stage keyed by `key`: "<group>.<input topic>.repartition.<key>" (a
//! group reused with another input starts afresh, as its changelogs do).
std::string RepartitionTopic(const config::PipelineSpec& spec, const std::string& key);

}  // namespace vigil::engine
