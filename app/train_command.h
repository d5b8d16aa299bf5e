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
#include "base/status.h"
#include "config/pipeline_config.h"
#include "models/runs.h"
#include "models/xgb_booster.h"

namespace vigil::app {

//! Table column with the event time (epoch ms).
inline constexpr std::string_view kTimeColumn = "TX_TIME_MS";
//! Table column with the card.
inline constexpr std::string_view kCustomerColumn = "CUSTOMER_ID";
//! Table column with the transaction id.
inline constexpr std::string_view kTransactionColumn = "TRANSACTION_ID";
//! Table column with the final fraud label (0/1).
inline constexpr std::string_view kLabelColumn = "LABEL";
//! The book's first training day (chapter 3).
inline constexpr std::string_view kBookTrainStart = "2018-07-25";

//! Model hyper-parameters shared by `vigil train` and `vigil evaluate --prequential`.
struct ModelFlags {
  int rounds = 100;                 //!< Boosting rounds (trees). Default 100, as XGBoost's.
  std::vector<std::string> params;  //!< Extra libxgboost parameters, "key=value"; override the defaults.
  int seed = 0;                     //!< libxgboost "seed". Default 0.
  int threads = 1;                  //!< libxgboost "nthread". Default 1.
};

//! Options of `vigil train`.
struct TrainCommandOptions {
  std::string pipeline;    //!< Pipeline YAML; its `features:` are the model inputs.
  std::string table;       //!< Training table CSV.
  std::string models_dir;  //!< Model registry directory.
  std::string train_start = std::string(kBookTrainStart);  //!< First training day (UTC), YYYY-MM-DD.
  int train_days = 7;                                      //!< Training window length, days. Default 7.
  //! Validation window: the days right after the training window, scored with the trained model
  //! for the run record's validation metrics. 0 = no validation. Default 7 (the Handbook's test
  //! length). Skipped, with a note in the record, when those days hold no rows or a single class.
  int valid_days = 7;
  ModelFlags model;     //!< Hyper-parameters.
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
  int valid_days = 7;                //!< Validation window right after it, days; 0 = none. Default 7.
  ModelFlags model;                  //!< Hyper-parameters.
  std::string version;               //!< Version name; empty = v<N+1>.
  std::string trigger = "manual";    //!< manual, schedule, drift or command.
  std::vector<std::string> offsets;  //!< Kafka offset ranges behind the table, "TOPIC:PARTITION:FIRST-END".
  //! A run id already reserved with models::NewRunId (its record says "running"); empty = reserve one.
  std::string run_id;
  //! An XGBoost model file (JSON or UBJSON, trained anywhere) to register instead of training: its
  //! features are checked against the pipeline's, and the window's rows give its metrics, reference
  //! histograms and golden rows. Default empty: train.
  std::string import_model;
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

//! Parses "YYYY-MM-DD" into the epoch ms of that day's UTC midnight. InvalidArgument otherwise.
base::Result<int64_t> ParseDateMs(std::string_view date);

//! Reads a training table: `features` as doubles, TX_TIME_MS, CUSTOMER_ID, TRANSACTION_ID and LABEL
//! as integers, and the double and text columns of `extra` that are not among those. NotFound, naming
//! the pipeline, if the table lacks a feature or one of those columns.
base::Result<Table> ReadTrainingTable(const std::string& path, const std::vector<std::string>& features,
                                      const TableReadOptions& extra = {});

//! Indices of the rows whose TX_TIME_MS is in [start_ms, end_ms), in table order.
std::vector<size_t> RowsInWindow(std::span<const int64_t> times_ms, int64_t start_ms, int64_t end_ms);

//! The libxgboost parameters: the XGBoost defaults of the book (binary:logistic, max_depth 6,
//! eta 0.3, exact tree method as XGBoost picks for small data), then `flags`. InvalidArgument for a
//! --param without '='.
base::Result<models::TrainOptions> MakeTrainOptions(const ModelFlags& flags);

//! A model trained on some rows of a table.
struct TrainedModel {
  std::unique_ptr<models::XgbBooster> booster;  //!< The libxgboost learner.
  int64_t rows = 0;                             //!< Training rows.
  int64_t frauds = 0;                           //!< Frauds among them.
};

//! Trains on `rows` of `table` with `features` as inputs and LABEL as target. InvalidArgument if
//! the rows are empty or hold a single class.
base::Result<TrainedModel> TrainOnRows(const Table& table, const std::vector<std::string>& features,
                                       std::span<const size_t> rows, const models::TrainOptions& options);

//! Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace vigil::app
