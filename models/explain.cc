#include "models/explain.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace vigil::models {

// The path bookkeeping below follows libxgboost's RegTree::TreeShap (src/tree/tree_model.cc)
// operation for operation, in float, so that results agree with pred_contribs to float rounding.
struct Explainer::PathElement {
  int feature_index;    //!< Feature split on, -1 for the root element.
  float zero_fraction;  //!< Share of the cover that goes this way.
  float one_fraction;   //!< 1 if the row goes this way, else 0.
  float pweight;        //!< Permutation weight.
};

namespace {

template <typename P>
void ExtendPath(P* path, unsigned depth, float zero_fraction, float one_fraction, int feature_index) {
  path[depth].feature_index = feature_index;
  path[depth].zero_fraction = zero_fraction;
  path[depth].one_fraction = one_fraction;
  path[depth].pweight = (depth == 0 ? 1.0f : 0.0f);
  for (int i = static_cast<int>(depth) - 1; i >= 0; i--) {
    path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) / static_cast<float>(depth + 1);
    path[i].pweight = zero_fraction * path[i].pweight * (depth - i) / static_cast<float>(depth + 1);
  }
}

template <typename P>
void UnwindPath(P* path, unsigned depth, unsigned path_index) {
  const float one_fraction = path[path_index].one_fraction;
  const float zero_fraction = path[path_index].zero_fraction;
  float next_one_portion = path[depth].pweight;
  for (int i = static_cast<int>(depth) - 1; i >= 0; --i) {
    if (one_fraction != 0) {
      const float tmp = path[i].pweight;
      path[i].pweight = next_one_portion * (depth + 1) / static_cast<float>((i + 1) * one_fraction);
      next_one_portion = tmp - path[i].pweight * zero_fraction * (depth - i) / static_cast<float>(depth + 1);
    } else {
      path[i].pweight = (path[i].pweight * (depth + 1)) / static_cast<float>(zero_fraction * (depth - i));
    }
  }
  for (auto i = path_index; i < depth; ++i) {
    path[i].feature_index = path[i + 1].feature_index;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

template <typename P>
float UnwoundPathSum(const P* path, unsigned depth, unsigned path_index) {
  const float one_fraction = path[path_index].one_fraction;
  const float zero_fraction = path[path_index].zero_fraction;
  float next_one_portion = path[depth].pweight;
  float total = 0;
  for (int i = static_cast<int>(depth) - 1; i >= 0; --i) {
    if (one_fraction != 0) {
      const float tmp = next_one_portion * (depth + 1) / static_cast<float>((i + 1) * one_fraction);
      total += tmp;
      next_one_portion = path[i].pweight - tmp * zero_fraction * ((depth - i) / static_cast<float>(depth + 1));
    } else if (zero_fraction != 0) {
      total += (path[i].pweight / zero_fraction) / ((depth - i) / static_cast<float>(depth + 1));
    }
  }
  return total;
}

}  // namespace

base::Result<std::shared_ptr<const Explainer>> Explainer::Make(const XgbModel& model) {
  std::shared_ptr<Explainer> explainer(new Explainer());
  explainer->num_features_ = model.num_feature;
  explainer->base_margin_ = model.BaseMargin();
  for (size_t t = 0; t < model.trees.size(); ++t) {
    const XgbTree& in = model.trees[t];
    if (in.sum_hessian.size() != in.num_nodes()) {
      return base::FailedPrecondition("Explainer: tree " + std::to_string(t) + " has no node covers (sum_hessian)");
    }
    Tree tree;
    tree.nodes.resize(in.num_nodes());
    for (size_t i = 0; i < in.num_nodes(); ++i) {
      tree.nodes[i] = Node{in.left_children[i], in.right_children[i], in.split_indices[i], in.split_conditions[i],
                           in.default_left[i] != 0, in.split_conditions[i], in.sum_hessian[i], 0.0f};
    }
    // Expected values bottom-up (post-order, without recursion) and the depth.
    struct Frame {
      int32_t id;
      uint32_t depth;
      bool expanded;
    };
    std::vector<Frame> stack{{0, 0, false}};
    while (!stack.empty()) {
      Frame frame = stack.back();
      stack.pop_back();
      Node& node = tree.nodes[frame.id];
      tree.depth = std::max(tree.depth, frame.depth);
      if (node.left < 0) {
        node.mean = node.value;
      } else if (!frame.expanded) {
        stack.push_back({frame.id, frame.depth, true});
        stack.push_back({node.right, frame.depth + 1, false});
        stack.push_back({node.left, frame.depth + 1, false});
      } else {
        const Node& l = tree.nodes[node.left];
        const Node& r = tree.nodes[node.right];
        float result = l.mean * l.cover;
        result += r.mean * r.cover;
        node.mean = result / node.cover;
      }
    }
    explainer->max_depth_ = std::max(explainer->max_depth_, tree.depth);
    explainer->trees_.push_back(std::move(tree));
  }
  return std::shared_ptr<const Explainer>(std::move(explainer));
}

int32_t Explainer::Next(const Node& node, const float* row) const {
  const float x = row[node.feature];
  if (std::isnan(x)) return node.default_left ? node.left : node.right;
  return x < node.threshold ? node.left : node.right;
}

void Explainer::TreeShap(const Tree& tree, const float* row, float* phi, int32_t node_index, unsigned unique_depth,
                         PathElement* parent_path, float parent_zero_fraction, float parent_one_fraction,
                         int parent_feature) const {
  const Node& node = tree.nodes[node_index];
  PathElement* path = parent_path + unique_depth + 1;
  std::copy(parent_path, parent_path + unique_depth + 1, path);
  ExtendPath(path, unique_depth, parent_zero_fraction, parent_one_fraction, parent_feature);
  if (node.left < 0) {
    for (unsigned i = 1; i <= unique_depth; ++i) {
      const float w = UnwoundPathSum(path, unique_depth, i);
      const PathElement& el = path[i];
      phi[el.feature_index] += w * (el.one_fraction - el.zero_fraction) * node.value;
    }
    return;
  }
  const int32_t hot = Next(node, row);
  const int32_t cold = hot == node.left ? node.right : node.left;
  const float w = node.cover;
  const float hot_zero_fraction = tree.nodes[hot].cover / w;
  const float cold_zero_fraction = tree.nodes[cold].cover / w;
  float incoming_zero_fraction = 1;
  float incoming_one_fraction = 1;
  unsigned path_index = 0;
  for (; path_index <= unique_depth; ++path_index) {
    if (static_cast<unsigned>(path[path_index].feature_index) == node.feature) break;
  }
  if (path_index != unique_depth + 1) {
    incoming_zero_fraction = path[path_index].zero_fraction;
    incoming_one_fraction = path[path_index].one_fraction;
    UnwindPath(path, unique_depth, path_index);
    unique_depth -= 1;
  }
  const int feature = static_cast<int>(node.feature);
  TreeShap(tree, row, phi, hot, unique_depth + 1, path, hot_zero_fraction * incoming_zero_fraction,
           incoming_one_fraction, feature);
  TreeShap(tree, row, phi, cold, unique_depth + 1, path, cold_zero_fraction * incoming_zero_fraction, 0, feature);
}

void Explainer::Saabas(const Tree& tree, const float* row, float* phi) const {
  float node_value = tree.nodes[0].mean;
  phi[num_features_] += node_value;
  if (tree.nodes[0].left < 0) return;
  int32_t id = 0;
  uint32_t feature = 0;
  while (tree.nodes[id].left >= 0) {
    feature = tree.nodes[id].feature;
    id = Next(tree.nodes[id], row);
    const float new_value = tree.nodes[id].mean;
    phi[feature] += new_value - node_value;
    node_value = new_value;
  }
  phi[feature] += tree.nodes[id].value - node_value;
}

void Explainer::Contributions(const float* row, ExplainMode mode, float* out) const {
  const size_t width = num_features_ + 1;
  std::fill(out, out + width, 0.0f);
  std::vector<float> tree_phi(width);
  const size_t max_path = (max_depth_ + 2) * (max_depth_ + 3) / 2;
  std::vector<PathElement> path(mode == ExplainMode::kExact ? max_path : 0);
  for (const Tree& tree : trees_) {
    std::fill(tree_phi.begin(), tree_phi.end(), 0.0f);
    if (mode == ExplainMode::kExact) {
      tree_phi[num_features_] += tree.nodes[0].mean;
      TreeShap(tree, row, tree_phi.data(), 0, 0, path.data(), 1, 1, -1);
    } else {
      Saabas(tree, row, tree_phi.data());
    }
    for (size_t i = 0; i < width; ++i) out[i] += tree_phi[i];
  }
  out[num_features_] += base_margin_;
}

std::vector<Contribution> Explainer::TopK(const float* row, size_t k, ExplainMode mode) const {
  std::vector<float> phi(num_features_ + 1);
  Contributions(row, mode, phi.data());
  std::vector<Contribution> all(num_features_);
  for (size_t i = 0; i < num_features_; ++i) all[i] = Contribution{static_cast<uint32_t>(i), phi[i]};
  k = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const Contribution& a, const Contribution& b) {
                      const float fa = std::abs(a.value);
                      const float fb = std::abs(b.value);
                      return fa != fb ? fa > fb : a.feature < b.feature;
                    });
  all.resize(k);
  return all;
}

}  // namespace vigil::models
