#include "tests/support/handbook.h"

#include <catch2/catch.hpp>

#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {

void ReplaceRequired(std::string* yaml, const std::string& from, const std::string& to) {
  INFO("handbook.yaml no longer contains: " << from);
  REQUIRE(yaml->find(from) != std::string::npos);
  ReplaceAll(yaml, from, to);
}

std::string HandbookYaml(const HandbookTopics& topics) {
  std::string yaml = ReadFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml");
  if (!topics.transactions.empty())
    ReplaceRequired(&yaml, "topic: transactions}", "topic: " + topics.transactions + "}");
  if (!topics.labels.empty()) ReplaceRequired(&yaml, "topic: labels,", "topic: " + topics.labels + ",");
  if (!topics.dead_letter.empty())
    ReplaceRequired(&yaml, "topic: transactions.dlq}", "topic: " + topics.dead_letter + "}");
  if (!topics.output.empty()) ReplaceRequired(&yaml, "topic: features", "topic: " + topics.output);
  ReplaceRequired(&yaml, "bootstrap: 127.0.0.1:19092", "bootstrap: '" + Bootstrap() + "'");
  // The tests compare live features with replayed ones, which match unless a batch gave up waiting
  // for its labels: on a loaded test machine the first fetch after an assignment may take seconds.
  ReplaceRequired(&yaml, "max_wait: 200ms", "max_wait: 10s");
  return yaml;
}

void AppendOperators(std::string* yaml, const std::string& operators) {
  const std::string last =
      "      - {name: TERMINAL_ID_RISK_30DAY_WINDOW, agg: ratio, field: $label, window: 30d}\n";
  ReplaceRequired(yaml, last, last + operators);
}

void PrependOutputFields(std::string* yaml, const std::string& columns) {
  ReplaceRequired(yaml, "fields: [TRANSACTION_ID, TX_TIME_MS,",
                  "fields: [" + columns + ", TRANSACTION_ID, TX_TIME_MS,");
}

void ReplaceRuntime(std::string* yaml, const std::string& text) {
  ReplaceRequired(yaml, "runtime: {workers: 2, commit_interval: 1s}", text);
}

void SetGroup(std::string* yaml, const std::string& group) {
  ReplaceRequired(yaml, "source: {kind: kafka, key: CUSTOMER_ID,",
                  "source: {kind: kafka, group: " + group + ", key: CUSTOMER_ID,");
}

}  // namespace vigil::testing
