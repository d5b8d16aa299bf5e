// fuzz_model: the input as an XGBoost model file, JSON or UBJSON, through models::ParseXgbModel: once
// with the sniffed format and once with the other, so that both parsers see every input. A model that
// parses is flattened into a Forest and explained; both then predict a few rows. Invariants (abort on
// violation): refusals are Status values of the documented codes; a parsed model is consistent (the
// documented XgbTree guarantees); every prediction path agrees with the others; contributions plus
// the bias add up to the margin (TreeSHAP's only when the file's covers are consistent).

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <vector>

#include "models/explain.h"
#include "models/forest.h"
#include "models/xgb_model.h"

namespace vigil::fuzz {
namespace {

using models::XgbModel;

//! Rows wider than this are not predicted: a valid file may declare 2^24 features, and allocating
//! them on every input would only slow the fuzzer down.
constexpr size_t kMaxPredictedFeatures = 1 << 14;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_model: invariant violated: %s\n", what);
  std::abort();
}

void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}

bool SameFloat(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

//! The guarantees xgb_model.h documents for a parsed model.
void CheckModel(const XgbModel& model) {
  Check(model.feature_names.empty() || model.feature_names.size() == model.num_feature,
        "feature names match");
  for (const models::XgbTree& tree : model.trees) {
    const size_t n = tree.num_nodes();
    Check(n > 0, "a tree has a root");
    Check(tree.right_children.size() == n && tree.split_indices.size() == n &&
              tree.split_conditions.size() == n && tree.default_left.size() == n,
          "node arrays have one length");
    Check(tree.sum_hessian.empty() || tree.sum_hessian.size() == n, "covers are per node");
    std::vector<uint8_t> reached(n, 0);
    std::vector<int32_t> stack = {0};
    while (!stack.empty()) {
      const auto node = static_cast<size_t>(stack.back());
      stack.pop_back();
      Check(node < n, "children are in range");
      Check(!reached[node], "a node is reached once");
      reached[node] = 1;
      if (tree.IsLeaf(node)) continue;
      Check(tree.split_indices[node] < model.num_feature, "splits use declared features");
      stack.push_back(tree.left_children[node]);
      stack.push_back(tree.right_children[node]);
    }
  }
}

void CheckPredictions(const models::Forest& forest, const float* row) {
  const float margin = forest.PredictMarginRow(row);
  const float prediction = forest.PredictRow(row);
  Check(SameFloat(prediction, forest.Transform(margin)), "PredictRow is the transformed margin");
  float batch = 0;
  forest.PredictMarginBatch(row, 1, forest.num_features(), &batch);
  Check(SameFloat(batch, margin), "the batch and single-row margins agree");
  forest.PredictBatch(row, 1, forest.num_features(), &batch);
  Check(SameFloat(batch, prediction), "the batch and single-row predictions agree");
}

//! TreeSHAP adds up only if each node's cover is its children's (as in files XGBoost writes); a file
//! may say otherwise, and libxgboost's pred_contribs would not add up either.
bool CoversAddUp(const XgbModel& model) {
  for (const models::XgbTree& tree : model.trees) {
    std::vector<size_t> stack = {0};  // nodes not reached from the root are never read
    while (!stack.empty()) {
      const size_t node = stack.back();
      stack.pop_back();
      const double cover = tree.sum_hessian[node];
      if (!(cover > 0) || !std::isfinite(cover)) return false;
      if (tree.IsLeaf(node)) continue;
      const auto left = static_cast<size_t>(tree.left_children[node]);
      const auto right = static_cast<size_t>(tree.right_children[node]);
      const double children = static_cast<double>(tree.sum_hessian[left]) + tree.sum_hessian[right];
      if (!(std::abs(children - cover) <= 1e-3 * cover)) return false;
      stack.push_back(left);
      stack.push_back(right);
    }
  }
  return true;
}

void CheckContributions(const XgbModel& model, const models::Explainer& explainer,
                        const models::Forest& forest, const float* row) {
  const size_t n = explainer.num_features();
  std::vector<float> phi(n + 1);
  const float margin = forest.PredictMarginRow(row);
  const bool exact_adds_up = CoversAddUp(model);
  for (const auto mode : {models::ExplainMode::kExact, models::ExplainMode::kApproximate}) {
    explainer.Contributions(row, mode, phi.data());
    double sum = 0, magnitude = std::abs(static_cast<double>(margin));
    bool finite = std::isfinite(margin);
    for (const float v : phi) {
      sum += v;
      magnitude += std::abs(static_cast<double>(v));
      finite = finite && std::isfinite(v);
    }
    // Float accumulation in different orders: the tolerance scales with what was added up.
    if (finite && (mode == models::ExplainMode::kApproximate || exact_adds_up))
      Check(std::abs(sum - margin) <= 1e-3 * (1.0 + magnitude), "contributions add up to the margin");
    const auto top = explainer.TopK(row, 3, mode);
    Check(top.size() <= 3 && top.size() <= n, "TopK returns at most k features");
    for (const models::Contribution& c : top) Check(c.feature < n, "TopK names real features");
  }
}

void Exercise(const XgbModel& model) {
  CheckModel(model);
  auto forest = models::Forest::FromModel(model);
  if (!forest.ok()) return;
  Check((*forest)->num_features() == model.num_feature, "the forest keeps the model's width");
  Check((*forest)->num_trees() == model.trees.size(), "the forest keeps every tree");
  auto explainer = models::Explainer::Make(model);
  if (model.num_feature > kMaxPredictedFeatures) return;
  const size_t n = model.num_feature;
  const std::vector<std::vector<float>> rows = {
      std::vector<float>(n, 0.0f), std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()),
      std::vector<float>(n, -1.0f), std::vector<float>(n, 1e30f)};
  for (const auto& row : rows) {
    CheckPredictions(**forest, row.data());
    if (explainer.ok()) CheckContributions(model, **explainer, **forest, row.data());
  }
}

void Consume(const base::Result<XgbModel>& model) {
  if (!model.ok()) {
    const base::StatusCode code = model.status().code();
    Check(code == base::StatusCode::kInvalidArgument || code == base::StatusCode::kCorruption,
          "a refused model is InvalidArgument or Corruption");
    return;
  }
  Exercise(*model);
}

}  // namespace
}  // namespace vigil::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vigil::models::ModelFormat;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  vigil::fuzz::Consume(vigil::models::ParseXgbModel(bytes));
  const ModelFormat other = vigil::models::SniffModelFormat(bytes) == ModelFormat::kJson
                                ? ModelFormat::kUbjson
                                : ModelFormat::kJson;
  vigil::fuzz::Consume(vigil::models::ParseXgbModel(bytes, other));
  return 0;
}
