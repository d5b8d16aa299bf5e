// `vigil train` and `vigil evaluate` on a small simulated training table (40 days, 1,000 cards), their
// errors for bad inputs, and the run records of `vigil train` as
// `vigil runs` and `vigil models promote|rollback` see them.
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "app/train_command.h"
#include "base/time.h"
#include "lifecycle/train_data.h"
#include "models/forest.h"
#include "models/metrics.h"
#include "models/registry.h"
#include "models/runs.h"
#include "monitor/reference.h"
#include "sim/simulator.h"
#include "tests/support/handbook_table.h"
#include "tests/support/process.h"
#include "tests/support/runs.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDay = base::kMsPerDay;
const std::string kPipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";

//! Every value of `"key": number` in a JSON text.
std::vector<double> JsonNumbers(const std::string& json, const std::string& key) {
  std::vector<double> out;
  const std::regex re("\"" + key + "\": ([-0-9.eE+]+)");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), re); it != std::sregex_iterator(); ++it) {
    out.push_back(std::stod((*it)[1].str()));
  }
  return out;
}

//! The shared small table, written once.
const std::string& SmallTable() { return SmallHandbookTable(); }

TEST_CASE("train writes model.json and metadata.json with the feature list and window", "[app]") {
  const std::string models = TempDir("vigil-models");
  std::string out;
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-04-11", "--rounds", "20"},
                   &out) == 0);
  INFO(out);
  const std::string model = ReadFile(models + "/v1/model.json");
  const std::string metadata = ReadFile(models + "/v1/metadata.json");
  REQUIRE(!model.empty());
  CHECK(metadata.find("\"features\": [\"TX_AMOUNT\", \"TX_DURING_WEEKEND\", \"TX_DURING_NIGHT\", "
                      "\"CUSTOMER_ID_NB_TX_1DAY_WINDOW\"") != std::string::npos);
  CHECK(metadata.find("\"TERMINAL_ID_RISK_30DAY_WINDOW\"]") != std::string::npos);
  const int64_t start_ms = *base::ParseIso8601Ms("2018-04-11");
  CHECK(JsonNumbers(metadata, "start_ms") == std::vector<double>{double(start_ms)});
  CHECK(JsonNumbers(metadata, "end_ms") == std::vector<double>{double(start_ms + 7 * kDay)});
  CHECK(metadata.find("\"model_sha256\": \"" + lifecycle::Sha256Hex(model) + "\"") != std::string::npos);
  CHECK(metadata.find("\"version\": \"v1\"") != std::string::npos);
  CHECK(metadata.find("\"parent\": null") != std::string::npos);
  CHECK(JsonNumbers(metadata, "rounds") == std::vector<double>{20});
  CHECK(JsonNumbers(metadata, "frauds").at(0) > 0);
  const std::vector<double> golden = JsonNumbers(metadata, "score");
  CHECK(golden.size() == 5);
  for (const double s : golden) CHECK((s >= 0 && s <= 1));
  for (const double m : JsonNumbers(metadata, "auc_roc")) CHECK((m > 0.5 && m <= 1));

  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-04-11", "--rounds", "5"},
                   &out) == 0);
  CHECK(ReadFile(models + "/v2/metadata.json").find("\"version\": \"v2\"") != std::string::npos);
  CHECK(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                  "2018-04-11", "--version", "v2"},
                 &out) == 1);
  CHECK(out.find("exists already") != std::string::npos);
}

