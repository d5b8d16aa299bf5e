#include "models/xgb_model.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "models/model_nodes.h"

namespace vigil::models {
namespace {

using base::Corruption;
using base::InvalidArgument;
using base::Result;
using base::Status;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

//! Parses XGBoost's stringly-typed scalars ("5E-1", "10"); the whole text must be consumed.
template <typename T>
bool ParseScalarText(std::string_view text, T* out) {
  text = Trim(text);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

//! Reads an integer parameter that XGBoost stores as a string ("10") or, in some writers, a number.
template <typename Node>
Result<int64_t> IntParam(const Node& parent, std::string_view key, std::string_view where) {
  auto node = parent.Find(key);
  if (!node) return Corruption("XGBoost model: missing '" + std::string(where) + "." + std::string(key) + "'");
  int64_t value = 0;
  std::string_view text;
  if (node->GetString(&text)) {
    if (ParseScalarText(text, &value)) return value;
  } else if (node->GetInt(&value)) {
    return value;
  }
  return Corruption("XGBoost model: '" + std::string(where) + "." + std::string(key) + "' is not an integer");
}

//! Optional integer parameter; `fallback` when absent.
template <typename Node>
Result<int64_t> IntParamOr(const Node& parent, std::string_view key, std::string_view where, int64_t fallback) {
  if (!parent.Find(key)) return fallback;
  return IntParam(parent, key, where);
}

//! Reads base_score: "5E-1" (1.x/2.x), "[4.6E-1]" (3.1+), or a plain number.
template <typename Node>
Result<float> BaseScore(const Node& params) {
  auto node = params.Find("base_score");
  if (!node) return Corruption("XGBoost model: missing 'learner.learner_model_param.base_score'");
  std::string_view text;
  std::vector<float> numbers;
  float value = 0;
  if (node->GetString(&text)) {
    text = Trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
      text = Trim(text.substr(1, text.size() - 2));
      if (text.find(',') != std::string_view::npos) {
        return InvalidArgument("XGBoost model: base_score has several values (" + std::string(text) +
                               "); multi-target models are not supported");
      }
    }
    if (ParseScalarText(text, &value)) return value;
  } else if (node->GetNumbers(&numbers)) {
    if (numbers.size() == 1) return numbers[0];
  } else if (int64_t i = 0; node->GetInt(&i)) {
    return static_cast<float>(i);
  } else if (double d = 0; node->GetDouble(&d)) {
    return static_cast<float>(d);
  }
  return Corruption("XGBoost model: base_score is not a number");
}

Result<Objective> ParseObjective(std::string_view name) {
  for (Objective o : {Objective::kBinaryLogistic, Objective::kRegLogistic, Objective::kRegSquaredError}) {
    if (name == ObjectiveName(o)) return o;
  }
  return InvalidArgument("XGBoost model: unsupported objective '" + std::string(name) +
                         "' (supported: binary:logistic, reg:logistic, reg:squarederror)");
}

//! Reads one numeric node array, requiring exactly `n` entries (or allowing none if `optional`).
template <typename Node, typename T>
Status NodeArray(const Node& tree, std::string_view key, size_t tree_id, size_t n, bool optional,
                 std::vector<T>* out) {
  auto node = tree.Find(key);
  std::string where = "XGBoost model: tree " + std::to_string(tree_id) + ": '" + std::string(key) + "'";
  if (!node) {
    if (optional) return Status::OK();
    return Corruption(where + " is missing");
  }
  if (!node->GetNumbers(out)) return Corruption(where + " is not an array of in-range numbers");
  if (out->size() != n) {
    if (optional && out->empty()) return Status::OK();
    return Corruption(where + " has " + std::to_string(out->size()) + " entries, expected " +
                      std::to_string(n));
  }
  return Status::OK();
}

//! Checks that the tree is a proper binary tree below node 0 and that its splits are supported.
Status ValidateTree(const XgbTree& tree, const std::vector<uint8_t>& split_type, size_t tree_id,
                    uint32_t num_feature) {
  std::string where = "XGBoost model: tree " + std::to_string(tree_id) + ": ";
  const size_t n = tree.num_nodes();
  std::vector<uint8_t> seen(n, 0);
  std::vector<int32_t> stack{0};
  while (!stack.empty()) {
    int32_t id = stack.back();
    stack.pop_back();
    if (seen[id]) return Corruption(where + "node " + std::to_string(id) + " is reached twice");
    seen[id] = 1;
    int32_t left = tree.left_children[id];
    int32_t right = tree.right_children[id];
    if (left == -1 && right == -1) continue;
    if (left <= 0 || right <= 0 || static_cast<size_t>(left) >= n || static_cast<size_t>(right) >= n) {
      return Corruption(where + "node " + std::to_string(id) + " has invalid children " + std::to_string(left) +
                        ", " + std::to_string(right));
    }
    if (!split_type.empty() && split_type[id] != 0) {
      return InvalidArgument(where + "categorical splits are not supported (node " + std::to_string(id) + ")");
    }
    if (tree.split_indices[id] >= num_feature) {
      return Corruption(where + "node " + std::to_string(id) + " splits on feature " +
                        std::to_string(tree.split_indices[id]) + " but the model has " +
                        std::to_string(num_feature) + " features");
    }
    stack.push_back(right);
    stack.push_back(left);
  }
  return Status::OK();
}

template <typename Node>
Result<XgbTree> ExtractTree(const Node& node, size_t tree_id, uint32_t num_feature) {
  std::string where = "XGBoost model: tree " + std::to_string(tree_id) + ": ";
  auto param = node.Find("tree_param");
  if (!param) return Corruption(where + "missing 'tree_param'");
  VIGIL_ASSIGN_OR_RETURN(int64_t num_nodes, IntParam(*param, "num_nodes", "tree_param"));
  VIGIL_ASSIGN_OR_RETURN(int64_t leaf_size, IntParamOr(*param, "size_leaf_vector", "tree_param", 1));
  if (leaf_size > 1) {
    return InvalidArgument(where + "vector leaves (size_leaf_vector=" + std::to_string(leaf_size) +
                           ", multi-target trees) are not supported");
  }
  if (num_nodes < 1 || num_nodes > std::numeric_limits<int32_t>::max()) {
    return Corruption(where + "invalid num_nodes " + std::to_string(num_nodes));
  }
  const size_t n = static_cast<size_t>(num_nodes);
  XgbTree tree;
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "left_children", tree_id, n, false, &tree.left_children));
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "right_children", tree_id, n, false, &tree.right_children));
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "split_indices", tree_id, n, false, &tree.split_indices));
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "split_conditions", tree_id, n, false, &tree.split_conditions));
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "default_left", tree_id, n, false, &tree.default_left));
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "base_weights", tree_id, n, true, &tree.base_weights));
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "sum_hessian", tree_id, n, true, &tree.sum_hessian));
  std::vector<uint8_t> split_type;
  VIGIL_RETURN_IF_ERROR(NodeArray(node, "split_type", tree_id, n, true, &split_type));
  if (auto cats = node.Find("categories_nodes")) {
    std::vector<int64_t> cat_nodes;
    if (cats->GetNumbers(&cat_nodes) && !cat_nodes.empty()) {
      return InvalidArgument(where + "categorical splits are not supported");
    }
  }
  VIGIL_RETURN_IF_ERROR(ValidateTree(tree, split_type, tree_id, num_feature));
  return tree;
}

