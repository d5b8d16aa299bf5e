// Background retraining inside `vigil run`: the scheduled trainings on the feature log (event time,
// every 7 days), their run records and versions, and POST /v1/retrain (token, 202, trigger command).
#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <thread>

#include "base/time.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"
#include "tests/support/runs.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDayMs = base::kMsPerDay;

//! The oldest and newest event times (TX_TIME_MS, the second column) of a feature log's rows.
std::pair<int64_t, int64_t> LoggedRange(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  int64_t oldest = std::numeric_limits<int64_t>::max(), newest = 0;
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    const int64_t time = std::stoll(line.substr(a + 1, b - a - 1));
    oldest = std::min(oldest, time);
    newest = std::max(newest, time);
  }
  return {oldest, newest};
}

TEST_CASE("vigil run retrains from its feature log on an event-time schedule and on command",
          "[integration]") {
  const std::string dir = TempDir("vigil-retrain");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  const std::string sim =
      VigilBinary() + " simulate --customers 300 --terminals 600 --days 60 --seed 5 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " replay " + pipeline + " --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);
  const std::string reg = dir + "/models";
  REQUIRE(Shell(vigil + " train " + pipeline + " --table " + dir + "/table.csv --models-dir " + reg +
                " --rounds 20 --train-start 2018-04-05 > /dev/null") == 0);
  REQUIRE(Shell(vigil + " models --registry " + reg + " promote v1 > /dev/null") == 0);

  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"),
                    decisions = UniqueTopic("decisions"), dlq = UniqueTopic("dlq");
  for (const auto& t : {tx, labels, decisions, dlq}) CreateTopic(t, 1);
  std::string yaml = ReadFile(pipeline);
  ReplaceAll(&yaml, "topic: transactions}", "topic: " + tx + "}");
  ReplaceAll(&yaml, "topic: labels,", "topic: " + labels + ",");
  ReplaceAll(&yaml, "topic: transactions.dlq}", "topic: " + dlq + "}");
  ReplaceAll(&yaml, "topic: features", "topic: " + decisions);
  ReplaceAll(&yaml, "bootstrap: 127.0.0.1:19092", "bootstrap: '" + Bootstrap() + "'");
  const std::string log = dir + "/log/features.csv";
  ReplaceAll(&yaml, "      - {name: TERMINAL_ID_RISK_30DAY_WINDOW, agg: ratio, field: $label, window: 30d}\n",
             "      - {name: TERMINAL_ID_RISK_30DAY_WINDOW, agg: ratio, field: $label, window: 30d}\n"
             "  - type: score\n    registry: " +
                 reg + "\n    poll: 50ms\n    feature_log: " + log +
                 "\n    retrain: {every: 7d, train_days: 7, valid_days: 2, rounds: 20, min_rows: 500}\n");
  ReplaceAll(&yaml, "runtime: {workers: 2, commit_interval: 1s}",
             "runtime: {workers: 2, commit_interval: 500ms, state_dir: " + dir +
                 "/state}\nhttp: {port: 0, token_env: VIGIL_TEST_RETRAIN_TOKEN}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + tx + " --labels-topic " + labels +
                " 2>/dev/null") == 0);
  const auto inputs = ConsumeAll(tx, 0);
  REQUIRE(inputs.size() > 20'000);

  ::setenv("VIGIL_TEST_RETRAIN_TOKEN", "retrain-token", 1);
  Child live({VigilBinary(), "run", dir + "/pipeline.yaml"}, dir + "/run.log");
  const int port = LoggedHttpPort(dir + "/run.log");
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const auto streamed = ConsumeAll(decisions, inputs.size(), std::chrono::seconds(120));
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(streamed.size() == inputs.size());

  // The scheduled trainings: at least two, as the log's event time advances week by week.
  std::vector<Run> scheduled;
  for (int i = 0; i < 240 && scheduled.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    scheduled = WithTrigger(ListRuns(dir, reg), "schedule");
  }
  REQUIRE(scheduled.size() >= 2);

  // On command: the token is required; 202 with the run id, then a run with trigger "command".
  std::string body;
  CHECK(Curl(dir, "-X POST " + url + "/v1/retrain", &body) == 401);
  int code = 409;
  for (int i = 0; i < 120 && code == 409; ++i) {  // 409 while a scheduled training runs
    code = Curl(dir, "-H 'Authorization: Bearer retrain-token' -X POST " + url + "/v1/retrain", &body);
    if (code == 409) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  REQUIRE(code == 202);
  simdjson::dom::parser parser;
  const std::string command_id(std::string_view(parser.parse(body)["run_id"].get_string()));
  std::vector<Run> commanded;
  for (int i = 0; i < 240 && commanded.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    commanded = WithTrigger(ListRuns(dir, reg), "command");
  }
  REQUIRE(commanded.size() == 1);
  CHECK(commanded[0].id == command_id);
  CHECK(commanded[0].outcome == "registered");
  CHECK(commanded[0].parent == "v1");

  std::string metrics;
  REQUIRE(Curl(dir, url + "/metrics", &metrics) == 200);
  CHECK_THAT(metrics,
             Catch::Contains("vigil_retrain_runs_total{") && Catch::Contains("outcome=\"registered\""));
  CHECK_THAT(metrics, Catch::Contains("vigil_retrain_last_run_timestamp_seconds{"));

  live.Signal(SIGTERM);
  CHECK(live.Wait(std::chrono::seconds(120)) == 0);

  const auto [oldest, newest] = LoggedRange(log);
  scheduled = WithTrigger(ListRuns(dir, reg), "schedule");
  REQUIRE(scheduled.size() >= 2);
  for (size_t i = 0; i < scheduled.size(); ++i) {
    const Run& r = scheduled[i];
    INFO(r.id);
    CHECK(r.outcome == "registered");
    CHECK(r.parent == "v1");
    CHECK(r.train_end - r.train_start == 7 * kDayMs);
    CHECK(r.valid_end - r.train_end == 2 * kDayMs);
    CHECK(r.train_start >= oldest);  // the log was empty at start: no window before its first row
    CHECK(r.train_end <= newest);
    CHECK(r.valid_end <= newest);  // no row after the newest logged one
    if (i > 0) CHECK(r.train_end - scheduled[i - 1].train_end == 7 * kDayMs);
    CHECK(Shell(vigil + " models --registry " + reg + " show " + r.version + " > /dev/null") == 0);
    // The Kafka offsets its rows came from (the feature log records each event's partition and offset).
    REQUIRE(Shell(vigil + " runs --registry " + reg + " show " + r.id + " --json > " + dir + "/run.json") ==
            0);
    simdjson::dom::parser run_parser;
    simdjson::dom::element record = run_parser.load(dir + "/run.json");
    simdjson::dom::array offsets = record["offsets"];
    REQUIRE(offsets.size() == 1);
    CHECK(std::string_view(offsets.at(0)["topic"]) == tx);
    CHECK(int64_t(offsets.at(0)["partition"]) == 0);
    CHECK(int64_t(offsets.at(0)["first"]) < int64_t(offsets.at(0)["end"]));
    CHECK(int64_t(offsets.at(0)["end"]) <= static_cast<int64_t>(inputs.size()));
  }
  CHECK(Shell(vigil + " models --registry " + reg + " show " + commanded[0].version + " > /dev/null") == 0);
  CHECK(ReadFile(reg + "/CHAMPION") == "v1\n");  // registered, never promoted
}

}  // namespace
}  // namespace vigil::testing