TEST_CASE("train stores reference histograms of every feature and the score in metadata.json", "[app]") {
  const std::string models = TempDir("vigil-models");
  std::string out;
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-04-11", "--rounds", "10"},
                   &out) == 0);
  INFO(out);
  auto version = models::Registry(models).LoadVersion("v1", {});
  REQUIRE(version.ok());
  auto reference = monitor::LoadVersionReference(models::Registry(models), "v1");
  INFO(reference.status().ToString());
  REQUIRE(reference.ok());
  CHECK(reference->feature_names() == (*version)->features);
  CHECK(reference->num_features() == 15);
  const std::string metadata = ReadFile(models + "/v1/metadata.json");
  const std::vector<double> rows = JsonNumbers(metadata, "rows");
  REQUIRE(rows.size() == 1);
  const auto check = [&](const monitor::ReferenceHistogram& h) {
    CHECK(h.count() == static_cast<int64_t>(rows[0]));
    CHECK(h.edges().size() <= monitor::kMaxEdges);
    double sum = 0;
    for (const double f : h.fractions()) sum += f;
    CHECK(sum == Approx(1));
  };
  for (size_t f = 0; f < reference->num_features(); ++f) check(reference->feature(f));
  check(reference->score());
  // Scores and amounts are continuous: all ten deciles.
  CHECK(reference->score().num_value_bins() == 10);
  CHECK(reference->score().missing_fraction() == 0);
  const monitor::ReferenceHistogram* amount = reference->Find("TX_AMOUNT");
  REQUIRE(amount != nullptr);
  CHECK(amount->num_value_bins() == 10);
  for (size_t b = 0; b < 10; ++b) CHECK(amount->fractions()[b] == Approx(0.1).margin(0.01));
  // A 0/1 feature has two value bins.
  const monitor::ReferenceHistogram* weekend = reference->Find("TX_DURING_WEEKEND");
  REQUIRE(weekend != nullptr);
  CHECK(weekend->num_value_bins() == 2);
}

TEST_CASE("evaluate reports metrics between 0 and 1 for a model and for prequential folds", "[app]") {
  const std::string models = TempDir("vigil-models");
  std::string out;
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-04-11", "--rounds", "20"},
                   &out) == 0);
  REQUIRE(
      RunVigil({"evaluate", kPipeline, "--table", SmallTable(), "--model", models + "/v1", "--train-start",
                "2018-04-11", "--k", "10", "--prequential", "2", "--rounds", "20", "--json"},
               &out) == 0);
  INFO(out);
  const std::vector<double> auc = JsonNumbers(out, "auc_roc");
  const std::vector<double> ap = JsonNumbers(out, "average_precision");
  const std::vector<double> cp = JsonNumbers(out, "card_precision_at_k");
  REQUIRE(auc.size() == 5);  // chapter 3, two folds, mean, std.
  REQUIRE(ap.size() >= 5);   // and the segments' (defined ones)
  REQUIRE(cp.size() == 5);
  for (const auto* values : {&auc, &ap, &cp}) {
    for (const double v : *values) CHECK((v >= 0 && v <= 1));
  }
  CHECK(auc[0] > 0.6);
  // The first prequential fold is the chapter-3 split with the same parameters: the same model.
  CHECK(auc[1] == Approx(auc[0]));
  CHECK(JsonNumbers(out, "test_transactions").at(0) > 0);

  REQUIRE(RunVigil({"evaluate", kPipeline, "--table", SmallTable(), "--model", models + "/v1",
                    "--train-start", "2018-04-11"},
                   &out) == 0);
  CHECK(out.find("AUC ROC") != std::string::npos);
  CHECK(out.find("card precision@100") != std::string::npos);
}