template <typename Node>
Status ExtractFeatureNames(const Node& learner, XgbModel* model) {
  auto names = learner.Find("feature_names");
  if (!names || names->IsNull()) return Status::OK();
  std::vector<Node> items;
  if (!names->GetElements(&items)) return Corruption("XGBoost model: 'feature_names' is not an array");
  for (const Node& item : items) {
    std::string_view name;
    if (!item.GetString(&name)) return Corruption("XGBoost model: a feature name is not a string");
    model->feature_names.emplace_back(name);
  }
  if (!model->feature_names.empty() && model->feature_names.size() != model->num_feature) {
    return Corruption("XGBoost model: " + std::to_string(model->feature_names.size()) + " feature names for " +
                      std::to_string(model->num_feature) + " features");
  }
  return Status::OK();
}

//! Finds the gbtree model object, refusing the other boosters.
template <typename Node>
Result<Node> GbtreeModel(const Node& learner) {
  auto booster = learner.Find("gradient_booster");
  if (!booster) return Corruption("XGBoost model: missing 'learner.gradient_booster'");
  std::string_view name;
  auto name_node = booster->Find("name");
  if (!name_node || !name_node->GetString(&name)) {
    return Corruption("XGBoost model: missing 'learner.gradient_booster.name'");
  }
  if (name != "gbtree") {
    return InvalidArgument("XGBoost model: unsupported booster '" + std::string(name) + "' (supported: gbtree)");
  }
  auto model = booster->Find("model");
  if (!model) return Corruption("XGBoost model: missing 'learner.gradient_booster.model'");
  return *model;
}

