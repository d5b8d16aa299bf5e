// `vigil train` with the pipeline's `train:` section (flags win over it), early stopping, and the random
// search (`--search N`): one run record per trial, the best trial registered, the same choice for the
// same seed; and the retraining worker's search under a wall-time budget.
#include "lifecycle/train_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "base/time.h"
#include "config/pipeline_config.h"
#include "lifecycle/retrainer.h"
#include "models/forest.h"
#include "models/registry.h"
#include "models/runs.h"
#include "tests/support/handbook.h"
#include "tests/support/handbook_table.h"
#include "tests/support/process.h"
#include "tests/support/runs.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDay = base::kMsPerDay;
//! A search space small enough for quick trials.
constexpr const char* kSmallSpace =
    "  search:\n"
    "    space:\n"
    "      max_depth: {int: [2, 6]}\n"
    "      eta: {log_uniform: [0.05, 0.5]}\n"
    "      subsample: {uniform: [0.6, 1]}\n"
    "      rounds: {int: [10, 40]}\n";

int64_t Day(const char* date) { return *base::ParseIso8601Ms(date); }

//! deploy/examples/handbook.yaml with `train` (a `train:` section, "train:\n..." text) appended, in a
//! fresh directory; returns its path.
std::string PipelineWithTrain(const std::string& train) {
  const std::string path = TempDir("vigil-search") + "/pipeline.yaml";
  std::ofstream(path) << ReadFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml") << train;
  return path;
}

//! `vigil train PIPELINE --table <small table> --models-dir MODELS` and `extra`; REQUIREs success.
std::string Train(const std::string& pipeline, const std::string& models,
                  const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"train",        pipeline, "--table", SmallHandbookTable(),
                                   "--models-dir", models};
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out;
  const int rc = RunVigil(args, &out);
  INFO(out);
  REQUIRE(rc == 0);
  return out;
}

//! The runs of `models` split into the search's trials (by number) and the others.
struct Runs {
  std::vector<models::RunRecord> trials;  //!< trigger "search", in trial order.
  std::vector<models::RunRecord> others;  //!< Every other run, in id order.
};

Runs ReadRuns(const std::string& models) {
  auto all = models::Registry(models).ListRuns();
  REQUIRE(all.ok());
  Runs runs;
  for (const models::RunRecord& r : *all) (r.trigger == "search" ? runs.trials : runs.others).push_back(r);
  std::sort(runs.trials.begin(), runs.trials.end(),
            [](const auto& a, const auto& b) { return a.search.trial < b.search.trial; });
  return runs;
}

//! The searched parameters of a trial's params.
std::map<std::string, std::string> Drawn(const models::RunRecord& r) {
  std::map<std::string, std::string> drawn;
  for (const char* key : {"max_depth", "eta", "subsample", "rounds"}) drawn[key] = r.params.at(key);
  return drawn;
}

TEST_CASE("train: section gives vigil train its defaults, and flags win over it", "[app]") {
  const std::string pipeline = PipelineWithTrain(
      "train:\n  params: {max_depth: \"3\", eta: \"0.2\"}\n  rounds: 7\n  train_days: 5\n  valid_days: 3\n"
      "  delay_days: 2\n");
  const std::string models = TempDir("vigil-models");
  Train(pipeline, models, {"--train-start", "2018-04-11"});
  models::RunRecord run = RunOf(models, "v1");
  CHECK(run.params.at("max_depth") == "3");
  CHECK(run.params.at("eta") == "0.2");
  CHECK(run.params.at("rounds") == "7");
  CHECK(run.train_metrics.at("trees") == 7);
  CHECK(run.train_window == models::TimeWindow{Day("2018-04-11"), Day("2018-04-16")});
  CHECK(run.validation_window == models::TimeWindow{Day("2018-04-18"), Day("2018-04-21")});
  CHECK(run.validation_metrics.at("rows") > 0);
  CHECK(run.validation_metrics.count("card_precision") == 1);

  Train(pipeline, models,
        {"--train-start", "2018-04-11", "--rounds", "9", "--param", "max_depth=4", "--train-days", "6",
         "--valid-days", "2", "--delay-days", "0"});
  run = RunOf(models, "v2");
  CHECK(run.params.at("max_depth") == "4");
  CHECK(run.params.at("eta") == "0.2");  // from train: params, not overridden
  CHECK(run.params.at("rounds") == "9");
  CHECK(run.train_metrics.at("trees") == 9);
  CHECK(run.train_window == models::TimeWindow{Day("2018-04-11"), Day("2018-04-17")});
  CHECK(run.validation_window == models::TimeWindow{Day("2018-04-17"), Day("2018-04-19")});
}

