// Explainer against libxgboost's pred_contribs (exact TreeSHAP) and approx_contribs (Saabas).

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "models/explain.h"
#include "models/forest.h"
#include "tests/models/model_test_util.h"

namespace vigil::models {
namespace {

using testing::Dataset;
using testing::MakeDataset;

void CheckContributions(const std::map<std::string, std::string>& params, int rounds, size_t cols, double nan_rate,
                        uint32_t seed) {
  Dataset train = MakeDataset(2000, cols, nan_rate, params.at("objective") != "reg:squarederror", seed);
  auto booster = testing::TrainOrDie(train, params, rounds);
  const std::string bytes = testing::SaveOrDie(*booster, ModelFormat::kUbjson);
  auto model = ParseXgbModel(bytes);
  REQUIRE(model.ok());
  auto explainer = Explainer::Make(*model);
  INFO(explainer.status().ToString());
  REQUIRE(explainer.ok());
  auto forest = Forest::FromModel(*model);
  REQUIRE(forest.ok());

  Dataset test = MakeDataset(300, cols, nan_rate, true, seed + 1);
  auto dmatrix = DMatrix::FromDense(test.values.data(), test.num_rows, test.num_cols, {});
  REQUIRE(dmatrix.ok());
  for (ExplainMode mode : {ExplainMode::kExact, ExplainMode::kApproximate}) {
    INFO((mode == ExplainMode::kExact ? "exact" : "approximate"));
    auto expected = booster->PredictContribs(**dmatrix, mode == ExplainMode::kApproximate);
    REQUIRE(expected.ok());
    REQUIRE(expected->size() == test.num_rows * (cols + 1));
    std::vector<float> got(cols + 1);
    double worst = 0;
    double worst_sum = 0;
    for (size_t r = 0; r < test.num_rows; ++r) {
      (*explainer)->Contributions(test.row(r), mode, got.data());
      double sum = 0;
      for (size_t c = 0; c <= cols; ++c) {
        worst = std::max(worst, std::abs(static_cast<double>(got[c]) - (*expected)[r * (cols + 1) + c]));
        sum += got[c];
      }
      worst_sum = std::max(worst_sum, std::abs(sum - (*forest)->PredictMarginRow(test.row(r))));
    }
    CHECK(worst <= 1e-5);
    CHECK(worst_sum <= 1e-3);  // local accuracy: contributions add up to the margin
  }
}

TEST_CASE("Explainer matches libxgboost contributions", "[models][explain]") {
  CheckContributions({{"objective", "binary:logistic"}, {"max_depth", "4"}}, 30, 8, 0.1, 101);
  CheckContributions({{"objective", "binary:logistic"}, {"max_depth", "6"}, {"base_score", "0.2"}}, 60, 15, 0.2, 102);
  CheckContributions({{"objective", "reg:squarederror"}, {"max_depth", "8"}, {"eta", "0.1"}}, 40, 12, 0.05, 103);
  CheckContributions({{"objective", "binary:logistic"}, {"grow_policy", "lossguide"}, {"max_depth", "0"},
                      {"max_leaves", "24"}},
                     20, 6, 0.3, 104);
}

TEST_CASE("Explainer top-k orders features by absolute contribution", "[models][explain]") {
  Dataset train = MakeDataset(1500, 10, 0.1, true, 7);
  auto booster = testing::TrainOrDie(train, {{"objective", "binary:logistic"}, {"max_depth", "5"}}, 40);
  auto model = ParseXgbModel(testing::SaveOrDie(*booster, ModelFormat::kJson));
  REQUIRE(model.ok());
  auto explainer = Explainer::Make(*model);
  REQUIRE(explainer.ok());
  for (size_t r = 0; r < 20; ++r) {
    std::vector<float> all(11);
    (*explainer)->Contributions(train.row(r), ExplainMode::kExact, all.data());
    auto top = (*explainer)->TopK(train.row(r), 3, ExplainMode::kExact);
    REQUIRE(top.size() == 3);
    for (size_t i = 0; i + 1 < top.size(); ++i) CHECK(std::abs(top[i].value) >= std::abs(top[i + 1].value));
    for (const Contribution& c : top) CHECK(c.value == all[c.feature]);
    for (size_t f = 0; f < 10; ++f) {
      bool chosen = f == top[0].feature || f == top[1].feature || f == top[2].feature;
      if (!chosen) CHECK(std::abs(all[f]) <= std::abs(top[2].value));
    }
  }
  CHECK((*explainer)->TopK(train.row(0), 50, ExplainMode::kApproximate).size() == 10);
}

TEST_CASE("Explainer needs node covers", "[models][explain]") {
  Dataset train = MakeDataset(500, 4, 0.0, true, 9);
  auto booster = testing::TrainOrDie(train, {{"objective", "binary:logistic"}, {"max_depth", "2"}}, 2);
  auto model = ParseXgbModel(testing::SaveOrDie(*booster, ModelFormat::kJson));
  REQUIRE(model.ok());
  model->trees[1].sum_hessian.clear();
  auto explainer = Explainer::Make(*model);
  REQUIRE_FALSE(explainer.ok());
  CHECK(explainer.status().code() == base::StatusCode::kFailedPrecondition);
  CHECK_THAT(explainer.status().message(), Catch::Contains("tree 1 has no node covers"));
}

}  // namespace
}  // namespace vigil::models