TEST_CASE("evaluate compares two models side by side: chapter 3, business KPIs and segments", "[app]") {
  const std::string models = TempDir("vigil-models");
  std::string out;
  for (const char* rounds : {"3", "30"}) {
    REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                      "2018-04-11", "--rounds", rounds},
                     &out) == 0);
  }
  const std::vector<std::string> args = {"evaluate",       kPipeline,
                                         "--table",        SmallTable(),
                                         "--model",        models + "/v1",
                                         "--model",        models + "/v2",
                                         "--train-start",  "2018-04-11",
                                         "--segment",      "TX_DURING_WEEKEND",
                                         "--alert-budget", "5"};
  REQUIRE(RunVigil(args, &out) == 0);
  INFO(out);
  CHECK(out.find("          v1          v2") != std::string::npos);  // the chapter-3 columns
  CHECK_THAT(out, Catch::Contains("at the threshold 0.5 (default)") && Catch::Contains("cost by threshold") &&
                      Catch::Contains("at the alert budget of 5 cards a day") &&
                      Catch::Contains("TX_DURING_WEEKEND") && Catch::Contains("under-served segments: v1 "));
  CHECK(out.find(", v2 ") != std::string::npos);

  std::vector<std::string> json_args = args;
  json_args.push_back("--json");
  REQUIRE(RunVigil(json_args, &out) == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out);
  simdjson::dom::array both = doc["models"];
  REQUIRE(both.size() == 2);
  for (simdjson::dom::element m : both) {
    simdjson::dom::element k = m["kpis"];
    INFO(std::string_view(m["model"]));
    // The same test rows for both; the searched thresholds are at least as good as their criteria ask.
    CHECK(int64_t(k["transactions"]) == int64_t(m["test_transactions"]));
    CHECK(int64_t(k["days"]) == 7);
    CHECK(double(k["min_cost"]["cost"]) <= double(k["at_threshold"]["cost"]));
    for (simdjson::dom::element p : simdjson::dom::array(k["by_threshold"]))
      CHECK(double(k["min_cost"]["cost"]) <= double(p["cost"]));
    CHECK(double(k["budget"]["cards_per_day"]) <= 5);
    const double recall = k["at_threshold"]["recall"], amount_recall = k["at_threshold"]["amount_recall"];
    CHECK((recall >= 0 && recall <= 1 && amount_recall >= 0 && amount_recall <= 1));
    // Segments: card age, four amount bands, the two values of TX_DURING_WEEKEND.
    simdjson::dom::array segments = m["segments"]["segments"];
    REQUIRE(segments.size() == 8);
    int64_t weekend_rows = 0;
    for (simdjson::dom::element seg : segments)
      if (std::string_view(seg["segment"]) == "TX_DURING_WEEKEND")
        weekend_rows += int64_t(seg["transactions"]);
    CHECK(weekend_rows == int64_t(m["test_transactions"]));
  }
  CHECK(std::string_view(doc["chapter3"]["model"]) == models + "/v1");

  // A column of ids is not a segment.
  CHECK(RunVigil({"evaluate", kPipeline, "--table", SmallTable(), "--model", models + "/v1", "--train-start",
                  "2018-04-11", "--segment", "TERMINAL_ID"},
                 &out) == 2);
  CHECK_THAT(out,
             Catch::Contains("--segment TERMINAL_ID: ") && Catch::Contains("distinct values, more than 20"));
}

TEST_CASE("evaluate sets a model on fewer features beside the pipeline's, and folds train as train: says",
          "[app]") {
  const std::string dir = TempDir("vigil-eval-plus");
  std::string yaml = ReadFile(kPipeline);
  // A baseline on 5 of the pipeline's 15 features (the same table holds them).
  std::string baseline = yaml;
  const size_t features = baseline.find("features: [");
  REQUIRE(features != std::string::npos);
  baseline.replace(features, baseline.find(']', features) + 1 - features,
                   "features: [TX_AMOUNT, TX_DURING_WEEKEND, TX_DURING_NIGHT, CUSTOMER_ID_NB_TX_1DAY_WINDOW, "
                   "TERMINAL_ID_RISK_7DAY_WINDOW]");
  std::ofstream(dir + "/baseline.yaml") << baseline;
  std::string out;
  REQUIRE(RunVigil({"train", dir + "/baseline.yaml", "--table", SmallTable(), "--models-dir", dir + "/models",
                    "--train-start", "2018-04-11", "--rounds", "10"},
                   &out) == 0);
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", dir + "/models",
                    "--train-start", "2018-04-11", "--rounds", "10"},
                   &out) == 0);
  REQUIRE(RunVigil({"evaluate", kPipeline, "--table", SmallTable(), "--model", dir + "/models/v1", "--model",
                    dir + "/models/v2", "--train-start", "2018-04-11", "--json"},
                   &out) == 0);
  INFO(out);
  const std::vector<double> auc = JsonNumbers(out, "auc_roc");
  REQUIRE(auc.size() == 3);  // chapter 3 (the first model), then each model
  CHECK(auc[1] != auc[2]);   // each model read its own columns
  // A model reading a column the pipeline lacks is refused, naming both lists.
  REQUIRE(RunVigil({"evaluate", dir + "/baseline.yaml", "--table", SmallTable(), "--model",
                    dir + "/models/v2", "--train-start", "2018-04-11"},
                   &out) == 2);
  CHECK(out.find("which the pipeline's features [TX_AMOUNT, TX_DURING_WEEKEND, TX_DURING_NIGHT, "
                 "CUSTOMER_ID_NB_TX_1DAY_WINDOW, TERMINAL_ID_RISK_7DAY_WINDOW] do not all hold") !=
        std::string::npos);

  // Prequential folds train with the pipeline's train: section, as vigil train does; flags win.
  std::ofstream(dir + "/trained.yaml") << yaml << "train: {params: {max_depth: \"1\"}, rounds: 3}\n";
  const auto folds = [&](const std::string& pipeline, std::vector<std::string> flags) {
    std::vector<std::string> args = {"evaluate",   pipeline,        "--table", SmallTable(), "--train-start",
                                     "2018-04-11", "--prequential", "2",       "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::string text;
    REQUIRE(RunVigil(args, &text) == 0);
    return JsonNumbers(text, "average_precision");
  };
  const std::vector<double> from_section = folds(dir + "/trained.yaml", {});
  CHECK(from_section == folds(kPipeline, {"--rounds", "3", "--param", "max_depth=1"}));
  CHECK(from_section != folds(kPipeline, {}));
  CHECK(folds(dir + "/trained.yaml", {"--rounds", "20", "--param", "max_depth=4"}) ==
        folds(kPipeline, {"--rounds", "20", "--param", "max_depth=4"}));
}

