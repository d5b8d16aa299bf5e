#pragma once
// Training tables and the models fitted on them, as `vigil train`, its search (lifecycle/train_search.h),
// `vigil evaluate` and the retraining worker share them: reading a table, selecting a time window,
// libxgboost's parameters, training on rows, and the metrics a run records for a window.
// Every function is a function of its arguments: thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "lifecycle/table.h"
#include "models/forest.h"
#include "models/xgb_booster.h"

namespace vigil::lifecycle {

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
//! The k of the card precision@k that run records hold (the Handbook's).
inline constexpr int64_t kRunCardPrecisionK = 100;

//! Model hyper-parameters shared by `vigil train` and `vigil evaluate --prequential`.
struct ModelFlags {
  int rounds = 100;                 //!< Boosting rounds (trees). Default 100, as XGBoost's.
  std::vector<std::string> params;  //!< Extra libxgboost parameters, "key=value"; later ones win.
  int seed = 0;                     //!< libxgboost "seed" (and a search's sampler). Default 0.
  int threads = 1;                  //!< libxgboost "nthread". Default 1.
  //! Early stopping on the validation window (models::TrainOptions); 0: none. Default 0.
  int early_stopping_rounds = 0;
  std::string early_stopping_metric = "aucpr";  //!< Its libxgboost eval_metric. Default aucpr.
};

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
//! --param without '=', or rounds below 1.
base::Result<models::TrainOptions> MakeTrainOptions(const ModelFlags& flags);

//! A model trained on some rows of a table.
struct TrainedModel {
  std::unique_ptr<models::XgbBooster> booster;  //!< The libxgboost learner.
  int64_t rows = 0;                             //!< Training rows.
  int64_t frauds = 0;                           //!< Frauds among them.
};

//! Trains on `rows` of `table` with `features` as inputs and LABEL as target; with early stopping
//! (`options.early_stopping_rounds`), on the `valid_rows`. InvalidArgument if the rows are empty,
//! unlabelled or hold a single class.
base::Result<TrainedModel> TrainOnRows(const Table& table, const std::vector<std::string>& features,
                                       std::span<const size_t> rows, const models::TrainOptions& options,
                                       std::span<const size_t> valid_rows = {});

//! InvalidArgument when a row of the `what` window has no label yet (Table::kMissing).
base::Status CheckLabeled(std::span<const int64_t> labels, std::span<const size_t> rows,
                          std::string_view what);

//! What a run records of a model on a window's `rows` (labelled, both classes): "auc_roc",
//! "average_precision", "card_precision" (card precision@kRunCardPrecisionK, days of TX_TIME_MS in UTC),
//! "rows" and "frauds". `what` names the window in errors.
base::Result<std::map<std::string, double>> WindowMetrics(const Table& table, const models::Forest& forest,
                                                          const std::vector<std::string>& features,
                                                          std::span<const size_t> rows,
                                                          std::string_view what);

//! Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace vigil::lifecycle
