// `vigil train`: the command line around TrainAndRegister (lifecycle/trainer.h) and its search
// (lifecycle/train_search.h): flags over the pipeline's `train:` section, the summary, the promotion.
#include "app/train_command.h"

#include <fmt/format.h>

#include <filesystem>

#include "app/progress_bar.h"
#include "base/time.h"
#include "lifecycle/train_search.h"
#include "models/registry.h"

namespace vigil::app {
namespace {

namespace fs = std::filesystem;

int ExitCode(const base::Status& st) {
  return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2 : 1;
}

double MetricOr0(const std::map<std::string, double>& m, const char* key) {
  const auto it = m.find(key);
  return it == m.end() ? 0.0 : it->second;
}

void PrintTrained(const TrainCommandOptions& o, const lifecycle::TrainOutcome& outcome) {
  const models::RunRecord& run = outcome.run;
  const fs::path dir = fs::path(o.models_dir) / run.model_version;
  const std::string rounds = run.params.count("rounds") ? run.params.at("rounds") : "?";
  const auto trees = static_cast<int64_t>(MetricOr0(run.train_metrics, "trees"));
  fmt::print("model {}: {} features, {} trees of {} rounds, trained on {} .. {} ({} rows, {} frauds)\n",
             dir.string(), outcome.features.size(), trees, rounds, base::Iso8601(run.train_window.start_ms),
             base::Iso8601(run.train_window.end_ms),
             static_cast<int64_t>(MetricOr0(run.train_metrics, "rows")),
             static_cast<int64_t>(MetricOr0(run.train_metrics, "frauds")));
  fmt::print("train AUC ROC {:.4f}, AP {:.4f}\n", MetricOr0(run.train_metrics, "auc_roc"),
             MetricOr0(run.train_metrics, "average_precision"));
  if (!run.validation_metrics.empty()) {
    const auto& v = run.validation_metrics;
    fmt::print(
        "validation {} .. {}: AUC ROC {:.4f}, AP {:.4f}, card precision@{} {:.4f} ({} rows, {} frauds)\n",
        base::Iso8601(run.validation_window.start_ms), base::Iso8601(run.validation_window.end_ms),
        v.at("auc_roc"), v.at("average_precision"), lifecycle::kRunCardPrecisionK,
        MetricOr0(v, "card_precision"), v.at("rows"), v.at("frauds"));
  }
  if (!run.detail.empty()) fmt::print("{}\n", run.detail);
  fmt::print("run {}: {} {} (parent {}), {:.1f} s\n", run.id, run.outcome, run.model_version,
             run.parent.empty() ? "none" : run.parent, static_cast<double>(run.duration_ms()) / 1000.0);
}

}  // namespace

lifecycle::TrainRequest ResolveTrainRequest(const TrainCommandOptions& o, const config::TrainSpec& t) {
  lifecycle::TrainRequest r;
  r.pipeline_file = o.pipeline;
  r.table = o.table;
  r.models_dir = o.models_dir;
  r.train_start = o.train_start;
  r.train_days = o.train_days.value_or(t.train_days);
  r.valid_days = o.valid_days.value_or(t.valid_days);
  const bool search = o.search.value_or(t.search.trials) > 0;
  r.delay_days = o.delay_days.value_or(t.delay_days.value_or(search ? lifecycle::kSearchDelayDays : 0));
  r.model = o.model;
  r.model.rounds = o.rounds.value_or(t.rounds);
  // train.params first: a later --param of the same key wins (MakeTrainOptions applies them in order).
  r.model.params.clear();
  for (const auto& [key, value] : t.params) r.model.params.push_back(key + "=" + value);
  r.model.params.insert(r.model.params.end(), o.model.params.begin(), o.model.params.end());
  r.model.early_stopping_rounds = o.early_stopping_rounds.value_or(t.early_stopping_rounds);
  r.model.early_stopping_metric = t.early_stopping_metric;
  r.version = o.version;
  r.trigger = o.trigger;
  r.offsets = o.offsets;
  return r;
}

int FinishTraining(const TrainCommandOptions& o, const base::Result<lifecycle::TrainOutcome>& result) {
  if (!result.ok()) {
    fmt::print(stderr, "error: {}\n", result.status().message());
    return result.status().code() == base::StatusCode::kInvalidArgument ? 2 : 1;
  }
  const lifecycle::TrainOutcome& outcome = *result;
  if (!outcome.trained.ok()) {
    fmt::print(stderr, "error: {}\n", outcome.trained.message());
    if (!outcome.recorded.ok())
      fmt::print(stderr, "error: run {} not recorded: {}\n", outcome.run.id, outcome.recorded.message());
    return ExitCode(outcome.trained);
  }
  PrintTrained(o, outcome);
  if (!outcome.recorded.ok()) {
    fmt::print(stderr, "error: {} is stored, but its run record {} is not: {}\n", outcome.run.model_version,
               outcome.run.id, outcome.recorded.message());
    return 1;
  }
  const std::string& version = outcome.run.model_version;
  if (!o.promote) {
    fmt::print("next: vigil models --registry {} promote {}   (or train with --promote)\n", o.models_dir,
               version);
    return 0;
  }
  if (base::Status st = models::Registry(o.models_dir).Promote(version, outcome.features); !st.ok()) {
    fmt::print(stderr, "error: {} is registered but not promoted: {}\n", version, st.message());
    return ExitCode(st);
  }
  fmt::print("{} is the champion\nnext: vigil run {}   (its score operator's registry: {})\n", version,
             o.pipeline, o.models_dir);
  return 0;
}

base::Result<lifecycle::SearchOptions> ResolveSearchOptions(const TrainCommandOptions& o,
                                                            const config::SearchSpec& s) {
  lifecycle::SearchOptions options;
  options.trials = o.search.value_or(s.trials);
  options.metric = o.metric.value_or(s.metric);
  options.space = s.space;
  options.seed = static_cast<uint64_t>(o.model.seed);
  options.budget_ms = s.budget_ms;
  if (o.search_budget) {
    auto budget = config::ParseDurationMs(*o.search_budget);
    if (!budget.ok()) return budget.status().WithContext("--search-budget");
    options.budget_ms = *budget;
  }
  return options;
}

int SearchCommand(const TrainCommandOptions& o, const lifecycle::TrainRequest& request,
                  const lifecycle::SearchOptions& search) {
  lifecycle::SearchOptions options = search;
  options.on_trial = [](const lifecycle::SearchTrial& t, int trials) {
    const auto metric = [&t](const char* key) {
      const auto it = t.run.validation_metrics.find(key);
      return it == t.run.validation_metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    };
    if (!t.status.ok()) {
      fmt::print("trial {:>3}/{}  failed: {}  {}  (run {})\n", t.number, trials, t.status.message(),
                 lifecycle::DrawnText(t.drawn), t.run.id);
      return;
    }
    fmt::print("trial {:>3}/{}  AP {:.4f}  CP@{} {:.4f}  trees {:>4}  {}  (run {})\n", t.number, trials,
               metric("average_precision"), lifecycle::kRunCardPrecisionK, metric("card_precision"),
               static_cast<int64_t>(t.run.train_metrics.at("trees")), lifecycle::DrawnText(t.drawn),
               t.run.id);
    std::fflush(stdout);
  };
  auto result = lifecycle::SearchAndRegister(request, options);
  if (!result.ok()) return FinishTraining(o, result.status());
  if (result->best > 0) {
    const lifecycle::SearchTrial& best = result->trials[result->best - 1];
    fmt::print("search {}: best of {} trials{} by {}: trial {}, {}\n", result->registered.run.id,
               result->trials.size(), result->budget_reached ? " (budget reached)" : "", options.metric,
               best.number, lifecycle::DrawnText(best.drawn));
  }
  return FinishTraining(o, result->registered);
}

int TrainCommand(const TrainCommandOptions& o) {
  // A pipeline that does not load is not an error yet: the run reads it again and records the failure.
  auto pipeline = config::LoadPipelineFile(o.pipeline);
  const config::TrainSpec train = pipeline.ok() ? pipeline->train : config::TrainSpec{};
  lifecycle::TrainRequest request = ResolveTrainRequest(o, train);
  if (pipeline.ok()) request.pipeline = *pipeline;
  if (o.search.value_or(train.search.trials) > 0) {
    auto search = ResolveSearchOptions(o, train.search);
    if (!search.ok()) return FinishTraining(o, search.status());
    return SearchCommand(o, request, *search);
  }
  ProgressBar bar(true, "train");
  request.on_round = [&bar](int done, int total) {
    bar.Update(static_cast<double>(done) / total, fmt::format("{}/{} rounds", done, total));
  };
  auto result = lifecycle::TrainAndRegister(request);
  bar.Finish();
  return FinishTraining(o, result);
}

void AddParamFlags(CLI::App& cmd, lifecycle::ModelFlags& flags) {
  cmd.add_option(
      "--param", flags.params,
      "libxgboost parameter key=value, repeatable; overrides the defaults objective=binary:logistic, "
      "max_depth=6, eta=0.3, tree_method=exact (and, for train and evaluate's prequential folds, the "
      "pipeline's train.params)");
  cmd.add_option("--seed", flags.seed, "libxgboost random seed (and a search's sampler)")
      ->capture_default_str();
  cmd.add_option("--threads", flags.threads, "libxgboost threads (nthread)")->capture_default_str();
}

void AddModelFlags(CLI::App& cmd, lifecycle::ModelFlags& flags) {
  cmd.add_option("--rounds", flags.rounds, "Boosting rounds (trees)")->capture_default_str();
  AddParamFlags(cmd, flags);
}

void AddTrainCommand(CLI::App& app, TrainCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "train", "Train an XGBoost model on a time window of a training table (vigil replay's CSV)");
  cmd->add_option("pipeline", o.pipeline,
                  "Pipeline YAML; its `features:` list names the model's input columns, its `train:` "
                  "section gives the defaults of the options below")
      ->required();
  cmd->add_option("--table", o.table,
                  "Training table CSV: header line, the features, TX_TIME_MS, CUSTOMER_ID, "
                  "TRANSACTION_ID and LABEL (0/1)")
      ->required();
  cmd->add_option("--models-dir", o.models_dir, "Model registry directory; the model goes to DIR/<version>/")
      ->required();
  cmd->add_option("--train-start", o.train_start, "First training day (UTC), YYYY-MM-DD")
      ->capture_default_str();
  cmd->add_option("--train-days", o.train_days,
                  "Training window length, in days (default: train.train_days, 7)");
  cmd->add_option("--delay-days", o.delay_days,
                  "Days between the training and validation windows (default: train.delay_days, else 0; 7 "
                  "with --search, as the Handbook's chapter 5)");
  cmd->add_option("--valid-days", o.valid_days,
                  "Validation window: this many days after the delay, scored for the run record; 0 = none "
                  "(default: train.valid_days, 7)");
  cmd->add_option("--rounds", o.rounds,
                  "Boosting rounds, the most with early stopping (default: train.rounds, 100)");
  cmd->add_option(
      "--early-stopping-rounds", o.early_stopping_rounds,
      "Stop when the validation window's train.early_stopping_metric (aucpr) has not improved "
      "for N rounds, keeping the best round's trees; 0 = none (default: train.early_stopping_rounds)");
  AddParamFlags(*cmd, o.model);
  cmd->add_option("--search", o.search,
                  "Random search: N trials over train.search.space (or the default space), each a run "
                  "record (trigger search); the best is registered (default: train.search.trials, 0 = none)");
  cmd->add_option("--metric", o.metric,
                  "What picks the search's best on the validation window: average_precision or "
                  "card_precision (default: train.search.metric)");
  cmd->add_option("--search-budget", o.search_budget,
                  "Wall time after which the search starts no trial and keeps the best so far, e.g. 10m "
                  "(default: train.search.budget, none)");
  cmd->add_option("--version", o.version,
                  "Version name (default: v<N+1> after the highest vN in the directory)");
  cmd->add_option("--trigger", o.trigger,
                  "What started this run, as recorded in DIR/runs/: manual, schedule, drift "
                  "or command")
      ->capture_default_str();
  cmd->add_flag("--promote", o.promote,
                "Make the new version the champion once trained (as `vigil models promote`); "
                "otherwise it is only registered");
  cmd->add_option("--offsets", o.offsets,
                  "Kafka offsets the table was replayed from, TOPIC:PARTITION:FIRST-END "
                  "(END exclusive), repeatable; recorded in the run");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