TEST_CASE("early stopping keeps the best round's trees, fewer than the rounds, and records them", "[app]") {
  const std::string pipeline = PipelineWithTrain("train:\n  early_stopping_rounds: 5\n  rounds: 300\n");
  const std::string models = TempDir("vigil-models");
  const std::string out = Train(
      pipeline, models, {"--train-start", "2018-04-11", "--param", "eta=0.5", "--param", "max_depth=8"});
  const models::RunRecord run = RunOf(models, "v1");
  CHECK(run.params.at("rounds") == "300");
  CHECK(run.params.at("early_stopping_rounds") == "5");
  CHECK(run.params.at("early_stopping_metric") == "aucpr");
  const auto trees = static_cast<int64_t>(run.train_metrics.at("trees"));
  CHECK(trees >= 1);
  CHECK(trees < 300);
  CHECK(out.find(fmt::format("{} trees of 300 rounds", trees)) != std::string::npos);
  const std::string metadata = ReadFile(models + "/v1/metadata.json");
  CHECK(metadata.find(fmt::format("\"rounds\": {},", trees)) != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(metadata, m,
                            std::regex("\"early_stopping\": \\{\"metric\": \"aucpr\", \"patience\": 5, "
                                       "\"rounds_run\": ([0-9]+), \"best_round\": ([0-9]+),")));
  CHECK(std::stoll(m[2].str()) + 1 == trees);
  CHECK(std::stoll(m[1].str()) == trees + 5);
  auto forest = models::Forest::LoadFile(models + "/v1/model.json");
  REQUIRE(forest.ok());
  CHECK(static_cast<int64_t>((*forest)->num_trees()) == trees);

  // A flag turns it off again: every round is kept.
  Train(pipeline, models, {"--train-start", "2018-04-11", "--early-stopping-rounds", "0", "--rounds", "12"});
  const models::RunRecord all = RunOf(models, "v2");
  CHECK(all.train_metrics.at("trees") == 12);
  CHECK(all.params.count("early_stopping_rounds") == 0);
}

TEST_CASE("search: N trial records, the best registered with its params and the max validation AP", "[app]") {
  const std::string pipeline = PipelineWithTrain(std::string("train:\n") + kSmallSpace);
  const std::string models = TempDir("vigil-models");
  const std::string out =
      Train(pipeline, models, {"--train-start", "2018-04-11", "--search", "4", "--seed", "3"});
  INFO(out);
  const Runs runs = ReadRuns(models);
  REQUIRE(runs.trials.size() == 4);
  REQUIRE(runs.others.size() == 1);
  const models::RunRecord& registered = runs.others.front();
  CHECK(registered.trigger == "manual");
  CHECK(registered.outcome == "registered");
  CHECK(registered.model_version == "v1");
  CHECK(registered.search.id == registered.id);
  CHECK(registered.search.trials == 4);
  // The delay defaults to the Handbook's week for a search.
  const models::TimeWindow train{Day("2018-04-11"), Day("2018-04-18")};
  const models::TimeWindow valid{Day("2018-04-25"), Day("2018-05-02")};
  CHECK(registered.train_window == train);
  CHECK(registered.validation_window == valid);
  double best_ap = -1;
  const models::RunRecord* best = nullptr;
  for (size_t i = 0; i < runs.trials.size(); ++i) {
    const models::RunRecord& t = runs.trials[i];
    INFO(t.id);
    CHECK(t.outcome == "trial");
    CHECK(t.search == models::SearchRef{registered.id, static_cast<int>(i) + 1, 4});
    CHECK(t.model_version.empty());
    CHECK(t.train_window == train);
    CHECK(t.validation_window == valid);
    CHECK(t.input == SmallHandbookTable());
    const int depth = std::stoi(t.params.at("max_depth"));
    CHECK((depth >= 2 && depth <= 6));
    const int rounds = std::stoi(t.params.at("rounds"));
    CHECK((rounds >= 10 && rounds <= 40));
    CHECK(t.train_metrics.at("trees") == rounds);
    const double ap = t.validation_metrics.at("average_precision");
    if (ap > best_ap) {
      best_ap = ap;
      best = &t;
    }
  }
  REQUIRE(best != nullptr);
  CHECK(registered.search.trial == best->search.trial);
  CHECK(registered.params == best->params);
  CHECK(registered.validation_metrics.at("average_precision") == best_ap);
  CHECK(registered.validation_metrics == best->validation_metrics);
  CHECK(registered.detail.find(
            fmt::format("best of 4 trials: trial {} (run {})", best->search.trial, best->id)) == 0);
  CHECK(out.find(fmt::format("best of 4 trials by average_precision: trial {}", best->search.trial)) !=
        std::string::npos);
  std::string shown;
  REQUIRE(RunVigil({"runs", "--registry", models, "show", registered.id}, &shown) == 0);
  CHECK(shown.find(fmt::format("search              best of 4 trials: trial {}\n", best->search.trial)) !=
        std::string::npos);
  REQUIRE(RunVigil({"runs", "--registry", models, "show", runs.trials[1].id}, &shown) == 0);
  CHECK(shown.find("search              trial 2 of 4 of search " + registered.id + "\n") !=
        std::string::npos);

  // The same seed draws the same trials and makes the same choice; another seed draws others.
  const std::string again = TempDir("vigil-models");
  Train(pipeline, again, {"--train-start", "2018-04-11", "--search", "4", "--seed", "3"});
  const Runs same = ReadRuns(again);
  REQUIRE(same.trials.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(same.trials[i].params == runs.trials[i].params);
    CHECK(same.trials[i].validation_metrics == runs.trials[i].validation_metrics);
  }
  CHECK(same.others.front().search.trial == registered.search.trial);
  CHECK(same.others.front().model_sha256 == registered.model_sha256);
  const std::string other = TempDir("vigil-models");
  Train(pipeline, other, {"--train-start", "2018-04-11", "--search", "2", "--seed", "4"});
  const Runs different = ReadRuns(other);
  REQUIRE(different.trials.size() == 2);
  CHECK(Drawn(different.trials[0]) != Drawn(runs.trials[0]));

  // --metric card_precision picks by the Handbook's card precision@100 instead.
  const std::string by_card = TempDir("vigil-models");
  Train(pipeline, by_card,
        {"--train-start", "2018-04-11", "--search", "4", "--seed", "3", "--metric", "card_precision"});
  const Runs card = ReadRuns(by_card);
  REQUIRE(card.trials.size() == 4);
  double best_card = -1;
  for (const models::RunRecord& t : card.trials)
    best_card = std::max(best_card, t.validation_metrics.at("card_precision"));
  CHECK(card.others.front().validation_metrics.at("card_precision") == best_card);
  CHECK(card.others.front().detail.find("card_precision") != std::string::npos);
}