template <typename Node>
Status ExtractHeader(const Node& root, const Node& learner, XgbModel* model) {
  if (auto version = root.Find("version")) {
    std::vector<int32_t> v;
    if (version->GetNumbers(&v) && v.size() == 3) model->version = {v[0], v[1], v[2]};
  }
  auto params = learner.Find("learner_model_param");
  if (!params) return Corruption("XGBoost model: missing 'learner.learner_model_param'");
  VIGIL_ASSIGN_OR_RETURN(int64_t num_class, IntParamOr(*params, "num_class", "learner_model_param", 0));
  if (num_class > 1) {
    return InvalidArgument("XGBoost model: multi-class models (num_class=" + std::to_string(num_class) +
                           ") are not supported");
  }
  VIGIL_ASSIGN_OR_RETURN(int64_t num_target, IntParamOr(*params, "num_target", "learner_model_param", 1));
  if (num_target > 1) {
    return InvalidArgument("XGBoost model: multi-target models (num_target=" + std::to_string(num_target) +
                           ") are not supported");
  }
  VIGIL_ASSIGN_OR_RETURN(int64_t num_feature, IntParam(*params, "num_feature", "learner_model_param"));
  if (num_feature < 0 || num_feature > (int64_t{1} << 24)) {
    return Corruption("XGBoost model: invalid num_feature " + std::to_string(num_feature));
  }
  model->num_feature = static_cast<uint32_t>(num_feature);
  VIGIL_ASSIGN_OR_RETURN(model->base_score, BaseScore(*params));

  auto objective = learner.Find("objective");
  std::string_view objective_name;
  auto objective_name_node = objective ? objective->Find("name") : std::nullopt;
  if (!objective_name_node || !objective_name_node->GetString(&objective_name)) {
    return Corruption("XGBoost model: missing 'learner.objective.name'");
  }
  VIGIL_ASSIGN_OR_RETURN(model->objective, ParseObjective(objective_name));
  if (model->objective != Objective::kRegSquaredError &&
      !(model->base_score > 0.0f && model->base_score < 1.0f)) {
    return InvalidArgument("XGBoost model: base_score " + std::to_string(model->base_score) + " is not in (0, 1) as " +
                           std::string(objective_name) + " requires");
  }
  if (!std::isfinite(model->base_score)) return Corruption("XGBoost model: base_score is not finite");
  return ExtractFeatureNames(learner, model);
}

