#include "models/xgb_booster.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

namespace vigil::models {
namespace {

using base::Result;
using base::Status;

//! Turns a libxgboost return code into a Status carrying its last error message.
Status Check(int rc, std::string_view call) {
  if (rc == 0) return Status::OK();
  const char* message = XGBGetLastError();
  return base::Internal("libxgboost " + std::string(call) +
                        " failed: " + (message ? message : "unknown error"));
}

#define VIGIL_XGB_CALL(call, ...) VIGIL_RETURN_IF_ERROR(Check(call(__VA_ARGS__), #call))

//! The C API's `type` field of a prediction config.
int PredictType(PredictKind kind) { return kind == PredictKind::kMargin ? 1 : 0; }

//! Copies a prediction result, checking that it has the expected number of values.
Result<std::vector<float>> CopyResult(const bst_ulong* shape, bst_ulong dim, const float* result,
                                      size_t expected) {
  bst_ulong total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
  if (total != expected) {
    return base::Internal("libxgboost returned " + std::to_string(total) + " values, expected " +
                          std::to_string(expected));
  }
  return std::vector<float>(result, result + total);
}

}  // namespace

// ---- DMatrix ------------------------------------------------------------------------------------

Result<std::unique_ptr<DMatrix>> DMatrix::FromDense(const float* rows, size_t num_rows, size_t num_cols,
                                                    const std::vector<float>& labels,
                                                    const std::vector<float>& weights) {
  if (!labels.empty() && labels.size() != num_rows) {
    return base::InvalidArgument("DMatrix: " + std::to_string(labels.size()) + " labels for " +
                                 std::to_string(num_rows) + " rows");
  }
  if (!weights.empty() && weights.size() != num_rows) {
    return base::InvalidArgument("DMatrix: " + std::to_string(weights.size()) + " weights for " +
                                 std::to_string(num_rows) + " rows");
  }
  DMatrixHandle handle = nullptr;
  VIGIL_XGB_CALL(XGDMatrixCreateFromMat_omp, rows, num_rows, num_cols,
                 std::numeric_limits<float>::quiet_NaN(), &handle, 1);
  std::unique_ptr<DMatrix> matrix(new DMatrix(handle, num_rows, num_cols));
  if (!labels.empty()) VIGIL_XGB_CALL(XGDMatrixSetFloatInfo, handle, "label", labels.data(), labels.size());
  if (!weights.empty())
    VIGIL_XGB_CALL(XGDMatrixSetFloatInfo, handle, "weight", weights.data(), weights.size());
  return matrix;
}

Status DMatrix::SetFeatureNames(const std::vector<std::string>& names) {
  if (names.size() != num_cols_) {
    return base::InvalidArgument("DMatrix: " + std::to_string(names.size()) + " feature names for " +
                                 std::to_string(num_cols_) + " columns");
  }
  std::vector<const char*> c_names;
  c_names.reserve(names.size());
  for (const std::string& name : names) c_names.push_back(name.c_str());
  VIGIL_XGB_CALL(XGDMatrixSetStrFeatureInfo, handle_, "feature_name", c_names.data(), c_names.size());
  feature_names_ = names;
  return Status::OK();
}

DMatrix::~DMatrix() {
  if (handle_ != nullptr) XGDMatrixFree(handle_);
}

// ---- XgbBooster ---------------------------------------------------------------------------------

XgbBooster::~XgbBooster() {
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

Result<std::unique_ptr<XgbBooster>> XgbBooster::Train(const DMatrix& train, const TrainOptions& options,
                                                      const DMatrix* valid) {
  if (options.rounds < 0) return base::InvalidArgument("XgbBooster::Train: rounds must be >= 0");
  const bool early = options.early_stopping_rounds > 0;
  if (early && valid == nullptr)
    return base::InvalidArgument("XgbBooster::Train: early stopping needs an evaluation set");
  // Matrices given at creation are cached: evaluating `valid` each round only adds the new trees.
  DMatrixHandle dmats[] = {train.handle(), early ? valid->handle() : nullptr};
  BoosterHandle handle = nullptr;
  VIGIL_XGB_CALL(XGBoosterCreate, dmats, early ? 2 : 1, &handle);
  std::unique_ptr<XgbBooster> booster(new XgbBooster(handle));
  std::map<std::string, std::string> params = options.params;
  params.try_emplace("seed", "0");
  params.try_emplace("nthread", "1");
  params.try_emplace("tree_method", "hist");
  if (early) params["eval_metric"] = options.early_stopping_metric;
  for (const auto& [name, value] : params) VIGIL_RETURN_IF_ERROR(booster->SetParam(name, value));
  VIGIL_RETURN_IF_ERROR(booster->SetFeatureNames(train));
  EarlyStopping stop{options.early_stopping_metric, 0, 0, 0};
  const bool lower_is_better = options.early_stopping_metric == "logloss";
  for (int round = 0; round < options.rounds; ++round) {
    VIGIL_XGB_CALL(XGBoosterUpdateOneIter, handle, round, train.handle());
    if (options.on_round) options.on_round(round + 1);
    stop.rounds_run = round + 1;
    if (!early) continue;
    VIGIL_ASSIGN_OR_RETURN(const double value, booster->Evaluate(round, *valid));
    const bool better = lower_is_better ? value < stop.best_value : value > stop.best_value;
    if (round == 0 || better) {
      stop.best_round = round;
      stop.best_value = value;
    } else if (round - stop.best_round >= options.early_stopping_rounds) {
      break;
    }
  }
  if (!early) return booster;
  if (stop.best_round + 1 < stop.rounds_run) {
    BoosterHandle sliced = nullptr;
    VIGIL_XGB_CALL(XGBoosterSlice, handle, 0, stop.best_round + 1, 1, &sliced);
    booster.reset(new XgbBooster(sliced));
    VIGIL_RETURN_IF_ERROR(booster->SetFeatureNames(train));
  }
  booster->early_stopping_ = stop;
  return booster;
}

Status XgbBooster::SetFeatureNames(const DMatrix& data) {
  if (data.feature_names().empty()) return Status::OK();
  std::vector<const char*> c_names;
  for (const std::string& name : data.feature_names()) c_names.push_back(name.c_str());
  VIGIL_XGB_CALL(XGBoosterSetStrFeatureInfo, handle_, "feature_name", c_names.data(), c_names.size());
  return Status::OK();
}

Result<double> XgbBooster::Evaluate(int round, const DMatrix& data) const {
  DMatrixHandle dmats[] = {data.handle()};
  const char* names[] = {"valid"};
  const char* text = nullptr;
  VIGIL_XGB_CALL(XGBoosterEvalOneIter, handle_, round, dmats, names, 1, &text);
  // "[3]\tvalid-aucpr:0.734123": the value follows the last ':'.
  const std::string_view result = text == nullptr ? "" : text;
  const size_t colon = result.rfind(':');
  double value = 0;
  if (colon != std::string_view::npos) {
    const std::string_view digits = result.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && end == digits.data() + digits.size()) return value;
  }
  return base::Internal("libxgboost evaluation returned '" + std::string(result) + "'");
}

Result<std::unique_ptr<XgbBooster>> XgbBooster::Load(std::string_view bytes,
                                                     const std::map<std::string, std::string>& params) {
  BoosterHandle handle = nullptr;
  VIGIL_XGB_CALL(XGBoosterCreate, nullptr, 0, &handle);
  std::unique_ptr<XgbBooster> booster(new XgbBooster(handle));
  VIGIL_XGB_CALL(XGBoosterLoadModelFromBuffer, handle, bytes.data(), bytes.size());
  for (const auto& [name, value] : params) VIGIL_RETURN_IF_ERROR(booster->SetParam(name, value));
  return booster;
}

Status XgbBooster::SetParam(const std::string& name, const std::string& value) {
  VIGIL_XGB_CALL(XGBoosterSetParam, handle_, name.c_str(), value.c_str());
  return Status::OK();
}

Result<std::string> XgbBooster::Save(ModelFormat format) const {
  const char* config = format == ModelFormat::kJson ? R"({"format": "json"})" : R"({"format": "ubj"})";
  bst_ulong len = 0;
  const char* data = nullptr;
  VIGIL_XGB_CALL(XGBoosterSaveModelToBuffer, handle_, config, &len, &data);
  return std::string(data, len);
}

Result<int> XgbBooster::BoostedRounds() const {
  int rounds = 0;
  VIGIL_XGB_CALL(XGBoosterBoostedRounds, handle_, &rounds);
  return rounds;
}

Result<size_t> XgbBooster::NumFeatures() const {
  bst_ulong n = 0;
  VIGIL_XGB_CALL(XGBoosterGetNumFeature, handle_, &n);
  return static_cast<size_t>(n);
}

Status XgbBooster::PredictDense(const float* rows, size_t num_rows, size_t num_cols, PredictKind kind,
                                float* out) const {
  char array[256];
  std::snprintf(array, sizeof(array),
                R"({"data": [%llu, true], "shape": [%zu, %zu], "typestr": "<f4", "version": 3})",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows)), num_rows, num_cols);
  // libxgboost 1.7.4 needs "cache_id" and "missing" here, else "Invalid cast, from Null to Integer".
  char config[256];
  std::snprintf(config, sizeof(config),
                R"({"type": %d, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
                R"("strict_shape": false, "cache_id": 0, "missing": NaN})",
                PredictType(kind));
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  VIGIL_XGB_CALL(XGBoosterPredictFromDense, handle_, array, config, nullptr, &shape, &dim, &result);
  bst_ulong total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
  if (total != num_rows) {
    return base::Internal("libxgboost returned " + std::to_string(total) + " predictions for " +
                          std::to_string(num_rows) + " rows");
  }
  std::copy(result, result + total, out);
  return Status::OK();
}

Result<std::vector<float>> XgbBooster::PredictDense(const float* rows, size_t num_rows, size_t num_cols,
                                                    PredictKind kind) const {
  std::vector<float> out(num_rows);
  VIGIL_RETURN_IF_ERROR(PredictDense(rows, num_rows, num_cols, kind, out.data()));
  return out;
}

Result<std::vector<float>> XgbBooster::PredictWithType(const DMatrix& data, int type) const {
  char config[200];
  std::snprintf(
      config, sizeof(config),
      R"({"type": %d, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
      type);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  VIGIL_XGB_CALL(XGBoosterPredictFromDMatrix, handle_, data.handle(), config, &shape, &dim, &result);
  size_t per_row = (type == 2 || type == 3) ? data.num_cols() + 1 : 1;
  return CopyResult(shape, dim, result, data.num_rows() * per_row);
}

Result<std::vector<float>> XgbBooster::Predict(const DMatrix& data, PredictKind kind) const {
  return PredictWithType(data, PredictType(kind));
}

Result<std::vector<float>> XgbBooster::PredictContribs(const DMatrix& data, bool approximate) const {
  return PredictWithType(data, approximate ? 3 : 2);
}

}  // namespace vigil::models