TEST_CASE("train and evaluate reject bad inputs with clear errors", "[app]") {
  const std::string models = TempDir("vigil-models");
  const std::string dir = TempDir("vigil-table");
  std::string out;
  const std::string partial = WriteHandbookTable(dir + "/partial.csv", {"TERMINAL_ID_RISK_7DAY_WINDOW"});
  CHECK(RunVigil(
            {"train", kPipeline, "--table", partial, "--models-dir", models, "--train-start", "2018-04-11"},
            &out) == 2);
  CHECK(out.find("no column 'TERMINAL_ID_RISK_7DAY_WINDOW'") != std::string::npos);

  CHECK(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                  "2019-01-01"},
                 &out) == 2);
  CHECK(out.find("empty training window") != std::string::npos);
  CHECK(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                  "11/04/2018"},
                 &out) == 2);
  CHECK(out.find("is not a date YYYY-MM-DD") != std::string::npos);
  CHECK(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--param", "eta"},
                 &out) == 2);
  CHECK(out.find("expected key=value") != std::string::npos);

  CHECK(RunVigil({"evaluate", kPipeline, "--table", SmallTable(), "--model", models + "/v9"}, &out) == 2);
  CHECK(out.find("does not exist") != std::string::npos);
  CHECK(RunVigil({"evaluate", kPipeline, "--table", SmallTable()}, &out) == 2);
  CHECK(out.find("--model DIR and/or --prequential N") != std::string::npos);
  CHECK(RunVigil({"evaluate", kPipeline, "--table", dir + "/none.csv", "--prequential", "2"}, &out) == 2);
  CHECK(out.find("none.csv") != std::string::npos);
}

