// Continuous learning without a human step: `vigil run` streams the simulator's transactions from the
// broker, its retrainer trains a new version from the feature log on an event-time schedule and
// proposes it, the score operator shadows it against the champion and the judge promotes it on
// matured labels. The run record shows its lineage and verdict; every transaction gets one decision.
#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "base/time.h"
#include "tests/support/handbook.h"
#include "tests/support/handbook_stream.h"
#include "tests/support/kafka_env.h"
#include "tests/support/one_task.h"
#include "tests/support/process.h"
#include "tests/support/runs.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDayMs = base::kMsPerDay;
constexpr int64_t kStartMs = 1'522'540'800'000;  // 2018-04-01T00:00:00Z, the simulation's first day

//! The lines of a JSONL file as messages keyed by `key_field`, timestamped with `time_field`, split
//! at `split_ms`: records before it go to `first`, the others to `second`.
void SplitJsonl(const std::string& path, const char* key_field, const char* time_field, int64_t split_ms,
                std::vector<Message>* first, std::vector<Message>* second) {
  std::ifstream in(path);
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element doc = parser.parse(line);
    Message m;
    m.key = std::to_string(int64_t(doc[key_field]));
    m.timestamp_ms = int64_t(doc[time_field]);
    m.value = line;
    (m.timestamp_ms < split_ms ? first : second)->push_back(std::move(m));
  }
}

//! Moves the messages of `all` timestamped before `split_ms` to `first`, the others to `second`.
void SplitAt(std::vector<Message>* all, int64_t split_ms, std::vector<Message>* first,
             std::vector<Message>* second) {
  for (Message& m : *all) (m.timestamp_ms < split_ms ? first : second)->push_back(std::move(m));
  all->clear();
}

