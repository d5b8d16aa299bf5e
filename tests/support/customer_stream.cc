#include "tests/support/customer_stream.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

std::string PipelineYaml(const CustomerStream& s, const CustomerStreamOptions& o) {
  std::string yaml = R"(name: @NAME@
source: {kind: kafka, topic: @TX@, group: @GROUP@, key: CUSTOMER_ID}
kafka:
  bootstrap: '@BOOTSTRAP@'
  consumer: {session.timeout.ms: '6000', heartbeat.interval.ms: '1000'}
schema:
  event_time: TX_TIME_MS
  key: CUSTOMER_ID
  fields:
    - {name: TRANSACTION_ID, type: int64}
    - {name: TX_TIME_MS, type: timestamp, format: epoch_ms}
    - {name: CUSTOMER_ID, type: int64}
    - {name: TERMINAL_ID, type: int64}
    - {name: TX_AMOUNT, type: double, min: 0}
labels:
  source: {kind: kafka, topic: @LABELS@, key: CUSTOMER_ID}
  id: TRANSACTION_ID
  label: TX_FRAUD
  time: LABEL_TIME_MS
operators:
  - type: derive
    outputs:
      - {name: TX_HOUR, fn: hour_of_day, args: [TX_TIME_MS]}
      - {name: TX_DURING_NIGHT, fn: le, args: [TX_HOUR, 6]}
  - type: window
    name: customer
    key: CUSTOMER_ID
    lateness: 1h
    outputs:
      - {name: CUSTOMER_ID_NB_TX_1DAY_WINDOW, agg: count, window: 1d}
      - {name: CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW, agg: avg, field: TX_AMOUNT, window: 7d}
  - type: score
    registry: @REGISTRY@
    monitor: {every: 1s, performance: {window_days: 3, label_delay_days: @DELAY@}}
@EXTRA@features: [TX_AMOUNT, TX_DURING_NIGHT, CUSTOMER_ID_NB_TX_1DAY_WINDOW, CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW]
output:
  kind: kafka
  topic: @DECISIONS@
  fields: [TRANSACTION_ID, CUSTOMER_ID, TX_TIME_MS, SCORE]
dead_letter: {kind: kafka, topic: @DLQ@}
batch: {max_events: 500, max_wait: 10ms}
runtime: {workers: 2, commit_interval: 500ms, guarantee: exactly_once}
http: {enabled: false}
)";
  ReplaceAll(&yaml, "@NAME@", o.name);
  ReplaceAll(&yaml, "@TX@", s.tx);
  ReplaceAll(&yaml, "@LABELS@", s.labels);
  ReplaceAll(&yaml, "@GROUP@", s.group);
  ReplaceAll(&yaml, "@BOOTSTRAP@", Bootstrap());
  ReplaceAll(&yaml, "@DECISIONS@", s.decisions);
  ReplaceAll(&yaml, "@DLQ@", s.dlq);
  ReplaceAll(&yaml, "@REGISTRY@", s.dir + "/models");
  ReplaceAll(&yaml, "@DELAY@", std::to_string(o.label_delay_days));
  ReplaceAll(&yaml, "@EXTRA@", o.score_extra);
  return yaml;
}

}  // namespace

CustomerStream MakeCustomerStream(const std::string& dir, const CustomerStreamOptions& options) {
  CustomerStream s;
  s.dir = dir;
  REQUIRE(Shell(VigilBinary() + " --log-level warn simulate --quiet " + options.simulate + " --out " + dir +
                "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  s.tx = UniqueTopic("tx");
  s.labels = UniqueTopic("labels");
  s.decisions = UniqueTopic("decisions");
  s.dlq = UniqueTopic("dlq");
  s.group = UniqueTopic("vigil-" + options.name);
  for (const auto& t : {s.tx, s.labels, s.decisions, s.dlq}) CreateTopic(t, options.partitions);
  std::ofstream(dir + "/pipeline.yaml") << PipelineYaml(s, options);

  simdjson::dom::parser parser;
  std::ifstream in(dir + "/tx.jsonl");
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element doc = parser.parse(line);
    StreamTransaction t{int64_t(doc["TRANSACTION_ID"]), int64_t(doc["CUSTOMER_ID"]),
                        int64_t(doc["TX_TIME_MS"]), static_cast<int>(int64_t(doc["TX_FRAUD"]))};
    s.transactions[t.id] = t;
    s.tx_messages.push_back(Message{std::to_string(t.customer), line, -1, -1, t.time_ms});
  }
  std::ifstream labels(dir + "/labels.jsonl");
  for (std::string line; std::getline(labels, line);) {
    simdjson::dom::element doc = parser.parse(line);
    const StreamTransaction& t = s.transactions.at(int64_t(doc["TRANSACTION_ID"]));
    s.label_messages.push_back(
        Message{std::to_string(t.customer), line, -1, -1, int64_t(doc["LABEL_TIME_MS"])});
  }
  REQUIRE(!s.transactions.empty());
  return s;
}

void TrainVersion(const CustomerStream& s, const std::string& train_args) {
  const std::string vigil = VigilBinary() + " --log-level warn";
  if (!std::filesystem::exists(s.dir + "/table.csv"))
    REQUIRE(Shell(vigil + " replay " + s.dir + "/pipeline.yaml --events " + s.dir + "/tx.jsonl --labels " +
                  s.dir + "/labels.jsonl --no-score --out " + s.dir + "/table.csv > /dev/null") == 0);
  REQUIRE(Shell(vigil + " train " + s.dir + "/pipeline.yaml --table " + s.dir + "/table.csv --models-dir " +
                s.dir + "/models " + train_args + " > /dev/null") == 0);
}

}  // namespace vigil::testing
