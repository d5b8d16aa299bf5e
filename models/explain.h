#pragma once
// Explainer: per-feature contributions of one prediction, for reason codes on flagged events and
// the HTTP API. Two modes, both reproducing libxgboost's pred_contribs output:
//   - kExact: TreeSHAP (Lundberg et al.), libxgboost's `pred_contribs=True`. Cost grows with
//     depth², roughly 10-50x a prediction.
//   - kApproximate: Saabas attributions (the change of the expected value along the decision path),
//     libxgboost's `approx_contribs=True`. About the cost of a prediction.
// Contributions are in margin units; together with the bias they sum to the model's margin.
//
// Lifecycle: built once by Make, then immutable; share as std::shared_ptr<const Explainer>.
// Thread-safety: all methods are const; any number of threads may explain concurrently.
// Cost: each call allocates scratch space (O(num_features + depth²)); meant for flagged events and
// on-demand requests, not for every scored event.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "models/xgb_model.h"

namespace vigil::models {

//! How contributions are computed.
enum class ExplainMode {
  kExact,        //!< TreeSHAP.
  kApproximate,  //!< Saabas.
};

//! One feature's share of a prediction.
struct Contribution {
  uint32_t feature = 0;  //!< Feature index (see Forest::feature_names()).
  float value = 0.0f;    //!< Contribution to the margin; positive pushes the score up.
};

//! Computes feature contributions for an XGBoost tree ensemble.
class Explainer {
 public:
  //! Builds an explainer. FailedPrecondition if the model has no node covers (sum_hessian).
  static base::Result<std::shared_ptr<const Explainer>> Make(const XgbModel& model);

  //! Number of features; a row has this many values (NaN = missing).
  size_t num_features() const { return num_features_; }

  //! Writes num_features() + 1 values to `out`: one per feature, then the bias (the base margin
  //! plus each tree's expected value).
  void Contributions(const float* row, ExplainMode mode, float* out) const;
  //! The `k` features with the largest absolute contribution, largest first (ties: lower index).
  std::vector<Contribution> TopK(const float* row, size_t k, ExplainMode mode) const;

 private:
  //! One node of a tree, with what TreeSHAP needs.
  struct Node {
    int32_t left;        //!< Left child, -1 for a leaf.
    int32_t right;       //!< Right child, -1 for a leaf.
    uint32_t feature;    //!< Split feature.
    float threshold;     //!< Go left iff x < threshold.
    bool default_left;   //!< Missing values go left.
    float value;         //!< Leaf value (leaves only).
    float cover;         //!< Sum of hessians reaching the node.
    float mean;          //!< Cover-weighted mean of the leaf values below the node.
  };
  //! One tree: nodes indexed as in the model file, node 0 the root.
  struct Tree {
    std::vector<Node> nodes;  //!< Nodes by XGBoost id.
    uint32_t depth = 0;       //!< Maximum depth.
  };
  struct PathElement;

  Explainer() = default;
  int32_t Next(const Node& node, const float* row) const;
  void TreeShap(const Tree& tree, const float* row, float* phi, int32_t node_index, unsigned unique_depth,
                PathElement* parent_path, float parent_zero_fraction, float parent_one_fraction,
                int parent_feature) const;
  void Saabas(const Tree& tree, const float* row, float* phi) const;

  std::vector<Tree> trees_;       //!< Trees in boosting order.
  size_t num_features_ = 0;       //!< Row width.
  float base_margin_ = 0.0f;      //!< Added to the bias.
  uint32_t max_depth_ = 0;        //!< Deepest tree, sizes the path scratch space.
};

}  // namespace vigil::models
