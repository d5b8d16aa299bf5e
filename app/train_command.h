#pragma once
// `vigil train`: fits an XGBoost model on one time window of a training table (the CSV that
// `vigil replay` writes) and stores it as a model version: DIR/<version>/model.json and
// DIR/<version>/metadata.json. Every run, failed ones included, is recorded in DIR/runs/<run id>.json
// (models/runs.h): trigger, windows, offsets, params, train and validation metrics, duration, model
// hash, parent (the champion when it started) and outcome. The helpers below are shared with
// `vigil evaluate`.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "lifecycle/table.h"
#include "lifecycle/train_data.h"
#include "lifecycle/train_search.h"
#include "lifecycle/trainer.h"
#include "models/runs.h"
#include "models/xgb_booster.h"

namespace vigil::app {

//! Options of `vigil train`. An option left unset takes the pipeline's `train:` value, else its default.
struct TrainCommandOptions {
  std::string pipeline;    //!< Pipeline YAML; its `features:` are the model inputs, `train:` the defaults.
  std::string table;       //!< Training table CSV.
  std::string models_dir;  //!< Model registry directory.
  std::string train_start =
      std::string(lifecycle::kBookTrainStart);  //!< First training day (UTC), YYYY-MM-DD.
  std::optional<int> train_days;  //!< Training window length, days. Default train.train_days (7).
  //! Validation window: the days `delay_days` after the training window, scored with the trained model
  //! for the run record's validation metrics. 0 = no validation. Default train.valid_days (7). Skipped,
  //! with a note in the record, when those days hold no rows or a single class.
  std::optional<int> valid_days;
  //! Days between the training and validation windows. Default train.delay_days, else 0 (7 with a search).
  std::optional<int> delay_days;
  std::optional<int> rounds;                 //!< Boosting rounds. Default train.rounds (100).
  std::optional<int> early_stopping_rounds;  //!< Default train.early_stopping_rounds (0: none).
  std::optional<int> search;                 //!< Random-search trials. Default train.search.trials (0: none).
  std::optional<std::string> metric;         //!< What picks a search's best. Default train.search.metric.
  std::optional<std::string>
      search_budget;            //!< A search's wall-time budget ("10m"). Default train.search.budget.
  lifecycle::ModelFlags model;  //!< Hyper-parameters: --param (over train.params), --seed, --threads.
  std::string version;          //!< Version name; empty = v<N+1>.
  //! What started the run, as recorded in `DIR/runs/`: manual, schedule, drift or command. Default manual.
  std::string trigger = "manual";
  //! Kafka offset ranges the table was replayed from, "TOPIC:PARTITION:FIRST-END" each; recorded in the
  //! run. Default none (a table from a file).
  std::vector<std::string> offsets;
  //! Promote the new version to champion once trained and recorded (as `vigil models promote`).
  //! Default off: a version is registered, and serves only once promoted.
  bool promote = false;
  bool selected = false;  //!< Set when the subcommand was given.
};

//! Runs `vigil train`: reserves a run id in `models_dir/runs/`, trains, stores the version, and
//! rewrites the run record with its outcome ("registered", or "failed: <reason>"). Prints a summary;
//! returns 0, 1 (runtime failure, or the record could not be written) or 2 (bad options or inputs).
int TrainCommand(const TrainCommandOptions& options);
void AddTrainCommand(CLI::App& app, TrainCommandOptions& options);
//! Adds --rounds, --param, --seed and --threads to `cmd`.
void AddModelFlags(CLI::App& cmd, lifecycle::ModelFlags& flags);

//! The training `o` asks for, given its pipeline's `train:` section (flags win): windows, rounds,
//! parameters (train.params, then --param), early stopping. The pipeline file, table and trigger are
//! copied; the train start is left as text.
lifecycle::TrainRequest ResolveTrainRequest(const TrainCommandOptions& o, const config::TrainSpec& train);
//! Prints what `vigil train` did (or why it failed) and, with --promote, promotes the version. Returns
//! TrainCommand's exit code.
int FinishTraining(const TrainCommandOptions& o, const base::Result<lifecycle::TrainOutcome>& result);

//! The search `o` asks for: --search, --metric and --search-budget over `search` (train.search), the
//! space of train.search or the default one, --seed. InvalidArgument for a bad budget.
base::Result<lifecycle::SearchOptions> ResolveSearchOptions(const TrainCommandOptions& o,
                                                            const config::SearchSpec& search);
//! `vigil train --search N`: runs SearchAndRegister with a line per trial, then as TrainCommand.
int SearchCommand(const TrainCommandOptions& o, const lifecycle::TrainRequest& request,
                  const lifecycle::SearchOptions& search);

}  // namespace vigil::app
