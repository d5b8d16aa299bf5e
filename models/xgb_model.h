#pragma once
// The XGBoost model file as plain data. ParseXgbModel reads the JSON and UBJSON model formats
// written by XGBoost 1.6–3.x (Python `save_model("m.json" | "m.ubj")`, C API
// XGBoosterSaveModelToBuffer) into XgbModel; `Forest` (models/forest.h) turns that into an evaluator.
//
// Supported: the `gbtree` booster with one output (objectives binary:logistic, reg:logistic,
// reg:squarederror), numerical splits, missing values with learned default directions, the scalar
// `base_score` of 1.x/2.x and the array string `"[4.6E-1]"` of 3.1+.
// Refused with InvalidArgument: other objectives, multi-class and multi-target models, vector
// leaves, categorical splits, the dart and gblinear boosters.
// Refused with Corruption: truncated or malformed bytes, inconsistent trees (bad child indices,
// cycles, split features beyond num_feature). The parser never crashes on hostile input.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::models {

//! The learning objectives the native evaluator reproduces.
enum class Objective {
  kBinaryLogistic,   //!< "binary:logistic": probability = sigmoid(margin).
  kRegLogistic,      //!< "reg:logistic": same transform as binary:logistic.
  kRegSquaredError,  //!< "reg:squarederror": prediction = margin.
};

//! The XGBoost name of an objective, e.g. "binary:logistic".
std::string_view ObjectiveName(Objective objective);

//! The on-disk encoding of a model file.
enum class ModelFormat { kJson, kUbjson };

//! One regression tree, node arrays indexed by XGBoost node id (0 = root). All arrays have the
//! same length. Validated by the parser: children are in range, every node is reached at most once
//! from the root, internal nodes split on a feature below XgbModel::num_feature.
struct XgbTree {
  std::vector<int32_t> left_children;   //!< Left child id, -1 for a leaf.
  std::vector<int32_t> right_children;  //!< Right child id, -1 for a leaf.
  std::vector<uint32_t> split_indices;  //!< Feature index an internal node tests.
  std::vector<float> split_conditions;  //!< Internal: go left iff x < threshold. Leaf: leaf value.
  std::vector<uint8_t> default_left;    //!< 1 if a missing value (NaN) goes left.
  std::vector<float> base_weights;      //!< Node weight before shrinkage (informational).
  std::vector<float> sum_hessian;       //!< Cover (sum of hessians) per node; empty if the file has none.

  size_t num_nodes() const { return left_children.size(); }
  bool IsLeaf(size_t node) const { return left_children[node] < 0; }
};

//! A parsed, validated XGBoost tree ensemble with a single output.
struct XgbModel {
  std::array<int, 3> version{0, 0, 0};   //!< XGBoost version that wrote the file (0s if absent).
  Objective objective = Objective::kRegSquaredError;  //!< The learning objective.
  float base_score = 0.5f;               //!< As stored: a probability for the logistic objectives.
  uint32_t num_feature = 0;              //!< Number of input columns the model expects.
  std::vector<std::string> feature_names;  //!< Column names if the file has them, else empty.
  std::vector<XgbTree> trees;            //!< Trees in boosting order; predictions sum them in order.

  //! The margin every prediction starts from: logit(base_score) for the logistic objectives,
  //! base_score otherwise. Computed in float exactly as XGBoost does.
  float BaseMargin() const;
};

//! Parses a model; the format is sniffed (a first non-blank '{' followed by '"' means JSON).
base::Result<XgbModel> ParseXgbModel(std::string_view bytes);
//! Parses a model in the given format.
base::Result<XgbModel> ParseXgbModel(std::string_view bytes, ModelFormat format);
//! The format ParseXgbModel would assume for `bytes`.
ModelFormat SniffModelFormat(std::string_view bytes);

}  // namespace vigil::models
