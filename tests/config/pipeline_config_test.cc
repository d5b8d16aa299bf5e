#include "config/pipeline_config.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vigil::config {
namespace {

const char* kValid = R"(name: t
source: {kind: kafka, topic: tx}
schema:
  event_time: TS
  key: CARD
  fields:
    - {name: TS, type: timestamp, format: iso8601}
    - {name: CARD, type: string}
    - {name: AMOUNT, type: double, min: 0, max: 10000}
    - {name: CHANNEL, type: string, required: false, enum: [web, pos]}
operators:
  - type: window
    key: CARD
    lateness: 2h
    outputs:
      - {name: N1, agg: count, window: 1d}
      - {name: RISK, agg: ratio, field: AMOUNT, window: 7d, delay: 7d}
output: {kind: kafka, topic: out, fields: [CARD, {name: n, from: N1}]}
runtime: {commit_interval: 250ms, guarantee: exactly_once}
)";

TEST_CASE("a valid pipeline file becomes typed structs", "[config]") {
  auto spec = LoadPipelineText(kValid, "p.yaml");
  REQUIRE(spec.ok());
  CHECK(spec->source.group == "vigil-t");
  CHECK(spec->schema.fields.size() == 4);
  CHECK(spec->schema.fields[0].time_format == TimeFormat::kIso8601);
  CHECK(*spec->schema.fields[2].max == 10000);
  CHECK(spec->schema.fields[3].allowed == std::vector<std::string>{"web", "pos"});
  const auto& w = std::get<WindowSpec>(spec->operators[0].params);
  CHECK(w.lateness_ms == 2 * 3'600'000);
  CHECK(w.outputs[1].agg == Aggregate::kRatio);
  CHECK(w.outputs[1].delay_ms == 7 * 86'400'000LL);
  CHECK(spec->output.fields[1].name == "n");
  CHECK(spec->output.fields[1].from == "N1");
  CHECK(spec->runtime.commit_interval_ms == 250);
  CHECK(spec->runtime.guarantee == Guarantee::kExactlyOnce);
  CHECK(spec->http.bind == "127.0.0.1");
}

