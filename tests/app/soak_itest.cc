// The chaos soak (scripts/soak runs it; hidden from ctest by its tag): the simulator streamed at a
// fixed rate for a configurable time into instances of the Handbook pipeline with scoring, exactly
// once, over six partitions, while faults are injected on a schedule scaled to the duration:
//   - kill -9 of an instance, restarted at once with the same --instance-id and state directory;
//   - a restart of the broker (the soak runs its own, tests/support/private_broker.h);
//   - the labels stalled (the live label producer pauses; 3 minutes of 30);
//   - one partition that receives only garbage (2 minutes of 30) beside the normal traffic;
//   - a third instance added;
// and, throughout, a share of the transactions with clocks 5 years ahead, which must end on the
// dead-letter topic. At the end: one decision per transaction that is not future-dated (a
// read_committed reader of the decisions topic), features against `vigil replay` of the same files
// (separately for decisions made while the labels were stalled, which may legitimately differ), dead
// letters by reason, the longest time without a decision, the time from each fault's end to the next
// decision, and the p99 end-to-end latency of each phase. Fails on duplicates or missing decisions.
//
// Configured by env: VIGIL_SOAK_MINUTES (default 30), VIGIL_SOAK_RATE (transactions/s, 300),
// VIGIL_SOAK_DAYS (simulated days the stream covers, 40), VIGIL_SOAK_FUTURE_PERCENT (1),
// VIGIL_SOAK_SEED (1), VIGIL_SOAK_LABEL_MAX_WAIT (the live pipeline's labels.max_wait, 200ms),
// VIGIL_SOAK_KEEP (keep the data directory).
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/support/chunk_producer.h"
#include "tests/support/decision_tail.h"
#include "tests/support/handbook.h"
#include "tests/support/handbook_stream.h"
#include "tests/support/instance_group.h"
#include "tests/support/kafka_env.h"
#include "tests/support/private_broker.h"
#include "tests/support/process.h"
#include "tests/support/replay_table.h"
#include "tests/support/soak_stream.h"

namespace vigil::testing {
namespace {

constexpr int kPartitions = 6;
const std::vector<std::string> kStages{"handbook.by_CUSTOMER_ID", "handbook"};

double EnvDouble(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtod(v, nullptr) : fallback;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

//! One fault of the schedule: when it starts (seconds into the stream), what it does, and when it ended.
struct Fault {
  std::string name;
  double at_s = 0;
  std::function<void()> start;
  double end_after_s = 0;          //!< The fault lasts this long after `start` returned (0: it ends then).
  std::function<void()> end = {};  //!< Run at the end, if any.
  int64_t started_ms = 0, ended_ms = 0;
};

//! The percentile `q` (0..1) of `values` (sorted in place); NaN when empty.
double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(std::ceil(q * values.size())) - 1)];
}

