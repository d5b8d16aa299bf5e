// Outcomes that survive: a scored event waits for its label (7 days of event time) in the task's
// state, changelogged, and once the label is due it goes to `<group>.outcomes` in the transaction of
// the events that matured it. Two `vigil run` instances share a two-partition stream; while a week of
// outcomes is pending, the second instance joins (a rebalance moves a partition with its state), then
// the first is killed with SIGKILL mid-stream (its partition moves again, restored from the
// changelog) and restarted (a third rebalance). A read_committed reader of the outcomes topic then
// finds every due outcome exactly once, with the score that was served and the true label.
#include <signal.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"
#include "tests/support/instance_group.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int kPartitions = 2;
constexpr int64_t kDay = base::kMsPerDay;
constexpr int64_t kStartMs = 1'522'540'800'000;  // 2018-04-01T00:00:00Z, the simulation's first day

struct Transaction {
  int64_t id, customer, time_ms;
  int fraud;
};

std::string PipelineYaml(const std::string& tx, const std::string& labels, const std::string& decisions,
                         const std::string& dlq, const std::string& group, const std::string& registry) {
  std::string yaml = R"(name: outcomes
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
    monitor: {every: 1s, performance: {window_days: 3, label_delay_days: 7}}
features: [TX_AMOUNT, TX_DURING_NIGHT, CUSTOMER_ID_NB_TX_1DAY_WINDOW, CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW]
output:
  kind: kafka
  topic: @DECISIONS@
  fields: [TRANSACTION_ID, CUSTOMER_ID, TX_TIME_MS, SCORE]
dead_letter: {kind: kafka, topic: @DLQ@}
batch: {max_events: 500, max_wait: 10ms}
runtime: {workers: 2, commit_interval: 500ms, guarantee: exactly_once}
http: {enabled: false}
)";
  ReplaceAll(&yaml, "@TX@", tx);
  ReplaceAll(&yaml, "@LABELS@", labels);
  ReplaceAll(&yaml, "@GROUP@", group);
  ReplaceAll(&yaml, "@BOOTSTRAP@", Bootstrap());
  ReplaceAll(&yaml, "@DECISIONS@", decisions);
  ReplaceAll(&yaml, "@DLQ@", dlq);
  ReplaceAll(&yaml, "@REGISTRY@", registry);
  return yaml;
}