//! The metric families the Grafana dashboard queries: every vigil_* name in its expressions, with a
//! histogram's _bucket/_sum/_count suffix removed.
std::set<std::string> DashboardMetrics() {
  const std::string dashboard = ReadFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/grafana/vigil.json");
  std::set<std::string> names;
  const std::regex expr_re(R"re("expr": "([^"]*)")re"), name_re("vigil_[a-z0-9_]+");
  for (auto e = std::sregex_iterator(dashboard.begin(), dashboard.end(), expr_re);
       e != std::sregex_iterator(); ++e) {
    const std::string expr = (*e)[1].str();
    for (auto n = std::sregex_iterator(expr.begin(), expr.end(), name_re); n != std::sregex_iterator(); ++n)
      names.insert(std::regex_replace(n->str(), std::regex("_(bucket|sum|count)$"), ""));
  }
  return names;
}

TEST_CASE("a retrained version is proposed shadowed and promoted on matured labels without a human step",
          "[integration]") {
  namespace fs = std::filesystem;
  const TimeBudget budget(std::chrono::seconds(280));
  const std::string dir = TempDir("vigil-rollout");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  const std::string sim =
      VigilBinary() +
      " simulate --customers 2000 --terminals 4000 --days 30 --seed 11 --label-delay-days 1 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " replay " + pipeline + " --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);
  // The champion is deliberately weak (one depth-1 tree): a retrained version must beat it.
  const std::string reg = dir + "/models";
  REQUIRE(Shell(vigil + " train " + pipeline + " --table " + dir + "/table.csv --models-dir " + reg +
                " --rounds 1 --param max_depth=1 --train-start 2018-04-01 --train-days 5 --valid-days 1 > "
                "/dev/null") == 0);
  REQUIRE(Shell(vigil + " models --registry " + reg + " promote v1 > /dev/null") == 0);

  HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                        UniqueTopic("dlq")};
  for (const auto& t : {topics.transactions, topics.labels, topics.output, topics.dead_letter})
    CreateTopic(t, 1);
  std::string yaml = HandbookYaml(topics);
  const std::string log = dir + "/log/features.csv";
  AppendOperators(
      &yaml,
      "  - type: score\n    registry: " + reg + "\n    poll: 50ms\n    feature_log: " + log +
          "\n    monitor: {every: 200ms, performance: {window_days: 3, label_delay_days: 1, segments: "
          "{columns: [TX_DURING_NIGHT]}}}"
          "\n    retrain: {every: 7d, train_days: 6, valid_days: 1, rounds: 30, min_rows: 500}"
          "\n    rollout: {mode: shadow, metric: average_precision, margin: 0.0, days: 2, min_frauds: 30}\n");
  PrependOutputFields(&yaml, "SCORE, MODEL_VERSION");
  ReplaceRuntime(&yaml, "runtime: {workers: 2, commit_interval: 500ms, state_dir: " + dir +
                            "/state}\nhttp: {port: 0, token_env: VIGIL_TEST_ROLLOUT_TOKEN}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;

  // Phase 1: the first 12 days. The retrainer's first scheduled training (as of day 7) registers
  // v2, which it proposes; phase 2 (the rest) arrives once the trial has begun.
  const int64_t split = kStartMs + 12 * kDayMs;
  // Phase 3 (the last 2 days) arrives once the candidate serves, so the test knows which decisions
  // it must have made, whatever the machine's speed.
  const int64_t tail = kStartMs + 28 * kDayMs;
  std::vector<Message> tx1, tx2, tx3, labels1, labels2, labels3, rest;
  SplitJsonl(dir + "/tx.jsonl", "CUSTOMER_ID", "TX_TIME_MS", split, &tx1, &rest);
  SplitAt(&rest, tail, &tx2, &tx3);
  SplitJsonl(dir + "/labels.jsonl", "TRANSACTION_ID", "LABEL_TIME_MS", split, &labels1, &rest);
  SplitAt(&rest, tail, &labels2, &labels3);
  const size_t total = tx1.size() + tx2.size() + tx3.size();
  REQUIRE(tx2.size() > tx1.size());
  REQUIRE(!tx3.empty());
  Produce(topics.transactions, tx1);
  Produce(topics.labels, labels1);

  ::setenv("VIGIL_TEST_ROLLOUT_TOKEN", "rollout-token", 1);
  Child live({VigilBinary(), "run", dir + "/pipeline.yaml"}, dir + "/run.log");
  const int port = LoggedHttpPort(dir + "/run.log");
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  INFO(ReadFile(dir + "/run.log"));

  REQUIRE(WaitFor(budget.Left(), [&] { return fs::exists(reg + "/CANDIDATE"); }));
  const std::string candidate =
      ReadFile(reg + "/CANDIDATE").substr(0, ReadFile(reg + "/CANDIDATE").find('\n'));
  std::string metrics;
  REQUIRE(WaitFor(budget.Left(), [&] {
    return Curl(dir, url + "/metrics", &metrics) == 200 &&
           metrics.find("vigil_rollout_transitions_total{pipeline=\"handbook\",transition=\"started\"} 1") !=
               std::string::npos;
  }));
  // The monitor's segment gauges of the champion: card age, amount bands, TX_DURING_NIGHT's two values,
  // each with its 0/1 under-served flag; /metrics stays valid Prometheus text.
  const auto segment_series = [&](const std::string& text) {
    std::istringstream lines(text);
    std::set<std::string> found;
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("vigil_label_segment_underserved{", 0) == 0 &&
          line.find("model_version=\"v1\"") != std::string::npos)
        found.insert(line.substr(line.find("segment=")));
    return found;
  };
  REQUIRE(WaitFor(budget.Left(), [&] {
    return Curl(dir, url + "/metrics", &metrics) == 200 && segment_series(metrics).size() == 8;
  }));
  const std::set<std::string> segments = segment_series(metrics);
  for (const char* segment : {"segment=\"card_age\",value=\"new\"", "segment=\"amount\",value=\">=500\"",
                              "segment=\"TX_DURING_NIGHT\",value=\"1\""}) {
    INFO(segment);
    CHECK(std::any_of(segments.begin(), segments.end(),
                      [&](const std::string& s) { return s.rfind(segment, 0) == 0; }));
  }
  std::ofstream(dir + "/metrics.txt") << metrics;
  CHECK(Shell("promtool check metrics < " + dir + "/metrics.txt > " + dir + "/promtool.txt 2>&1") == 0);
  INFO(ReadFile(dir + "/promtool.txt"));

  // The models API names the candidate next to the champion.
  std::string models;
  REQUIRE(Curl(dir, url + "/v1/models", &models) == 200);
  CHECK_THAT(models, Catch::Contains("\"champion\":\"v1\"") &&
                         Catch::Contains("\"candidate\":\"" + candidate + "\""));

  // The events first, their labels once every event was scored: labels that arrive while no event
  // does still mature the outcomes, so a pause in the traffic does not hold the verdict back.
  Produce(topics.transactions, tx2);
  const auto scored = static_cast<double>(tx1.size() + tx2.size());
  REQUIRE(WaitFor(budget.Left(), [&] {
    return Curl(dir, url + "/metrics", &metrics) == 200 &&
           MetricValue(metrics, "vigil_events_in_total{pipeline=\"handbook\"}") >= scored;
  }));
  Produce(topics.labels, labels2);

  // The verdict: the candidate's run is promoted, with the comparison as its detail.
  Run promoted;
  const bool decided = WaitFor(budget.Left(), [&] {
    for (const Run& r : ListRuns(dir, reg))
      if (r.version == candidate && r.outcome == "promoted") promoted = r;
    return !promoted.id.empty();
  });
  INFO("run.log when the verdict was due:\n" << ReadFile(dir + "/run.log"));
  REQUIRE(decided);
  CHECK(promoted.trigger == "schedule");
  CHECK(promoted.parent == "v1");
  CHECK_THAT(promoted.detail,
             Catch::Contains("average_precision") && Catch::Contains("(" + candidate + ") vs champion") &&
                 Catch::Contains("(v1)") && Catch::Contains("shadow") && Catch::Contains("95% CI [") &&
                 Catch::Contains("lower bound above margin 0"));
  // The evidence is in the record: the whole interval of the lift above 0, over enough frauds.
  const models::RunRecord record = RunOf(reg, candidate);
  CHECK(record.rollout_metrics.at("ci_low") > 0);
  CHECK(record.rollout_metrics.at("ci_high") >= record.rollout_metrics.at("ci_low"));
  CHECK(record.rollout_metrics.at("frauds") >= 30);
  CHECK(record.rollout_metrics.at("resamples") == 1000);
  const std::string history = ReadFile(reg + "/HISTORY");
  CHECK_THAT(history, Catch::StartsWith("v1\n" + candidate + "\n"));

  // Once the promoted candidate serves (the judge logs its verdict after the swap), the last two days
  // arrive.
  REQUIRE(WaitFor(budget.Left(), [&] {
    return ReadFile(dir + "/run.log").find("rollout: " + candidate + " promoted") != std::string::npos;
  }));
  Produce(topics.transactions, tx3);
  Produce(topics.labels, labels3);

  // Every transaction gets exactly one decision; none of the last two days' is served by v1 (a later
  // retrained version may have been promoted after the candidate meanwhile).
  std::set<int64_t> tail_ids;
  for (const Message& m : tx3) tail_ids.insert(JsonInt(m.value, "TRANSACTION_ID"));
  const auto decisions = ConsumeAll(topics.output, total, std::chrono::seconds(180));
  REQUIRE(decisions.size() == total);
  std::set<int64_t> ids;
  simdjson::dom::parser parser;
  size_t tail_by_v1 = 0, tail_decided = 0;
  for (const Message& m : decisions) {
    simdjson::dom::element doc = parser.parse(m.value);
    const int64_t id = int64_t(doc["TRANSACTION_ID"]);
    ids.insert(id);
    if (!tail_ids.count(id)) continue;
    ++tail_decided;
    if (std::string_view(doc["MODEL_VERSION"]) == "v1") ++tail_by_v1;
  }
  CHECK(ids.size() == total);
  CHECK(tail_decided == tx3.size());
  CHECK(tail_by_v1 == 0);

  REQUIRE(Curl(dir, url + "/metrics", &metrics) == 200);
  CHECK_THAT(metrics, Catch::Contains(
                          "vigil_rollout_transitions_total{pipeline=\"handbook\",transition=\"promoted\"}"));
  CHECK(metrics.find("vigil_rollout_transitions_total{pipeline=\"handbook\",transition=\"promoted\"} 0") ==
        std::string::npos);
  // The Grafana dashboard (deploy/grafana/vigil.json) queries only metrics that vigil exports: this
  // pipeline has every part (score, monitor, retraining, rollout, changelog).
  const std::set<std::string> dashboard = DashboardMetrics();
  CHECK(dashboard.size() >= 30);
  for (const std::string& name : dashboard) {
    INFO(name);
    CHECK(metrics.find("# TYPE " + name + " ") != std::string::npos);
  }
  live.Signal(SIGTERM);
  CHECK(live.Wait(budget.Left()) == 0);
}

}  // namespace
}  // namespace vigil::testing