TEST_CASE("a table whose last rows have no label yet trains on the labelled days only", "[app]") {
  // As `vigil replay` of a Kafka topic writes it: the labels of the last days are not known yet.
  const std::string dir = TempDir("vigil-table");
  const std::string path = dir + "/unlabelled-tail.csv";
  const int64_t cut = *base::ParseIso8601Ms("2018-04-22");
  {
    std::ifstream in(SmallTable());
    std::ofstream out(path);
    std::string line;
    std::getline(in, line);
    out << line << "\n";
    size_t blank = 0;
    while (std::getline(in, line)) {
      const size_t t = line.find(',') + 1;  // TX_TIME_MS is the second column
      if (std::stoll(line.substr(t, line.find(',', t) - t)) >= cut) {
        line.erase(line.rfind(',') + 1);
        ++blank;
      }
      out << line << "\n";
    }
    REQUIRE(blank > 0);
  }
  const std::string models = TempDir("vigil-models");
  std::string out;
  CHECK(RunVigil({"train", kPipeline, "--table", path, "--models-dir", models, "--train-start", "2018-04-11",
                  "--valid-days", "3", "--rounds", "5"},
                 &out) == 0);
  INFO(out);
  CHECK(RunVigil({"train", kPipeline, "--table", path, "--models-dir", models, "--train-start", "2018-04-11",
                  "--valid-days", "7", "--rounds", "5"},
                 &out) == 2);
  CHECK_THAT(out, Catch::Contains("of the validation window's") && Catch::Contains("rows have no LABEL yet"));
  CHECK(RunVigil({"train", kPipeline, "--table", path, "--models-dir", models, "--train-start", "2018-04-18",
                  "--valid-days", "0", "--rounds", "5"},
                 &out) == 2);
  CHECK_THAT(out, Catch::Contains("of the training window's") && Catch::Contains("end the window earlier"));
  CHECK(RunVigil({"evaluate", kPipeline, "--table", path, "--model", models + "/v1"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("has no LABEL yet"));
}

//! Validation AP of `version`, computed here from the table: its Forest over the rows of [start, end).
double ValidationAp(const std::string& registry, const std::string& version, int64_t start_ms,
                    int64_t end_ms) {
  auto model = models::Registry(registry).LoadVersion(version, {});
  REQUIRE(model.ok());
  auto table = lifecycle::ReadTrainingTable(SmallTable(), (*model)->features);
  REQUIRE(table.ok());
  const std::vector<size_t> rows = lifecycle::RowsInWindow(*table->Int64s("TX_TIME_MS"), start_ms, end_ms);
  REQUIRE(!rows.empty());
  auto inputs = table->DenseRows((*model)->features, rows);
  REQUIRE(inputs.ok());
  std::vector<float> scores(rows.size());
  (*model)->forest->PredictBatch(inputs->data(), rows.size(), (*model)->features.size(), scores.data());
  const auto labels = *table->Int64s("LABEL");
  std::vector<int> l;
  for (const size_t r : rows) l.push_back(static_cast<int>(labels[r]));
  auto ap = models::AveragePrecision(std::vector<double>(scores.begin(), scores.end()), l);
  REQUIRE(ap.ok());
  return *ap;
}

TEST_CASE("train records its run: window, offsets, params, metrics, hash, version", "[app]") {
  const std::string models = TempDir("vigil-models");
  const int64_t before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  std::string out;
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-04-11", "--rounds", "20", "--offsets", "transactions:0:0-1200", "--offsets",
                    "transactions:1:7-1190"},
                   &out) == 0);
  INFO(out);
  auto runs = models::Registry(models).ListRuns();
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  const models::RunRecord& run = runs->front();
  CHECK(std::regex_match(run.id, std::regex("r[0-9]{8}-[0-9]{6}-0001")));
  CHECK(out.find("run " + run.id + ": registered v1 (parent none)") != std::string::npos);
  CHECK(run.trigger == "manual");
  CHECK(run.outcome == "registered");
  CHECK(run.detail.empty());
  CHECK(run.input == SmallTable());
  CHECK(run.started_ms >= before_ms);
  CHECK(run.finished_ms >= run.started_ms);
  const int64_t start_ms = *base::ParseIso8601Ms("2018-04-11");
  CHECK(run.train_window == models::TimeWindow{start_ms, start_ms + 7 * kDay});
  CHECK(run.validation_window == models::TimeWindow{start_ms + 7 * kDay, start_ms + 14 * kDay});
  CHECK(run.offsets ==
        std::vector<models::OffsetRange>{{"transactions", 0, 0, 1200}, {"transactions", 1, 7, 1190}});
  CHECK(run.params.at("rounds") == "20");
  CHECK(run.params.at("eta") == "0.3");
  CHECK(run.params.at("max_depth") == "6");
  CHECK(run.params.at("objective") == "binary:logistic");
  CHECK(run.model_version == "v1");
  CHECK(run.model_sha256 == lifecycle::Sha256Hex(ReadFile(models + "/v1/model.json")));
  CHECK(run.parent.empty());
  // Train metrics are metadata.json's, to the last digit.
  const std::string metadata = ReadFile(models + "/v1/metadata.json");
  CHECK(run.train_metrics.at("average_precision") == JsonNumbers(metadata, "average_precision").at(0));
  CHECK(run.train_metrics.at("auc_roc") == JsonNumbers(metadata, "auc_roc").at(0));
  CHECK(run.train_metrics.at("rows") == JsonNumbers(metadata, "rows").at(0));
  CHECK(run.train_metrics.at("frauds") == JsonNumbers(metadata, "frauds").at(0));
  // Validation metrics: the model on the seven days after its window.
  const double valid_ap = ValidationAp(models, "v1", start_ms + 7 * kDay, start_ms + 14 * kDay);
  CHECK(run.validation_metrics.at("average_precision") == Approx(valid_ap).epsilon(1e-12));
  CHECK(run.validation_metrics.at("auc_roc") > 0.5);
  CHECK(run.validation_metrics.at("rows") > 0);
  CHECK(out.find(
            fmt::format("validation 2018-04-18T00:00:00Z .. 2018-04-25T00:00:00Z: AUC ROC {:.4f}, AP {:.4f}",
                        run.validation_metrics.at("auc_roc"), valid_ap)) != std::string::npos);

  // `vigil runs` (another process) reads the record back.
  REQUIRE(RunVigil({"runs", "--registry", models, "list"}, &out) == 0);
  CHECK(out.find("RUN") == 0);
  CHECK(out.find(fmt::format("{}  manual    2018-04-11 .. 2018-04-18    {:.4f}  {:.4f}  v1", run.id,
                             run.train_metrics.at("average_precision"), valid_ap)) != std::string::npos);
  CHECK(out.find(" registered\n") != std::string::npos);
  REQUIRE(RunVigil({"runs", "--registry", models, "show", run.id}, &out) == 0);
  CHECK(out.find("validation window   2018-04-18 .. 2018-04-25\n") != std::string::npos);
  CHECK(out.find("offsets             transactions:0:0-1200, transactions:1:7-1190\n") != std::string::npos);
  CHECK(out.find("model sha256        " + run.model_sha256 + "\n") != std::string::npos);
  CHECK(out.find("parent              -\n") != std::string::npos);
  REQUIRE(RunVigil({"runs", "--registry", models, "show", run.id, "--json"}, &out) == 0);
  auto parsed = models::RunFromJson(out, "stdout");
  REQUIRE(parsed.ok());
  CHECK(*parsed == run);
  CHECK(RunVigil({"runs", "--registry", models, "show", "r20990101-000000-0001"}, &out) == 2);
  CHECK(out.find("no run 'r20990101-000000-0001' in '" + models + "'") != std::string::npos);
}