//! The pipelines: DIR/features.yaml (the Handbook's features, what replay and training use) and
//! DIR/pipeline.yaml (the same with the score operator over `registry`, exactly once). The consumer
//! keeps its default session timeout: every instance is a static member of the group under its
//! --instance-id, so a killed instance restarted under the same id takes its partitions back at once,
//! and a broker restart shorter than the session timeout does not expire the members' sessions.
void WritePipelines(const std::string& dir, const HandbookTopics& topics, const std::string& group,
                    const std::string& registry) {
  std::string yaml = HandbookYaml(topics);
  SetGroup(&yaml, group);
  std::ofstream(dir + "/features.yaml") << yaml;
  // The live pipeline waits for its labels as configured (the product's default unless the soak is
  // told otherwise), not the 10 s the other tests give it for exact comparisons on a loaded machine.
  const char* label_wait = std::getenv("VIGIL_SOAK_LABEL_MAX_WAIT");
  ReplaceAll(&yaml, "max_wait: 10s",
             std::string("max_wait: ") + (label_wait != nullptr ? label_wait : "200ms"));
  AppendOperators(&yaml, "  - type: score\n    registry: " + registry + "\n    poll: 1s\n");
  PrependOutputFields(&yaml, "SCORE, DECISION, MODEL_VERSION");
  ReplaceRuntime(
      &yaml,
      "batch: {max_events: 500, max_wait: 10ms}\n"
      "runtime: {workers: 2, commit_interval: 1s, guarantee: exactly_once}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;
}

//! Replays DIR/features.yaml over DIR/tx.jsonl and DIR/labels.jsonl, trains v1 on its second and third
//! weeks (20 rounds) into `registry` and promotes it; returns the replay table.
ReplayTable TrainModel(const std::string& dir, const std::string& registry) {
  ReplayTable table = ReplayFiles(dir, dir + "/features.yaml", dir + "/tx.jsonl", dir + "/labels.jsonl");
  const std::string vigil = VigilBinary() + " --log-level warn";
  REQUIRE(Shell(vigil + " train " + dir + "/features.yaml --table " + dir + "/replay.csv --models-dir " +
                registry + " --rounds 20 --train-start 2018-04-08 --train-days 7 --valid-days 7 > " + dir +
                "/train.log 2>&1") == 0);
  REQUIRE(Shell(vigil + " models --registry " + registry + " promote v1 > " + dir + "/promote.log 2>&1") ==
          0);
  return table;
}

//! The soak's moving parts.
struct Soak {
  std::string dir, group, tx_topic, decisions_topic, dlq_topic;
  std::vector<Instance> instances;
  int unplanned_restarts = 0;

  //! Restarts any instance that exited without being told to, as a supervisor would.
  void KeepRunning() {
    for (Instance& in : instances) {
      const int rc = in.child->Wait(std::chrono::milliseconds(0));
      if (rc == -1) continue;
      ++unplanned_restarts;
      std::printf("soak: %s exited with %d unasked; restarted\n", in.id.c_str(), rc);
      std::fflush(stdout);
      RestartInstance(dir, in);
    }
  }
};

TEST_CASE("soak: the live loop under faults", "[.soak]") {
  const double minutes = EnvDouble("VIGIL_SOAK_MINUTES", 30);
  const int rate = static_cast<int>(EnvDouble("VIGIL_SOAK_RATE", 300));
  const int days = static_cast<int>(EnvDouble("VIGIL_SOAK_DAYS", 40));
  const double scale = minutes / 30;  // the fault windows are given for 30 minutes
  auto broker = PrivateBroker::Start();
  Soak soak;
  soak.dir = TempDir("vigil-soak");
  const std::string& dir = soak.dir;

  // The data: enough simulated customers for rate * duration transactions over `days` days (the
  // simulator makes about 1.8 transactions per customer and day), cut to exactly that many.
  const auto count = static_cast<size_t>(rate * minutes * 60);
  const int customers = std::max(50, static_cast<int>(static_cast<double>(count) * 1.15 / (1.8 * days)));
  REQUIRE(Shell(VigilBinary() + " simulate --quiet --customers " + std::to_string(customers) +
                " --terminals " + std::to_string(2 * customers) + " --days " + std::to_string(days) +
                " --seed 7 --out " + dir + "/sim.jsonl --labels-out " + dir + "/sim-labels.jsonl") == 0);
  SoakStreamOptions options;
  options.per_second = rate;
  options.future_percent = EnvDouble("VIGIL_SOAK_FUTURE_PERCENT", 1);
  options.seed = static_cast<uint64_t>(EnvDouble("VIGIL_SOAK_SEED", 1));
  const double stream_s = static_cast<double>(count) / rate;
  options.garbage_first = static_cast<size_t>(0.60 * stream_s);
  options.garbage_chunks = std::max<size_t>(1, static_cast<size_t>(std::lround(120 * scale)));
  const SoakStream stream =
      BuildSoakStream(dir, dir + "/sim.jsonl", dir + "/sim-labels.jsonl", count, options);
  REQUIRE(stream.transactions == count);

  // Topics, pipelines, the model.
  HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                        UniqueTopic("dlq")};
  for (const auto& t : {topics.transactions, topics.labels, topics.output, topics.dead_letter})
    CreateTopic(t, kPartitions);
  soak.group = UniqueTopic("vigil-soak");
  soak.tx_topic = topics.transactions;
  soak.decisions_topic = topics.output;
  soak.dlq_topic = topics.dead_letter;
  WritePipelines(dir, topics, soak.group, dir + "/models");
  const ReplayTable table = TrainModel(dir, dir + "/models");
  std::printf(
      "soak: %zu transactions (%zu future-dated, %zu garbage records) at %d/s over %.0f s; %d customers, "
      "%d days; data in %s\n",
      stream.transactions, stream.future_ids.size(), stream.garbage, rate, stream_s, customers, days,
      dir.c_str());
  std::fflush(stdout);

  // Two instances settle, then the stream starts.
  for (int k = 0; k < 2; ++k) soak.instances.push_back(StartInstance(dir, "soak", k));
  {
    const bool settled =
        WaitFor(std::chrono::seconds(120), [&] { return Settled(soak.instances, kStages, kPartitions); });
    INFO(Logs(soak.instances));
    REQUIRE(settled);
  }
  auto tail = DecisionTail::Make(soak.decisions_topic, kPartitions);
  const ChunkPacing pacing{true, true};
  ChunkProducer labels(topics.labels, stream.label_chunks, std::chrono::seconds(1),
                       dir + "/labels-producer.log", pacing);
  ChunkProducer transactions(topics.transactions, stream.tx_chunks, std::chrono::seconds(1),
                             dir + "/tx-producer.log", pacing);
  const int64_t stream_start_ms = NowMs();

  const double stall_s = std::max(2.0, 180 * scale);
  std::vector<Fault> faults;
  faults.push_back({"kill -9 of soak-0, restarted", 0.12 * stream_s, [&] {
                      Instance& victim = soak.instances[0];
                      victim.child->Signal(SIGKILL);
                      REQUIRE(victim.child->Wait(std::chrono::seconds(30)) == 128 + SIGKILL);
                      RestartInstance(dir, victim);
                    }});
  faults.push_back({"broker restart", 0.28 * stream_s, [&] { broker->Restart(SIGTERM); }});
  faults.push_back(
      {"labels stalled", 0.42 * stream_s, [&] { labels.Pause(); }, stall_s, [&] { labels.Resume(); }});
  faults.push_back({"partition " + std::to_string(options.garbage_partition) + " garbage only",
                    static_cast<double>(options.garbage_first), [] {},
                    static_cast<double>(options.garbage_chunks)});
  faults.push_back({"third instance added", 0.80 * stream_s,
                    [&] { soak.instances.push_back(StartInstance(dir, "soak", 2)); }});

  // The schedule, printed as it happens.
  const auto since_start = [&](int64_t ms) { return static_cast<double>(ms - stream_start_ms) / 1000; };
  const auto print = [&](const std::string& what) {
    std::printf("soak: [%7.1f s] %s (committed %lld of %zu records, %zu decisions)\n", since_start(NowMs()),
                what.c_str(), static_cast<long long>(CommittedTotal(soak.group, soak.tx_topic, kPartitions)),
                stream.records, tail->Count());
    std::fflush(stdout);
  };
  for (Fault& f : faults) {
    while (since_start(NowMs()) < f.at_s) {
      soak.KeepRunning();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    f.started_ms = NowMs();
    print(f.name + ": starts");
    f.start();
    const int64_t returned_ms = NowMs();
    while (NowMs() < returned_ms + static_cast<int64_t>(f.end_after_s * 1000)) {
      soak.KeepRunning();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (f.end) f.end();
    f.ended_ms = NowMs();
    print(f.name + ": ends after " + std::to_string(static_cast<int>((f.ended_ms - f.started_ms) / 1000)) +
          " s");
  }

  // The end of the stream, and of the processing.
  {
    INFO(ReadFile(dir + "/tx-producer.log"));
    REQUIRE(transactions.Wait(std::chrono::seconds(static_cast<int>(stream_s) + 600)) == "");
    REQUIRE(labels.Wait(std::chrono::seconds(120)) == "");
  }
  const int64_t stream_end_ms = NowMs();
  print("stream ends");
  const bool committed = WaitFor(std::chrono::seconds(600), [&] {
    soak.KeepRunning();
    return CommittedTotal(soak.group, soak.tx_topic, kPartitions) == static_cast<int64_t>(stream.records);
  });
  {
    INFO(Logs(soak.instances));
    REQUIRE(committed);
  }
  // The second stage follows; wait until the decisions stop coming (30 s without one) or all are in.
  const size_t expected = stream.transactions - stream.future_ids.size();
  size_t seen = 0;
  auto last_change = std::chrono::steady_clock::now();
  (void)WaitFor(std::chrono::seconds(600), [&] {
    const size_t now = tail->Count();
    if (now != seen) last_change = std::chrono::steady_clock::now();
    seen = now;
    return now >= expected || std::chrono::steady_clock::now() - last_change > std::chrono::seconds(30);
  });
  print("processing ends");
  for (Instance& in : soak.instances) in.child->Signal(SIGTERM);
  for (Instance& in : soak.instances) {
    const int rc = in.child->Wait(std::chrono::seconds(120));
    std::printf(
        "soak: %s stopped by SIGTERM: %s\n", in.id.c_str(),
        rc == -1 ? "still running after 120 s (then killed)" : ("exit " + std::to_string(rc)).c_str());
    CHECK(rc == 0);
  }
  const std::vector<Arrival> arrivals = tail->Arrivals();
  tail.reset();

  // The verdict: exactly once and the features, against the replay of the files.
  const auto decisions = ConsumeAll(soak.decisions_topic, 0, std::chrono::seconds(120 + count / 5000));
  const ReplayComparison all = CompareWithReplay(decisions, table);
  std::unordered_map<int64_t, int64_t> arrived;  // id -> first arrival
  for (const Arrival& a : arrivals) arrived.emplace(a.id, a.arrived_ms);
  const Fault& stall = faults[2];
  std::vector<Message> in_stall, outside;
  for (const Message& m : decisions) {
    const auto a = arrived.find(JsonInt(m.value, "TRANSACTION_ID"));
    const bool during =
        a != arrived.end() && a->second >= stall.started_ms && a->second <= stall.ended_ms + 10'000;
    (during ? in_stall : outside).push_back(m);
  }
  const ReplayComparison in_c = CompareWithReplay(in_stall, table), out_c = CompareWithReplay(outside, table);
  std::map<std::string, size_t> reasons;
  for (const Message& m : ConsumeAll(soak.dlq_topic, 0, std::chrono::seconds(60))) {
    std::string reason = "(none)";
    for (const auto& [name, value] : m.headers)
      if (name == "vigil.reason") reason = value;
    ++reasons[reason];
  }
  std::printf(
      "soak: transactions=%zu future_dated=%zu expected_decisions=%zu decisions=%zu distinct=%zu "
      "duplicates=%zu missing=%zu unknown=%zu garbage=%zu unplanned_restarts=%d\n",
      stream.transactions, stream.future_ids.size(), expected, all.records, all.distinct, all.duplicates,
      all.missing, all.unknown, stream.garbage, soak.unplanned_restarts);
  std::printf("soak: feature mismatches outside the label stall: %zu values in %zu of %zu decisions\n",
              out_c.mismatches, out_c.mismatched_records, out_c.records);
  std::printf("soak: feature mismatches during the label stall (+10 s): %zu values in %zu of %zu decisions\n",
              in_c.mismatches, in_c.mismatched_records, in_c.records);
  for (const auto& [reason, n] : reasons) std::printf("soak: dead letters %s=%zu\n", reason.c_str(), n);
  for (const std::string& line : all.examples) std::printf("soak: example: %s\n", line.c_str());

  // Time: gaps and resumption from the arrivals, latency from each chunk's delivery to the decision.
  std::vector<int64_t> times;
  for (const Arrival& a : arrivals) times.push_back(a.arrived_ms);
  std::sort(times.begin(), times.end());
  if (!times.empty())
    std::printf("soak: first decision %.1f s after the stream started\n", since_start(times.front()));
  times.insert(times.begin(), stream_start_ms);  // a start without decisions counts as a gap too
  int64_t gap = 0, gap_at = stream_start_ms;
  for (size_t i = 1; i < times.size(); ++i)
    if (times[i] - times[i - 1] > gap) {
      gap = times[i] - times[i - 1];
      gap_at = times[i - 1];
    }
  std::printf("soak: longest time without a decision: %.1f s, from %.1f s into the stream\n", gap / 1000.0,
              since_start(gap_at));
  for (const Fault& f : faults) {
    const auto next = std::lower_bound(times.begin(), times.end(), f.ended_ms);
    if (next == times.end()) {
      std::printf("soak: after %s: no decision since its end\n", f.name.c_str());
    } else {
      const double s = (*next - f.ended_ms) / 1000.0;
      std::printf("soak: after %s: next decision %.1f s after its end%s\n", f.name.c_str(), s,
                  s > 10 ? " (over 10 s)" : "");
    }
  }
  const std::vector<int64_t> delivered = transactions.DeliveredMs();
  std::vector<std::pair<std::string, int64_t>> phases{{"steady", stream_start_ms}};
  for (const Fault& f : faults) phases.emplace_back(f.name, f.started_ms);
  phases.emplace_back("after the stream", stream_end_ms);
  std::vector<std::vector<double>> latencies(phases.size());
  for (const Arrival& a : arrivals) {
    if (a.id < 0 || static_cast<size_t>(a.id) >= stream.chunk_of.size()) continue;
    const size_t chunk = stream.chunk_of[static_cast<size_t>(a.id)];
    if (chunk >= delivered.size()) continue;
    size_t p = 0;
    while (p + 1 < phases.size() && a.arrived_ms >= phases[p + 1].second) ++p;
    latencies[p].push_back((a.arrived_ms - delivered[chunk]) / 1000.0);
  }
  for (size_t p = 0; p < phases.size(); ++p) {
    const size_t n = latencies[p].size();
    std::printf(
        "soak: phase \"%s\" from %.1f s: %zu decisions, p99 latency %.2f s (arrival at a read_committed "
        "reader minus the delivery of the transaction)\n",
        phases[p].first.c_str(), since_start(phases[p].second), n, Percentile(latencies[p], 0.99));
  }
  const bool pass = all.duplicates == 0 && all.missing == 0;
  std::printf("soak: verdict: %s (duplicates=%zu missing=%zu of %zu expected decisions)\n",
              pass ? "PASS, exactly once" : "FAIL", all.duplicates, all.missing, expected);
  std::fflush(stdout);
  CHECK(all.duplicates == 0);
  CHECK(all.missing == 0);
  if (std::getenv("VIGIL_SOAK_KEEP") == nullptr) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::testing
