// The status page (GET /, app/status/status.html) in a real browser: a scoring pipeline with a drift
// monitor runs over the real broker, headless Chromium loads the page through Selenium
// (tests/app/status_page.py) and what it shows is compared with what the server answers itself:
// no console error, the champion of /v1/models, every PSI gauge of /metrics, the dead letters, the
// training runs and the rollout rule.
#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! One sample of a Prometheus text exposition: its labels and its value as sent.
struct Sample {
  std::map<std::string, std::string> labels;
  std::string value;
};

//! The samples of metric `name` in the Prometheus text `metrics`.
std::vector<Sample> Samples(const std::string& metrics, const std::string& name) {
  std::vector<Sample> out;
  const std::regex line_re("^" + name + R"(\{([^}]*)\} (\S+)$)"), label_re(R"re((\w+)="([^"]*)")re");
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) continue;
    Sample s;
    const std::string labels = m[1].str();
    for (auto l = std::sregex_iterator(labels.begin(), labels.end(), label_re); l != std::sregex_iterator();
         ++l)
      s.labels[(*l)[1].str()] = (*l)[2].str();
    s.value = m[2].str();
    out.push_back(std::move(s));
  }
  return out;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_CASE("the status page shows the champion and the PSI gauges of /metrics with no console error",
          "[integration]") {
  const std::string python = "/usr/bin/python3";
  const std::string script = std::string(VIGIL_SOURCE_DIR) + "/tests/app/status_page.py";
  const std::string dir = TempDir("vigil-status");
  {  // Headless Chromium is this test's prerequisite, as the broker is: missing, the test fails.
    const int check = Shell(python + " " + script + " --check 2> " + dir + "/check.txt");
    INFO(ReadFile(dir + "/check.txt"));
    REQUIRE(check == 0);
  }
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  const std::string sim =
      VigilBinary() + " simulate --customers 300 --terminals 600 --days 40 --seed 4 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " replay " + pipeline + " --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);
  const std::string reg = dir + "/models";
  REQUIRE(Shell(vigil + " train " + pipeline + " --table " + dir + "/table.csv --models-dir " + reg +
                " --rounds 20 --train-start 2018-04-05 --promote > /dev/null") == 0);

  HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                        UniqueTopic("dlq")};
  for (const auto& t : {topics.transactions, topics.labels, topics.output, topics.dead_letter})
    CreateTopic(t, 1);
  std::string yaml = HandbookYaml(topics);
  PrependOutputFields(&yaml, "SCORE, MODEL_VERSION");
  AppendOperators(&yaml, "  - type: score\n    registry: " + reg +
                             "\n    monitor: {drift: {events: 1000, sub_windows: 4}, every: 200ms}"
                             "\n    rollout: {mode: shadow, metric: average_precision, days: 3}\n");
  ReplaceRuntime(
      &yaml, "runtime: {workers: 1, commit_interval: 500ms, state_dir: " + dir + "/state}\nhttp: {port: 0}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + topics.transactions + " --labels-topic " +
                topics.labels + " 2>/dev/null") == 0);
  const size_t events = ConsumeAll(topics.transactions, 0).size();
  REQUIRE(events > 20'000);
  Produce(topics.transactions, {Message{std::nullopt, "not json"}});  // one dead letter

  Child live({VigilBinary(), "run", dir + "/pipeline.yaml"}, dir + "/run.log");
  const int port = LoggedHttpPort(dir + "/run.log");
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  INFO(ReadFile(dir + "/run.log"));

  // Every event decided; then one drift evaluation after that, so the PSI gauges hold their final
  // values and the page and this test read the same ones.
  REQUIRE(ConsumeAll(topics.output, events, std::chrono::seconds(180)).size() == events);
  const double decided = WallSeconds();
  std::string metrics;
  REQUIRE(WaitFor(std::chrono::seconds(60), [&] {
    if (Curl(dir, url + "/metrics", &metrics) != 200) return false;
    const auto evaluated = Samples(metrics, "vigil_drift_last_evaluation_timestamp_seconds");
    const auto psi = Samples(metrics, "vigil_feature_psi");
    return metrics.find(R"(vigil_dead_letters_total{pipeline="handbook",reason="invalid_json"} 1)") !=
               std::string::npos &&
           !evaluated.empty() && std::stod(evaluated[0].value) > decided && !psi.empty() &&
           std::all_of(psi.begin(), psi.end(),
                       [](const Sample& s) { return std::isfinite(std::stod(s.value)); });
  }));

  // The page, as the browser shows it; then the server's own answers.
  const int shown_code =
      Shell(python + " " + script + " " + url + "/ " + dir + "/shown.json 2> " + dir + "/browser.txt");
  INFO("status_page.py: " << ReadFile(dir + "/browser.txt"));
  REQUIRE(shown_code == 0);
  std::string models, runs, spec;
  REQUIRE(Curl(dir, url + "/metrics", &metrics) == 200);
  REQUIRE(Curl(dir, url + "/v1/models", &models) == 200);
  REQUIRE(Curl(dir, url + "/v1/runs", &runs) == 200);
  REQUIRE(Curl(dir, url + "/v1/pipeline", &spec) == 200);
  const std::string shown_text = ReadFile(dir + "/shown.json");
  INFO("page: " << shown_text);
  INFO("metrics: " << metrics);
  simdjson::dom::parser parser, models_parser, runs_parser, spec_parser;
  const simdjson::dom::element shown = parser.parse(shown_text);

  for (std::string_view message : shown["severe"].get_array()) UNSCOPED_INFO("browser log: " << message);
  CHECK(shown["severe"].get_array().size() == 0);
  CHECK(std::string_view(shown["content_type"]) == "text/html");
  REQUIRE(Shell("curl -s -o /dev/null -w '%{content_type}' " + url + "/ > " + dir + "/content_type.txt") ==
          0);
  CHECK(ReadFile(dir + "/content_type.txt") == "text/html; charset=utf-8");
  CHECK(std::string_view(shown["title"]) == "vigil handbook");

  // The champion: the one /v1/models names, and the version whose inputs the drift gauges measure.
  const std::string champion(std::string_view(models_parser.parse(models)["champion"]));
  CHECK(champion == "v1");
  CHECK(std::string_view(shown["champion"]) == champion);
  CHECK(std::string_view(shown["monitored"]) == champion);
  CHECK(std::string_view(shown["candidate"]) == "none");

  // Every PSI gauge, the score's first, on a row of its own: the gauge as /metrics sends it, shown
  // rounded to 3 decimals.
  std::vector<std::pair<std::string, Sample>> gauges;
  for (const Sample& s : Samples(metrics, "vigil_score_psi")) gauges.emplace_back("score", s);
  for (const Sample& s : Samples(metrics, "vigil_feature_psi"))
    gauges.emplace_back(s.labels.at("feature"), s);
  REQUIRE(gauges.size() == 16);  // the model's 15 features and its score
  std::map<std::string, simdjson::dom::element> rows;
  for (simdjson::dom::element row : shown["psi"].get_array())
    rows[std::string(std::string_view(row["name"]))] = row;
  CHECK(rows.size() == gauges.size());
  CHECK(std::string_view(shown["psi"].at(0)["name"]) == "score");
  for (const auto& [name, gauge] : gauges) {
    INFO(name << " = " << gauge.value);
    REQUIRE(rows.count(name) == 1);
    const simdjson::dom::element row = rows.at(name);
    CHECK(std::string_view(row["gauge"]) == gauge.value);
    CHECK(std::string_view(row["version"]) == gauge.labels.at("model_version"));
    CHECK(std::fabs(std::stod(std::string(std::string_view(row["shown"]))) - std::stod(gauge.value)) <=
          0.0005 + 1e-12);
  }

  // The dead letter, the training run (the one `vigil train` recorded) and the rollout rule.
  CHECK(std::string_view(shown["dead_letters"]["invalid_json"]) == "1");
  const auto listed = runs_parser.parse(runs)["runs"].get_array();
  REQUIRE(listed.size() == 1);
  REQUIRE(shown["runs"].get_array().size() == 1);
  CHECK(std::string_view(shown["runs"].at(0)) == std::string_view(listed.at(0)["id"]));
  const simdjson::dom::element pipeline_spec = spec_parser.parse(spec);
  CHECK(std::string_view(pipeline_spec["name"]) == "handbook");
  CHECK(pipeline_spec["stages"].get_array().size() == 1);
  CHECK(std::string_view(pipeline_spec["stages"].at(0)) == "handbook");
  CHECK(bool(pipeline_spec["score"]));
  CHECK(std::string_view(pipeline_spec["rollout"]["mode"]) == "shadow");
  CHECK(int64_t(pipeline_spec["rollout"]["days"]) == 3);
  CHECK_THAT(std::string(std::string_view(shown["rollout_rule"])),
             Catch::StartsWith("shadow: average_precision") && Catch::Contains("3 matured days"));
  CHECK(std::string_view(shown["rollout_state"]) == "no candidate on trial");

  live.Signal(SIGTERM);
  CHECK(live.Wait(std::chrono::seconds(60)) == 0);
}

}  // namespace
}  // namespace vigil::testing
