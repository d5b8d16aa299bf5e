#include "engine/stages.h"

#include <algorithm>

#include "engine/plan.h"

namespace vigil::engine {
namespace {

constexpr std::string_view kLabelField = "$label";

//! Whether a window keyed by `key` can run in a stage partitioned by `current`: when `current` is one
//! of its columns, every event of one key value has the same `current`, hence the same partition.
bool RunsIn(const std::vector<std::string>& key, const std::string& current) {
  return std::find(key.begin(), key.end(), current) != key.end();
}

//! The index of the first window of `ops` from `from` that cannot run in a stage partitioned by
//! `current`; -1 if none.
int NextCut(const std::vector<config::OperatorSpec>& ops, size_t from, const std::string& current) {
  for (size_t i = from; i < ops.size(); ++i) {
    if (const auto* w = std::get_if<config::WindowSpec>(&ops[i].params);
        w != nullptr && !RunsIn(w->key, current))
      return static_cast<int>(i);
  }
  return -1;
}

//! Where `op` needs the label stream, or nullptr.
const config::Location* NeedsLabels(const config::OperatorSpec& op) {
  if (const auto* w = std::get_if<config::WindowSpec>(&op.params)) {
    for (const auto& out : w->outputs)
      if (out.field == kLabelField || out.denominator == kLabelField) return &out.loc;
  }
  if (const auto* s = std::get_if<config::ScoreSpec>(&op.params)) {
    if (s->monitor.performance || s->rollout.enabled || !s->feature_log.empty()) return &op.loc;
  }
  return nullptr;
}

//! The input schema of a stage that reads what the previous stage wrote: every column of `plan`.
config::SchemaSpec SchemaOf(const Plan& plan, const std::string& key) {
  config::SchemaSpec schema;
  const config::SchemaSpec& original = plan.spec().schema;
  schema.event_time = original.event_time;
  schema.key = key;
  schema.max_event_bytes = original.max_event_bytes;
  schema.loc = original.loc;
  for (const Column& c : plan.schema().columns()) {
    config::FieldSpec f;
    f.name = c.name;
    f.type = c.type;
    f.time_format = config::TimeFormat::kEpochMillis;  // timestamps are written as epoch ms
    f.required = c.name == original.event_time;
    f.loc = original.loc;
    schema.fields.push_back(std::move(f));
  }
  return schema;
}

}  // namespace

std::string RepartitionTopic(const config::PipelineSpec& spec, const std::string& key) {
  return spec.source.group + "." + spec.source.topic + ".repartition." + key;
}

base::Result<std::vector<config::PipelineSpec>> SplitStages(const config::PipelineSpec& spec,
                                                            const OperatorRegistry& registry) {
  if (spec.source.kind != config::SourceSpec::Kind::kKafka || spec.source.key.empty() ||
      NextCut(spec.operators, 0, spec.source.key) < 0)
    return std::vector<config::PipelineSpec>{spec};

  // Stage boundaries: [begin, end) of the operators, and each stage's key.
  struct Bounds {
    size_t begin, end;
    std::string key;
  };
  std::vector<Bounds> bounds{{0, spec.operators.size(), spec.source.key}};
  for (int cut = NextCut(spec.operators, 0, spec.source.key); cut >= 0;) {
    // A composite key is repartitioned by its first column: every event of one of its values then
    // lands in one partition, and the stage's key is a single field like the source's.
    const auto& key =
        std::get<config::WindowSpec>(spec.operators[static_cast<size_t>(cut)].params).key.front();
    bounds.back().end = static_cast<size_t>(cut);
    bounds.push_back({static_cast<size_t>(cut), spec.operators.size(), key});
    cut = NextCut(spec.operators, static_cast<size_t>(cut) + 1, key);
  }

  const std::string labels_key = spec.labels.source.key.empty() ? spec.source.key : spec.labels.source.key;
  if (spec.labels.enabled) {
    bool read = false;
    for (const Bounds& b : bounds) read = read || b.key == labels_key;
    if (!read)
      return config::ConfigError(
          spec.labels.source.loc,
          "the labels are keyed by " + labels_key +
              " (labels.source.key), but no stage of this "
              "pipeline is partitioned by it: over several partitions, its stages are keyed by " +
              spec.source.key + " and then by each re-keyed window's key");
  }
  for (const Bounds& b : bounds) {
    for (size_t i = b.begin; i < b.end; ++i) {
      const config::Location* loc = NeedsLabels(spec.operators[i]);
      if (loc == nullptr || (spec.labels.enabled && b.key == labels_key)) continue;
      if (!spec.labels.enabled) continue;  // the operator itself reports missing labels when bound
      return config::ConfigError(
          *loc, "'" + spec.operators[i].name +
                    "' reads the labels, but over several partitions it runs in the stage "
                    "partitioned by " +
                    b.key + " (after a repartition topic) and the labels are keyed by " + labels_key +
                    ": publish the labels keyed by " + b.key + " and set labels.source.key: " + b.key);
    }
  }

  std::vector<config::PipelineSpec> stages;
  std::unique_ptr<const Plan> previous;
  for (size_t s = 0; s < bounds.size(); ++s) {
    const Bounds& b = bounds[s];
    const bool last = s + 1 == bounds.size();
    config::PipelineSpec stage = spec;
    stage.operators.assign(spec.operators.begin() + static_cast<std::ptrdiff_t>(b.begin),
                           spec.operators.begin() + static_cast<std::ptrdiff_t>(b.end));
    if (s > 0) {
      stage.name = last ? spec.name : spec.name + ".by_" + b.key;
      stage.source.topic = RepartitionTopic(spec, b.key);
      stage.source.group = spec.source.group + ".by_" + b.key;
      stage.source.key = b.key;
      stage.source.purge_committed = true;  // only this stage reads it
      stage.schema = SchemaOf(*previous, last ? spec.schema.key : bounds[s + 1].key);
    } else {
      stage.name = spec.name + ".by_" + b.key;
      stage.schema.key = bounds[1].key;
    }
    stage.labels.enabled = spec.labels.enabled && b.key == labels_key;
    stage.labels.source.key = b.key;
    if (!last) {
      stage.features.clear();
      stage.output = config::SinkSpec{};
      stage.output.kind = config::SinkSpec::Kind::kKafka;
      stage.output.topic = RepartitionTopic(spec, bounds[s + 1].key);
      stage.output.loc = spec.operators[bounds[s + 1].begin].loc;
      VIGIL_ASSIGN_OR_RETURN(previous, Plan::Build(stage, registry));
    }
    stages.push_back(std::move(stage));
  }
  return stages;
}

int64_t StageAlignmentMs(const std::vector<config::PipelineSpec>& stages, size_t s) {
  if (s + 1 >= stages.size()) return -1;
  int64_t lateness = INT64_MAX;
  for (size_t later = s + 1; later < stages.size(); ++later)
    for (const auto& op : stages[later].operators)
      if (const auto* w = std::get_if<config::WindowSpec>(&op.params))
        lateness = std::min(lateness, w->lateness_ms);
  return lateness == INT64_MAX ? 0 : lateness / 4;
}

}  // namespace vigil::engine
