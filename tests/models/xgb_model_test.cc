// The XGBoost model parser: structure, JSON/UBJSON equivalence, and every refusal with its message.
// Models come from libxgboost 1.7.4 through the wrapper; refusal inputs are real models with one
// field changed, so each test isolates one reason.

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "models/forest.h"
#include "models/xgb_model.h"
#include "tests/models/model_test_util.h"

namespace vigil::models {
namespace {

using testing::Dataset;
using testing::MakeDataset;

//! A small binary model trained with named features, saved in `format`.
std::string SmallModel(ModelFormat format, std::map<std::string, std::string> params = {}, int rounds = 5) {
  Dataset data = MakeDataset(600, 8, 0.1, true, 21);
  auto dmatrix = DMatrix::FromDense(data.values.data(), data.num_rows, data.num_cols, data.labels);
  REQUIRE(dmatrix.ok());
  std::vector<std::string> names;
  for (size_t i = 0; i < data.num_cols; ++i) names.push_back("f_" + std::to_string(i));
  REQUIRE((*dmatrix)->SetFeatureNames(names).ok());
  params.try_emplace("objective", "binary:logistic");
  params.try_emplace("max_depth", "3");
  auto booster = XgbBooster::Train(**dmatrix, TrainOptions{params, rounds});
  INFO(booster.status().ToString());
  REQUIRE(booster.ok());
  return testing::SaveOrDie(**booster, format);
}

//! `text` with the first occurrence of `from` replaced by `to` (which must exist).
std::string Mutate(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  INFO("looking for " << from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

//! `text` with the first element of the first array named `key` replaced by `value`.
std::string SetFirstElement(std::string text, const std::string& key, const std::string& value) {
  const std::string opening = "\"" + key + "\":[";
  size_t begin = text.find(opening);
  REQUIRE(begin != std::string::npos);
  begin += opening.size();
  const size_t end = text.find_first_of(",]", begin);
  return text.replace(begin, end - begin, value);
}

void RequireRefused(const base::Result<XgbModel>& model, base::StatusCode code, const std::string& fragment) {
  REQUIRE_FALSE(model.ok());
  INFO(model.status().ToString());
  CHECK(model.status().code() == code);
  CHECK_THAT(model.status().message(), Catch::Contains(fragment));
}

TEST_CASE("ParseXgbModel reads the structure of a libxgboost model", "[models][xgb_model]") {
  const std::string json = SmallModel(ModelFormat::kJson);
  const std::string ubj = SmallModel(ModelFormat::kUbjson);
  CHECK(SniffModelFormat(json) == ModelFormat::kJson);
  CHECK(SniffModelFormat(ubj) == ModelFormat::kUbjson);

  auto from_json = ParseXgbModel(json);
  auto from_ubj = ParseXgbModel(ubj);
  INFO(from_json.status().ToString() << " / " << from_ubj.status().ToString());
  REQUIRE(from_json.ok());
  REQUIRE(from_ubj.ok());
  const XgbModel& m = *from_json;
  CHECK(m.version == std::array<int, 3>{1, 7, 4});
  CHECK(m.objective == Objective::kBinaryLogistic);
  CHECK(m.base_score == 0.5f);
  CHECK(m.BaseMargin() == 0.0f);
  CHECK(m.num_feature == 8);
  CHECK(m.feature_names == std::vector<std::string>{"f_0", "f_1", "f_2", "f_3", "f_4", "f_5", "f_6", "f_7"});
  REQUIRE(m.trees.size() == 5);
  for (const XgbTree& t : m.trees) {
    CHECK(t.num_nodes() > 1);
    CHECK(t.right_children.size() == t.num_nodes());
    CHECK(t.split_indices.size() == t.num_nodes());
    CHECK(t.split_conditions.size() == t.num_nodes());
    CHECK(t.default_left.size() == t.num_nodes());
    CHECK(t.base_weights.size() == t.num_nodes());
  }
  // Both encodings carry the same numbers, bit for bit.
  const XgbModel& u = *from_ubj;
  CHECK(u.version == m.version);
  CHECK(u.base_score == m.base_score);
  CHECK(u.feature_names == m.feature_names);
  REQUIRE(u.trees.size() == m.trees.size());
  for (size_t i = 0; i < m.trees.size(); ++i) {
    CHECK(u.trees[i].left_children == m.trees[i].left_children);
    CHECK(u.trees[i].right_children == m.trees[i].right_children);
    CHECK(u.trees[i].split_indices == m.trees[i].split_indices);
    CHECK(u.trees[i].split_conditions == m.trees[i].split_conditions);
    CHECK(u.trees[i].default_left == m.trees[i].default_left);
    CHECK(u.trees[i].base_weights == m.trees[i].base_weights);
  }
}

TEST_CASE("ParseXgbModel reads the base_score encodings of 1.x to 3.1+", "[models][xgb_model]") {
  const std::string json = SmallModel(ModelFormat::kJson, {{"base_score", "0.3"}});
  REQUIRE(json.find(R"("base_score":"3E-1")") != std::string::npos);
  auto scalar = ParseXgbModel(json);
  auto array = ParseXgbModel(Mutate(json, R"("base_score":"3E-1")", R"("base_score":"[3E-1]")"));
  REQUIRE(scalar.ok());
  REQUIRE(array.ok());
  CHECK(scalar->base_score == 0.3f);
  CHECK(array->base_score == 0.3f);
  CHECK(array->BaseMargin() == -std::log(1.0f / 0.3f - 1.0f));
  RequireRefused(ParseXgbModel(Mutate(json, R"("base_score":"3E-1")", R"("base_score":"[3E-1,2E-1]")")),
                 base::StatusCode::kInvalidArgument, "multi-target");
  RequireRefused(ParseXgbModel(Mutate(json, R"("base_score":"3E-1")", R"("base_score":"1.5")")),
                 base::StatusCode::kInvalidArgument, "is not in (0, 1)");
  RequireRefused(ParseXgbModel(Mutate(json, R"("base_score":"3E-1")", R"("base_score":"abc")")),
                 base::StatusCode::kCorruption, "base_score is not a number");
}

TEST_CASE("ParseXgbModel refuses unsupported models with a clear message", "[models][xgb_model]") {
  SECTION("objectives") {
    for (const char* objective : {"count:poisson", "reg:pseudohubererror", "binary:hinge", "reg:absoluteerror"}) {
      RequireRefused(ParseXgbModel(SmallModel(ModelFormat::kUbjson, {{"objective", objective}}, 2)),
                     base::StatusCode::kInvalidArgument, std::string("unsupported objective '") + objective + "'");
    }
  }
  SECTION("multi-class") {
    auto model = ParseXgbModel(SmallModel(ModelFormat::kJson, {{"objective", "multi:softprob"}, {"num_class", "3"}}, 2));
    RequireRefused(model, base::StatusCode::kInvalidArgument, "multi-class models (num_class=3)");
  }
  SECTION("boosters other than gbtree") {
    RequireRefused(ParseXgbModel(SmallModel(ModelFormat::kJson, {{"booster", "dart"}}, 2)),
                   base::StatusCode::kInvalidArgument, "unsupported booster 'dart'");
    RequireRefused(ParseXgbModel(SmallModel(ModelFormat::kUbjson, {{"booster", "gblinear"}}, 2)),
                   base::StatusCode::kInvalidArgument, "unsupported booster 'gblinear'");
  }
  SECTION("categorical splits") {
    const std::string json = SmallModel(ModelFormat::kJson);
    RequireRefused(ParseXgbModel(Mutate(json, R"("split_type":[0,)", R"("split_type":[1,)")),
                   base::StatusCode::kInvalidArgument, "categorical splits are not supported");
  }
  SECTION("vector leaves and multi-target") {
    const std::string json = SmallModel(ModelFormat::kJson);
    RequireRefused(ParseXgbModel(Mutate(json, R"("size_leaf_vector":"0")", R"("size_leaf_vector":"2")")),
                   base::StatusCode::kInvalidArgument, "vector leaves");
    const std::string tree_leaf = R"("num_nodes":"15","size_leaf_vector":"0")";
    if (json.find(tree_leaf) != std::string::npos) {
      RequireRefused(ParseXgbModel(Mutate(json, tree_leaf, R"("num_nodes":"15","size_leaf_vector":"3")")),
                     base::StatusCode::kInvalidArgument, "vector leaves (size_leaf_vector=3");
    }
    RequireRefused(ParseXgbModel(Mutate(json, R"("num_target":"1")", R"("num_target":"2")")),
                   base::StatusCode::kInvalidArgument, "multi-target models (num_target=2)");
  }
}

TEST_CASE("ParseXgbModel reports inconsistent trees as corruption", "[models][xgb_model]") {
  const std::string json = SmallModel(ModelFormat::kJson);
  RequireRefused(ParseXgbModel(Mutate(json, R"("left_children":[1,)", R"("left_children":[99999,)")),
                 base::StatusCode::kCorruption, "invalid children");
  RequireRefused(ParseXgbModel(Mutate(json, R"("left_children":[1,)", R"("left_children":[0,)")),
                 base::StatusCode::kCorruption, "invalid children");
  RequireRefused(ParseXgbModel(SetFirstElement(json, "split_indices", "100")), base::StatusCode::kCorruption,
                 "splits on feature 100 but the model has 8 features");
  RequireRefused(ParseXgbModel(Mutate(json, R"("num_feature":"8","num_target")", R"("num_feature":"1","num_target")")),
                 base::StatusCode::kCorruption, "8 feature names for 1 features");
  RequireRefused(ParseXgbModel(Mutate(json, R"("split_conditions":[)", R"("split_conditions":["x",)")),
                 base::StatusCode::kCorruption, "'split_conditions' is not an array of in-range numbers");
  RequireRefused(ParseXgbModel(Mutate(json, R"("default_left":[)", R"("default_left":[0,)")),
                 base::StatusCode::kCorruption, "'default_left' has");
  RequireRefused(ParseXgbModel(Mutate(json, R"("learner":{)", R"("other":{)")),
                 base::StatusCode::kInvalidArgument, "not an XGBoost model");
  RequireRefused(ParseXgbModel(R"({"learner": 3})"), base::StatusCode::kCorruption, "learner_model_param");
  RequireRefused(ParseXgbModel(""), base::StatusCode::kInvalidArgument, "empty input");
}

TEST_CASE("ParseXgbModel fails cleanly on truncated files", "[models][xgb_model]") {
  for (ModelFormat format : {ModelFormat::kJson, ModelFormat::kUbjson}) {
    const std::string bytes = SmallModel(format);
    const size_t step = std::max<size_t>(1, bytes.size() / 400);
    for (size_t cut = 1; cut < bytes.size(); cut += (cut < 64 ? 1 : step)) {
      auto model = ParseXgbModel(std::string_view(bytes).substr(0, cut), format);
      INFO("cut at " << cut << " of " << bytes.size());
      REQUIRE_FALSE(model.ok());
      const bool expected_code = model.status().code() == base::StatusCode::kCorruption ||
                                 model.status().code() == base::StatusCode::kInvalidArgument;
      CHECK(expected_code);
    }
    auto truncated = ParseXgbModel(std::string_view(bytes).substr(0, bytes.size() / 2), format);
    CHECK_THAT(truncated.status().message(),
               Catch::Contains(format == ModelFormat::kJson ? "invalid JSON" : "UBJSON: ") &&
                   Catch::Contains(format == ModelFormat::kJson ? "" : "at byte"));
  }
}

TEST_CASE("ParseXgbModel survives garbage and corrupted bytes", "[models][xgb_model]") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 2000; ++i) {
    std::string garbage(static_cast<size_t>(1 + i % 300), '\0');
    for (char& c : garbage) c = static_cast<char>(byte(rng));
    if (i % 3 == 0) garbage[0] = '{';
    auto model = ParseXgbModel(garbage);
    REQUIRE_FALSE(model.ok());
  }
  auto text = ParseXgbModel("this is not a model");
  REQUIRE_FALSE(text.ok());
  CHECK_THAT(text.status().message(), Catch::Contains("UBJSON"));

  // Random byte flips in a real UBJSON model must either be refused or give a usable forest.
  const std::string ubj = SmallModel(ModelFormat::kUbjson);
  std::vector<float> row(8, 0.5f);
  size_t accepted = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string corrupted = ubj;
    std::uniform_int_distribution<size_t> where(0, corrupted.size() - 1);
    for (int flips = 0; flips < 1 + i % 4; ++flips) corrupted[where(rng)] = static_cast<char>(byte(rng));
    auto forest = Forest::Load(corrupted);
    if (forest.ok()) {
      ++accepted;
      (void)(*forest)->PredictRow(row.data());
    }
  }
  INFO(accepted << " corrupted models still parsed");
  SUCCEED();
}

}  // namespace
}  // namespace vigil::models
