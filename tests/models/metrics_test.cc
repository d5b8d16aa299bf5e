#include "models/metrics.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace vigil::models {
namespace {

double Get(const base::Result<double>& r) {
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("AUC ROC and average precision on scikit-learn's documented example", "[models][metrics]") {
  const std::vector<double> scores = {0.1, 0.4, 0.35, 0.8};
  const std::vector<int> labels = {0, 0, 1, 1};
  CHECK(Get(AucRoc(scores, labels)) == Approx(0.75));
  // Thresholds 0.8 (P 1, R .5), 0.4 (P .5, R .5), 0.35 (P 2/3, R 1): .5 * 1 + .5 * 2/3.
  CHECK(Get(AveragePrecision(scores, labels)) == Approx(0.5 + 0.5 * 2.0 / 3.0));
}

TEST_CASE("Tied scores form one threshold", "[models][metrics]") {
  const std::vector<double> flat = {0.3, 0.3, 0.3, 0.3};
  const std::vector<int> labels = {1, 0, 0, 0};
  CHECK(Get(AucRoc(flat, labels)) == Approx(0.5));
  CHECK(Get(AveragePrecision(flat, labels)) == Approx(0.25));  // the prevalence
  // Fraud tied with one genuine row (half a pair), above another (a full pair).
  const std::vector<double> scores = {1, 1, 0};
  const std::vector<int> tied = {1, 0, 0};
  CHECK(Get(AucRoc(scores, tied)) == Approx(0.75));
  CHECK(Get(AveragePrecision(scores, tied)) == Approx(0.5));
  // A perfect and a reversed ranking.
  const std::vector<double> ranked = {0.9, 0.8, 0.2, 0.1};
  CHECK(Get(AucRoc(ranked, std::vector<int>{1, 1, 0, 0})) == 1.0);
  CHECK(Get(AucRoc(ranked, std::vector<int>{0, 0, 1, 1})) == 0.0);
  CHECK(Get(AveragePrecision(ranked, std::vector<int>{1, 1, 0, 0})) == 1.0);
}

TEST_CASE("Precision@k divides by k", "[models][metrics]") {
  const std::vector<double> scores = {0.6, 0.9, 0.7, 0.8};
  const std::vector<int> labels = {1, 1, 1, 0};
  CHECK(Get(PrecisionAtK(scores, labels, 1)) == 1.0);
  CHECK(Get(PrecisionAtK(scores, labels, 2)) == 0.5);
  CHECK(Get(PrecisionAtK(scores, labels, 3)) == Approx(2.0 / 3));
  CHECK(Get(PrecisionAtK(scores, labels, 10)) == Approx(0.3));
  CHECK(PrecisionAtK(scores, labels, 0).status().code() == base::StatusCode::kInvalidArgument);
}

TEST_CASE("Malformed inputs are refused", "[models][metrics]") {
  const std::vector<double> two = {0.1, 0.2};
  CHECK(AucRoc(two, std::vector<int>{1}).status().code() == base::StatusCode::kInvalidArgument);
  CHECK(AucRoc(two, std::vector<int>{1, 2}).status().code() == base::StatusCode::kInvalidArgument);
  CHECK(AucRoc(two, std::vector<int>{1, 1}).status().code() == base::StatusCode::kInvalidArgument);
  CHECK(AveragePrecision(two, std::vector<int>{0, 0}).status().code() == base::StatusCode::kInvalidArgument);
  const std::vector<double> nan = {0.1, std::nan("")};
  CHECK(AucRoc(nan, std::vector<int>{0, 1}).status().code() == base::StatusCode::kInvalidArgument);
  CHECK(CardPrecisionAtK({}, 100).status().code() == base::StatusCode::kInvalidArgument);
}

TEST_CASE("Card precision@k: max per card and day, detected cards dropped later", "[models][metrics]") {
  // k = 2. Day 0: cards 1 (max .9, fraud), 2 (.8, fraud), 3 (.7, fraud): top 2 = {1, 2}, both hits.
  // Day 1: cards 1 and 2 are dropped; 3 (.5, genuine) and 4 (.5, fraud) tie, lower id first; 5 (.3,
  // fraud) is outside the top 2. One hit.
  const std::vector<ScoredTransaction> rows = {
      {0, 1, 0, 0.9},  {0, 1, 1, 0.2}, {0, 2, 1, 0.8}, {0, 3, 1, 0.7}, {1, 1, 1, 0.95},
      {1, 2, 1, 0.99}, {1, 4, 1, 0.5}, {1, 3, 0, 0.5}, {1, 5, 1, 0.3},
  };
  const auto cp = CardPrecisionAtK(rows, 2);
  REQUIRE(cp.ok());
  CHECK(cp->days == std::vector<int32_t>{0, 1});
  CHECK(cp->per_day == std::vector<double>{1.0, 0.5});
  CHECK(cp->compromised_cards == std::vector<int64_t>{3, 2});
  CHECK(cp->mean == 0.75);
  // With k larger than the number of cards, misses count.
  CHECK(CardPrecisionAtK(rows, 4)->per_day == std::vector<double>{0.75, 0.5});
}

//! One random data set and scikit-learn's verdict on it.
struct Trial {
  std::vector<double> scores;  //!< Model scores.
  std::vector<int> labels;     //!< 0/1 labels.
  double sklearn_auc = 0;      //!< roc_auc_score.
  double sklearn_ap = 0;       //!< average_precision_score.
};

// Runs scikit-learn once over all trials; returns false if /usr/bin/python3 has no sklearn.
bool RunSklearn(std::vector<Trial>& trials) {
  const auto path =
      std::filesystem::temp_directory_path() / ("vigil_metrics_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(path);
    out.precision(17);
    for (size_t t = 0; t < trials.size(); ++t) {
      for (size_t i = 0; i < trials[t].scores.size(); ++i) {
        out << t << ' ' << trials[t].scores[i] << ' ' << trials[t].labels[i] << '\n';
      }
    }
  }
  const std::string command =
      "/usr/bin/python3 -c 'import sys, numpy as np\n"
      "from sklearn.metrics import roc_auc_score, average_precision_score\n"
      "d = np.loadtxt(sys.argv[1], ndmin=2)\n"
      "for t in range(int(d[:, 0].max()) + 1):\n"
      "    s, y = d[d[:, 0] == t, 1], d[d[:, 0] == t, 2]\n"
      "    print(repr(roc_auc_score(y, s)), repr(average_precision_score(y, s)))' " +
      path.string() + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  size_t parsed = 0;
  for (Trial& t : trials) parsed += std::fscanf(pipe, "%lf %lf", &t.sklearn_auc, &t.sklearn_ap) == 2 ? 1 : 0;
  const int status = ::pclose(pipe);
  std::filesystem::remove(path);
  if (status != 0 && std::system("/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1") != 0) return false;
  REQUIRE(status == 0);
  REQUIRE(parsed == trials.size());
  return true;
}

TEST_CASE("AUC ROC and average precision agree with scikit-learn", "[models][metrics][sklearn]") {
  std::mt19937_64 rng(20240501);
  std::vector<Trial> trials(8);
  for (size_t t = 0; t < trials.size(); ++t) {
    const size_t n = t < 2 ? 7 + t : 3000;
    std::bernoulli_distribution is_fraud(t % 2 == 0 ? 0.05 : 0.4);
    std::uniform_real_distribution<double> uniform(0, 1);
    Trial& trial = trials[t];
    for (size_t i = 0; i < n; ++i) {
      const int label = i == 0 ? 1 : i == 1 ? 0 : (is_fraud(rng) ? 1 : 0);
      // Informative scores; rounding (trials 4+) creates many ties, heavy ones in trials 6+.
      const double s = uniform(rng) + (label ? 0.3 : 0.0);
      const double grid = t >= 6 ? 10 : 100;
      trial.scores.push_back(t >= 4 ? std::round(s * grid) / grid : s);
      trial.labels.push_back(label);
    }
  }
  if (!RunSklearn(trials)) {
    WARN("/usr/bin/python3 with sklearn not found (apt-get install python3-sklearn): cross-check skipped");
    return;
  }
  for (size_t t = 0; t < trials.size(); ++t) {
    INFO("trial " << t);
    CHECK(std::abs(Get(AucRoc(trials[t].scores, trials[t].labels)) - trials[t].sklearn_auc) < 1e-9);
    CHECK(std::abs(Get(AveragePrecision(trials[t].scores, trials[t].labels)) - trials[t].sklearn_ap) < 1e-9);
  }
}

}  // namespace
}  // namespace vigil::models
