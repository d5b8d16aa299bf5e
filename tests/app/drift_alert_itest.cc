// Drift, end to end: the simulator's drift scenario streams through the real broker into `vigil run`,
// a real Prometheus scrapes it with the shipped rules, and VigilFeatureDrift fires for the shifted
// input once the drift starts, not before.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <thread>

#include "base/time.h"
#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_env.h"
#include "tests/support/runs.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDayMs = base::kMsPerDay;

//! The lines of a JSONL file whose `field` (epoch ms) is before / from `split_ms`, as Kafka messages.
void SplitByTime(const std::string& path, const char* field, int64_t split_ms, std::vector<Message>* before,
                 std::vector<Message>* after) {
  simdjson::dom::parser parser;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const int64_t t = parser.parse(line)[field].get_int64().value();
    Message m;
    m.value = line;
    m.partition = 0;
    m.timestamp_ms = t;
    (t < split_ms ? before : after)->push_back(std::move(m));
  }
}

//! Alerts of `name` (pending or firing) whose `feature` label is `feature` (any when empty).
std::vector<PrometheusAlert> AlertsOf(const PrometheusEnv& prom, const std::string& name,
                                      const std::string& feature = "") {
  std::vector<PrometheusAlert> out;
  for (auto& a : prom.Alerts())
    if (a.name() == name && (feature.empty() || a.labels["feature"] == feature)) out.push_back(a);
  return out;
}

