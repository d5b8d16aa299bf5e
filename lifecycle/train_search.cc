// The random search over XGBoost's parameters: trials on one training window, scored on the validation
// window, one run record each; the best is registered through TrainAndRegister.
#include "lifecycle/train_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "base/time.h"
#include "models/forest.h"
#include "models/registry.h"
#include "sim/random.h"

namespace vigil::lifecycle {
namespace {

namespace fs = std::filesystem;

using base::kMsPerDay;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

//! What every trial shares: the table and the rows of both windows.
struct SearchData {
  config::PipelineSpec pipeline;   //!< The pipeline (features, name).
  Table table;                     //!< The training table.
  models::TimeWindow train;        //!< Training window.
  models::TimeWindow valid;        //!< Validation window.
  std::vector<size_t> train_rows;  //!< Rows of the training window.
  std::vector<size_t> valid_rows;  //!< Rows of the validation window.
};

//! Frauds among `rows`, after checking they are labelled.
base::Result<int64_t> CountFrauds(const Table& table, std::span<const size_t> rows, std::string_view what) {
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
  VIGIL_RETURN_IF_ERROR(CheckLabeled(labels, rows, what));
  return static_cast<int64_t>(
      std::count_if(rows.begin(), rows.end(), [&](size_t r) { return labels[r] != 0; }));
}

//! Reads the pipeline and the table and selects both windows; InvalidArgument when either window is
//! empty or of one class (trials could not be trained or compared).
base::Status PrepareSearch(const TrainRequest& r, SearchData& d) {
  if (r.pipeline) {
    d.pipeline = *r.pipeline;
  } else {
    VIGIL_ASSIGN_OR_RETURN(d.pipeline, config::LoadPipelineFile(r.pipeline_file));
  }
  if (d.pipeline.features.empty())
    return base::InvalidArgument(r.pipeline_file + ": the pipeline has no `features:` list");
  if (r.train_days < 1 || r.valid_days < 1 || r.delay_days < 0)
    return base::InvalidArgument("a search needs --train-days >= 1, --valid-days >= 1 and --delay-days >= 0");
  d.train.start_ms = r.train_start_ms;
  if (!r.train_start.empty()) {
    VIGIL_ASSIGN_OR_RETURN(d.train.start_ms, ParseDateMs(r.train_start));
  }
  d.train.end_ms = d.train.start_ms + r.train_days * kMsPerDay;
  d.valid.start_ms = d.train.end_ms + r.delay_days * kMsPerDay;
  d.valid.end_ms = d.valid.start_ms + r.valid_days * kMsPerDay;
  VIGIL_ASSIGN_OR_RETURN(d.table, ReadTrainingTable(r.table, d.pipeline.features));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, d.table.Int64s(kTimeColumn));
  d.train_rows = RowsInWindow(times, d.train.start_ms, d.train.end_ms);
  d.valid_rows = RowsInWindow(times, d.valid.start_ms, d.valid.end_ms);
  const std::pair<const char*, const models::TimeWindow*> windows[] = {{"training", &d.train},
                                                                       {"validation", &d.valid}};
  for (const auto& [what, window] : windows) {
    const std::vector<size_t>& rows = window == &d.train ? d.train_rows : d.valid_rows;
    VIGIL_ASSIGN_OR_RETURN(const int64_t frauds, CountFrauds(d.table, rows, what));
    if (frauds == 0 || frauds == static_cast<int64_t>(rows.size()))
      return base::InvalidArgument(fmt::format(
          "the {} window [{}, {}) holds {} rows and {} frauds: a search needs both classes in it", what,
          base::Iso8601(window->start_ms), base::Iso8601(window->end_ms), rows.size(), frauds));
  }
  return base::Status::OK();
}

//! The hyper-parameters of trial `drawn`: the request's, with the drawn values over them.
ModelFlags TrialFlags(const ModelFlags& base, const std::map<std::string, std::string>& drawn) {
  ModelFlags flags = base;
  for (const auto& [name, value] : drawn) {
    if (name == "rounds")
      flags.rounds = std::stoi(value);  // config checked it is an integer in 1..100000
    else
      flags.params.push_back(name + "=" + value);
  }
  return flags;
}

//! Trains and scores one trial; `model_json` receives its model. The record is filled, not written.
base::Status TrainTrial(const SearchData& d, const ModelFlags& flags, const std::string& metric,
                        SearchTrial& trial, std::string& model_json) {
  VIGIL_ASSIGN_OR_RETURN(models::TrainOptions options, MakeTrainOptions(flags));
  trial.run.params = RunParams(options);
  VIGIL_ASSIGN_OR_RETURN(TrainedModel trained,
                         TrainOnRows(d.table, d.pipeline.features, d.train_rows, options, d.valid_rows));
  VIGIL_ASSIGN_OR_RETURN(const int trees, trained.booster->BoostedRounds());
  trial.run.train_metrics = {{"rows", static_cast<double>(trained.rows)},
                             {"frauds", static_cast<double>(trained.frauds)},
                             {"trees", static_cast<double>(trees)}};
  VIGIL_ASSIGN_OR_RETURN(model_json, trained.booster->Save(models::ModelFormat::kJson));
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest, models::Forest::Load(model_json));
  VIGIL_ASSIGN_OR_RETURN(trial.run.validation_metrics,
                         WindowMetrics(d.table, *forest, d.pipeline.features, d.valid_rows, "validation"));
  trial.score = trial.run.validation_metrics.at(metric);
  return base::Status::OK();
}

