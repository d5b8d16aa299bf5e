#include "models/forest.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <utility>

namespace vigil::models {
namespace {

using base::Result;

constexpr float kInf = std::numeric_limits<float>::infinity();
//! Rows prepared and walked together; bounded by the stack buffer below.
constexpr size_t kBlockRows = 64;
//! Floats in the stack buffer of prepared rows (32 KiB).
constexpr size_t kPreparedFloats = 8192;
//! Trees walked together for one row: independent walks the CPU overlaps. A batch keeps them in
//! registers; a single row walks more at once, as its nodes come from L2 rather than L1 cache.
constexpr size_t kBatchLanes = 8;
constexpr size_t kRowLanes = 16;
//! Budget for the top tree levels laid out together (about half of a typical L1 data cache).
constexpr size_t kHotBytes = 24 * 1024;

//! XGBoost 2.x's common::Sigmoid (1.7 computes the same value without the clamp).
inline float Sigmoid(float x) {
  constexpr float kEps = 1e-16f;
  x = std::min(-x, 88.7f);
  return 1.0f / (std::exp(x) + 1.0f + kEps);
}

//! One step down a tree: from node `at` to the child that `row` selects. `row` is prepared, so a
//! missing value already compares the way its default direction needs.
template <typename NodeT>
inline size_t Step(const NodeT* nodes, size_t at, const float* row) {
  const NodeT& n = nodes[at];
  const float x = row[n.slot];
  uint32_t right = n.right;
#if defined(__x86_64__) && defined(__GNUC__)
  // right - (x < threshold) as compare + subtract-borrow: compilers emit setcc, movzx, sub instead,
  // and this loop is bound by instruction throughput. Prepared rows hold no NaN (the unordered
  // case would also set the borrow), and direct_only_ models never come here.
#if defined(__AVX__)
  asm("vucomiss %[t], %[x]\n\tsbbl $0, %[r]" : [r] "+r"(right) : [x] "x"(x), [t] "m"(n.threshold) : "cc");
#else
  asm("ucomiss %[t], %[x]\n\tsbbl $0, %[r]" : [r] "+r"(right) : [x] "x"(x), [t] "m"(n.threshold) : "cc");
#endif
  return right;
#else
  return right - static_cast<uint32_t>(x < n.threshold);
#endif
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
  const uint32_t num_features = model.num_feature;
  forest->num_features_ = num_features;
  forest->feature_names_ = model.feature_names;
  forest->objective_ = model.objective;
  forest->base_margin_ = model.BaseMargin();
  forest->direct_only_ = num_features > kMaxPreparedFeatures;
  size_t total_nodes = 0;
  for (const XgbTree& tree : model.trees) total_nodes += tree.num_nodes();
  if (total_nodes >= (size_t{1} << 31)) return base::InvalidArgument("model has too many nodes to flatten");
  Forest& f = *forest;

  // Levels [0, hot_depth) of every tree go first, together: every row visits them, and kept
  // within kHotBytes they stay in L1 cache between single-row calls. Deeper levels follow, tree
  // after tree. Within each part a tree is breadth-first, so siblings are adjacent.
  std::vector<size_t> level_counts;
  std::vector<std::pair<int32_t, uint32_t>> stack;
  for (const XgbTree& tree : model.trees) {
    stack.assign(1, {0, 0});
    while (!stack.empty()) {
      auto [id, depth] = stack.back();
      stack.pop_back();
      if (level_counts.size() <= depth) level_counts.resize(depth + 1, 0);
      ++level_counts[depth];
      if (tree.IsLeaf(id)) continue;
      stack.push_back({tree.left_children[id], depth + 1});
      stack.push_back({tree.right_children[id], depth + 1});
    }
  }
  uint32_t hot_depth = 1;
  size_t hot_count = level_counts.empty() ? 0 : level_counts[0];
  while (hot_depth < level_counts.size() && (hot_count + level_counts[hot_depth]) * sizeof(Node) <= kHotBytes) {
    hot_count += level_counts[hot_depth++];
  }
  size_t reachable = 0;
  for (size_t count : level_counts) reachable += count;
  f.nodes_.resize(reachable);
  uint32_t next_hot = 0;
  auto next_cold = static_cast<uint32_t>(hot_count);

  struct Pending {
    int32_t id;      // XGBoost node id
    uint32_t index;  // flattened index
    uint32_t depth;  // distance from the root
  };
  std::vector<Pending> queue;
  for (const XgbTree& tree : model.trees) {
    const uint32_t root = next_hot++;
    uint32_t depth = 0;
    queue.assign(1, Pending{0, root, 0});
    // The parser has checked that each node is reached once, so this terminates.
    for (size_t head = 0; head < queue.size(); ++head) {
      const Pending p = queue[head];
      depth = std::max(depth, p.depth);
      if (tree.IsLeaf(p.id)) {
        f.nodes_[p.index] = Node{-kInf, 0, p.index, tree.split_conditions[p.id]};
        continue;
      }
      uint32_t& next = p.depth + 1 < hot_depth ? next_hot : next_cold;
      const uint32_t child = next;
      next += 2;
      const float threshold = tree.split_conditions[p.id];
      // A prepared row turns a missing value into -inf (left) or +inf (right); that is only right
      // when -inf < threshold, i.e. the threshold is neither -inf nor NaN.
      if (!(threshold > -kInf)) f.direct_only_ = true;
      const uint32_t feature = tree.split_indices[p.id];
      const uint32_t slot = tree.default_left[p.id] ? feature : num_features + feature;
      f.nodes_[p.index] = Node{threshold, slot, child + 1, 0.0f};
      queue.push_back(Pending{tree.left_children[p.id], child, p.depth + 1});
      queue.push_back(Pending{tree.right_children[p.id], child + 1, p.depth + 1});
    }
    f.roots_.push_back(root);
    f.depths_.push_back(depth);
  }
  return std::shared_ptr<const Forest>(std::move(forest));
}

float Forest::Transform(float margin) const {
  return objective_ == Objective::kRegSquaredError ? margin : Sigmoid(margin);
}

void Forest::PrepareRows(const float* rows, size_t num_rows, size_t row_stride, float* prepared) const {
  const size_t n = num_features_;
  for (size_t r = 0; r < num_rows; ++r) {
    const float* in = rows + r * row_stride;
    float* missing_left = prepared + r * PreparedWidth();
    float* missing_right = missing_left + n;
    for (size_t j = 0; j < n; ++j) {
      const float x = in[j];
      const bool missing = std::isnan(x);
      missing_left[j] = missing ? -kInf : x;
      missing_right[j] = missing ? kInf : x;
    }
  }
}

template <size_t kLanes>
void Forest::PredictPrepared(const float* prepared, size_t num_rows, float* margins) const {
  const Node* nodes = nodes_.data();
  const size_t width = PreparedWidth();
  const size_t num_trees = roots_.size();
  for (size_t r = 0; r < num_rows; ++r) margins[r] = base_margin_;
  // Groups of kLanes trees outermost: their nodes stay in L1 cache while every row of the block
  // walks them. Leaves are added in tree order, as libxgboost does, so the float sums are equal.
  size_t t = 0;
  for (; t + kLanes <= num_trees; t += kLanes) {
    const uint32_t depth = *std::max_element(depths_.begin() + t, depths_.begin() + t + kLanes);
    const float* row = prepared;
    for (size_t r = 0; r < num_rows; ++r, row += width) {
      size_t at[kLanes];
      for (size_t k = 0; k < kLanes; ++k) at[k] = roots_[t + k];
      for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
        for (size_t k = 0; k < kLanes; ++k) at[k] = Step(nodes, at[k], row);
      }
      float margin = margins[r];
      for (size_t k = 0; k < kLanes; ++k) margin += nodes[at[k]].leaf;
      margins[r] = margin;
    }
  }
  for (; t < num_trees; ++t) {
    const float* row = prepared;
    for (size_t r = 0; r < num_rows; ++r, row += width) {
      size_t at = roots_[t];
      for (uint32_t d = 0; d < depths_[t]; ++d) at = Step(nodes, at, row);
      margins[r] += nodes[at].leaf;
    }
  }
}

float Forest::PredictMarginDirect(const float* row) const {
  const auto n = static_cast<uint32_t>(num_features_);
  float margin = base_margin_;
  for (uint32_t root : roots_) {
    size_t at = root;
    // A leaf is its own right child; an internal node's children come after it.
    while (nodes_[at].right != at) {
      const Node& node = nodes_[at];
      const bool default_left = node.slot < n;
      const float x = row[default_left ? node.slot : node.slot - n];
      const bool left = std::isnan(x) ? default_left : x < node.threshold;
      at = node.right - (left ? 1 : 0);
    }
    margin += nodes_[at].leaf;
  }
  return margin;
}

template <bool kTransform>
void Forest::PredictBlocks(const float* rows, size_t num_rows, size_t row_stride, float* out) const {
  if (direct_only_) {
    for (size_t r = 0; r < num_rows; ++r) {
      const float margin = PredictMarginDirect(rows + r * row_stride);
      out[r] = kTransform ? Transform(margin) : margin;
    }
    return;
  }
  alignas(64) float prepared[kPreparedFloats];
  const size_t block = std::clamp<size_t>(kPreparedFloats / std::max<size_t>(PreparedWidth(), 1), 1, kBlockRows);
  for (size_t begin = 0; begin < num_rows; begin += block) {
    const size_t n = std::min(block, num_rows - begin);
    PrepareRows(rows + begin * row_stride, n, row_stride, prepared);
    PredictPrepared<kBatchLanes>(prepared, n, out + begin);
    if constexpr (kTransform) {
      if (objective_ != Objective::kRegSquaredError) {
        for (size_t r = 0; r < n; ++r) out[begin + r] = Sigmoid(out[begin + r]);
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
  if (direct_only_) return PredictMarginDirect(row);
  alignas(64) float prepared[2 * kMaxPreparedFeatures];
  PrepareRows(row, 1, num_features_, prepared);
  float margin = 0;
  PredictPrepared<kRowLanes>(prepared, 1, &margin);
  return margin;
}

float Forest::PredictRow(const float* row) const { return Transform(PredictMarginRow(row)); }

}  // namespace vigil::models
