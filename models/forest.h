#pragma once
// Forest: vigil's native evaluator for XGBoost tree ensembles. It reproduces libxgboost's
// predictions (float accumulation in tree order, same missing-value rules, same sigmoid) at a
// fraction of the cost, so it is what the scoring hot path uses.
//
// Lifecycle: built once by Load / LoadFile / FromModel, then immutable. Share it as
// std::shared_ptr<const Forest>; a model hot swap replaces the pointer, never the object.
// Thread-safety: every method is const and touches no shared mutable state, so any number of
// threads may predict concurrently on one Forest.
// Cost: prediction allocates nothing; PredictBatch keeps a fixed block of row cursors on the stack
// and walks each tree for the whole block, so a tree's nodes stay in L1 cache while it is used.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "models/xgb_model.h"

namespace vigil::models {

//! An immutable, flattened XGBoost tree ensemble with a single output.
class Forest {
 public:
  //! Parses a JSON or UBJSON XGBoost model (sniffed from the bytes) and flattens it.
  static base::Result<std::shared_ptr<const Forest>> Load(std::string_view bytes);
  //! Reads and loads a model file. NotFound / IoError if it cannot be read.
  static base::Result<std::shared_ptr<const Forest>> LoadFile(const std::string& path);
  //! Flattens an already parsed model.
  static base::Result<std::shared_ptr<const Forest>> FromModel(const XgbModel& model);

  //! Number of input columns a row must have (the model's num_feature).
  size_t num_features() const { return num_features_; }
  //! Number of trees.
  size_t num_trees() const { return trees_.size(); }
  //! Column names stored in the model file; empty if it had none.
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  //! The objective, which decides the output transform.
  Objective objective() const { return objective_; }
  //! The margin every prediction starts from (see XgbModel::BaseMargin).
  float base_margin() const { return base_margin_; }

  //! Predicts `num_rows` rows into `out[0..num_rows)`. Row i starts at `rows + i * row_stride`
  //! (row_stride >= num_features(), in floats) and holds num_features() values; NaN is missing and
  //! takes the learned default direction. Output is a probability for the logistic objectives.
  void PredictBatch(const float* rows, size_t num_rows, size_t row_stride, float* out) const;
  //! As PredictBatch, but writes raw margins (no sigmoid).
  void PredictMarginBatch(const float* rows, size_t num_rows, size_t row_stride, float* out) const;
  //! Prediction for one row of num_features() values.
  float PredictRow(const float* row) const;
  //! Raw margin for one row.
  float PredictMarginRow(const float* row) const;
  //! Applies the objective's output transform to a margin.
  float Transform(float margin) const;

 private:
  //! One flattened node, 12 bytes. Children of an internal node are adjacent: right = left + 1.
  //! A leaf points back to itself (left = self - 1 and a threshold no value passes), so walking
  //! a tree for exactly its depth needs no branch.
  struct Node {
    float threshold;   //!< Go left iff x < threshold (or x is NaN and the default is left).
    uint32_t feature;  //!< Feature index; the top bit is set when missing values go left.
    uint32_t left;     //!< Index of the left child in nodes_.
  };
  //! Where a tree starts and how many steps reach any of its leaves.
  struct TreeRef {
    uint32_t root;   //!< Index of the root in nodes_.
    uint32_t depth;  //!< Maximum depth (0 for a single leaf).
  };

  Forest() = default;
  template <bool kTransform>
  void PredictBlocks(const float* rows, size_t num_rows, size_t row_stride, float* out) const;
  void PredictBlock(const float* rows, size_t num_rows, size_t row_stride, float* margins) const;

  std::vector<Node> nodes_;           //!< All trees' nodes, tree after tree, each in BFS order.
  std::vector<float> leaf_values_;    //!< Leaf value per node index (0 for internal nodes).
  std::vector<TreeRef> trees_;        //!< Trees in boosting order.
  std::vector<std::string> feature_names_;  //!< From the model file, possibly empty.
  size_t num_features_ = 0;           //!< Row width the model expects.
  Objective objective_ = Objective::kRegSquaredError;  //!< Decides the output transform.
  float base_margin_ = 0.0f;          //!< Starting margin of every prediction.
};

}  // namespace vigil::models