//! Runs trial `number` and writes its record; `model_json` receives its model when it succeeded.
base::Result<SearchTrial> RunTrial(const TrainRequest& r, const SearchOptions& o, const SearchData& d,
                                   const models::RunRecord& search, int number, std::string& model_json) {
  SearchTrial trial;
  trial.number = number;
  trial.drawn = DrawTrial(o.space.empty() ? config::DefaultSearchSpace() : o.space, o.seed, number);
  trial.score = std::numeric_limits<double>::quiet_NaN();
  models::RunRecord& run = trial.run;
  run.trigger = "search";
  run.started_ms = NowMs();
  VIGIL_ASSIGN_OR_RETURN(run.id, models::Registry(r.models_dir).NewRunId(run.trigger, run.started_ms));
  run.input = search.input;
  run.train_window = d.train;
  run.validation_window = d.valid;
  run.parent = search.parent;
  run.search = {search.id, number, o.trials};
  trial.status = TrainTrial(d, TrialFlags(r.model, trial.drawn), o.metric, trial, model_json);
  run.finished_ms = NowMs();
  if (trial.status.ok()) {
    run.outcome = std::string(models::kRunTrial);
    run.detail = fmt::format("trial {} of {} of search {}: {} {:.4f}", number, o.trials, search.id, o.metric,
                             trial.score);
  } else {
    run.outcome = std::string(models::kRunFailedPrefix) + trial.status.message();
  }
  VIGIL_RETURN_IF_ERROR(models::Registry(r.models_dir).WriteRun(run));
  return trial;
}

//! Ends the search's reserved record with `why` when no version could be registered.
TrainOutcome RecordFailure(const TrainRequest& r, models::RunRecord run, const SearchData& d,
                           const base::Status& why, int trials) {
  TrainOutcome outcome;
  run.finished_ms = NowMs();
  run.train_window = d.train;
  run.validation_window = d.valid;
  run.outcome = std::string(models::kRunFailedPrefix) + why.message();
  run.search = {run.id, 0, trials};
  outcome.trained = why;
  outcome.recorded = models::Registry(r.models_dir).WriteRun(run);
  outcome.run = std::move(run);
  outcome.features = d.pipeline.features;
  return outcome;
}

//! Checks what a search needs before it starts, and reserves its run (the registering one): its id,
//! trigger, start, input and parent (the champion now).
base::Result<models::RunRecord> ReserveSearch(const TrainRequest& r) {
  VIGIL_RETURN_IF_ERROR(CheckTrigger(r.trigger));
  std::error_code ec;
  fs::create_directories(r.models_dir, ec);
  if (ec) return base::IoError(fmt::format("cannot create {}: {}", r.models_dir, ec.message()));
  const models::Registry registry(r.models_dir);
  models::RunRecord search;
  search.trigger = r.trigger;
  search.started_ms = NowMs();
  search.input = r.input.empty() ? r.table : r.input;
  if (r.run_id.empty()) {
    VIGIL_ASSIGN_OR_RETURN(search.id, registry.NewRunId(r.trigger, search.started_ms));
  } else {
    search.id = r.run_id;
  }
  if (auto champion = registry.ReadChampion(); champion.ok()) search.parent = *champion;
  return search;
}

