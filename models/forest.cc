#include "models/forest.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

namespace vigil::models {
namespace {

using base::Result;

constexpr uint32_t kDefaultLeftBit = 0x80000000u;
constexpr uint32_t kFeatureMask = 0x7fffffffu;
//! Rows walked together through one tree; their cursors live in registers or on the stack.
constexpr size_t kBlockRows = 64;

//! XGBoost 2.x's common::Sigmoid (1.7 computes the same value without the clamp).
inline float Sigmoid(float x) {
  constexpr float kEps = 1e-16f;
  x = std::min(-x, 88.7f);
  return 1.0f / (std::exp(x) + 1.0f + kEps);
}

//! One step down a tree: from node `index` to the child that `row` selects. Branch-free, so the
//! walks of different rows (or trees) overlap in the CPU.
template <typename NodeT>
inline uint32_t Step(const NodeT* nodes, uint32_t index, const float* row) {
  const NodeT& n = nodes[index];
  const float x = row[n.feature & kFeatureMask];
  const uint32_t go_left =
      static_cast<uint32_t>(x < n.threshold) | (static_cast<uint32_t>(std::isnan(x)) & (n.feature >> 31));
  return n.left + 1 - go_left;
}

}  // namespace

Result<std::shared_ptr<const Forest>> Forest::Load(std::string_view bytes) {
  VIGIL_ASSIGN_OR_RETURN(XgbModel model, ParseXgbModel(bytes));
  return FromModel(model);
}

Result<std::shared_ptr<const Forest>> Forest::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot open model file '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return base::IoError("cannot read model file '" + path + "'");
  auto forest = Load(bytes);
  if (!forest.ok()) return forest.status().WithContext(path);
  return forest;
}

Result<std::shared_ptr<const Forest>> Forest::FromModel(const XgbModel& model) {
  std::shared_ptr<Forest> forest(new Forest());
  forest->num_features_ = model.num_feature;
  forest->feature_names_ = model.feature_names;
  forest->objective_ = model.objective;
  forest->base_margin_ = model.BaseMargin();
  size_t total_nodes = 0;
  for (const XgbTree& tree : model.trees) total_nodes += tree.num_nodes();
  if (total_nodes >= kFeatureMask) return base::InvalidArgument("model has too many nodes to flatten");
  forest->nodes_.reserve(total_nodes);
  forest->leaf_values_.reserve(total_nodes);
  forest->trees_.reserve(model.trees.size());

  struct Pending {
    int32_t id;      // XGBoost node id
    uint32_t slot;   // flattened index
    uint32_t depth;  // distance from the root
  };
  std::vector<Pending> queue;
  for (const XgbTree& tree : model.trees) {
    auto& nodes = forest->nodes_;
    auto& leaves = forest->leaf_values_;
    TreeRef ref{static_cast<uint32_t>(nodes.size()), 0};
    nodes.emplace_back();
    leaves.push_back(0.0f);
    queue.assign(1, Pending{0, ref.root, 0});
    // Breadth-first, so the top levels every row visits share cache lines. The parser has checked
    // that each node is reached once, so this terminates and stays within total_nodes.
    for (size_t head = 0; head < queue.size(); ++head) {
      const Pending p = queue[head];
      ref.depth = std::max(ref.depth, p.depth);
      if (tree.IsLeaf(p.id)) {
        nodes[p.slot] = Node{-std::numeric_limits<float>::infinity(), 0, p.slot - 1};
        leaves[p.slot] = tree.split_conditions[p.id];
        continue;
      }
      const auto child = static_cast<uint32_t>(nodes.size());
      nodes.resize(nodes.size() + 2);
      leaves.resize(leaves.size() + 2, 0.0f);
      uint32_t feature = tree.split_indices[p.id] | (tree.default_left[p.id] ? kDefaultLeftBit : 0u);
      nodes[p.slot] = Node{tree.split_conditions[p.id], feature, child};
      queue.push_back(Pending{tree.left_children[p.id], child, p.depth + 1});
      queue.push_back(Pending{tree.right_children[p.id], child + 1, p.depth + 1});
    }
    forest->trees_.push_back(ref);
  }
  return std::shared_ptr<const Forest>(std::move(forest));
}

float Forest::Transform(float margin) const {
  return objective_ == Objective::kRegSquaredError ? margin : Sigmoid(margin);
}

void Forest::PredictBlock(const float* rows, size_t num_rows, size_t row_stride, float* margins) const {
  const Node* nodes = nodes_.data();
  const float* leaves = leaf_values_.data();
  uint32_t cursor[kBlockRows];
  for (size_t r = 0; r < num_rows; ++r) margins[r] = base_margin_;
  for (const TreeRef& tree : trees_) {
    for (size_t r = 0; r < num_rows; ++r) cursor[r] = tree.root;
    for (uint32_t d = 0; d < tree.depth; ++d) {
      const float* row = rows;
      for (size_t r = 0; r < num_rows; ++r, row += row_stride) cursor[r] = Step(nodes, cursor[r], row);
    }
    for (size_t r = 0; r < num_rows; ++r) margins[r] += leaves[cursor[r]];
  }
}

template <bool kTransform>
void Forest::PredictBlocks(const float* rows, size_t num_rows, size_t row_stride, float* out) const {
  for (size_t begin = 0; begin < num_rows; begin += kBlockRows) {
    const size_t n = std::min(kBlockRows, num_rows - begin);
    float* block_out = out + begin;
    PredictBlock(rows + begin * row_stride, n, row_stride, block_out);
    if constexpr (kTransform) {
      if (objective_ != Objective::kRegSquaredError) {
        for (size_t r = 0; r < n; ++r) block_out[r] = Sigmoid(block_out[r]);
      }
    }
  }
}

void Forest::PredictBatch(const float* rows, size_t num_rows, size_t row_stride, float* out) const {
  PredictBlocks<true>(rows, num_rows, row_stride, out);
}

void Forest::PredictMarginBatch(const float* rows, size_t num_rows, size_t row_stride, float* out) const {
  PredictBlocks<false>(rows, num_rows, row_stride, out);
}

float Forest::PredictMarginRow(const float* row) const {
  const Node* nodes = nodes_.data();
  const float* leaves = leaf_values_.data();
  float margin = base_margin_;
  for (const TreeRef& tree : trees_) {
    uint32_t index = tree.root;
    for (uint32_t d = 0; d < tree.depth; ++d) index = Step(nodes, index, row);
    margin += leaves[index];
  }
  return margin;
}

float Forest::PredictRow(const float* row) const { return Transform(PredictMarginRow(row)); }

}  // namespace vigil::models