template <typename Node>
Result<XgbModel> Extract(const Node& root) {
  auto learner = root.Find("learner");
  if (!learner) return InvalidArgument("not an XGBoost model: no 'learner' object at the top level");
  XgbModel model;
  VIGIL_RETURN_IF_ERROR(ExtractHeader(root, *learner, &model));
  VIGIL_ASSIGN_OR_RETURN(Node gbtree, GbtreeModel(*learner));
  auto trees_node = gbtree.Find("trees");
  std::vector<Node> trees;
  if (!trees_node || !trees_node->GetElements(&trees)) {
    return Corruption("XGBoost model: missing 'learner.gradient_booster.model.trees' array");
  }
  if (auto param = gbtree.Find("gbtree_model_param")) {
    VIGIL_ASSIGN_OR_RETURN(int64_t leaf_size, IntParamOr(*param, "size_leaf_vector", "gbtree_model_param", 1));
    if (leaf_size > 1) {
      return InvalidArgument("XGBoost model: vector leaves (size_leaf_vector=" + std::to_string(leaf_size) +
                             ", multi-target trees) are not supported");
    }
    VIGIL_ASSIGN_OR_RETURN(int64_t num_trees,
                           IntParamOr(*param, "num_trees", "gbtree_model_param", static_cast<int64_t>(trees.size())));
    if (num_trees != static_cast<int64_t>(trees.size())) {
      return Corruption("XGBoost model: num_trees is " + std::to_string(num_trees) + " but there are " +
                        std::to_string(trees.size()) + " trees");
    }
  }
  if (auto info = gbtree.Find("tree_info")) {
    std::vector<int32_t> groups;
    if (!info->GetNumbers(&groups) || groups.size() != trees.size()) {
      return Corruption("XGBoost model: 'tree_info' does not match the trees");
    }
    for (int32_t g : groups) {
      if (g != 0) return InvalidArgument("XGBoost model: trees for several output groups are not supported");
    }
  }
  model.trees.reserve(trees.size());
  for (size_t i = 0; i < trees.size(); ++i) {
    VIGIL_ASSIGN_OR_RETURN(XgbTree tree, ExtractTree(trees[i], i, model.num_feature));
    model.trees.push_back(std::move(tree));
  }
  return model;
}

}  // namespace

std::string_view ObjectiveName(Objective objective) {
  switch (objective) {
    case Objective::kBinaryLogistic:
      return "binary:logistic";
    case Objective::kRegLogistic:
      return "reg:logistic";
    case Objective::kRegSquaredError:
      return "reg:squarederror";
  }
  return "unknown";
}

float XgbModel::BaseMargin() const {
  if (objective == Objective::kRegSquaredError) return base_score;
  // XGBoost's LogisticRegression::ProbToMargin, in float.
  return -std::log(1.0f / base_score - 1.0f);
}

ModelFormat SniffModelFormat(std::string_view bytes) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t i = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < bytes.size() && is_space(bytes[i])) ++i;
  if (i >= bytes.size() || bytes[i] != '{') return ModelFormat::kUbjson;
  ++i;
  while (i < bytes.size() && is_space(bytes[i])) ++i;
  // After '{', JSON has a quoted key or '}'; UBJSON has a length marker, '$' or '#'.
  return (i < bytes.size() && (bytes[i] == '"' || bytes[i] == '}')) ? ModelFormat::kJson : ModelFormat::kUbjson;
}

Result<XgbModel> ParseXgbModel(std::string_view bytes) { return ParseXgbModel(bytes, SniffModelFormat(bytes)); }

Result<XgbModel> ParseXgbModel(std::string_view bytes, ModelFormat format) {
  if (bytes.empty()) return InvalidArgument("XGBoost model: empty input");
  if (format == ModelFormat::kJson) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(bytes);
    simdjson::dom::element root;
    if (auto error = parser.parse(padded).get(root)) {
      return Corruption(std::string("XGBoost model: invalid JSON: ") + simdjson::error_message(error));
    }
    return Extract(JsonNode{root});
  }
  VIGIL_ASSIGN_OR_RETURN(UbjValue root, ParseUbjson(bytes));
  if (root.kind != UbjKind::kObject) return InvalidArgument("not an XGBoost model: UBJSON document is not an object");
  return Extract(UbjNode{&root});
}

}  // namespace vigil::models