//! Registers the best trial's model (`best_json`) under the search's reserved run, which then says
//! which trial it was and why the search stopped.
base::Result<TrainOutcome> RegisterBest(const TrainRequest& r, const SearchOptions& o, const SearchData& d,
                                        const models::RunRecord& search, const SearchOutcome& outcome,
                                        std::string best_json) {
  const SearchTrial& best = outcome.trials[outcome.best - 1];
  const int ran = static_cast<int>(outcome.trials.size());
  TrainRequest registering = r;
  registering.pipeline = d.pipeline;
  registering.run_id = search.id;
  registering.model = TrialFlags(r.model, best.drawn);
  registering.model_bytes = std::move(best_json);
  registering.search = {search.id, best.number, ran};
  VIGIL_ASSIGN_OR_RETURN(TrainOutcome registered, TrainAndRegister(registering));
  if (registered.trained.ok()) {
    registered.run.detail =
        fmt::format("best of {} trials{}: trial {} (run {}), {} {:.4f}", ran,
                    outcome.budget_reached ? fmt::format(" (budget {} ms reached)", o.budget_ms) : "",
                    best.number, best.run.id, o.metric, best.score);
    registered.recorded = models::Registry(r.models_dir).WriteRun(registered.run);
  }
  return registered;
}

}  // namespace

std::map<std::string, std::string> DrawTrial(const std::map<std::string, config::SearchDimension>& space,
                                             uint64_t seed, int number) {
  // One stream per trial: trial k draws the same values however many trials run before it.
  sim::Rng rng(sim::Mix64(sim::Mix64(seed) + static_cast<uint64_t>(number)));
  std::map<std::string, std::string> drawn;
  for (const auto& [name, d] : space) {
    using Kind = config::SearchDimension::Kind;
    switch (d.kind) {
      case Kind::kUniform:
        drawn[name] = fmt::format("{:.3g}", rng.Uniform(d.low, d.high));
        break;
      case Kind::kLogUniform:
        drawn[name] = fmt::format("{:.3g}", std::exp(rng.Uniform(std::log(d.low), std::log(d.high))));
        break;
      case Kind::kInt: {
        const auto low = static_cast<int64_t>(d.low);
        const auto span = static_cast<uint64_t>(static_cast<int64_t>(d.high) - low + 1);
        drawn[name] = std::to_string(low + static_cast<int64_t>(rng.UniformIndex(span)));
        break;
      }
      case Kind::kChoice:
        drawn[name] = d.choices[rng.UniformIndex(d.choices.size())];
        break;
    }
  }
  return drawn;
}

base::Result<SearchOutcome> SearchAndRegister(const TrainRequest& r, const SearchOptions& o) {
  if (o.trials < 1) return base::InvalidArgument("--search: expected at least 1 trial");
  if (o.metric != "average_precision" && o.metric != "card_precision")
    return base::InvalidArgument(
        fmt::format("--metric '{}': expected average_precision or card_precision", o.metric));
  const auto start = std::chrono::steady_clock::now();
  VIGIL_ASSIGN_OR_RETURN(const models::RunRecord search, ReserveSearch(r));
  SearchOutcome outcome;
  SearchData data;
  if (base::Status st = PrepareSearch(r, data); !st.ok()) {
    outcome.registered = RecordFailure(r, search, data, st, 0);
    return outcome;
  }
  std::string best_json;
  for (int number = 1; number <= o.trials; ++number) {
    const auto spent =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    if (number > 1 && o.budget_ms > 0 && spent.count() >= o.budget_ms) {
      outcome.budget_reached = true;
      break;
    }
    std::string model_json;
    VIGIL_ASSIGN_OR_RETURN(SearchTrial trial, RunTrial(r, o, data, search, number, model_json));
    // NaN (a failed trial) never compares greater; ties keep the earlier trial.
    if (trial.status.ok() && (outcome.best == 0 || trial.score > outcome.trials[outcome.best - 1].score)) {
      outcome.best = number;
      best_json = std::move(model_json);
    }
    if (o.on_trial) o.on_trial(trial, o.trials);
    outcome.trials.push_back(std::move(trial));
  }
  if (outcome.best == 0) {
    outcome.registered =
        RecordFailure(r, search, data,
                      base::InvalidArgument("every trial failed: " + outcome.trials.front().status.message()),
                      static_cast<int>(outcome.trials.size()));
    return outcome;
  }
  VIGIL_ASSIGN_OR_RETURN(outcome.registered, RegisterBest(r, o, data, search, outcome, std::move(best_json)));
  return outcome;
}

std::string DrawnText(const std::map<std::string, std::string>& drawn) {
  std::vector<std::string> items;
  for (const auto& [name, value] : drawn) items.push_back(name + "=" + value);
  return fmt::format("{}", fmt::join(items, " "));
}

}  // namespace vigil::lifecycle
