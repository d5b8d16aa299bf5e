#include "models/forest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <utility>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

//! Where a split reads its value in a prepared row: the copy in which a missing value goes the
//! split's default way.
inline uint32_t SlotOf(const XgbTree& tree, int32_t id, uint32_t num_features) {
  const uint32_t feature = tree.split_indices[id];
  return tree.default_left[id] ? feature : num_features + feature;
}

#if defined(__AVX2__)
//! Lane blocks walked together: independent chains of gathers the CPU overlaps (more would spill).
constexpr size_t kMaxBlocksAtOnce = 8;
//! Trees per vector: 32-bit lanes of an AVX2 register (Forest::kLanes).
constexpr size_t kVectorLanes = 8;
//! Rank of a missing value: above every split's rank.
constexpr uint8_t kMissingRank = 255;
//! Ranks are compared as signed bytes: rank ^ kRankBias keeps their unsigned order.
constexpr uint8_t kRankBias = 0x80;

//! Features per rank table: a vpshufb table has 16 bytes, and the last one holds 1 (see LaneNode).
constexpr size_t kTableFeatures = 15;

//! The ranks of one row, one byte per feature in two vpshufb tables of kTableFeatures: the number of
//! the feature's split values <= x, so that x < split value number r iff rank <= r; kMissingRank if
//! missing. Stored ^ kRankBias; byte 15 of each table is 1.
inline void RankRow(const float* cuts, size_t cut_stride, size_t num_features, const float* row, uint8_t* tables) {
  for (size_t t = 0; t < 2; ++t) {
    const size_t first = t * kTableFeatures;
    const size_t end = std::min(num_features, first + kTableFeatures);
    for (size_t f = first; f < end; ++f) {
      const float value = row[f];
      const __m256 x = _mm256_set1_ps(value);
      const float* p = cuts + f * cut_stride;
      // Segments whose last value is <= x, then values <= x in the first other segment. NaN counts
      // 0; the last two values are NaN, so a rank is at most kMissingRank - 1.
      const auto coarse = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), x, _CMP_LE_OQ)) |
                                                _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + 8), x, _CMP_LE_OQ)) << 8);
      const float* c = p + 16 + 16 * _mm_popcnt_u32(coarse);
      const auto fine = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(c), x, _CMP_LE_OQ)) |
                                              _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(c + 8), x, _CMP_LE_OQ)) << 8);
      const uint32_t rank = 16 * _mm_popcnt_u32(coarse) + _mm_popcnt_u32(fine);
      tables[16 * t + f - first] = static_cast<uint8_t>((std::isnan(value) ? kMissingRank : rank) ^ kRankBias);
    }
    tables[16 * t + kTableFeatures] = 1;
  }
}

//! A lane node for a split on `feature` (< 2 * kTableFeatures) of rank `rank` among its values.
//! Byte 3 / byte 2 are vpshufb indices into the row's rank table of the first / second
//! kTableFeatures features; the other one is 0x80 (reads 0), or 15 (reads 1) for a default-left
//! split. The two reads are added bytewise, so a default-left split sees rank + 1, which turns a
//! missing rank into the smallest. Byte 0 holds (rank + 1) ^ kRankBias (+ 1 if default-left): the
//! split goes left iff byte 0 > the row's rank, as signed bytes.
inline uint32_t LaneNode(uint32_t feature, uint32_t rank, bool default_left) {
  constexpr auto kPerTable = static_cast<uint32_t>(kTableFeatures);
  const uint32_t other = default_left ? kPerTable : 0x80;
  const uint32_t index = feature < kPerTable ? feature << 24 | other << 16 : other << 24 | (feature - kPerTable) << 16;
  return index | static_cast<uint8_t>(((rank + 1) ^ kRankBias) + default_left);
}
//! A lane node that goes right whatever the row: reads 0 and compares it with -128.
constexpr uint32_t kAlwaysRight = 0x80800000u | kRankBias;