void ExpectError(const std::string& text, const std::string& where, const std::string& what) {
  auto spec = LoadPipelineText(text, "p.yaml");
  REQUIRE_FALSE(spec.ok());
  INFO(spec.status().message());
  CHECK(spec.status().message().rfind("p.yaml:" + where + ": ", 0) == 0);
  CHECK(spec.status().message().find(what) != std::string::npos);
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

TEST_CASE("relative paths in a pipeline file resolve against the file's folder", "[config]") {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/vigil-config-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const fs::path dir = fs::path(tmpl) / "pipelines";
  fs::create_directories(dir);
  std::string text = kValid;
  text = Replace(text, "source: {kind: kafka, topic: tx}", "source: {kind: file, path: events.jsonl}");
  text = Replace(text, "output: {kind: kafka, topic: out,",
                 "output: {kind: file, path: ../out/decisions.jsonl,");
  text = Replace(text, "runtime: {commit_interval: 250ms,",
                 "runtime: {state_dir: state, commit_interval: 250ms,");
  std::ofstream(dir / "p.yaml") << text;
  // Loaded from elsewhere, through a relative path: the working directory does not matter.
  const fs::path cwd = fs::current_path();
  fs::current_path(tmpl);
  auto spec = LoadPipelineFile("pipelines/p.yaml");
  fs::current_path(cwd);
  REQUIRE(spec.ok());
  CHECK(spec->source.path == "pipelines/events.jsonl");
  CHECK(spec->output.path == "out/decisions.jsonl");
  CHECK(spec->runtime.state_dir == "pipelines/state");
  auto absolute = LoadPipelineFile((dir / "p.yaml").string());
  REQUIRE(absolute.ok());
  CHECK(absolute->source.path == (dir / "events.jsonl").string());
  CHECK(absolute->runtime.state_dir == (dir / "state").string());
  fs::remove_all(tmpl);
}

TEST_CASE("config errors name file, line and column and what was expected", "[config]") {
  ExpectError(Replace(kValid, "agg: count", "agg: median"), "16:25",
              "unknown aggregate 'median'; expected count");
  ExpectError(Replace(kValid, "lateness: 2h", "lateness: 2 weeks"), "14:15", "unknown duration unit");
  ExpectError(Replace(kValid, "type: double", "type: float"), "9:28", "unknown field type 'float'");
  ExpectError(Replace(kValid, "    lateness", "    latenes"), "14:5", "unknown key 'latenes'");
  // A typo is answered with the key it most likely meant; a word like no key, with the list only.
  ExpectError(Replace(kValid, "    lateness", "    latenes"), "14:5",
              "did you mean 'lateness'? expected one of:");
  ExpectError(Replace(kValid, "    lateness", "    ABSOLUTELY"), "14:5",
              "in a window operator; expected one of:");
  ExpectError(Replace(kValid, "event_time: TS", "event_time: CARD"), "4:15",
              "must be a required timestamp field");
  ExpectError(Replace(kValid, "{kind: kafka, topic: tx}", "{kind: kafka, topic: tx"), "3:7",
              "YAML syntax error");
  ExpectError(Replace(kValid, "{kind: kafka, topic: tx}", "{kind: pulsar, topic: tx}"), "2:16",
              "unknown source kind 'pulsar'");
  ExpectError(Replace(kValid, "commit_interval: 250ms", "commit_interval: [1]"), "19:28",
              "expected a duration");
  // The labels' key (which stage reads them, engine/stages.h) must be an event field.
  const std::string with_labels = Replace(
      Replace(kValid, "    - {name: AMOUNT", "    - {name: ID, type: int64}\n    - {name: AMOUNT"),
      "operators:", "labels:\n  source: {kind: kafka, topic: labels, key: TERMINAL}\n  id: ID\noperators:");
  ExpectError(with_labels, "13:45", "labels.source.key 'TERMINAL' must be a field of the schema");
  CHECK(LoadPipelineText(Replace(with_labels, "key: TERMINAL}", "key: CARD}"), "p.yaml").ok());
}

TEST_CASE("window: composite keys, the newer aggregates and their bad combinations are located errors",
          "[config]") {
  const std::string n1 = "{name: N1, agg: count, window: 1d}";
  auto spec = LoadPipelineText(
      Replace(Replace(kValid, "key: CARD\n    lateness", "key: [CARD, CHANNEL]\n    lateness"), n1,
              "{name: GAP, agg: time_since_last}"),
      "p.yaml");
  REQUIRE(spec.ok());
  const auto& w = std::get<WindowSpec>(spec->operators[0].params);
  CHECK(w.key == std::vector<std::string>{"CARD", "CHANNEL"});
  CHECK(w.outputs[0].agg == Aggregate::kTimeSinceLast);
  CHECK(w.outputs[0].window_ms == 0);
  for (const char* agg :
       {"stddev", "zscore", "distinct", "ratio_to_sum", "ratio_to_avg", "ratio_to_min", "ratio_to_max"}) {
    auto with = LoadPipelineText(
        Replace(kValid, n1, "{name: N1, agg: " + std::string(agg) + ", field: AMOUNT, window: 1d}"),
        "p.yaml");
    INFO(agg);
    REQUIRE(with.ok());
    CHECK(AggregateName(std::get<WindowSpec>(with->operators[0].params).outputs[0].agg) == agg);
  }
  ExpectError(Replace(kValid, "agg: count", "agg: median"), "16:25",
              "expected count, sum, avg, min, max, ratio, stddev, zscore, distinct, time_since_last, "
              "ratio_to_sum, ratio_to_avg, ratio_to_min, ratio_to_max");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: distinct, window: 1d}"), "16:9",
              "'distinct' of 'N1' needs 'field'");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: stddev, window: 1d}"), "16:9",
              "'stddev' of 'N1' needs 'field'");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: time_since_last, window: 1d}"), "16:50",
              "time_since_last takes no 'window'");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: zscore, field: $label, window: 1d}"), "16:40",
              "'$label' cannot be its field");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: avg, field: AMOUNT, denominator: AMOUNT, window: 1d}"),
              "16:58", "denominator: only 'ratio' takes one, not 'avg'");
  auto filtered = LoadPipelineText(
      Replace(kValid, n1, "{name: N1, agg: sum, field: AMOUNT, window: 1d, where: AMOUNT}"), "p.yaml");
  REQUIRE(filtered.ok());
  CHECK(std::get<WindowSpec>(filtered->operators[0].params).outputs[0].where == "AMOUNT");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: time_since_last, where: AMOUNT}"), "16:49",
              "time_since_last takes no 'where'");
  ExpectError(Replace(kValid, n1, "{name: N1, agg: count, window: 1d, where: $label}"), "16:51",
              "where: a column of the event");
  ExpectError(Replace(kValid, "key: CARD\n    lateness", "key: [CARD]\n    lateness"), "13:10",
              "a composite key names 2 to 4 columns");
  ExpectError(Replace(kValid, "key: CARD\n    lateness", "key: [CARD, CARD]\n    lateness"), "13:17",
              "'CARD' is named twice");
  ExpectError(Replace(kValid, "key: CARD\n    lateness", "key: {a: b}\n    lateness"), "13:10",
              "expected a column name or a list of column names");
}

