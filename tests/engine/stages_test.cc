// SplitStages: a pipeline over a partitioned Kafka topic is cut before each window keyed otherwise than
// the current stage; each stage reads what the previous one wrote, every column, keyed by its own key;
// the labels go to the stage keyed like them, and operators that need them elsewhere are located errors.
#include "engine/stages.h"

#include <catch2/catch.hpp>

#include "config/pipeline_config.h"
#include "engine/plan.h"
#include "operators/register.h"

namespace vigil::testing {
namespace {

//! The Handbook's shape: a derive and a window by customer, then a window by terminal over the labels.
std::string Yaml(const std::string& labels_key, const std::string& terminal_field = "$label") {
  return R"(name: fraud
source: {kind: kafka, topic: tx, key: CUSTOMER_ID}
schema:
  event_time: T
  key: CUSTOMER_ID
  fields:
    - {name: TRANSACTION_ID, type: int64}
    - {name: T, type: timestamp, format: iso8601}
    - {name: CUSTOMER_ID, type: int64}
    - {name: TERMINAL_ID, type: int64}
    - {name: AMOUNT, type: double, min: 0}
labels:
  source: {kind: kafka, topic: labels)" +
         (labels_key.empty() ? std::string() : ", key: " + labels_key) + R"(}
operators:
  - type: derive
    outputs:
      - {name: HOUR, fn: hour_of_day, args: [T]}
  - type: window
    name: customer
    key: CUSTOMER_ID
    outputs:
      - {name: C_COUNT, agg: count, window: 1d}
      - {name: C_AVG, agg: avg, field: AMOUNT, window: 1d}
  - type: window
    name: terminal
    key: TERMINAL_ID
    delay: 7d
    outputs:
      - {name: T_RISK, agg: ratio, field: )" +
         terminal_field + R"(, window: 7d}
features: [AMOUNT, C_COUNT, C_AVG, T_RISK]
output: {kind: kafka, topic: decisions}
dead_letter: {kind: kafka, topic: dlq}
)";
}

engine::OperatorRegistry Registry() {
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  return registry;
}

std::vector<std::string> Names(const config::PipelineSpec& spec) {
  std::vector<std::string> names;
  for (const auto& op : spec.operators) names.push_back(op.name);
  return names;
}

TEST_CASE("SplitStages cuts before a window keyed by another field and chains the stages by topics",
          "[stages]") {
  auto spec = config::LoadPipelineText(Yaml("TERMINAL_ID"), "p.yaml");
  REQUIRE(spec.ok());
  const auto registry = Registry();
  auto stages = engine::SplitStages(*spec, registry);
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 2);
  const config::PipelineSpec& first = (*stages)[0];
  const config::PipelineSpec& second = (*stages)[1];

  // The first stage: the input, by customer; writes every column keyed by terminal, no labels.
  CHECK(first.name == "fraud.by_CUSTOMER_ID");
  CHECK(Names(first) == std::vector<std::string>{"derive-0", "customer"});
  CHECK(first.source.topic == "tx");
  CHECK(first.source.group == "vigil-fraud");
  CHECK(first.schema.key == "TERMINAL_ID");
  CHECK_FALSE(first.labels.enabled);
  CHECK(first.features.empty());
  CHECK(first.output.kind == config::SinkSpec::Kind::kKafka);
  CHECK(first.output.topic == "vigil-fraud.tx.repartition.TERMINAL_ID");
  CHECK(first.output.fields.empty());  // every column
  CHECK(first.dead_letter.topic == "dlq");

  // The second: the repartition topic, by terminal, in its own group, with the labels and the
  // original output; its schema is the first stage's columns (timestamps as epoch ms).
  CHECK(second.name == "fraud");
  CHECK(Names(second) == std::vector<std::string>{"terminal"});
  CHECK(second.source.topic == first.output.topic);
  CHECK(second.source.group == "vigil-fraud.by_TERMINAL_ID");
  CHECK(second.source.key == "TERMINAL_ID");
  CHECK(second.schema.key == "CUSTOMER_ID");  // the decisions stay keyed by customer
  CHECK(second.labels.enabled);
  CHECK(second.features == spec->features);
  CHECK(second.output.topic == "decisions");
  std::vector<std::string> fields;
  for (const auto& f : second.schema.fields) fields.push_back(f.name);
  CHECK(fields == std::vector<std::string>{"TRANSACTION_ID", "T", "CUSTOMER_ID", "TERMINAL_ID", "AMOUNT",
                                           "HOUR", "C_COUNT", "C_AVG"});
  CHECK(second.schema.fields[1].type == config::FieldType::kTimestamp);
  CHECK(second.schema.fields[1].time_format == config::TimeFormat::kEpochMillis);
  CHECK(second.schema.fields[1].required);
  CHECK(second.schema.fields[6].type == config::FieldType::kDouble);
  CHECK_FALSE(second.schema.fields[7].required);  // an average of nothing is written as null

  // Both bind: the second stage's features are its columns.
  CHECK(engine::Plan::Build(first, registry).ok());
  CHECK(engine::Plan::Build(second, registry).ok());
}

