// The libxgboost wrapper: errors come back as Status, training is deterministic, models round-trip.

#include "models/xgb_booster.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

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

TEST_CASE("XgbBooster early stopping keeps the trees up to the best round on the evaluation set",
          "[models][xgb_booster]") {
  // Few noisy rows and deep trees: the validation log loss bottoms out early, then rises.
  Dataset train = MakeDataset(300, 6, 0.0, true, 3);
  Dataset valid = MakeDataset(300, 6, 0.0, true, 4);
  auto train_matrix = DMatrix::FromDense(train.values.data(), train.num_rows, train.num_cols, train.labels);
  auto valid_matrix = DMatrix::FromDense(valid.values.data(), valid.num_rows, valid.num_cols, valid.labels);
  REQUIRE(train_matrix.ok());
  REQUIRE(valid_matrix.ok());
  const std::vector<std::string> names = {"a", "b", "c", "d", "e", "f"};
  REQUIRE((*train_matrix)->SetFeatureNames(names).ok());
  TrainOptions options;
  options.params = {{"objective", "binary:logistic"}, {"max_depth", "8"}, {"eta", "0.5"}, {"seed", "1"}};
  options.rounds = 200;
  options.early_stopping_rounds = 10;
  options.early_stopping_metric = "logloss";
  auto stopped = XgbBooster::Train(**train_matrix, options, valid_matrix->get());
  REQUIRE(stopped.ok());
  REQUIRE((*stopped)->early_stopping().has_value());
  const EarlyStopping& e = *(*stopped)->early_stopping();
  CHECK(e.metric == "logloss");
  CHECK(e.rounds_run < 200);
  CHECK(e.rounds_run == e.best_round + 1 + 10);  // stopped by patience, not by the round count
  CHECK((*stopped)->BoostedRounds().value() == e.best_round + 1);

  // The kept model is the one trained for best_round + 1 rounds, tree for tree.
  TrainOptions plain = options;
  plain.early_stopping_rounds = 0;
  plain.rounds = e.best_round + 1;
  auto shorter = XgbBooster::Train(**train_matrix, plain);
  REQUIRE(shorter.ok());
  CHECK_FALSE((*shorter)->early_stopping().has_value());
  const auto expected = (*shorter)->PredictDense(valid.values.data(), valid.num_rows, valid.num_cols);
  const auto got = (*stopped)->PredictDense(valid.values.data(), valid.num_rows, valid.num_cols);
  REQUIRE(expected.ok());
  REQUIRE(got.ok());
  CHECK(*got == *expected);
  CHECK_THAT(testing::SaveOrDie(**stopped, ModelFormat::kJson),
             Catch::Contains("\"feature_names\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]"));

  auto no_valid = XgbBooster::Train(**train_matrix, options);
  REQUIRE_FALSE(no_valid.ok());
  CHECK(no_valid.status().code() == base::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::models