//! The distinct split values of each of the model's `num_features` features, sorted.
std::vector<std::vector<float>> SortedSplitValues(const XgbModel& model, size_t num_features) {
  std::vector<std::vector<float>> values(num_features);
  for (const XgbTree& tree : model.trees) {
    for (size_t id = 0; id < tree.split_conditions.size(); ++id) {
      if (!tree.IsLeaf(id)) values[tree.split_indices[id]].push_back(tree.split_conditions[id]);
    }
  }
  for (std::vector<float>& v : values) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());  // -0 == +0: one value, as for compares
  }
  return values;
}

//! Writes `tree` (nullptr: a padding lane, leaves 0) as a complete tree of depth `depth` into the
//! lane of a block whose first word is `lane` (see Forest::LaneBlock).
void PlaceLaneTree(const XgbTree* tree, const std::vector<std::vector<float>>& values, uint32_t depth, uint32_t* lane) {
  const size_t internal = (size_t{1} << depth) - 1;
  for (size_t i = 0; i < 2 * internal + 1; ++i) lane[i * kVectorLanes] = i < internal ? kAlwaysRight : 0u;
  if (tree == nullptr) return;
  struct Pending {
    int32_t id;      // XGBoost node id
    uint32_t index;  // breadth-first position in the complete tree
    uint32_t depth;  // distance from the root
  };
  std::vector<Pending> stack(1, Pending{0, 0, 0});
  while (!stack.empty()) {
    const Pending p = stack.back();
    stack.pop_back();
    uint32_t& node = lane[p.index * kVectorLanes];
    if (p.depth == depth) {
      std::memcpy(&node, &tree->split_conditions[p.id], sizeof(float));
    } else if (tree->IsLeaf(p.id)) {
      stack.push_back(Pending{p.id, 2 * p.index + 2, p.depth + 1});  // always right, down to depth
    } else {
      const std::vector<float>& v = values[tree->split_indices[p.id]];
      const auto rank =
          static_cast<uint32_t>(std::lower_bound(v.begin(), v.end(), tree->split_conditions[p.id]) - v.begin());
      node = LaneNode(tree->split_indices[p.id], rank, tree->default_left[p.id]);
      stack.push_back(Pending{tree->left_children[p.id], 2 * p.index + 1, p.depth + 1});
      stack.push_back(Pending{tree->right_children[p.id], 2 * p.index + 2, p.depth + 1});
    }
  }
}

