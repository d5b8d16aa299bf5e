// Forest against libxgboost (the oracle): models of many shapes are trained through the C API,
// saved as JSON and UBJSON, loaded by Forest, and both predict the same fresh rows.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "models/forest.h"
#include "tests/models/model_test_util.h"

namespace vigil::models {
namespace {

using testing::Dataset;
using testing::MakeDataset;
using testing::MaxAbsDiff;

constexpr double kTolerance = 1e-6;
constexpr size_t kTestRows = 10000;

//! One model shape to train and compare.
struct Case {
  std::string name;                           //!< For messages.
  std::map<std::string, std::string> params;  //!< XGBoost params; objective included.
  int rounds;                                 //!< Boosting rounds.
  size_t num_cols;                            //!< Features.
  double nan_rate;                            //!< Share of missing values, train and test.
  size_t train_rows = 3000;                   //!< Training rows.
  double positive_rate = 0.3;                 //!< Class balance for the binary objectives.
};

bool IsBinary(const Case& c) { return c.params.at("objective") != "reg:squarederror"; }

//! Trains `c`, then checks Forest (from JSON and UBJSON) against libxgboost on kTestRows rows.
void CheckAgainstLibxgboost(const Case& c, uint32_t seed) {
  INFO("case " << c.name);
  Dataset train = MakeDataset(c.train_rows, c.num_cols, c.nan_rate, IsBinary(c), seed, c.positive_rate);
  Dataset test = MakeDataset(kTestRows, c.num_cols, c.nan_rate, IsBinary(c), seed + 1000, c.positive_rate);
  auto booster = testing::TrainOrDie(train, c.params, c.rounds);

  auto expected = booster->PredictDense(test.values.data(), test.num_rows, test.num_cols, PredictKind::kValue);
  auto expected_margin = booster->PredictDense(test.values.data(), test.num_rows, test.num_cols, PredictKind::kMargin);
  REQUIRE(expected.ok());
  REQUIRE(expected_margin.ok());

  for (ModelFormat format : {ModelFormat::kJson, ModelFormat::kUbjson}) {
    INFO("format " << (format == ModelFormat::kJson ? "json" : "ubjson"));
    auto forest = Forest::Load(testing::SaveOrDie(*booster, format));
    INFO(forest.status().ToString());
    REQUIRE(forest.ok());
    CHECK((*forest)->num_features() == c.num_cols);
    CHECK((*forest)->num_trees() >= static_cast<size_t>(c.rounds));

    std::vector<float> got(test.num_rows);
    std::vector<float> got_margin(test.num_rows);
    (*forest)->PredictBatch(test.values.data(), test.num_rows, test.num_cols, got.data());
    (*forest)->PredictMarginBatch(test.values.data(), test.num_rows, test.num_cols, got_margin.data());
    CHECK(MaxAbsDiff(got, *expected) <= kTolerance);
    CHECK(MaxAbsDiff(got_margin, *expected_margin) <= kTolerance);

    // The single-row path must agree with the batch path bit for bit.
    size_t row_mismatches = 0;
    for (size_t i = 0; i < test.num_rows; i += 7) {
      row_mismatches += (*forest)->PredictRow(test.row(i)) != got[i];
      row_mismatches += (*forest)->PredictMarginRow(test.row(i)) != got_margin[i];
    }
    CHECK(row_mismatches == 0);
  }
}

TEST_CASE("Forest matches libxgboost: binary:logistic shapes", "[models][forest]") {
  const std::vector<Case> cases = {
      {"depth2 x10", {{"objective", "binary:logistic"}, {"max_depth", "2"}}, 10, 8, 0.0},
      {"depth6 x200 nan", {{"objective", "binary:logistic"}, {"max_depth", "6"}, {"eta", "0.1"}}, 200, 15, 0.1},
  };
  uint32_t seed = 11;
  for (const Case& c : cases) CheckAgainstLibxgboost(c, seed++);
}

TEST_CASE("Forest matches libxgboost: deep trees and long ensembles", "[models][forest]") {
  const std::vector<Case> cases = {
      {"depth12 x60 imbalanced",
       {{"objective", "binary:logistic"}, {"max_depth", "12"}, {"min_child_weight", "0"}, {"eta", "0.2"}},
       60, 30, 0.2, 4000, 0.02},
      {"depth4 x1000",
       {{"objective", "binary:logistic"}, {"max_depth", "4"}, {"eta", "0.05"}, {"subsample", "0.8"}},
       1000, 10, 0.05, 2000},
  };
  uint32_t seed = 21;
  for (const Case& c : cases) CheckAgainstLibxgboost(c, seed++);
}

TEST_CASE("Forest matches libxgboost: regression objectives", "[models][forest]") {
  const std::vector<Case> cases = {
      {"squarederror depth3 x50", {{"objective", "reg:squarederror"}, {"max_depth", "3"}}, 50, 5, 0.0},
      {"squarederror depth8 x300 nan",
       {{"objective", "reg:squarederror"}, {"max_depth", "8"}, {"eta", "0.05"}, {"colsample_bytree", "0.7"}},
       300, 20, 0.15},
      {"squarederror exact depth10 x20",
       {{"objective", "reg:squarederror"}, {"max_depth", "10"}, {"tree_method", "exact"}, {"base_score", "1.5"}},
       20, 9, 0.3, 1500},
      {"reg:logistic depth5 x100", {{"objective", "reg:logistic"}, {"max_depth", "5"}}, 100, 12, 0.1},
  };
  uint32_t seed = 31;
  for (const Case& c : cases) CheckAgainstLibxgboost(c, seed++);
}

TEST_CASE("Forest matches libxgboost: unusual trees and parameters", "[models][forest]") {
  const std::vector<Case> cases = {
      {"lossguide unbalanced",
       {{"objective", "binary:logistic"}, {"grow_policy", "lossguide"}, {"max_depth", "0"}, {"max_leaves", "48"},
        {"min_child_weight", "0.5"}},
       80, 16, 0.1},
      {"base_score 0.3 + forest of 3",
       {{"objective", "binary:logistic"}, {"base_score", "0.3"}, {"max_depth", "6"}, {"num_parallel_tree", "3"},
        {"subsample", "0.7"}, {"colsample_bynode", "0.6"}},
       40, 14, 0.05},
      {"regularised depth7 x150",
       {{"objective", "binary:logistic"}, {"max_depth", "7"}, {"gamma", "0.5"}, {"lambda", "3"}, {"alpha", "0.5"},
        {"scale_pos_weight", "5"}, {"max_delta_step", "1"}},
       150, 25, 0.1, 3000, 0.1},
      {"mostly missing", {{"objective", "binary:logistic"}, {"max_depth", "5"}}, 60, 6, 0.6},
  };
  uint32_t seed = 51;
  for (const Case& c : cases) CheckAgainstLibxgboost(c, seed++);
}

// PredictRow ranks values and walks eight trees per vector for models of at most
// Forest::kMaxLaneFeatures features, kMaxLaneThresholds split values per feature and depth
// kMaxLaneDepth; these shapes sit on both sides of those limits.
TEST_CASE("Forest matches libxgboost: single-row path limits", "[models][forest]") {
  const std::vector<Case> cases = {
      {"30 features depth8 x37", {{"objective", "binary:logistic"}, {"max_depth", "8"}, {"eta", "0.3"}}, 37, 30, 0.15},
      {"31 features x20", {{"objective", "binary:logistic"}, {"max_depth", "4"}}, 20, 31, 0.1},
      {"16 features x13", {{"objective", "reg:squarederror"}, {"max_depth", "3"}}, 13, 16, 0.3},
      {"depth10 x9",
       {{"objective", "binary:logistic"}, {"max_depth", "10"}, {"min_child_weight", "0"}, {"eta", "0.5"}},
       9, 8, 0.1, 4000},
      {"exact many split values",
       {{"objective", "reg:squarederror"}, {"max_depth", "6"}, {"tree_method", "exact"}, {"eta", "0.3"}},
       40, 3, 0.05, 6000},
  };
  uint32_t seed = 71;
  for (const Case& c : cases) CheckAgainstLibxgboost(c, seed++);
}

TEST_CASE("Forest honours row_stride and special values", "[models][forest]") {
  Dataset train = MakeDataset(2000, 6, 0.1, true, 7);
  auto booster = testing::TrainOrDie(train, {{"objective", "binary:logistic"}, {"max_depth", "4"}}, 30);
  auto forest = Forest::Load(testing::SaveOrDie(*booster, ModelFormat::kJson));
  REQUIRE(forest.ok());

  Dataset test = MakeDataset(500, 6, 0.2, true, 8);
  // Infinities are values, not missing: they must follow the comparison like libxgboost does.
  for (size_t i = 0; i < test.num_rows; i += 11) test.values[i * 6 + i % 6] = (i % 2 ? 1 : -1) * INFINITY;
  auto expected = booster->PredictDense(test.values.data(), test.num_rows, test.num_cols);
  REQUIRE(expected.ok());

  constexpr size_t kStride = 9;
  std::vector<float> padded(test.num_rows * kStride, 12345.0f);
  for (size_t i = 0; i < test.num_rows; ++i) std::copy(test.row(i), test.row(i) + 6, padded.data() + i * kStride);
  std::vector<float> got(test.num_rows);
  (*forest)->PredictBatch(padded.data(), test.num_rows, kStride, got.data());
  CHECK(MaxAbsDiff(got, *expected) <= kTolerance);
  size_t row_mismatches = 0;
  for (size_t i = 0; i < test.num_rows; ++i) row_mismatches += (*forest)->PredictRow(test.row(i)) != got[i];
  CHECK(row_mismatches == 0);
}

TEST_CASE("Forest serves models wider than the prepared-row limit", "[models][forest]") {
  Dataset train = MakeDataset(1500, 6, 0.2, true, 13);
  auto booster = testing::TrainOrDie(train, {{"objective", "binary:logistic"}, {"max_depth", "5"}}, 25);
  const std::string json = testing::SaveOrDie(*booster, ModelFormat::kJson);
  // Declare many more (unused) columns than the fast path takes; the model must predict the same.
  const size_t wide = Forest::kMaxPreparedFeatures + 100;
  const std::string from = R"("num_feature":"6","num_target")";
  const size_t at = json.find(from);
  REQUIRE(at != std::string::npos);
  std::string widened = json;
  widened.replace(at, from.size(), R"("num_feature":")" + std::to_string(wide) + R"(","num_target")");
  auto forest = Forest::Load(widened);
  REQUIRE(forest.ok());
  REQUIRE((*forest)->num_features() == wide);

  Dataset test = MakeDataset(200, 6, 0.2, true, 14);
  auto expected = booster->PredictDense(test.values.data(), test.num_rows, test.num_cols);
  REQUIRE(expected.ok());
  std::vector<float> rows(test.num_rows * wide, std::numeric_limits<float>::quiet_NaN());
  for (size_t i = 0; i < test.num_rows; ++i) std::copy(test.row(i), test.row(i) + 6, rows.data() + i * wide);
  std::vector<float> got(test.num_rows);
  (*forest)->PredictBatch(rows.data(), test.num_rows, wide, got.data());
  CHECK(MaxAbsDiff(got, *expected) <= kTolerance);
  for (size_t i = 0; i < test.num_rows; i += 17) CHECK((*forest)->PredictRow(rows.data() + i * wide) == got[i]);
}

TEST_CASE("Forest predicts concurrently from many threads", "[models][forest]") {
  Dataset train = MakeDataset(2000, 10, 0.1, true, 3);
  auto booster = testing::TrainOrDie(train, {{"objective", "binary:logistic"}, {"max_depth", "6"}}, 50);
  auto forest = Forest::Load(testing::SaveOrDie(*booster, ModelFormat::kUbjson));
  REQUIRE(forest.ok());
  Dataset test = MakeDataset(3000, 10, 0.1, true, 4);
  std::vector<float> reference(test.num_rows);
  (*forest)->PredictBatch(test.values.data(), test.num_rows, test.num_cols, reference.data());

  constexpr int kThreads = 4;
  std::vector<std::vector<float>> results(kThreads, std::vector<float>(test.num_rows));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 5; ++repeat) {
        (*forest)->PredictBatch(test.values.data(), test.num_rows, test.num_cols, results[t].data());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) CHECK(result == reference);
}

TEST_CASE("Forest handles empty batches and single-leaf trees", "[models][forest]") {
  // A constant target makes XGBoost grow trees that are a single leaf.
  Dataset train = MakeDataset(200, 3, 0.0, false, 5);
  std::fill(train.labels.begin(), train.labels.end(), 2.5f);
  auto booster = testing::TrainOrDie(train, {{"objective", "reg:squarederror"}, {"base_score", "0.5"}}, 5);
  auto forest = Forest::Load(testing::SaveOrDie(*booster, ModelFormat::kJson));
  REQUIRE(forest.ok());
  (*forest)->PredictBatch(nullptr, 0, 3, nullptr);
  auto expected = booster->PredictDense(train.values.data(), 10, 3);
  REQUIRE(expected.ok());
  std::vector<float> got(10);
  (*forest)->PredictBatch(train.values.data(), 10, 3, got.data());
  CHECK(MaxAbsDiff(got, *expected) <= kTolerance);
}

}  // namespace
}  // namespace vigil::models
