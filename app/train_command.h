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

#include "app/table.h"
#include "app/train_data.h"
#include "base/status.h"
#include "config/pipeline_config.h"
#include "models/runs.h"
#include "models/xgb_booster.h"

namespace vigil::app {

//! Options of `vigil train`. An option left unset takes the pipeline's `train:` value, else its default.
struct TrainCommandOptions {
  std::string pipeline;    //!< Pipeline YAML; its `features:` are the model inputs, `train:` the defaults.
  std::string table;       //!< Training table CSV.
  std::string models_dir;  //!< Model registry directory.
  std::string train_start = std::string(kBookTrainStart);  //!< First training day (UTC), YYYY-MM-DD.
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
      search_budget;    //!< A search's wall-time budget ("10m"). Default train.search.budget.
  ModelFlags model;     //!< Hyper-parameters: --param (over train.params), --seed, --threads.
  std::string version;  //!< Version name; empty = v<N+1>.
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

//! One training run, as `vigil train` and the retraining worker (app/retrainer.h) ask for it.
struct TrainRequest {
  //! Pipeline YAML path: read inside the run when `pipeline` is empty (so a bad file is a recorded,
  //! failed run), and named in errors.
  std::string pipeline_file;
  //! The pipeline, already loaded; its `name:` and `features:` are recorded and used. Default: read
  //! `pipeline_file`.
  std::optional<config::PipelineSpec> pipeline;
  std::string table;       //!< Training table CSV, read whole.
  std::string input;       //!< Recorded as the run's input and the version's table. Default: `table`.
  std::string models_dir;  //!< Model registry directory (created if needed).
  //! First training day (UTC), YYYY-MM-DD, parsed inside the run; when empty, `train_start_ms` is used.
  std::string train_start;
  int64_t train_start_ms = 0;        //!< Training window start, epoch ms, when `train_start` is empty.
  int train_days = 7;                //!< Training window length, days. Default 7.
  int delay_days = 0;                //!< Days between the training and validation windows. Default 0.
  int valid_days = 7;                //!< Validation window after the delay, days; 0 = none. Default 7.
  ModelFlags model;                  //!< Hyper-parameters.
  std::string version;               //!< Version name; empty = v<N+1>.
  std::string trigger = "manual";    //!< manual, schedule, drift or command.
  std::vector<std::string> offsets;  //!< Kafka offset ranges behind the table, "TOPIC:PARTITION:FIRST-END".
  //! A run id reserved with models::Registry::NewRunId (its record says "running"); empty = reserve one.
  std::string run_id;
  //! An XGBoost model file (JSON or UBJSON, trained anywhere) to register instead of training: its
  //! features are checked against the pipeline's, and the window's rows give its metrics, reference
  //! histograms and golden rows. Default empty: train.
  std::string import_model;
  //! A model trained already on this request's windows with its `model` parameters (a search's best),
  //! as XGBoost JSON: registered instead of training again. Default empty: train.
  std::string model_bytes;
  models::SearchRef search;  //!< The search the run belongs to, recorded. Default none.
  //! Called after each boosting round with the rounds done and the total (a progress bar). Default none.
  std::function<void(int done, int total)> on_round;
};

//! What a TrainAndRegister run did.
struct TrainOutcome {
  models::RunRecord run;              //!< The run record as written (outcome "registered" or "failed: ...").
  base::Status trained;               //!< OK when the version was stored; else why not.
  base::Status recorded;              //!< OK when the run record was written.
  std::vector<std::string> features;  //!< The model's inputs (empty if the pipeline could not be read).
};

//! Trains on one window of a table and stores the version (not promoted), with parent = the champion
//! when it started, and records the run in `models_dir/runs/`. Errors (InvalidArgument for an unknown
//! trigger, IoError when the registry or the run id cannot be made) mean nothing was recorded;
//! otherwise the outcome says whether training and recording succeeded. Blocking: reads the table
//! whole and trains on the calling thread (libxgboost `nthread` threads). Thread-safe: a function of
//! the files; concurrent runs get distinct run ids, and a version name taken meanwhile fails the run.
base::Result<TrainOutcome> TrainAndRegister(const TrainRequest& request);

//! Runs `vigil train`: reserves a run id in `models_dir/runs/`, trains, stores the version, and
//! rewrites the run record with its outcome ("registered", or "failed: <reason>"). Prints a summary;
//! returns 0, 1 (runtime failure, or the record could not be written) or 2 (bad options or inputs).
int TrainCommand(const TrainCommandOptions& options);
void AddTrainCommand(CLI::App& app, TrainCommandOptions& options);
//! Adds --rounds, --param, --seed and --threads to `cmd`.
void AddModelFlags(CLI::App& cmd, ModelFlags& flags);

//! The training `o` asks for, given its pipeline's `train:` section (flags win): windows, rounds,
//! parameters (train.params, then --param), early stopping. The pipeline file, table and trigger are
//! copied; the train start is left as text.
TrainRequest ResolveTrainRequest(const TrainCommandOptions& o, const config::TrainSpec& train);
//! Prints what `vigil train` did (or why it failed) and, with --promote, promotes the version. Returns
//! TrainCommand's exit code.
int FinishTraining(const TrainCommandOptions& o, const base::Result<TrainOutcome>& result);

//! InvalidArgument unless `trigger` is one a run record may name: manual, schedule, drift, command, import.
base::Status CheckTrigger(std::string_view trigger);
//! The `params` of a run record for a training with `options`: the libxgboost parameters, "rounds"
//! and, with early stopping, "early_stopping_rounds" and "early_stopping_metric".
std::map<std::string, std::string> RunParams(const models::TrainOptions& options);

}  // namespace vigil::app
