// Outcomes that survive, judged for the whole group.
//
// A scored event waits for its label (7 days of event time) in the task's state, changelogged, and
// once the label is due it goes to `<group>.<input topic>.outcomes` in the transaction of the events
// that matured it. Two `vigil run` instances share a two-partition stream; while a week of outcomes is
// pending, the second instance joins (a rebalance moves a partition with its state), then the first is killed
// with SIGKILL mid-stream (its partition moves again, restored from the changelog) and restarted (a
// third rebalance). A read_committed reader of the outcomes topic then finds every due outcome exactly
// once, with the score that was served and the true label.
//
// Three instances over six partitions try a candidate in shadow: one of them, the lifecycle's leader,
// judges on the outcomes of all six partitions, and decides once for the group.
#include <signal.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"
#include "tests/support/customer_stream.h"
#include "tests/support/instance_group.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int kPartitions = 2;
constexpr int64_t kDay = base::kMsPerDay;
constexpr int64_t kStartMs = 1'522'540'800'000;  // 2018-04-01T00:00:00Z, the simulation's first day

TEST_CASE(
    "pending outcomes survive a rebalance and a kill -9: every due outcome reaches the outcomes topic once",
    "[integration]") {
  const std::string dir = TempDir("vigil-outcomes");
  const CustomerStream stream = MakeCustomerStream(dir, {});
  TrainVersion(stream, "--rounds 20 --train-start 2018-04-01 --train-days 7 --valid-days 1 --promote");
  const std::string &tx = stream.tx, &labels = stream.labels, &decisions = stream.decisions,
                    &group = stream.group;
  const std::map<int64_t, StreamTransaction>& transactions = stream.transactions;

  // The stream in three phases by event time; a label goes out with the phase its label time falls in.
  simdjson::dom::parser parser;
  std::vector<Message> phase_tx[3], phase_labels[3];
  const int64_t splits[2] = {kStartMs + 10 * kDay, kStartMs + 15 * kDay};
  const auto phase = [&](int64_t t) { return t < splits[0] ? 0 : t < splits[1] ? 1 : 2; };
  for (const Message& m : stream.tx_messages) phase_tx[phase(m.timestamp_ms)].push_back(m);
  for (const Message& m : stream.label_messages) phase_labels[phase(m.timestamp_ms)].push_back(m);
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
    const bool settled =
        WaitFor(std::chrono::seconds(90), [&] { return Settled(instances, stages, kPartitions); });
    INFO(Logs(instances));
    REQUIRE(settled);
  }

  // Phase 2 (days 10-14): the first instance is killed while it processes them.
  Produce(labels, phase_labels[1]);
  Produce(tx, phase_tx[1]);
  produced += static_cast<int64_t>(phase_tx[1].size());
  (void)WaitFor(std::chrono::seconds(30),
                [&] { return committed() > produced - static_cast<int64_t>(phase_tx[1].size()); });
  instances[0].child->Signal(SIGKILL);
  REQUIRE(instances[0].child->Wait(std::chrono::seconds(10)) == 128 + SIGKILL);
  wait_committed(produced, instances);

  // It comes back (a third rebalance); phase 3 (days 15-20) and the remaining labels.
  RestartInstance(dir, instances[0]);
  {
    const bool settled =
        WaitFor(std::chrono::seconds(90), [&] { return Settled(instances, stages, kPartitions); });
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
  std::map<int64_t, double> served;         // transaction -> SCORE
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
  const std::vector<Message> outcomes =
      ConsumeAll(group + "." + tx + ".outcomes", 0, std::chrono::seconds(60));
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
  std::printf(
      "outcomes: %zu transactions, %zu outcome records (%zu frauds), %zu required, %zu allowed; "
      "duplicates %zu, missing %zu, unexpected %zu, wrong labels %zu, wrong scores %zu\n",
      transactions.size(), outcomes.size(), frauds, required.size(), allowed.size(), duplicates, missing,
      unexpected, wrong_label, wrong_score);
  INFO(Logs(instances));
  CHECK(required.size() > transactions.size() / 2);
  CHECK(frauds > 0);
  CHECK(duplicates == 0);
  CHECK(missing == 0);
  CHECK(unexpected == 0);
  CHECK(wrong_label == 0);
  CHECK(wrong_score == 0);
}