TEST_CASE("labels.max_wait: default 200 ms, a duration, bounded, located errors", "[config]") {
  const std::string with_labels =
      Replace(Replace(kValid, "    - {name: AMOUNT", "    - {name: ID, type: int64}\n    - {name: AMOUNT"),
              "operators:", "labels:\n  source: {kind: kafka, topic: labels}\n  id: ID\noperators:");
  auto defaults = LoadPipelineText(with_labels, "p.yaml");
  REQUIRE(defaults.ok());
  CHECK(defaults->labels.max_wait_ms == 200);
  CHECK(defaults->labels.max_wait_ms < RuntimeSpec{}.commit_interval_ms / 2);
  auto set = LoadPipelineText(Replace(with_labels, "  id: ID", "  id: ID\n  max_wait: 1s"), "p.yaml");
  REQUIRE(set.ok());
  CHECK(set->labels.max_wait_ms == 1000);
  ExpectError(Replace(with_labels, "  id: ID", "  id: ID\n  max_wait: 1m"), "15:13",
              "max_wait: expected 0 to 10s");
  ExpectError(Replace(with_labels, "  id: ID", "  id: ID\n  max_wait: soon"), "15:13", "expected a duration");
  ExpectError(Replace(with_labels, "  id: ID", "  id: ID\n  max_wiat: 1s"), "15:3", "unknown key 'max_wiat'");
}

TEST_CASE("http: defaults, values and located errors", "[config]") {
  auto defaults = LoadPipelineText(kValid, "p.yaml");
  REQUIRE(defaults.ok());
  CHECK(defaults->http.max_connections == 256);
  CHECK(defaults->http.threads == 2);
  const std::string with_http = std::string(kValid) + "http: {port: 0, threads: 4, max_connections: 32}\n";
  auto set = LoadPipelineText(with_http, "p.yaml");
  REQUIRE(set.ok());
  CHECK(set->http.port == 0);
  CHECK(set->http.threads == 4);
  CHECK(set->http.max_connections == 32);
  ExpectError(Replace(with_http, "max_connections: 32", "max_connections: 0"), "20:46",
              "max_connections: expected 1..100000");
  ExpectError(Replace(with_http, "max_connections: 32", "max_conections: 32"), "20:29",
              "unknown key 'max_conections'");
}

//! kValid with a score operator whose extra keys are `score_extra` (one YAML line each, 4-space indent).
std::string WithScore(const std::string& score_extra) {
  return Replace(kValid, "output: {kind",
                 "  - type: score\n    registry: /tmp/models\n" + score_extra + "output: {kind");
}

TEST_CASE("runtime: exactly-once by default, instance id and changelog", "[config]") {
  auto defaults =
      LoadPipelineText(Replace(kValid, "runtime: {commit_interval: 250ms, guarantee: exactly_once}",
                               "runtime: {commit_interval: 250ms}"),
                       "p.yaml");
  REQUIRE(defaults.ok());
  CHECK(defaults->runtime.guarantee == Guarantee::kExactlyOnce);
  CHECK(defaults->runtime.instance_id.empty());
  CHECK(defaults->runtime.changelog);
  auto set = LoadPipelineText(Replace(kValid, "guarantee: exactly_once",
                                      "guarantee: at_least_once, instance_id: node-2, changelog: false"),
                              "p.yaml");
  REQUIRE(set.ok());
  CHECK(set->runtime.guarantee == Guarantee::kAtLeastOnce);
  CHECK(set->runtime.instance_id == "node-2");
  CHECK_FALSE(set->runtime.changelog);
  ExpectError(Replace(kValid, "guarantee: exactly_once", "guarantee: twice"), "19:46",
              "guarantee: expected at_least_once or exactly_once");
  ExpectError(Replace(kValid, "guarantee: exactly_once", "changelog: maybe"), "19:46",
              "'changelog': expected true or false");
}