//! Walks kBlocks lane blocks of depth `depth` for one row whose ranks are in `tables` (see RankRow;
//! both 128-bit halves alike), and writes where lane k's leaf value is in block b, in words from
//! `blocks[b]` (the block's first node, see Forest::LaneBlock), to out[b * 8 + k].
template <size_t kBlocks>
inline void WalkLanes(const __m256i* tables, const uint32_t* const* blocks, uint32_t depth, int32_t* out) {
  // at = 8 * (node index) + lane, the word of the lane's node; node i's children are 2i+1 (left) and 2i+2.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i down = _mm256_sub_epi32(_mm256_set1_epi32(2 * kVectorLanes), lane);
  __m256i at[kBlocks];
  for (size_t b = 0; b < kBlocks; ++b) at[b] = lane;
  for (uint32_t d = 0; d < depth; ++d) {
    for (size_t b = 0; b < kBlocks; ++b) {
      const auto* base = reinterpret_cast<const int*>(blocks[b]);
      __m256i node;
      if (d == 0) {
        node = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base));
      } else if (d == 1) {
        // The first levels are a few rows: picking from them is cheaper than a gather.
        // Level 1 is rows 1 and 2: at = 8 + lane if left, 16 + lane if right.
        const __m256 right = _mm256_castsi256_ps(_mm256_slli_epi32(at[b], 27));
        node = _mm256_castps_si256(_mm256_blendv_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(base) + 8),
                                                    _mm256_loadu_ps(reinterpret_cast<const float*>(base) + 16), right));
      } else if (d == 2) {
        // Level 2 is rows 3..6: at - 24 = 8 * (row - 3) + lane.
        const __m256i j = _mm256_sub_epi32(at[b], _mm256_set1_epi32(24));
        const __m256 low = _mm256_castsi256_ps(_mm256_slli_epi32(j, 28));
        const __m256 high = _mm256_castsi256_ps(_mm256_slli_epi32(j, 27));
        const auto* rows = reinterpret_cast<const float*>(base);
        const __m256 left_pair = _mm256_blendv_ps(_mm256_loadu_ps(rows + 24), _mm256_loadu_ps(rows + 32), low);
        const __m256 right_pair = _mm256_blendv_ps(_mm256_loadu_ps(rows + 40), _mm256_loadu_ps(rows + 48), low);
        node = _mm256_castps_si256(_mm256_blendv_ps(left_pair, right_pair, high));
      } else {
        node = _mm256_i32gather_epi32(base, at[b], 4);
      }
      const __m256i ranks = _mm256_add_epi8(_mm256_shuffle_epi8(tables[0], node),
                                            _mm256_shuffle_epi8(tables[1], _mm256_slli_epi32(node, 8)));
      // The row's rank is in byte 3 above 3 bytes of noise, the split's in byte 3 above zeros: -1 if left.
      const __m256i left = _mm256_cmpgt_epi32(_mm256_slli_epi32(node, 24), ranks);
      at[b] = _mm256_add_epi32(_mm256_add_epi32(at[b], at[b]), _mm256_add_epi32(down, _mm256_slli_epi32(left, 3)));
    }
  }
  for (size_t b = 0; b < kBlocks; ++b) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + b * kVectorLanes), at[b]);
  }
}

void WalkLanes(size_t count, const __m256i* tables, const uint32_t* const* blocks, uint32_t depth, int32_t* out) {
  switch (count) {
    case 1: return WalkLanes<1>(tables, blocks, depth, out);
    case 2: return WalkLanes<2>(tables, blocks, depth, out);
    case 3: return WalkLanes<3>(tables, blocks, depth, out);
    case 4: return WalkLanes<4>(tables, blocks, depth, out);
    case 5: return WalkLanes<5>(tables, blocks, depth, out);
    case 6: return WalkLanes<6>(tables, blocks, depth, out);
    case 7: return WalkLanes<7>(tables, blocks, depth, out);
    default: return WalkLanes<8>(tables, blocks, depth, out);
  }
}
#endif

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
      f.nodes_[p.index] = Node{threshold, SlotOf(tree, p.id, num_features), child + 1, 0.0f};
      queue.push_back(Pending{tree.left_children[p.id], child, p.depth + 1});
      queue.push_back(Pending{tree.right_children[p.id], child + 1, p.depth + 1});
    }
    f.roots_.push_back(root);
    f.depths_.push_back(depth);
  }
  f.BuildLanes(model);
  return std::shared_ptr<const Forest>(std::move(forest));
}

