#include "tests/support/handbook.h"

#include <catch2/catch.hpp>
#include <regex>
#include <utility>
#include <vector>

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
  // A group of the test's own: tests run side by side, and two pipelines in one consumer group
  // rebalance each other (a member removed mid-commit fails an exactly-once commit).
  if (!topics.transactions.empty()) SetGroup(&yaml, "vigil-handbook-" + topics.transactions);
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

void AppendOutputFields(std::string* yaml, const std::string& columns) {
  ReplaceRequired(yaml, "TERMINAL_ID_RISK_30DAY_WINDOW]\ndead_letter:",
                  "TERMINAL_ID_RISK_30DAY_WINDOW, " + columns + "]\ndead_letter:");
}

namespace {

//! {column, aggregate spec} of AggregateWindows, window by window.
struct AggregateWindow {
  const char* header;
  std::vector<std::pair<const char*, const char*>> outputs;
};

const std::vector<AggregateWindow>& Windows() {
  static const std::vector<AggregateWindow> windows = {
      {"  - type: window\n    name: customer_stats\n    key: CUSTOMER_ID\n    lateness: 1h\n",
       {{"CUSTOMER_ID_STD_AMOUNT_7DAY_WINDOW", "agg: stddev, field: TX_AMOUNT, window: 7d"},
        {"CUSTOMER_ID_ZSCORE_AMOUNT_30DAY_WINDOW", "agg: zscore, field: TX_AMOUNT, window: 30d"},
        {"CUSTOMER_ID_NB_TERMINALS_30DAY_WINDOW", "agg: distinct, field: TERMINAL_ID, window: 30d"},
        {"CUSTOMER_ID_MS_SINCE_LAST_TX", "agg: time_since_last"},
        {"CUSTOMER_ID_AMOUNT_TO_30DAY_AVG", "agg: ratio_to_avg, field: TX_AMOUNT, window: 30d"},
        {"CUSTOMER_ID_AMOUNT_TO_7DAY_MAX", "agg: ratio_to_max, field: TX_AMOUNT, window: 7d"},
        {"CUSTOMER_ID_AMOUNT_TO_7DAY_MIN", "agg: ratio_to_min, field: TX_AMOUNT, window: 7d"},
        {"CUSTOMER_ID_AMOUNT_TO_1DAY_SUM", "agg: ratio_to_sum, field: TX_AMOUNT, window: 1d"},
        {"CUSTOMER_ID_NB_NIGHT_TX_7DAY_WINDOW", "agg: count, window: 7d, where: TX_DURING_NIGHT"},
        {"CUSTOMER_ID_MAX_NIGHT_AMOUNT_30DAY_WINDOW",
         "agg: max, field: TX_AMOUNT, window: 30d, where: TX_DURING_NIGHT"}}},
      {"  - type: window\n    name: card_terminal\n    key: [CUSTOMER_ID, TERMINAL_ID]\n    lateness: 1h\n",
       {{"CUSTOMER_TERMINAL_NB_TX_30DAY_WINDOW", "agg: count, window: 30d"},
        {"CUSTOMER_TERMINAL_MS_SINCE_LAST_TX", "agg: time_since_last"}}},
      {"  - type: window\n    name: terminal_stats\n    key: TERMINAL_ID\n    lateness: 7d\n    delay: 7d\n",
       {{"TERMINAL_ID_STD_AMOUNT_7DAY_WINDOW", "agg: stddev, field: TX_AMOUNT, window: 7d"},
        {"TERMINAL_ID_ZSCORE_AMOUNT_7DAY_WINDOW", "agg: zscore, field: TX_AMOUNT, window: 7d"},
        {"TERMINAL_ID_NB_CUSTOMERS_30DAY_WINDOW", "agg: distinct, field: CUSTOMER_ID, window: 30d"},
        {"TERMINAL_ID_AMOUNT_TO_30DAY_AVG", "agg: ratio_to_avg, field: TX_AMOUNT, window: 30d"},
        {"TERMINAL_ID_RISK_STD_30DAY_WINDOW", "agg: stddev, field: $label, window: 30d"},
        {"TERMINAL_ID_WEEKEND_RISK_30DAY_WINDOW",
         "agg: ratio, field: $label, window: 30d, where: TX_DURING_WEEKEND"},
        {"TERMINAL_ID_WEEKEND_FRAUDS_7DAY_WINDOW",
         "agg: sum, field: $label, window: 7d, where: TX_DURING_WEEKEND"},
        {"TERMINAL_ID_LAST_LABEL_30DAY_WINDOW", "agg: last, field: $label, window: 30d"},
        {"TERMINAL_ID_LAST_WEEKEND_LABEL_30DAY_WINDOW",
         "agg: last, field: $label, window: 30d, where: TX_DURING_WEEKEND"},
        {"TERMINAL_ID_WEEKEND_AMOUNT_PER_TX_30DAY_WINDOW",
         "agg: ratio, field: TX_AMOUNT, denominator: TX_DURING_WEEKEND, window: 30d, where: "
         "TX_DURING_WEEKEND"}}},
  };
  return windows;
}

}  // namespace

std::string AggregateWindows() {
  std::string text;
  for (const AggregateWindow& w : Windows()) {
    text += std::string(w.header) + "    outputs:\n";
    for (const auto& [name, spec] : w.outputs)
      text += "      - {name: " + std::string(name) + ", " + spec + "}\n";
  }
  return text;
}

std::string AggregateColumns() {
  std::string text;
  for (const AggregateWindow& w : Windows())
    for (const auto& output : w.outputs) text += (text.empty() ? "" : ", ") + std::string(output.first);
  return text;
}

void ReplaceRuntime(std::string* yaml, const std::string& text) {
  ReplaceRequired(yaml, "runtime: {workers: 2, commit_interval: 1s}", text);
}

void SetGroup(std::string* yaml, const std::string& group) {
  static const std::regex source(R"(source: \{kind: kafka, (group: [^,]*, )?key: CUSTOMER_ID,)");
  REQUIRE(std::regex_search(*yaml, source));
  *yaml = std::regex_replace(*yaml, source, "source: {kind: kafka, group: " + group + ", key: CUSTOMER_ID,",
                             std::regex_constants::format_first_only);
}

}  // namespace vigil::testing