TEST_CASE("schema.max_future and runtime.idle_timeout: defaults, values and located errors", "[config]") {
  auto defaults = LoadPipelineText(kValid, "p.yaml");
  REQUIRE(defaults.ok());
  CHECK(defaults->schema.max_future_ms == 86'400'000);
  CHECK(defaults->runtime.idle_timeout_ms == 10'000);
  const std::string set_text = Replace(Replace(kValid, "  key: CARD\n", "  key: CARD\n  max_future: 2h\n"),
                                       "guarantee: exactly_once", "idle_timeout: 30s");
  auto set = LoadPipelineText(set_text, "p.yaml");
  REQUIRE(set.ok());
  CHECK(set->schema.max_future_ms == 2 * 3'600'000);
  CHECK(set->runtime.idle_timeout_ms == 30'000);
  ExpectError(Replace(set_text, "max_future: 2h", "max_future: 0s"), "6:15",
              "max_future: expected a positive duration");
  ExpectError(Replace(set_text, "max_future: 2h", "max_future: soon"), "6:15", "expected a duration");
  ExpectError(Replace(set_text, "idle_timeout: 30s", "idle_timeout: 0"), "20:49",
              "idle_timeout: expected a positive duration");
}

TEST_CASE("score rollout: defaults and values and located errors", "[config]") {
  auto defaults = LoadPipelineText(WithScore("    rollout: {}\n"), "p.yaml");
  REQUIRE(defaults.ok());
  const RolloutSpec& d = std::get<ScoreSpec>(defaults->operators[1].params).rollout;
  CHECK(d.enabled);
  CHECK(d.mode == "shadow");
  CHECK(d.metric == "average_precision");
  CHECK(d.margin == 0.0);
  CHECK(d.days == 3);
  CHECK(d.min_frauds == 30);
  CHECK(d.confidence == 0.95);
  CHECK(d.resamples == 1000);
  CHECK(d.propose_retrained);
  auto spec =
      LoadPipelineText(WithScore("    rollout: {mode: canary, canary_percent: 5, metric: card_precision, "
                                 "margin: 0.02, days: 4, min_frauds: 12, confidence: 0.9, resamples: 400, "
                                 "propose_retrained: false}\n"),
                       "p.yaml");
  REQUIRE(spec.ok());
  const RolloutSpec& o = std::get<ScoreSpec>(spec->operators[1].params).rollout;
  CHECK(o.mode == "canary");
  CHECK(o.canary_percent == 5);
  CHECK(o.metric == "card_precision");
  CHECK(o.margin == 0.02);
  CHECK(o.days == 4);
  CHECK(o.min_frauds == 12);
  CHECK(o.confidence == 0.9);
  CHECK(o.resamples == 400);
  CHECK_FALSE(o.propose_retrained);
  CHECK_FALSE(
      std::get<ScoreSpec>(LoadPipelineText(WithScore(""), "p.yaml")->operators[1].params).rollout.enabled);

  ExpectError(WithScore("    rollout: {mode: blue_green}\n"), "20:21", "mode: expected shadow or canary");
  ExpectError(WithScore("    rollout: {canary_percent: 100}\n"), "20:31", "canary_percent: expected a share");
  ExpectError(WithScore("    rollout: {metric: auc}\n"), "20:23",
              "metric: expected average_precision or card_precision");
  ExpectError(WithScore("    rollout: {days: 0}\n"), "20:21", "days: expected 1..365");
  ExpectError(WithScore("    rollout: {margin: 2}\n"), "20:23", "margin: expected 0 <= margin < 1");
  ExpectError(WithScore("    rollout: {margin: -0.1}\n"), "20:23", "margin: expected 0 <= margin < 1");
  ExpectError(WithScore("    rollout: {min_frauds: 0}\n"), "20:27", "min_frauds: expected at least 1");
  ExpectError(WithScore("    rollout: {confidence: 1}\n"), "20:27",
              "confidence: expected 0.5 < confidence < 1");
  ExpectError(WithScore("    rollout: {resamples: 10}\n"), "20:26", "resamples: expected 100..100000");
  ExpectError(WithScore("    rollout: {mode: shadow, dayz: 2}\n"), "20:29", "unknown key 'dayz'");
  ExpectError(WithScore("    rollout: {mode: shadow, dayz: 2}\n"), "20:29", "did you mean 'days'?");
}

TEST_CASE("score retrain: defaults and values and located errors", "[config]") {
  auto plain = LoadPipelineText(WithScore("    feature_log: /tmp/log.csv\n"), "p.yaml");
  REQUIRE(plain.ok());
  CHECK_FALSE(std::get<ScoreSpec>(plain->operators[1].params).retrain.enabled);

  const std::string log = "    feature_log: /tmp/log.csv\n";
  auto spec =
      LoadPipelineText(WithScore(log + "    retrain: {every: 3d, train_days: 5, valid_days: 1, rounds: 20, "
                                       "params: {max_depth: \"4\", eta: \"0.1\"}, min_rows: 500}\n"),
                       "p.yaml");
  REQUIRE(spec.ok());
  const RetrainSpec& t = std::get<ScoreSpec>(spec->operators[1].params).retrain;
  CHECK(t.enabled);
  CHECK(t.every_ms == 3 * 86'400'000LL);
  CHECK(t.train_days == 5);
  CHECK(t.valid_days == 1);
  CHECK(t.rounds == 20);
  CHECK(t.min_rows == 500);
  CHECK(t.params == std::map<std::string, std::string>{{"eta", "0.1"}, {"max_depth", "4"}});
  auto defaults = LoadPipelineText(WithScore(log + "    retrain: {}\n"), "p.yaml");
  REQUIRE(defaults.ok());
  const RetrainSpec& d = std::get<ScoreSpec>(defaults->operators[1].params).retrain;
  CHECK(d.enabled);
  CHECK(d.every_ms == 7 * 86'400'000LL);
  CHECK(d.train_days == 7);
  CHECK(d.valid_days == 2);
  CHECK(d.rounds == 100);
  CHECK(d.min_rows == 1000);
  CHECK(d.params.empty());

  // The retrain line is line 21 (20 without feature_log); its map starts at column 14.
  ExpectError(WithScore("    retrain: {every: 7d}\n"), "20:14", "retrain: needs feature_log");
  ExpectError(WithScore(log + "    retrain: {every: 1 week}\n"), "21:22", "unknown duration unit");
  ExpectError(WithScore(log + "    retrain: {every: 10s}\n"), "21:22", "every: expected at least 1m");
  ExpectError(WithScore(log + "    retrain: {train_days: 0}\n"), "21:27", "train_days: expected at least 1");
  ExpectError(WithScore(log + "    retrain: {valid_days: -1}\n"), "21:27", "valid_days: expected 0 or more");
  ExpectError(WithScore(log + "    retrain: {rounds: 0}\n"), "21:23", "rounds: expected 1..100000");
  ExpectError(WithScore(log + "    retrain: {min_rows: 0}\n"), "21:25", "min_rows: expected at least 1");
  ExpectError(WithScore(log + "    retrain: {rounds: many}\n"), "21:23", "rounds");
  ExpectError(WithScore(log + "    retrain: {params: [a, b]}\n"), "21:23", "params");
  ExpectError(WithScore(log + "    retrain: {evry: 7d}\n"), "21:15", "unknown key 'evry'");
  ExpectError(WithScore(log + "    retrain: {on_drift: true}\n"), "21:25",
              "on_drift needs the score operator's monitor");
  auto drift = LoadPipelineText(
      WithScore(log + "    monitor: {every: 1s}\n    retrain: {on_drift: true, drift_psi: 0.3, "
                      "drift_cooldown: 2d}\n"),
      "p.yaml");
  REQUIRE(drift.ok());
  const RetrainSpec& r = std::get<ScoreSpec>(drift->operators[1].params).retrain;
  CHECK(r.on_drift);
  CHECK(r.drift_psi == 0.3);
  CHECK(r.drift_cooldown_ms == 2 * 86'400'000LL);
  CHECK_FALSE(d.on_drift);
  ExpectError(WithScore(log + "    retrain: 7d\n"), "21:14", "retrain");
}

//! kValid with a `train:` section at its end: "train:" is line 21, `body` (indented) starts on line 22.
std::string WithTrain(const std::string& body) { return std::string(kValid) + "train:\n" + body; }

TEST_CASE("train: defaults, values and located errors", "[config]") {
  auto plain = LoadPipelineText(kValid, "p.yaml");
  REQUIRE(plain.ok());
  const TrainSpec& d = plain->train;
  CHECK(d.params.empty());
  CHECK(d.rounds == 100);
  CHECK(d.early_stopping_rounds == 0);
  CHECK(d.early_stopping_metric == "aucpr");
  CHECK(d.train_days == 7);
  CHECK(d.valid_days == 7);
  CHECK_FALSE(d.delay_days.has_value());
  CHECK(d.search.trials == 0);
  CHECK(d.search.metric == "average_precision");
  CHECK(d.search.budget_ms == 0);
  CHECK(d.search.space.empty());

  auto spec = LoadPipelineText(WithTrain("  params: {max_depth: \"4\", eta: \"0.1\"}\n"
                                         "  rounds: 50\n  early_stopping_rounds: 10\n"
                                         "  early_stopping_metric: logloss\n"
                                         "  train_days: 14\n  valid_days: 3\n  delay_days: 7\n"
                                         "  search:\n    trials: 20\n    metric: card_precision\n"
                                         "    budget: 10m\n    space:\n"
                                         "      max_depth: {int: [3, 9]}\n"
                                         "      eta: {log_uniform: [0.01, 0.3]}\n"
                                         "      subsample: {uniform: [0.5, 1]}\n"
                                         "      grow_policy: {choice: [depthwise, lossguide]}\n"
                                         "      rounds: {choice: [50, 100]}\n"),
                               "p.yaml");
  REQUIRE(spec.ok());
  const TrainSpec& t = spec->train;
  CHECK(t.params == std::map<std::string, std::string>{{"eta", "0.1"}, {"max_depth", "4"}});
  CHECK(t.rounds == 50);
  CHECK(t.early_stopping_rounds == 10);
  CHECK(t.early_stopping_metric == "logloss");
  CHECK(t.train_days == 14);
  CHECK(t.valid_days == 3);
  CHECK(t.delay_days == 7);
  CHECK(t.search.trials == 20);
  CHECK(t.search.metric == "card_precision");
  CHECK(t.search.budget_ms == 600'000);
  REQUIRE(t.search.space.size() == 5);
  const SearchDimension& depth = t.search.space.at("max_depth");
  CHECK(depth.kind == SearchDimension::Kind::kInt);
  CHECK(depth.low == 3);
  CHECK(depth.high == 9);
  CHECK(depth.loc.ToString() == "p.yaml:33:18");
  CHECK(t.search.space.at("eta").kind == SearchDimension::Kind::kLogUniform);
  CHECK(t.search.space.at("subsample").kind == SearchDimension::Kind::kUniform);
  CHECK(t.search.space.at("grow_policy").choices == std::vector<std::string>{"depthwise", "lossguide"});
  CHECK(t.search.space.at("rounds").choices == std::vector<std::string>{"50", "100"});
  CHECK(DefaultSearchSpace().count("max_depth") == 1);

  ExpectError(WithTrain("  rounds: 0\n"), "21:11", "rounds: expected 1..100000");
  ExpectError(WithTrain("  rouns: 5\n"), "21:3", "did you mean 'rounds'?");
  ExpectError(WithTrain("  early_stopping_metric: auc_pr\n"), "21:26",
              "early_stopping_metric: expected aucpr, auc or logloss");
  ExpectError(WithTrain("  delay_days: -1\n"), "21:15", "delay_days: expected 0 or more");
  ExpectError(WithTrain("  train_days: 0\n"), "21:15", "train_days: expected at least 1");
  ExpectError(WithTrain("  valid_days: 0\n  early_stopping_rounds: 5\n"), "22:26",
              "early_stopping_rounds: needs a validation window");
  ExpectError(WithTrain("  valid_days: 0\n  search: {trials: 3}\n"), "22:20",
              "search: needs a validation window");
  ExpectError(WithTrain("  search: {trials: 3, metric: recall}\n"), "21:31",
              "metric: expected average_precision or card_precision");
  ExpectError(WithTrain("  search: {trials: -1}\n"), "21:20", "trials: expected 0..10000");
  ExpectError(WithTrain("  search: {budget: soon}\n"), "21:20", "budget");
  ExpectError(WithTrain("  search:\n    space: {}\n"), "22:12", "space: expected a mapping");
  ExpectError(WithTrain("  search:\n    space:\n      eta: {log_uniform: [0, 1]}\n"), "23:26",
              "log_uniform: expected a positive low bound");
  ExpectError(WithTrain("  search:\n    space:\n      eta: {uniform: [0.3, 0.1]}\n"), "23:22",
              "uniform: expected [low, high] with low < high");
  ExpectError(WithTrain("  search:\n    space:\n      eta: {uniform: [0.1]}\n"), "23:22",
              "uniform: expected [low, high], two numbers");
  ExpectError(WithTrain("  search:\n    space:\n      max_depth: {int: [2.5, 4]}\n"), "23:24",
              "int: expected [low, high], two integers");
  ExpectError(WithTrain("  search:\n    space:\n      gamma: {choice: []}\n"), "23:23",
              "choice: expected a non-empty list");
  ExpectError(WithTrain("  search:\n    space:\n      eta: {uniform: [0.1, 0.3], int: [1, 2]}\n"), "23:12",
              "search dimension 'eta': give one of uniform, log_uniform, int or choice");
  ExpectError(WithTrain("  search:\n    space:\n      eta: {unifrm: [0.1, 0.3]}\n"), "23:13",
              "did you mean 'uniform'?");
  ExpectError(WithTrain("  search:\n    space:\n      rounds: {uniform: [10, 20]}\n"), "23:15",
              "rounds: expected {int: [low, high]} or {choice: [...]} of integers in 1..100000");
  ExpectError(WithTrain("  search:\n    space:\n      rounds: {choice: [10, many]}\n"), "23:15",
              "rounds: expected");
}

TEST_CASE("score retrain: takes its defaults from train:, its own keys win", "[config]") {
  const std::string log = "    feature_log: /tmp/log.csv\n";
  const std::string train =
      "train:\n  rounds: 40\n  valid_days: 3\n  delay_days: 1\n  params: {max_depth: \"4\", eta: \"0.1\"}\n"
      "  early_stopping_rounds: 5\n  search: {trials: 6, budget: 1m}\n";
  auto inherited = LoadPipelineText(WithScore(log + "    retrain: {every: 3d}\n") + train, "p.yaml");
  REQUIRE(inherited.ok());
  const RetrainSpec& i = std::get<ScoreSpec>(inherited->operators[1].params).retrain;
  CHECK(i.rounds == 40);
  CHECK(i.valid_days == 3);
  CHECK(i.delay_days == 1);
  CHECK(i.train_days == 7);  // not in train: the retrainer's own default
  CHECK(i.params == std::map<std::string, std::string>{{"eta", "0.1"}, {"max_depth", "4"}});
  CHECK(i.early_stopping_rounds == 5);
  CHECK(i.search == 6);
  CHECK(i.search_budget_ms == 60'000);
  auto own =
      LoadPipelineText(WithScore(log + "    retrain: {rounds: 20, valid_days: 2, params: {eta: \"0.2\"}, "
                                       "search: 0, search_budget: 5s, delay_days: 0}\n") +
                           train,
                       "p.yaml");
  REQUIRE(own.ok());
  const RetrainSpec& o = std::get<ScoreSpec>(own->operators[1].params).retrain;
  CHECK(o.rounds == 20);
  CHECK(o.valid_days == 2);
  CHECK(o.delay_days == 0);
  CHECK(o.params == std::map<std::string, std::string>{{"eta", "0.2"}, {"max_depth", "4"}});
  CHECK(o.search == 0);
  CHECK(o.search_budget_ms == 5'000);
  auto plain = LoadPipelineText(WithScore(log + "    retrain: {}\n"), "p.yaml");
  REQUIRE(plain.ok());
  const RetrainSpec& p = std::get<ScoreSpec>(plain->operators[1].params).retrain;
  CHECK(p.delay_days == 0);
  CHECK(p.early_stopping_rounds == 0);
  CHECK(p.search == 0);
  CHECK(p.search_budget_ms == 0);

  ExpectError(WithScore(log + "    retrain: {delay_days: -1}\n"), "21:27", "delay_days: expected 0 or more");
  ExpectError(WithScore(log + "    retrain: {search: -1}\n"), "21:23", "search: expected 0..10000 trials");
  ExpectError(WithScore(log + "    retrain: {search_budget: 1 hour}\n"), "21:30", "unknown duration unit");
  ExpectError(WithScore(log + "    retrain: {early_stopping_rounds: -2}\n"), "21:38",
              "early_stopping_rounds: expected 0..100000");
  ExpectError(WithScore(log + "    retrain: {valid_days: 0, search: 3}\n"), "21:38",
              "search: needs a validation window");
  // The validation window may come from train: too; the error then points at the retrain section.
  ExpectError(WithScore(log + "    retrain: {early_stopping_rounds: 4}\n") + "train: {valid_days: 0}\n",
              "21:38", "early_stopping_rounds: needs a validation window");
  ExpectError(WithScore(log + "    retrain: {every: 7d}\n") + "train: {valid_days: 0, search: {trials: 2}}\n",
              "24:41", "search: needs a validation window");
}

TEST_CASE("monitor segments: defaults, values and located errors", "[config]") {
  const auto segments = [](const std::string& yaml) {
    return WithScore("    monitor:\n      performance: {segments: " + yaml + "}\n");
  };
  auto defaults = LoadPipelineText(segments("{}"), "p.yaml");
  REQUIRE(defaults.ok());
  const SegmentsSpec& d = std::get<ScoreSpec>(defaults->operators[1].params).monitor.segments;
  CHECK(d.enabled);
  CHECK(d.card_age_days == 30);
  CHECK(d.amount_bands == std::vector<double>{20, 100, 500});
  CHECK(d.amount == "TX_AMOUNT");
  CHECK(d.columns.empty());
  CHECK(d.max_values == 20);
  CHECK(d.underserved_ratio == 0.5);
  CHECK_FALSE(std::get<ScoreSpec>(LoadPipelineText(WithScore(""), "p.yaml")->operators[1].params)
                  .monitor.segments.enabled);
  auto spec = LoadPipelineText(segments("{card_age_days: 0, amount_bands: [10, 50.5], amount: AMOUNT, "
                                        "columns: [CHANNEL], max_values: 5, underserved_ratio: 0.8}"),
                               "p.yaml");
  REQUIRE(spec.ok());
  const SegmentsSpec& g = std::get<ScoreSpec>(spec->operators[1].params).monitor.segments;
  CHECK(g.card_age_days == 0);
  CHECK(g.amount_bands == std::vector<double>{10, 50.5});
  CHECK(g.amount == "AMOUNT");
  CHECK(g.columns == std::vector<std::string>{"CHANNEL"});
  CHECK(g.max_values == 5);
  CHECK(g.underserved_ratio == 0.8);
  CHECK(std::get<ScoreSpec>(LoadPipelineText(segments("{amount_bands: []}"), "p.yaml")->operators[1].params)
            .monitor.segments.amount_bands.empty());

  // The segments map starts at column 31 of line 21; an error points at the value.
  ExpectError(segments("{amount_bands: [100, 20]}"), "21:52", "amount_bands: expected increasing bounds");
  ExpectError(segments("{amount_bands: [a]}"), "21:47", "amount_bands: expected numbers");
  ExpectError(segments("{max_values: 0}"), "21:44", "max_values: expected 1..100");
  ExpectError(segments("{underserved_ratio: 2}"), "21:51", "underserved_ratio: expected 0..1");
  ExpectError(segments("{card_age_days: -1}"), "21:47", "card_age_days: expected 0..3650");
  ExpectError(segments("{columns: [A, B, C, D, E, F, G]}"), "21:41", "at most 6 segment columns");
  ExpectError(segments("{colums: [A]}"), "21:32", "did you mean 'columns'?");
}

TEST_CASE("durations", "[config]") {
  CHECK(*ParseDurationMs("250ms") == 250);
  CHECK(*ParseDurationMs("7d") == 7 * 86'400'000LL);
  CHECK(*ParseDurationMs("90") == 90);
  CHECK_FALSE(ParseDurationMs("7 days").ok());
  CHECK_FALSE(ParseDurationMs("-1s").ok());
  // Found by fuzz_config: a product past int64 is an error, not undefined behaviour.
  CHECK(ParseDurationMs("932356024711512063d").status().message().find("too long") != std::string::npos);
  CHECK(*ParseDurationMs("106751991167d") == 106'751'991'167LL * 86'400'000LL);
}

TEST_CASE("config durations format back to the largest exact unit", "[config]") {
  CHECK(FormatDurationMs(0) == "0");
  CHECK(FormatDurationMs(250) == "250ms");
  CHECK(FormatDurationMs(1500) == "1500ms");
  CHECK(FormatDurationMs(10'000) == "10s");
  CHECK(FormatDurationMs(90'000) == "90s");
  CHECK(FormatDurationMs(3'600'000) == "1h");
  CHECK(FormatDurationMs(7 * 86'400'000LL) == "7d");
  for (int64_t ms : {1LL, 999LL, 60'000LL, 86'400'001LL}) CHECK(*ParseDurationMs(FormatDurationMs(ms)) == ms);
}

}  // namespace
}  // namespace vigil::config