TEST_CASE("DrawTrial: each trial's values are deterministic, in their bounds, and independent", "[app]") {
  auto parsed = config::LoadPipelineText(
      ReadFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml") +
          "train:\n  search:\n    space:\n      max_depth: {int: [3, 4]}\n      eta: {log_uniform: [0.01, "
          "0.1]}\n"
          "      subsample: {uniform: [0.5, 0.6]}\n      grow_policy: {choice: [depthwise, lossguide]}\n",
      "p.yaml");
  REQUIRE(parsed.ok());
  const auto& space = parsed->train.search.space;
  std::set<std::string> depths, policies;
  for (int trial = 1; trial <= 50; ++trial) {
    const auto drawn = lifecycle::DrawTrial(space, 11, trial);
    CHECK(drawn == lifecycle::DrawTrial(space, 11, trial));
    REQUIRE(drawn.size() == 4);
    depths.insert(drawn.at("max_depth"));
    policies.insert(drawn.at("grow_policy"));
    const double eta = std::stod(drawn.at("eta"));
    CHECK((eta >= 0.01 && eta <= 0.1));
    const double subsample = std::stod(drawn.at("subsample"));
    CHECK((subsample >= 0.5 && subsample <= 0.6));
    CHECK(drawn.at("eta").size() <= 6);  // 3 significant digits: 0.0123
  }
  CHECK(depths == std::set<std::string>{"3", "4"});
  CHECK(policies == std::set<std::string>{"depthwise", "lossguide"});
  CHECK(lifecycle::DrawTrial(space, 11, 1) != lifecycle::DrawTrial(space, 12, 1));
  CHECK(lifecycle::DrawTrial(space, 11, 1) != lifecycle::DrawTrial(space, 11, 2));
  // The default space when the file gives none.
  const auto defaults = lifecycle::DrawTrial(config::DefaultSearchSpace(), 0, 1);
  CHECK(defaults.count("max_depth") == 1);
  CHECK(defaults.count("rounds") == 1);
}