TEST_CASE("three instances over six partitions: one judge decides a trial on the outcomes of every partition",
          "[integration]") {
  constexpr int kSix = 6;
  const std::string dir = TempDir("vigil-group-judge");
  CustomerStreamOptions options;
  options.name = "judge";
  options.partitions = kSix;
  options.simulate = "--customers 2000 --terminals 4000 --days 12 --seed 7 --label-delay-days 1";
  options.label_delay_days = 1;
  options.score_extra =
      "    poll: 50ms\n"
      "    rollout: {mode: shadow, metric: average_precision, margin: 0.0, days: 2, min_frauds: 30}\n";
  const CustomerStream stream = MakeCustomerStream(dir, options);
  // The candidate is the champion trained again, the same model: a tie, which must never promote.
  const std::string train = "--rounds 10 --train-start 2018-04-01 --train-days 5 --valid-days 1";
  TrainVersion(stream, train + " --promote");
  TrainVersion(stream, train);
  const std::string models = VigilBinary() + " --log-level warn models --registry " + dir + "/models";
  REQUIRE(Shell(models + " propose v2 > /dev/null") == 0);

  std::vector<Instance> instances;
  for (int k = 0; k < 3; ++k) instances.push_back(StartInstance(dir, "judge", k));
  {
    const bool settled = WaitFor(std::chrono::seconds(90), [&] {
      if (!Settled(instances, {"judge"}, kSix)) return false;
      int leaders = 0, trials = 0;
      for (const Instance& in : instances) {
        const std::string log = ReadFile(in.log);
        const size_t led = log.rfind("this instance leads"), lost = log.rfind("another instance leads now");
        leaders += led != std::string::npos && (lost == std::string::npos || lost < led);
        trials += log.find("candidate v2 starts as shadow") != std::string::npos;
      }
      return leaders == 1 && trials == 3;
    });
    INFO(Logs(instances));
    REQUIRE(settled);
  }
  Produce(stream.labels, stream.label_messages);
  Produce(stream.tx, stream.tx_messages);

  // The verdict: the candidate leaves the registry (rejected), decided once.
  const bool decided =
      WaitFor(std::chrono::seconds(240), [&] { return !std::filesystem::exists(dir + "/models/CANDIDATE"); });
  INFO(Logs(instances));
  REQUIRE(decided);
  int verdicts = 0, withdrawn = 0;
  std::string verdict;
  for (const Instance& in : instances) {
    const std::string log = ReadFile(in.log);
    if (const size_t at = log.find("rollout: v2 rejected:"); at != std::string::npos) {
      ++verdicts;
      verdict = log.substr(at, log.find('\n', at) - at);
      CHECK(log.find("this instance leads") != std::string::npos);
    }
    CHECK(log.find("rollout: v2 promoted") == std::string::npos);
    CHECK(log.find("rollout: v2 rolled back") == std::string::npos);
  }
  // The others see the candidate withdrawn and end their trial.
  CHECK(WaitFor(std::chrono::seconds(30), [&] {
    withdrawn = 0;
    for (const Instance& in : instances)
      withdrawn += ReadFile(in.log).find("rollout: trial of v2 ended (withdrawn)") != std::string::npos;
    return withdrawn >= 2;
  }));
  std::printf("group judge: %s\n", verdict.c_str());
  CHECK(verdicts == 1);
  CHECK(verdict.find("from 6 of 6 partitions") != std::string::npos);
  CHECK(verdict.find("difference +0.0000") != std::string::npos);
  CHECK(ReadFile(dir + "/models/CHAMPION").find("v1") == 0);
  for (Instance& in : instances) in.child->Signal(SIGTERM);
  for (Instance& in : instances) CHECK(in.child->Wait(std::chrono::seconds(60)) == 0);
}

}  // namespace
}  // namespace vigil::testing