TEST_CASE("failed runs are recorded, and validation is skipped with a note when it has no data", "[app]") {
  const std::string models = TempDir("vigil-models");
  std::string out;
  CHECK(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                  "2019-01-01"},
                 &out) == 2);
  auto runs = models::Registry(models).ListRuns();
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK(runs->front().outcome.find("failed: empty training window") == 0);
  CHECK(runs->front().model_version.empty());
  CHECK(runs->front().finished_ms >= runs->front().started_ms);
  CHECK(runs->front().train_window.start_ms == *base::ParseIso8601Ms("2019-01-01"));
  CHECK(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--trigger", "cron"},
                 &out) == 2);
  CHECK(out.find("--trigger 'cron'") != std::string::npos);
  CHECK(
      RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--offsets", "t:0:9-5"},
               &out) == 2);
  CHECK(out.find("END is before FIRST") != std::string::npos);

  // The table ends on 2018-05-10: a window from 2018-05-04 leaves no day to validate on.
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-05-04", "--rounds", "5"},
                   &out) == 0);
  CHECK(out.find("no validation: the table has no row in [2018-05-11T00:00:00Z, 2018-05-18T00:00:00Z)") !=
        std::string::npos);
  models::RunRecord run = RunOf(models, "v1");
  CHECK(run.outcome == "registered");
  CHECK(run.validation_metrics.empty());
  CHECK(run.detail == "no validation: the table has no row in [2018-05-11T00:00:00Z, 2018-05-18T00:00:00Z)");
  REQUIRE(RunVigil({"train", kPipeline, "--table", SmallTable(), "--models-dir", models, "--train-start",
                    "2018-04-11", "--rounds", "5", "--valid-days", "0"},
                   &out) == 0);
  run = RunOf(models, "v2");
  CHECK(run.validation_window.empty());
  CHECK(run.validation_metrics.empty());
  CHECK(run.detail.empty());
  runs = models::Registry(models).ListRuns();
  REQUIRE(runs.ok());
  // A bad --offsets fails a run that has started; an unknown --trigger is refused before any starts.
  CHECK(runs->size() == 4);
  REQUIRE(RunVigil({"runs", "--registry", models, "list"}, &out) == 0);
  CHECK(out.find("failed: empty training window") != std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
