#pragma once
// A thin RAII wrapper of the libxgboost C API (Debian 1.7.4). This is the only file in vigil that
// includes <xgboost/c_api.h>; every libxgboost error comes back as a Status carrying
// XGBGetLastError(). It trains models (for `vigil train` and the retraining worker) and serves as
// the test oracle for the native evaluator in models/forest.h. It is far too slow (~30 µs per
// single-row predict) for the scoring hot path: use Forest there.
//
// Thread-safety: a DMatrix or XgbBooster must not be used from several threads at once. Distinct
// objects may be used concurrently. libxgboost's last-error message is thread-local.
// Lifetime: don't keep an XgbBooster in a static object; libxgboost's own static state may be torn
// down first at exit, and freeing the booster then crashes.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "models/xgb_model.h"

namespace vigil::models {

//! An owned XGBoost DMatrix built from dense row-major floats; NaN marks a missing value.
class DMatrix {
 public:
  //! Copies `num_rows` x `num_cols` floats (row-major). `labels` is empty or has num_rows entries;
  //! `weights` likewise. The input may be freed after the call.
  static base::Result<std::unique_ptr<DMatrix>> FromDense(const float* rows, size_t num_rows, size_t num_cols,
                                                          const std::vector<float>& labels,
                                                          const std::vector<float>& weights = {});
  ~DMatrix();
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;

  //! Names the columns (num_cols names); a model trained on this matrix stores them.
  base::Status SetFeatureNames(const std::vector<std::string>& names);

  size_t num_rows() const { return num_rows_; }
  size_t num_cols() const { return num_cols_; }
  //! Names given by SetFeatureNames; empty if none.
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  //! The libxgboost DMatrixHandle.
  void* handle() const { return handle_; }

 private:
  DMatrix(void* handle, size_t num_rows, size_t num_cols)
      : handle_(handle), num_rows_(num_rows), num_cols_(num_cols) {}

  void* handle_;                            //!< Owned DMatrixHandle.
  size_t num_rows_;                         //!< Rows in the matrix.
  size_t num_cols_;                         //!< Columns in the matrix.
  std::vector<std::string> feature_names_;  //!< Column names, saved into models trained on this.
};

//! What a prediction call returns per row.
enum class PredictKind {
  kValue,   //!< The transformed prediction (probability for the logistic objectives).
  kMargin,  //!< The raw margin: base margin plus the sum of the leaves.
};

//! Training configuration. Parameters are passed to libxgboost verbatim (XGBoosterSetParam).
struct TrainOptions {
  //! XGBoost parameters, e.g. {"objective","binary:logistic"}, {"max_depth","6"}, {"eta","0.1"}.
  //! Defaults added when absent: "seed"="0", "nthread"="1", "tree_method"="hist".
  std::map<std::string, std::string> params;
  //! Boosting rounds (trees for single-output objectives). Default 100.
  int rounds = 100;
  //! Called after each round with the rounds done (a progress bar). Default none.
  std::function<void(int done)> on_round;
  //! Early stopping: once `early_stopping_metric` on the evaluation set (Train's `valid`) has not
  //! improved for this many rounds, training stops and the model keeps the rounds up to the best one.
  //! 0: none, every round is kept. Default 0.
  int early_stopping_rounds = 0;
  //! The libxgboost eval_metric early stopping watches: "aucpr" or "auc" (higher is better), or
  //! "logloss" (lower is better). Default aucpr.
  std::string early_stopping_metric = "aucpr";
};

//! What early stopping saw during a training.
struct EarlyStopping {
  std::string metric;     //!< The eval_metric watched.
  int best_round = 0;     //!< 0-based round with the best value; the model keeps rounds 0..best_round.
  double best_value = 0;  //!< The metric at that round, on the evaluation set.
  int rounds_run = 0;     //!< Rounds trained before stopping (>= best_round + 1).
};

//! An owned XGBoost Booster (libxgboost's learner).
class XgbBooster {
 public:
  //! Trains a new booster on `train` for `options.rounds` rounds, deterministically for a given
  //! "seed" and "nthread". The DMatrix must have labels. Its feature names, if any, are stored in
  //! the model. With `options.early_stopping_rounds`, `valid` (labelled, same columns) is evaluated
  //! after every round, and the booster returned keeps the rounds up to the best (libxgboost's
  //! XGBoosterSlice); InvalidArgument when `valid` is null then.
  static base::Result<std::unique_ptr<XgbBooster>> Train(const DMatrix& train, const TrainOptions& options,
                                                         const DMatrix* valid = nullptr);
  //! Loads a model saved by any XGBoost version libxgboost 1.7.4 reads (JSON, UBJSON, binary).
  //! Extra `params` (e.g. {"nthread","1"}) are set after loading.
  static base::Result<std::unique_ptr<XgbBooster>> Load(
      std::string_view bytes, const std::map<std::string, std::string>& params = {});
  ~XgbBooster();
  XgbBooster(const XgbBooster&) = delete;
  XgbBooster& operator=(const XgbBooster&) = delete;

  //! Sets one parameter, e.g. ("nthread", "1").
  base::Status SetParam(const std::string& name, const std::string& value);
  //! Serialises the model (JSON or UBJSON).
  base::Result<std::string> Save(ModelFormat format) const;
  //! Number of features the model was trained with.
  base::Result<size_t> NumFeatures() const;
  //! Boosting rounds in the model (trees, for single-output objectives).
  base::Result<int> BoostedRounds() const;
  //! What early stopping saw, for a booster Train made with it; nullopt otherwise.
  const std::optional<EarlyStopping>& early_stopping() const { return early_stopping_; }

  //! Inplace prediction on dense row-major floats (NaN = missing); writes num_rows values to `out`.
  base::Status PredictDense(const float* rows, size_t num_rows, size_t num_cols, PredictKind kind,
                            float* out) const;
  //! As above, returning a vector.
  base::Result<std::vector<float>> PredictDense(const float* rows, size_t num_rows, size_t num_cols,
                                                PredictKind kind = PredictKind::kValue) const;
  //! Prediction through a DMatrix (libxgboost's batch path).
  base::Result<std::vector<float>> Predict(const DMatrix& data, PredictKind kind = PredictKind::kValue) const;
  //! Exact TreeSHAP contributions: num_rows x (num_cols + 1) values, the last column being the bias.
  //! `approximate` selects Saabas contributions instead.
  base::Result<std::vector<float>> PredictContribs(const DMatrix& data, bool approximate = false) const;

  //! The libxgboost BoosterHandle.
  void* handle() const { return handle_; }

 private:
  explicit XgbBooster(void* handle) : handle_(handle) {}
  //! Stores `data`'s feature names, if it has any, in the model.
  base::Status SetFeatureNames(const DMatrix& data);
  //! The early-stopping metric of the model after `round` on `data`.
  base::Result<double> Evaluate(int round, const DMatrix& data) const;
  base::Result<std::vector<float>> PredictWithType(const DMatrix& data, int type) const;

  void* handle_;                                 //!< Owned BoosterHandle.
  std::optional<EarlyStopping> early_stopping_;  //!< Set by Train with early stopping.
};

}  // namespace vigil::models