TEST_CASE("a drift in the stream fires VigilFeatureDrift in a real Prometheus and not before",
          "[integration]") {
  const TimeBudget budget(std::chrono::seconds(280));
  const std::string dir = TempDir("vigil-drift");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  // From day 50 every amount triples.
  constexpr int kDriftDay = 50;
  REQUIRE(Shell(VigilBinary() +
                " simulate --customers 300 --terminals 600 --days 80 --seed 6 --quiet --drift-day " +
                std::to_string(kDriftDay) + " --drift-amount-factor 3 --out " + dir +
                "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " replay " + pipeline + " --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);
  const std::string reg = dir + "/models";
  REQUIRE(Shell(vigil + " train " + pipeline + " --table " + dir + "/table.csv --models-dir " + reg +
                " --rounds 20 --train-start 2018-05-06 > /dev/null") == 0);
  REQUIRE(Shell(vigil + " models --registry " + reg + " promote v1 > /dev/null") == 0);

  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"),
                    decisions = UniqueTopic("decisions"), dlq = UniqueTopic("dlq");
  for (const auto& t : {tx, labels, decisions, dlq}) CreateTopic(t, 1);
  std::string yaml = HandbookYaml({tx, labels, decisions, dlq});
  PrependOutputFields(&yaml, "SCORE, MODEL_VERSION");
  // A drift window of 8 x 1000 events (about two weeks of this population, so weekdays and hours
  // are represented as in the training week), re-evaluated every 500 ms.
  AppendOperators(&yaml, "  - type: score\n    registry: " + reg +
                             "\n"
                             "    monitor: {drift: {events: 1000, sub_windows: 8}, every: 500ms,\n"
                             "              performance: {window_days: 7, label_delay_days: 7}}\n"
                             "    feature_log: " +
                             dir +
                             "/log/features.csv\n"
                             "    retrain: {every: 365d, train_days: 14, valid_days: 1, rounds: 10, "
                             "min_rows: 200, on_drift: true}\n");
  ReplaceRuntime(
      &yaml, "runtime: {workers: 1, commit_interval: 500ms, state_dir: " + dir + "/state}\nhttp: {port: 0}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;

  const int64_t split = 1522540800000 + kDriftDay * kDayMs;  // 2018-04-01 + drift day
  std::vector<Message> tx_before, tx_after, labels_before, labels_after;
  SplitByTime(dir + "/tx.jsonl", "TX_TIME_MS", split, &tx_before, &tx_after);
  SplitByTime(dir + "/labels.jsonl", "LABEL_TIME_MS", split, &labels_before, &labels_after);
  REQUIRE(tx_before.size() > 20'000);
  REQUIRE(tx_after.size() > 10'000);
  Produce(labels, labels_before);
  Produce(tx, tx_before);

  Child live({VigilBinary(), "run", dir + "/pipeline.yaml"}, dir + "/run.log");
  const int port = LoggedHttpPort(dir + "/run.log");
  REQUIRE(port > 0);
  PrometheusOptions options;
  options.targets = {"127.0.0.1:" + std::to_string(port)};
  options.rule_files = {ShippedRulesPath()};
  options.rules_for = "2s";
  auto prom = PrometheusEnv::Start(options);
  INFO(ReadFile(dir + "/run.log"));

  // Before the drift: everything up to the drift day is scored, and several evaluations later no
  // drift alert is pending or firing.
  REQUIRE(ConsumeAll(decisions, tx_before.size(), budget.Left()).size() == tx_before.size());
  // Once Prometheus has the amount's PSI, 4 more evaluations of the drift rule (scrapes of the newest
  // values, and more than the 2 s `for:` of a pending alert), however slow a loaded machine makes them.
  {
    REQUIRE(WaitFor(budget.Left(),
                    [&] { return prom->Query("vigil_feature_psi{feature=\"TX_AMOUNT\"}").size() == 1; }));
    std::string last;
    int evaluations = -1;  // the evaluation current now does not count
    const bool evaluated = WaitFor(budget.Left(), [&] {
      for (const auto& rule : prom->Rules())
        if (rule.name == "VigilFeatureDrift" && rule.health == "ok" && rule.last_evaluation != last) {
          last = rule.last_evaluation;
          ++evaluations;
        }
      return evaluations >= 4;
    });
    INFO("drift rule evaluations: " << evaluations);
    REQUIRE(evaluated);
  }
  const auto psi_before = prom->Query("vigil_feature_psi{feature=\"TX_AMOUNT\"}");
  REQUIRE(psi_before.size() == 1);
  INFO("TX_AMOUNT psi before the drift: " << psi_before[0].value);
  CHECK(psi_before[0].value < 0.1);
  for (const auto& a : AlertsOf(*prom, "VigilFeatureDrift"))
    UNSCOPED_INFO("drift alert on " << a.labels.at("feature"));
  CHECK(AlertsOf(*prom, "VigilFeatureDrift").empty());
  CHECK(AlertsOf(*prom, "VigilScoreDrift").empty());
  CHECK(AlertsOf(*prom, "VigilDriftEvaluationStale").empty());
  // A cold pipeline's 30-day counts differ from the training week's until they fill, which may
  // raise a drift signal early on; none names an amount feature before the drift.
  const std::string early = std::filesystem::exists(reg + "/DRIFT") ? ReadFile(reg + "/DRIFT") : "";
  INFO("drift signal before the drift day: " << early);
  CHECK(early.find("AMOUNT") == std::string::npos);
  const size_t drift_runs_before = WithTrigger(ListRuns(dir, reg), "drift").size();

  // The drift: the rest of the stream.
  Produce(labels, labels_after);
  Produce(tx, tx_after);
  std::string state;
  (void)WaitFor(budget.Left(), [&] {
    const auto alerts = AlertsOf(*prom, "VigilFeatureDrift", "TX_AMOUNT");
    state = alerts.empty() ? "" : alerts[0].state;
    return state == "firing";
  });
  const auto psi_after = prom->Query("vigil_feature_psi{feature=\"TX_AMOUNT\"}");
  const auto window = prom->Query("vigil_drift_window_events");
  INFO("TX_AMOUNT psi after the drift: " << (psi_after.empty() ? -1 : psi_after[0].value)
                                         << ", window events " << (window.empty() ? -1 : window[0].value));
  INFO("decisions: "
       << ConsumeAll(decisions, tx_before.size() + tx_after.size(), std::chrono::seconds(5)).size() << " of "
       << tx_before.size() + tx_after.size());
  REQUIRE(state == "firing");
  const auto alert = AlertsOf(*prom, "VigilFeatureDrift", "TX_AMOUNT")[0];
  CHECK(alert.labels.at("model_version") == "v1");
  CHECK(alert.labels.at("pipeline") == "handbook");
  CHECK(std::stod(alert.value) > 0.25);

  // The amount drift raises a drift signal, and the retraining worker trains (trigger "drift"), from
  // the champion, once the feature log reaches the signal's event time: on data past the drift day,
  // however fast or slow the stream was read. (The cold pipeline's early signal, above, may start a
  // drift training of its own, on data before the drift day: not this.)
  const auto after_drift = [&]() -> std::optional<Run> {
    for (const Run& r : WithTrigger(ListRuns(dir, reg), "drift"))
      if (r.valid_end > split) return r;
    return std::nullopt;
  };
  std::optional<Run> retrained;
  (void)WaitFor(budget.Left(), [&] { return (retrained = after_drift()).has_value(); });
  INFO("DRIFT: " << (std::filesystem::exists(reg + "/DRIFT") ? ReadFile(reg + "/DRIFT") : "none"));
  INFO("drift runs before the drift: " << drift_runs_before);
  REQUIRE(retrained);
  CHECK(retrained->outcome == "registered");
  CHECK(retrained->parent == "v1");
  // The registry's DRIFT keeps every signal: one names an amount feature's PSI for v1.
  const auto amount_signal = [&] {
    std::istringstream lines(ReadFile(reg + "/DRIFT"));
    for (std::string line; std::getline(lines, line);)
      if (line.find("\tv1\t") != std::string::npos && line.find("AMOUNT PSI") != std::string::npos)
        return true;
    return false;
  };
  CHECK(amount_signal());

  live.Signal(SIGTERM);
  CHECK(live.Wait(budget.Left()) == 0);
}

}  // namespace
}  // namespace vigil::testing