TEST_CASE("train and search refuse bad values, a bad train: section with its file:line:col", "[app]") {
  const std::string models = TempDir("vigil-models");
  const std::string pipeline = PipelineWithTrain(std::string("train:\n") + kSmallSpace);
  std::string out;
  const std::vector<std::string> base = {"train",        pipeline, "--table",       SmallHandbookTable(),
                                         "--models-dir", models,   "--train-start", "2018-04-11"};
  const auto with = [&base](std::vector<std::string> extra) {
    extra.insert(extra.begin(), base.begin(), base.end());
    return extra;
  };
  CHECK(RunVigil(with({"--search", "2", "--metric", "recall"}), &out) == 2);
  CHECK(out.find("--metric 'recall': expected average_precision or card_precision") != std::string::npos);
  CHECK(RunVigil(with({"--search", "2", "--search-budget", "soon"}), &out) == 2);
  CHECK(out.find("--search-budget") != std::string::npos);
  CHECK(RunVigil(with({"--search", "2", "--valid-days", "0"}), &out) == 2);
  CHECK(out.find("a search needs --train-days >= 1, --valid-days >= 1") != std::string::npos);
  CHECK(RunVigil(with({"--early-stopping-rounds", "5", "--valid-days", "0"}), &out) == 2);
  CHECK(out.find("early stopping needs a validation window") != std::string::npos);
  // A validation window beyond the table: nothing to compare trials on.
  CHECK(RunVigil(with({"--search", "2", "--delay-days", "30"}), &out) == 2);
  CHECK(out.find("the validation window [2018-05-18T00:00:00Z, 2018-05-25T00:00:00Z) holds 0 rows") !=
        std::string::npos);
  const Runs runs = ReadRuns(models);
  CHECK(runs.trials.empty());
  for (const models::RunRecord& r : runs.others) CHECK(r.outcome.rfind("failed: ", 0) == 0);

  const std::string bad =
      PipelineWithTrain("train:\n  search:\n    space:\n      eta: {log_uniform: [0, 1]}\n");
  const std::string text = ReadFile(bad);
  const auto line = std::count(text.begin(), text.end(), '\n');  // the last line, the dimension's
  CHECK(RunVigil({"train", bad, "--table", SmallHandbookTable(), "--models-dir", models}, &out) == 2);
  CHECK(out.find(fmt::format("{}:{}:26: log_uniform: expected a positive low bound", bad, line)) !=
        std::string::npos);
}

TEST_CASE("the retrainer's search respects its budget: the trials it ran, the best registered", "[app]") {
  const std::string dir = TempDir("vigil-retrain-search");
  const std::string registry = dir + "/models";
  std::string yaml = ReadFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml");
  AppendOperators(
      &yaml, "  - type: score\n    registry: " + registry + "\n    feature_log: " + SmallHandbookTable() +
                 "\n    retrain: {every: 7d, train_days: 7, valid_days: 7, min_rows: 100, search: 50, "
                 "search_budget: 1ms}\n");
  yaml += std::string("train:\n") + kSmallSpace;
  auto pipeline = config::LoadPipelineText(yaml, dir + "/pipeline.yaml");
  INFO(pipeline.status().ToString());
  REQUIRE(pipeline.ok());
  auto retrainer = lifecycle::Retrainer::Start(*pipeline, nullptr);
  REQUIRE(retrainer.ok());
  REQUIRE(*retrainer != nullptr);
  // The worker reads the log within a second of starting; a command needs a row read.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  base::Result<std::string> id = base::FailedPrecondition("not asked yet");
  while (!id.ok() && std::chrono::steady_clock::now() < deadline) {
    id = (*retrainer)->RequestRetrain();
    if (!id.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(id.ok());
  models::RunRecord run;
  while (std::chrono::steady_clock::now() < deadline) {
    auto read = models::Registry(registry).ReadRun(*id);
    if (read.ok() && read->outcome != "running" && !(*retrainer)->busy()) {
      run = *read;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*retrainer)->Stop();
  INFO(run.outcome << " " << run.detail);
  REQUIRE(run.outcome == "registered");
  // One trial fits a budget of 1 ms: the first always runs, none starts after it.
  const Runs runs = ReadRuns(registry);
  REQUIRE(runs.trials.size() == 1);
  CHECK(runs.trials[0].search == models::SearchRef{*id, 1, 50});
  CHECK(runs.trials[0].outcome == "trial");
  CHECK(run.trigger == "command");
  CHECK(run.search == models::SearchRef{*id, 1, 1});
  CHECK(run.detail.find("best of 1 trials (budget 1 ms reached): trial 1") == 0);
  CHECK(run.params == runs.trials[0].params);
  CHECK(run.validation_metrics.at("average_precision") ==
        runs.trials[0].validation_metrics.at("average_precision"));
  // The search used train:'s space, and the retrain windows: validation the last 7 days, no delay.
  const int rounds = std::stoi(run.params.at("rounds"));
  CHECK((rounds >= 10 && rounds <= 40));
  CHECK(run.validation_window.end_ms - run.validation_window.start_ms == 7 * kDay);
  CHECK(run.train_window.end_ms == run.validation_window.start_ms);
}

}  // namespace
}  // namespace vigil::testing
