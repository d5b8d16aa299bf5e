#pragma once
// Forest: vigil's native evaluator for XGBoost tree ensembles. It reproduces libxgboost's
// predictions (float accumulation in tree order, same missing-value rules, same sigmoid) at a
// fraction of the cost, so it is what the scoring hot path uses.
//
// Lifecycle: built once by Load / LoadFile / FromModel, then immutable. Share it as
// std::shared_ptr<const Forest>; a model hot swap replaces the pointer, never the object.
// Thread-safety: every method is const and touches no shared mutable state, so any number of
// threads may predict concurrently on one Forest.
// Cost: prediction allocates nothing.
// - PredictBatch copies blocks of rows into a 32 KiB stack buffer in which each missing value is
//   already resolved to "goes left" / "goes right", so a node costs one compare. Trees are walked in
//   groups, several at a time and branch-free, so the walks overlap in the CPU, each group for a
//   whole block of rows so that its nodes stay in L1 cache.
// - PredictRow, on AVX2 builds and for models of at most kMaxLaneFeatures features, at most
//   kMaxLaneThresholds distinct split values per feature and depth at most kMaxLaneDepth, first
//   replaces each value by its rank among the model's split values for that feature (a byte), then
//   walks eight trees per AVX2 instruction, level by level: a node is 4 bytes (feature, split rank),
//   the row's ranks stay in registers, and no float is compared after the ranking. Other models take
//   the batch kernel on a single row (with a 16 KiB stack buffer).
// Models wider than kMaxPreparedFeatures, or with a -inf/NaN split threshold, take a slower path
// that tests for NaN at every node; results are the same.

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
  //! Widest model served by the fast path (larger ones are exact but slower).
  static constexpr size_t kMaxPreparedFeatures = 2048;
  //! Widest model served by PredictRow's vector path.
  static constexpr size_t kMaxLaneFeatures = 30;
  //! Most distinct split values per feature for PredictRow's vector path (ranks fit in a byte).
  static constexpr size_t kMaxLaneThresholds = 254;
  //! Deepest tree for PredictRow's vector path (trees are stored complete, 2^depth leaves).
  static constexpr uint32_t kMaxLaneDepth = 8;

  //! Parses a JSON or UBJSON XGBoost model (sniffed from the bytes) and flattens it.
  static base::Result<std::shared_ptr<const Forest>> Load(std::string_view bytes);
  //! Reads and loads a model file. NotFound / IoError if it cannot be read.
  static base::Result<std::shared_ptr<const Forest>> LoadFile(const std::string& path);
  //! Flattens an already parsed model.
  static base::Result<std::shared_ptr<const Forest>> FromModel(const XgbModel& model);

  //! Number of input columns a row must have (the model's num_feature).
  size_t num_features() const { return num_features_; }
  //! Number of trees.
  size_t num_trees() const { return roots_.size(); }
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
  Forest() = default;
  size_t PreparedWidth() const { return 2 * num_features_; }
  void PrepareRows(const float* rows, size_t num_rows, size_t row_stride, float* prepared) const;
  template <bool kTransform>
  void PredictBlocks(const float* rows, size_t num_rows, size_t row_stride, float* out) const;
  template <size_t kLanes>
  void PredictPrepared(const float* prepared, size_t num_rows, float* margins) const;
  float PredictMarginDirect(const float* row) const;
  void BuildLanes(const XgbModel& model);
  float PredictMarginLanes(const float* row) const;

  //! One node, 16 bytes, so a step touches one cache line. Nodes of all trees are stored tree after
  //! tree, each tree breadth-first. An internal node's children are adjacent (left = right - 1). A
  //! leaf is its own right child with threshold -inf, so walking a tree for exactly its depth needs
  //! no branch.
  struct alignas(16) Node {
    float threshold;  //!< Go left iff x < threshold; -inf for a leaf.
    uint32_t slot;    //!< Where x is read in a prepared row (see PrepareRows).
    uint32_t right;   //!< Index of the right child; the node itself for a leaf.
    float leaf;       //!< Leaf value (0 for an internal node).
  };

  //! Trees of a lane block: one vector of PredictRow's walk.
  static constexpr size_t kLanes = 8;
  //! Segments of 16 split values per feature (sorted, padded with +inf, the last two NaN).
  static constexpr size_t kCutSegments = 16;

  //! 64 bytes on a cache line, so that vector loads and rows of lane nodes never straddle two.
  template <typename T>
  struct alignas(64) Line {
    T word[64 / sizeof(T)];  //!< The line's words.
  };

  //! kLanes consecutive trees of PredictRow's vector path, stored as complete trees of one depth D:
  //! breadth-first, so node i's children are 2i+1 and 2i+2 and no child index is loaded; the 2^D
  //! leaves follow the 2^D - 1 internal nodes. A leaf above depth D becomes a node that always goes
  //! right, down to a copy of its value. Node i of lane k's tree is word i * kLanes + k of the block.
  struct LaneBlock {
    uint32_t num_trees;  //!< Trees in the block (kLanes except in the last one).
    uint32_t depth;      //!< Levels of internal nodes (D).
    uint32_t line;       //!< First line of the block in lane_lines_.
    uint32_t group;      //!< Blocks walked together from this one; 0 inside such a group.
  };

  std::vector<Node> nodes_;           //!< All nodes (see Node).
  bool lanes_ = false;                //!< PredictRow takes the vector path (see LaneBlock).
  std::vector<LaneBlock> lane_blocks_;  //!< Every tree, kLanes at a time, in boosting order.
  //! Lane blocks: internal nodes (feature and split rank, see LaneNode in forest.cc) and leaf values
  //! (float bits), each block from a new line.
  std::vector<Line<uint32_t>> lane_lines_;
  //! Per feature, 1 + kCutSegments lines: the last value of each segment, then the segments of its
  //! sorted split values. PredictRow ranks a value with them.
  std::vector<Line<float>> cut_lines_;
  std::vector<uint32_t> roots_;       //!< Root node of each tree, in boosting order.
  std::vector<uint32_t> depths_;      //!< Depth of each tree (0 for a single leaf).
  bool direct_only_ = false;          //!< Rows too wide, or thresholds the prepared rows can't serve.
  std::vector<std::string> feature_names_;  //!< From the model file, possibly empty.
  size_t num_features_ = 0;           //!< Row width the model expects.
  Objective objective_ = Objective::kRegSquaredError;  //!< Decides the output transform.
  float base_margin_ = 0.0f;          //!< Starting margin of every prediction.
};

}  // namespace vigil::models