TEST_CASE("SplitStages leaves a pipeline alone when no window is re-keyed or the source key is unknown",
          "[stages]") {
  const auto registry = Registry();
  std::string yaml = Yaml("");
  const std::string terminal = "key: TERMINAL_ID", label = "field: $label";
  yaml.replace(yaml.find(terminal), terminal.size(), "key: CUSTOMER_ID");
  yaml.replace(yaml.find(label), label.size(), "field: AMOUNT");
  auto spec = config::LoadPipelineText(yaml, "p.yaml");
  REQUIRE(spec.ok());
  auto stages = engine::SplitStages(*spec, registry);
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 1);
  CHECK((*stages)[0].name == "fraud");
  CHECK(Names((*stages)[0]) == Names(*spec));

  auto unknown_key = config::LoadPipelineText(Yaml("TERMINAL_ID"), "p.yaml");
  REQUIRE(unknown_key.ok());
  unknown_key->source.key.clear();
  stages = engine::SplitStages(*unknown_key, registry);
  REQUIRE(stages.ok());
  CHECK(stages->size() == 1);
}

TEST_CASE("SplitStages refuses labels read in a stage not keyed like them, with the place and the fix",
          "[stages]") {
  const auto registry = Registry();
  // Labels keyed like the transactions (the default), read by the per-terminal window.
  auto spec = config::LoadPipelineText(Yaml(""), "p.yaml");
  REQUIRE(spec.ok());
  auto stages = engine::SplitStages(*spec, registry);
  REQUIRE_FALSE(stages.ok());
  CHECK(stages.status().code() == base::StatusCode::kInvalidArgument);
  CHECK_THAT(stages.status().message(), Catch::StartsWith("p.yaml:29:"));  // the $label output
  CHECK_THAT(stages.status().message(), Catch::Contains("'terminal' reads the labels"));
  CHECK_THAT(stages.status().message(), Catch::Contains("set labels.source.key: TERMINAL_ID"));

  // Labels keyed by a field no stage is partitioned by.
  spec = config::LoadPipelineText(Yaml("TRANSACTION_ID", "AMOUNT"), "p.yaml");
  REQUIRE(spec.ok());
  stages = engine::SplitStages(*spec, registry);
  REQUIRE_FALSE(stages.ok());
  CHECK_THAT(stages.status().message(), Catch::StartsWith("p.yaml:13:"));
  CHECK_THAT(stages.status().message(), Catch::Contains("keyed by TRANSACTION_ID"));
}

//! `yaml` with the terminal window keyed by `key` and `extra` (window list items) after it.
std::string Rekeyed(std::string yaml, const std::string& key, const std::string& extra = "") {
  const std::string terminal = "    name: terminal\n    key: TERMINAL_ID\n";
  REQUIRE(yaml.find(terminal) != std::string::npos);
  yaml.replace(yaml.find(terminal), terminal.size(), "    name: terminal\n    key: " + key + "\n");
  yaml.insert(yaml.find("features:"), extra);
  return yaml;
}

TEST_CASE(
    "SplitStages keeps a composite-keyed window in a stage keyed by one of its columns, else "
    "repartitions by its first column",
    "[stages]") {
  const auto registry = Registry();
  // Card × terminal over transactions keyed by card: one card's events are in one partition.
  for (const char* key : {"[CUSTOMER_ID, TERMINAL_ID]", "[TERMINAL_ID, CUSTOMER_ID]"}) {
    auto spec = config::LoadPipelineText(Rekeyed(Yaml("", "AMOUNT"), key), "p.yaml");
    REQUIRE(spec.ok());
    auto stages = engine::SplitStages(*spec, registry);
    INFO(key);
    REQUIRE(stages.ok());
    CHECK(stages->size() == 1);
    CHECK(engine::Plan::Build((*stages)[0], registry).ok());
  }

  // Terminal × transaction does not contain the card: a stage by terminal, its first column, where the
  // card × terminal window after it stays; a card window after that cuts back to the card.
  const std::string after =
      "  - type: window\n    name: pair\n    key: [CUSTOMER_ID, TERMINAL_ID]\n"
      "    outputs: [{name: P_COUNT, agg: count, window: 30d}]\n"
      "  - type: window\n    name: card_again\n    key: CUSTOMER_ID\n"
      "    outputs: [{name: C_GAP, agg: time_since_last}]\n";
  auto spec = config::LoadPipelineText(Rekeyed(Yaml("TERMINAL_ID"), "[TERMINAL_ID, TRANSACTION_ID]", after),
                                       "p.yaml");
  REQUIRE(spec.ok());
  auto stages = engine::SplitStages(*spec, registry);
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 3);
  CHECK(Names((*stages)[0]) == std::vector<std::string>{"derive-0", "customer"});
  CHECK(Names((*stages)[1]) == std::vector<std::string>{"terminal", "pair"});
  CHECK(Names((*stages)[2]) == std::vector<std::string>{"card_again"});
  CHECK((*stages)[0].output.topic == "vigil-fraud.tx.repartition.TERMINAL_ID");
  CHECK((*stages)[1].source.key == "TERMINAL_ID");
  CHECK((*stages)[1].labels.enabled);
  CHECK((*stages)[1].output.topic == "vigil-fraud.tx.repartition.CUSTOMER_ID");
  CHECK((*stages)[2].source.key == "CUSTOMER_ID");
  CHECK((*stages)[2].name == "fraud");
  for (const auto& stage : *stages) CHECK(engine::Plan::Build(stage, registry).ok());
}

}  // namespace
}  // namespace vigil::testing