void Forest::BuildLanes(const XgbModel& model) {
#if defined(__AVX2__)
  const size_t n = num_features_;
  if (direct_only_ || n == 0 || n > kMaxLaneFeatures || model.trees.empty()) return;
  if (*std::max_element(depths_.begin(), depths_.end()) > kMaxLaneDepth) return;
  std::vector<std::vector<float>> values = SortedSplitValues(model, n);
  for (const std::vector<float>& v : values) {
    if (v.size() > kMaxLaneThresholds) return;
  }
  constexpr size_t kLinesPerFeature = 1 + kCutSegments;
  cut_lines_.resize(n * kLinesPerFeature);
  float* cuts = cut_lines_.front().word;
  std::fill(cuts, cuts + 16 * cut_lines_.size(), kInf);
  for (size_t f = 0; f < n; ++f) {
    float* pivots = cuts + 16 * kLinesPerFeature * f;
    std::copy(values[f].begin(), values[f].end(), pivots + 16);
    // Never <= x: ranks stay below kMissingRank, and the last pivot keeps the last segment in range.
    pivots[16 + 16 * kCutSegments - 2] = std::numeric_limits<float>::quiet_NaN();
    pivots[16 + 16 * kCutSegments - 1] = std::numeric_limits<float>::quiet_NaN();
    for (size_t j = 0; j < 16; ++j) pivots[j] = pivots[16 + 16 * j + 15];
  }

  constexpr size_t kWordsPerLine = sizeof(Line<uint32_t>) / sizeof(uint32_t);
  for (size_t first = 0; first < model.trees.size(); first += kLanes) {
    LaneBlock block{};
    block.num_trees = static_cast<uint32_t>(std::min(kLanes, model.trees.size() - first));
    block.depth = *std::max_element(depths_.begin() + first, depths_.begin() + first + block.num_trees);
    block.line = static_cast<uint32_t>(lane_lines_.size());
    const size_t words = kLanes * ((size_t{2} << block.depth) - 1);
    lane_lines_.resize(lane_lines_.size() + (words + kWordsPerLine - 1) / kWordsPerLine);
    static_assert(kLanes == kVectorLanes);
    for (size_t k = 0; k < kLanes; ++k) {
      const XgbTree* tree = k < block.num_trees ? &model.trees[first + k] : nullptr;
      PlaceLaneTree(tree, values, block.depth, lane_lines_[block.line].word + k);
    }
    lane_blocks_.push_back(block);
  }
  // A run of blocks of one depth is walked in groups of at most kMaxBlocksAtOnce, of even size.
  for (size_t i = 0; i < lane_blocks_.size();) {
    size_t run = 1;
    while (i + run < lane_blocks_.size() && lane_blocks_[i + run].depth == lane_blocks_[i].depth) ++run;
    const size_t groups = (run + kMaxBlocksAtOnce - 1) / kMaxBlocksAtOnce;
    for (size_t g = 0; g < groups; ++g) {
      const size_t size = run / groups + (g < run % groups ? 1 : 0);
      lane_blocks_[i].group = static_cast<uint32_t>(size);
      i += size;
    }
  }
  lanes_ = true;
#else
  (void)model;
#endif
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

float Forest::PredictMarginLanes(const float* row) const {
#if defined(__AVX2__)
  alignas(64) uint8_t ranks[2 * 16] = {};
  RankRow(cut_lines_.front().word, 16 * (1 + kCutSegments), num_features_, row, ranks);
  __m256i tables[2];
  for (size_t t = 0; t < 2; ++t) {
    tables[t] = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(ranks + 16 * t)));
  }
  float margin = base_margin_;
  alignas(32) int32_t leaf[kMaxBlocksAtOnce * kLanes];
  const uint32_t* group[kMaxBlocksAtOnce];
  for (size_t i = 0; i < lane_blocks_.size();) {
    const size_t count = lane_blocks_[i].group;
    for (size_t b = 0; b < count; ++b) group[b] = lane_lines_[lane_blocks_[i + b].line].word;
    WalkLanes(count, tables, group, lane_blocks_[i].depth, leaf);
    // Tree order, as libxgboost adds them.
    for (size_t b = 0; b < count; ++b) {
      for (size_t k = 0; k < lane_blocks_[i + b].num_trees; ++k) {
        float value;
        std::memcpy(&value, &group[b][leaf[b * kLanes + k]], sizeof(float));
        margin += value;
      }
    }
    i += count;
  }
  return margin;
#else
  (void)row;
  return 0.0f;
#endif
}

float Forest::PredictMarginRow(const float* row) const {
  if (direct_only_) return PredictMarginDirect(row);
  if (lanes_) return PredictMarginLanes(row);
  alignas(64) float prepared[2 * kMaxPreparedFeatures];
  PrepareRows(row, 1, num_features_, prepared);
  float margin = 0;
  PredictPrepared<kRowLanes>(prepared, 1, &margin);
  return margin;
}

float Forest::PredictRow(const float* row) const { return Transform(PredictMarginRow(row)); }

}  // namespace vigil::models
