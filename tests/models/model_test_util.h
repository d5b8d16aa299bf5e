#pragma once
// Shared helpers for the models tests: deterministic synthetic data (with missing values) and a
// one-call trainer through libxgboost.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "models/xgb_booster.h"

namespace vigil::models::testing {

//! A dense row-major data set with labels.
struct Dataset {
  size_t num_rows = 0;        //!< Rows.
  size_t num_cols = 0;        //!< Columns.
  std::vector<float> values;  //!< num_rows * num_cols, NaN = missing.
  std::vector<float> labels;  //!< num_rows labels.

  const float* row(size_t i) const { return values.data() + i * num_cols; }
};

//! Synthetic fraud-like data: a nonlinear score of the features, with `nan_rate` of values missing.
//! `binary` draws 0/1 labels whose positive rate is about `positive_rate`; otherwise real targets.
inline Dataset MakeDataset(size_t num_rows, size_t num_cols, double nan_rate, bool binary, uint32_t seed,
                           double positive_rate = 0.3) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Dataset data;
  data.num_rows = num_rows;
  data.num_cols = num_cols;
  data.values.resize(num_rows * num_cols);
  data.labels.resize(num_rows);
  const double shift = std::log(positive_rate / (1.0 - positive_rate));
  for (size_t i = 0; i < num_rows; ++i) {
    float* row = data.values.data() + i * num_cols;
    double score = 0.0;
    for (size_t j = 0; j < num_cols; ++j) {
      float x = normal(rng);
      // A few integer-valued and heavy-tailed columns, as amounts and counts are in practice.
      if (j % 5 == 3) x = std::round(std::abs(x) * 4.0f);
      if (j % 7 == 6) x = std::exp(x);
      row[j] = x;
      double weight = 1.0 / (1.0 + static_cast<double>(j));
      score += weight * (j % 2 == 0 ? x : std::sin(x)) + (j + 1 < num_cols ? 0.3 * x * (j % 3 == 0) : 0.0);
    }
    for (size_t j = 0; j < num_cols; ++j) {
      if (uniform(rng) < nan_rate) row[j] = std::numeric_limits<float>::quiet_NaN();
    }
    if (binary) {
      double p = 1.0 / (1.0 + std::exp(-(2.0 * score + shift)));
      data.labels[i] = uniform(rng) < p ? 1.0f : 0.0f;
    } else {
      data.labels[i] = static_cast<float>(score + 0.1 * normal(rng));
    }
  }
  return data;
}

//! Trains a booster on `data`; fails the test on error.
inline std::unique_ptr<XgbBooster> TrainOrDie(const Dataset& data, std::map<std::string, std::string> params,
                                              int rounds) {
  auto dmatrix = DMatrix::FromDense(data.values.data(), data.num_rows, data.num_cols, data.labels);
  REQUIRE(dmatrix.ok());
  TrainOptions options;
  options.params = std::move(params);
  options.rounds = rounds;
  auto booster = XgbBooster::Train(**dmatrix, options);
  INFO(booster.status().ToString());
  REQUIRE(booster.ok());
  return std::move(booster).value();
}

//! Saves a booster; fails the test on error.
inline std::string SaveOrDie(const XgbBooster& booster, ModelFormat format) {
  auto bytes = booster.Save(format);
  INFO(bytes.status().ToString());
  REQUIRE(bytes.ok());
  return std::move(bytes).value();
}

//! Largest absolute difference between two equally long vectors.
inline double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

}  // namespace vigil::models::testing
