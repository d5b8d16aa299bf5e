// The libxgboost wrapper: errors come back as Status, training is deterministic, models round-trip.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "models/xgb_booster.h"
#include "tests/models/model_test_util.h"

namespace vigil::models {
namespace {

using testing::Dataset;
using testing::MakeDataset;

TEST_CASE("XgbBooster turns libxgboost errors into Status", "[models][xgb_booster]") {
  Dataset data = MakeDataset(200, 4, 0.1, true, 1);
  SECTION("label count") {
    std::vector<float> labels(10, 0.0f);
    auto dmatrix = DMatrix::FromDense(data.values.data(), data.num_rows, data.num_cols, labels);
    REQUIRE_FALSE(dmatrix.ok());
    CHECK(dmatrix.status().code() == base::StatusCode::kInvalidArgument);
    CHECK_THAT(dmatrix.status().message(), Catch::Contains("10 labels for 200 rows"));
  }
  SECTION("bad parameter value") {
    auto dmatrix = DMatrix::FromDense(data.values.data(), data.num_rows, data.num_cols, data.labels);
    REQUIRE(dmatrix.ok());
    auto booster = XgbBooster::Train(**dmatrix, TrainOptions{{{"max_depth", "deep"}}, 2});
    REQUIRE_FALSE(booster.ok());
    CHECK_THAT(booster.status().message(), Catch::Contains("libxgboost") && Catch::Contains("max_depth"));
  }
  SECTION("garbage model bytes") {
    auto booster = XgbBooster::Load("definitely not a model");
    REQUIRE_FALSE(booster.ok());
    CHECK_THAT(booster.status().message(), Catch::Contains("XGBoosterLoadModelFromBuffer failed"));
  }
}

TEST_CASE("XgbBooster trains deterministically and round-trips models", "[models][xgb_booster]") {
  Dataset data = MakeDataset(1000, 6, 0.1, true, 2);
  const std::map<std::string, std::string> params = {
      {"objective", "binary:logistic"}, {"max_depth", "4"}, {"subsample", "0.7"}, {"seed", "42"}};
  auto a = testing::TrainOrDie(data, params, 10);
  auto b = testing::TrainOrDie(data, params, 10);
  CHECK(testing::SaveOrDie(*a, ModelFormat::kJson) == testing::SaveOrDie(*b, ModelFormat::kJson));
  auto other_seed = params;
  other_seed["seed"] = "43";
  auto c = testing::TrainOrDie(data, other_seed, 10);
  CHECK(testing::SaveOrDie(*a, ModelFormat::kJson) != testing::SaveOrDie(*c, ModelFormat::kJson));

  auto expected = a->PredictDense(data.values.data(), data.num_rows, data.num_cols);
  REQUIRE(expected.ok());
  for (ModelFormat format : {ModelFormat::kJson, ModelFormat::kUbjson}) {
    auto loaded = XgbBooster::Load(testing::SaveOrDie(*a, format), {{"nthread", "1"}});
    REQUIRE(loaded.ok());
    CHECK((*loaded)->NumFeatures().value() == 6);
    auto got = (*loaded)->PredictDense(data.values.data(), data.num_rows, data.num_cols);
    REQUIRE(got.ok());
    CHECK(*got == *expected);
  }
  auto dmatrix = DMatrix::FromDense(data.values.data(), data.num_rows, data.num_cols, {});
  REQUIRE(dmatrix.ok());
  auto via_dmatrix = a->Predict(**dmatrix);
  REQUIRE(via_dmatrix.ok());
  CHECK(testing::MaxAbsDiff(*via_dmatrix, *expected) <= 1e-6);
  auto contribs = a->PredictContribs(**dmatrix);
  REQUIRE(contribs.ok());
  CHECK(contribs->size() == data.num_rows * 7);
}

}  // namespace
}  // namespace vigil::models
