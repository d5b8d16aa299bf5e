#pragma once
// The trainer: one training run on one window of a training table (the CSV that `vigil replay`
// writes), stored as a model version (DIR/<version>/model.json and metadata.json: features, reference
// histograms, golden rows, metrics) and recorded in DIR/runs/<run id>.json (models/runs.h): trigger,
// windows, offsets, params, train and validation metrics, duration, model hash, parent (the champion
// when it started) and outcome. `vigil train` (app/train_command.h) and the retraining worker
// (lifecycle/retrainer.h) both train through TrainAndRegister.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "lifecycle/train_data.h"
#include "models/runs.h"
#include "models/xgb_booster.h"

namespace vigil::lifecycle {

//! One training run, as `vigil train` and the retraining worker (lifecycle/retrainer.h) ask for it.
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

//! InvalidArgument unless `trigger` is one a run record may name: manual, schedule, drift, command, import.
base::Status CheckTrigger(std::string_view trigger);
//! The `params` of a run record for a training with `options`: the libxgboost parameters, "rounds"
//! and, with early stopping, "early_stopping_rounds" and "early_stopping_metric".
std::map<std::string, std::string> RunParams(const models::TrainOptions& options);

}  // namespace vigil::lifecycle
