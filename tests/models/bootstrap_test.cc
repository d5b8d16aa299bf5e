#include "models/bootstrap.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "models/metrics.h"

namespace vigil::models {
namespace {

//! `cards` cards over `days` days, a few events each, about 5% frauds. The baseline ranks frauds
//! with `baseline_skill` and the contender with `contender_skill` (0: noise, larger: better), each
//! with its own noise; scores are rounded to two decimals, so there are ties.
std::vector<PairedOutcome> Sample(int cards, int days, double baseline_skill, double contender_skill,
                                  uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::normal_distribution<double> noise(0, 1);
  std::vector<PairedOutcome> out;
  for (int card = 0; card < cards; ++card) {
    for (int day = 0; day < days; ++day) {
      const int events = 1 + static_cast<int>(uniform(rng) * 3);
      for (int i = 0; i < events; ++i) {
        PairedOutcome e;
        e.day = 17'622 + day;
        e.card = 1000 + card * 7;
        e.label = uniform(rng) < 0.05 ? 1 : 0;
        auto score = [&](double skill) {
          const double z = skill * e.label + noise(rng);
          return std::round(100 / (1 + std::exp(-z))) / 100;
        };
        e.baseline = score(baseline_skill);
        e.contender = score(contender_skill);
        out.push_back(e);
      }
    }
  }
  return out;
}

PairedBootstrapOptions Options(PairedMetric metric, int resamples = 500) {
  PairedBootstrapOptions o;
  o.metric = metric;
  o.top_k = 20;
  o.resamples = resamples;
  return o;
}

TEST_CASE("ComparePaired's point estimates are models::AveragePrecision and CardPrecisionAtK") {
  const std::vector<PairedOutcome> sample = Sample(400, 4, 1.0, 2.0, 1);
  std::vector<double> baseline, contender;
  std::vector<int> labels;
  std::vector<ScoredTransaction> base_rows, contender_rows;
  for (const PairedOutcome& e : sample) {
    baseline.push_back(e.baseline);
    contender.push_back(e.contender);
    labels.push_back(e.label);
    base_rows.push_back({e.day, e.card, e.label, e.baseline});
    contender_rows.push_back({e.day, e.card, e.label, e.contender});
  }
  auto ap = ComparePaired(sample, Options(PairedMetric::kAveragePrecision, 0));
  REQUIRE(ap.ok());
  CHECK(ap->baseline == Approx(*AveragePrecision(baseline, labels)).epsilon(1e-12));
  CHECK(ap->contender == Approx(*AveragePrecision(contender, labels)).epsilon(1e-12));
  CHECK(ap->difference == Approx(ap->contender - ap->baseline));
  CHECK(std::isnan(ap->low));  // no resamples, no interval
  CHECK(ap->resamples == 0);
  CHECK(ap->events == static_cast<int64_t>(sample.size()));
  CHECK(ap->cards == 400);
  CHECK(ap->frauds == std::count(labels.begin(), labels.end(), 1));

  auto cp = ComparePaired(sample, Options(PairedMetric::kCardPrecisionAtK, 0));
  REQUIRE(cp.ok());
  CHECK(cp->baseline == Approx(CardPrecisionAtK(base_rows, 20)->mean).epsilon(1e-12));
  CHECK(cp->contender == Approx(CardPrecisionAtK(contender_rows, 20)->mean).epsilon(1e-12));
}

TEST_CASE("ComparePaired: the same scores differ by exactly 0 on every resample") {
  std::vector<PairedOutcome> sample = Sample(300, 3, 2.0, 0.0, 2);
  for (PairedOutcome& e : sample) e.contender = e.baseline;
  for (const PairedMetric metric : {PairedMetric::kAveragePrecision, PairedMetric::kCardPrecisionAtK}) {
    auto c = ComparePaired(sample, Options(metric));
    REQUIRE(c.ok());
    CHECK(c->difference == 0);
    CHECK(c->low == 0);
    CHECK(c->high == 0);
    CHECK(c->resamples == 500);
  }
}

TEST_CASE("ComparePaired's interval lies above 0 for a clearly better contender and below for a worse one") {
  const std::vector<PairedOutcome> sample = Sample(600, 3, 0.5, 3.0, 3);
  for (const PairedMetric metric : {PairedMetric::kAveragePrecision, PairedMetric::kCardPrecisionAtK}) {
    auto better = ComparePaired(sample, Options(metric));
    REQUIRE(better.ok());
    INFO(better->difference << " [" << better->low << ", " << better->high << "]");
    CHECK(better->low > 0);
    CHECK(better->low <= better->difference);
    CHECK(better->difference <= better->high);
    std::vector<PairedOutcome> swapped = sample;
    for (PairedOutcome& e : swapped) std::swap(e.baseline, e.contender);
    auto worse = ComparePaired(swapped, Options(metric));
    REQUIRE(worse.ok());
    CHECK(worse->high < 0);
  }
}

TEST_CASE("ComparePaired's interval covers 0 for two equally good models scored with their own noise") {
  const std::vector<PairedOutcome> sample = Sample(500, 3, 2.0, 2.0, 4);
  auto c = ComparePaired(sample, Options(PairedMetric::kAveragePrecision));
  REQUIRE(c.ok());
  INFO(c->difference << " [" << c->low << ", " << c->high << "]");
  CHECK(c->low < 0);
  CHECK(c->high > 0);
  // A higher confidence widens the interval.
  PairedBootstrapOptions wide = Options(PairedMetric::kAveragePrecision);
  wide.confidence = 0.99;
  auto w = ComparePaired(sample, wide);
  REQUIRE(w.ok());
  CHECK(w->low <= c->low);
  CHECK(w->high >= c->high);
}

TEST_CASE("ComparePaired is deterministic whatever the order of the events, and depends on the seed") {
  std::vector<PairedOutcome> sample = Sample(300, 3, 1.0, 1.5, 5);
  const auto first = ComparePaired(sample, Options(PairedMetric::kCardPrecisionAtK));
  REQUIRE(first.ok());
  std::shuffle(sample.begin(), sample.end(), std::mt19937(9));
  const auto shuffled = ComparePaired(sample, Options(PairedMetric::kCardPrecisionAtK));
  REQUIRE(shuffled.ok());
  CHECK(shuffled->low == first->low);
  CHECK(shuffled->high == first->high);
  CHECK(shuffled->difference == first->difference);
  PairedBootstrapOptions other = Options(PairedMetric::kCardPrecisionAtK);
  other.seed = 7;
  const auto reseeded = ComparePaired(sample, other);
  REQUIRE(reseeded.ok());
  CHECK(reseeded->difference == first->difference);
  CHECK(reseeded->low != first->low);
}

TEST_CASE("ComparePaired refuses what it cannot compare") {
  std::vector<PairedOutcome> sample = Sample(50, 2, 1.0, 1.0, 6);
  PairedBootstrapOptions o;
  CHECK(ComparePaired({}, o).status().code() == base::StatusCode::kInvalidArgument);
  o.confidence = 1;
  CHECK(ComparePaired(sample, o).status().code() == base::StatusCode::kInvalidArgument);
  o = {};
  o.top_k = 0;
  CHECK(ComparePaired(sample, o).status().code() == base::StatusCode::kInvalidArgument);
  std::vector<PairedOutcome> genuine = sample;
  for (PairedOutcome& e : genuine) e.label = 0;
  auto none = ComparePaired(genuine, PairedBootstrapOptions{});
  REQUIRE(!none.ok());
  CHECK_THAT(none.status().message(), Catch::Contains("no fraud"));
  sample[3].contender = std::nan("");
  CHECK(ComparePaired(sample, PairedBootstrapOptions{}).status().code() ==
        base::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::models