TEST_CASE("pending outcomes survive a rebalance and a kill -9: every due outcome reaches the outcomes topic once",
          "[integration]") {
  const std::string dir = TempDir("vigil-outcomes");
  const std::string vigil = VigilBinary() + " --log-level warn";
  REQUIRE(Shell(vigil + " simulate --quiet --customers 1000 --terminals 2000 --days 21 --seed 5 "
                        "--label-delay-days 7 --out " +
                dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"), decisions = UniqueTopic("decisions"),
                    dlq = UniqueTopic("dlq"), group = UniqueTopic("vigil-outcomes");
  for (const auto& t : {tx, labels, decisions, dlq}) CreateTopic(t, kPartitions);
  std::ofstream(dir + "/pipeline.yaml")
      << PipelineYaml(tx, labels, decisions, dlq, group, dir + "/models");
  REQUIRE(Shell(vigil + " replay " + dir + "/pipeline.yaml --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --no-score --out " + dir + "/table.csv > /dev/null") == 0);
  REQUIRE(Shell(vigil + " train " + dir + "/pipeline.yaml --table " + dir + "/table.csv --models-dir " + dir +
                "/models --rounds 20 --train-start 2018-04-01 --train-days 7 --valid-days 1 --promote > /dev/null") == 0);

  // The stream, keyed by customer (labels too, so each task reads its customers' labels), in three
  // phases by event time; a label goes out with the phase in which its label time falls.
  simdjson::dom::parser parser;
  std::map<int64_t, Transaction> transactions;
  std::vector<Message> phase_tx[3], phase_labels[3];
  const int64_t splits[2] = {kStartMs + 10 * kDay, kStartMs + 15 * kDay};
  const auto phase = [&](int64_t t) { return t < splits[0] ? 0 : t < splits[1] ? 1 : 2; };
  {
    std::ifstream in(dir + "/tx.jsonl");
    for (std::string line; std::getline(in, line);) {
      simdjson::dom::element doc = parser.parse(line);
      Transaction t{int64_t(doc["TRANSACTION_ID"]), int64_t(doc["CUSTOMER_ID"]), int64_t(doc["TX_TIME_MS"]),
                    static_cast<int>(int64_t(doc["TX_FRAUD"]))};
      transactions[t.id] = t;
      phase_tx[phase(t.time_ms)].push_back(Message{std::to_string(t.customer), line, -1, -1, t.time_ms});
    }
    std::ifstream lin(dir + "/labels.jsonl");
    for (std::string line; std::getline(lin, line);) {
      simdjson::dom::element doc = parser.parse(line);
      const int64_t time = int64_t(doc["LABEL_TIME_MS"]);
      const Transaction& t = transactions.at(int64_t(doc["TRANSACTION_ID"]));
      phase_labels[phase(time)].push_back(Message{std::to_string(t.customer), line, -1, -1, time});
    }
  }
  const auto committed = [&] { return CommittedTotal(group, tx, kPartitions); };
  const auto wait_committed = [&](int64_t n, const std::vector<Instance>& instances) {
    const bool done = WaitFor(std::chrono::seconds(180), [&] { return committed() >= n; });
    INFO(Logs(instances));
    INFO("committed " << committed() << " of " << n);
    REQUIRE(done);
  };
  const std::vector<std::string> stages{"outcomes"};

  // Phase 1 (days 0-9) through one instance: the last 7 days' outcomes are pending at its end.
  std::vector<Instance> instances;
  instances.push_back(StartInstance(dir, "outcomes", 0));
  Produce(labels, phase_labels[0]);
  Produce(tx, phase_tx[0]);
  int64_t produced = static_cast<int64_t>(phase_tx[0].size());
  wait_committed(produced, instances);

  // A second instance joins: one partition moves, with its pending outcomes.
  instances.push_back(StartInstance(dir, "outcomes", 1));
  {
    const bool settled = WaitFor(std::chrono::seconds(90), [&] { return Settled(instances, stages, kPartitions); });
    INFO(Logs(instances));
    REQUIRE(settled);
  }

  // Phase 2 (days 10-14): the first instance is killed while it processes them.
  Produce(labels, phase_labels[1]);
  Produce(tx, phase_tx[1]);
  produced += static_cast<int64_t>(phase_tx[1].size());
  (void)WaitFor(std::chrono::seconds(30), [&] { return committed() > produced - static_cast<int64_t>(phase_tx[1].size()); });
  instances[0].child->Signal(SIGKILL);
  REQUIRE(instances[0].child->Wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  wait_committed(produced, instances);

  // It comes back (a third rebalance); phase 3 (days 15-20) and the remaining labels.
  RestartInstance(dir, instances[0]);
  {
    const bool settled = WaitFor(std::chrono::seconds(90), [&] { return Settled(instances, stages, kPartitions); });
    INFO(Logs(instances));
    REQUIRE(settled);
  }
  Produce(labels, phase_labels[2]);
  Produce(tx, phase_tx[2]);
  produced += static_cast<int64_t>(phase_tx[2].size());
  REQUIRE(produced == static_cast<int64_t>(transactions.size()));
  wait_committed(produced, instances);
  for (Instance& in : instances) in.child->Signal(SIGTERM);
  for (Instance& in : instances) CHECK(in.child->Wait(std::chrono::seconds(60)) == 0);

  // Each customer's partition and each partition's latest event time, from the decisions.
  const std::vector<Message> decided = ConsumeAll(decisions, transactions.size(), std::chrono::seconds(60));
  REQUIRE(decided.size() == transactions.size());
  std::map<int64_t, double> served;  // transaction -> SCORE
  std::map<int64_t, int32_t> partition_of;  // customer -> partition
  int64_t latest[kPartitions] = {INT64_MIN, INT64_MIN};
  for (const Message& m : decided) {
    simdjson::dom::element doc = parser.parse(m.value);
    served[int64_t(doc["TRANSACTION_ID"])] = double(doc["SCORE"]);
    partition_of[int64_t(doc["CUSTOMER_ID"])] = m.partition;
    latest[m.partition] = std::max(latest[m.partition], int64_t(doc["TX_TIME_MS"]));
  }

  // Due: the label's delay after the event time, by the partition's end. An outcome within the last
  // day before that may or may not have matured with the last batch; every older one must have.
  std::set<int64_t> required, allowed;
  for (const auto& [id, t] : transactions) {
    const int64_t end = latest[partition_of.at(t.customer)];
    if (t.time_ms + 7 * kDay <= end) allowed.insert(id);
    if (t.time_ms + 8 * kDay <= end) required.insert(id);
  }
  const std::vector<Message> outcomes = ConsumeAll(group + ".outcomes", 0, std::chrono::seconds(60));
  std::map<int64_t, int> seen;
  size_t duplicates = 0, unexpected = 0, wrong_label = 0, wrong_score = 0, frauds = 0;
  for (const Message& m : outcomes) {
    simdjson::dom::element doc = parser.parse(m.value);
    const int64_t id = int64_t(doc["id"]);
    if (++seen[id] > 1) ++duplicates;
    if (!allowed.contains(id)) {
      ++unexpected;
      continue;
    }
    const int label = static_cast<int>(int64_t(doc["label"]));
    frauds += static_cast<size_t>(label);
    if (label != transactions.at(id).fraud) ++wrong_label;
    if (std::abs(double(doc["score"]) - served.at(id)) > 1e-6) ++wrong_score;
    CHECK(std::string_view(doc["version"]) == "v1");
    CHECK(simdjson::dom::array(doc["x"]).size() == 4);
  }
  size_t missing = 0;
  for (int64_t id : required)
    if (!seen.contains(id)) ++missing;
  std::printf("outcomes: %zu transactions, %zu outcome records (%zu frauds), %zu required, %zu allowed; "
              "duplicates %zu, missing %zu, unexpected %zu, wrong labels %zu, wrong scores %zu\n",
              transactions.size(), outcomes.size(), frauds, required.size(), allowed.size(), duplicates,
              missing, unexpected, wrong_label, wrong_score);
  INFO(Logs(instances));
  CHECK(required.size() > transactions.size() / 2);
  CHECK(frauds > 0);
  CHECK(duplicates == 0);
  CHECK(missing == 0);
  CHECK(unexpected == 0);
  CHECK(wrong_label == 0);
  CHECK(wrong_score == 0);
}

}  // namespace
}  // namespace vigil::testing
