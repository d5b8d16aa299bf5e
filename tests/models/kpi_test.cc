// Business KPIs on small hand-computed cases: the operating point of a threshold, the exact
// cost-minimising threshold (ties to the highest), the alert-budget threshold (tie groups never
// split), and the errors.
#include "models/kpi.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace vigil::models {
namespace {

//! Seven transactions over two days. Frauds: rows 0 (100), 3 (50) and 5 (200): 3 frauds, 350 in all.
//! Rows 0 and 2 are the same card on the same day.
struct Case {
  std::vector<ScoredTransaction> rows = {
      {0, 1, 1, 0.9}, {0, 2, 0, 0.8}, {0, 1, 0, 0.7}, {1, 3, 1, 0.6},
      {1, 4, 0, 0.4}, {1, 5, 1, 0.2}, {1, 6, 0, 0.1},
  };
  std::vector<double> amounts = {100, 10, 20, 50, 5, 200, 30};
};

BusinessKpis Kpis(const Case& c, const KpiOptions& o) {
  auto k = ComputeKpis(c.rows, c.amounts, o);
  INFO(k.status().message());
  REQUIRE(k.ok());
  return *k;
}

TEST_CASE("KPIs at the threshold: alerts, cards, money caught and cost", "[models][kpi]") {
  const Case c;
  KpiOptions o;  // threshold 0.5, review cost 5, loss rate 1, budget 100
  const BusinessKpis k = Kpis(c, o);
  CHECK(k.transactions == 7);
  CHECK(k.frauds == 3);
  CHECK(k.fraud_amount == 350);
  CHECK(k.days == 2);  // days 0 and 1
  const OperatingPoint& p = k.at_threshold;
  CHECK(p.threshold == 0.5);
  CHECK(p.alerts == 4);         // rows 0..3
  CHECK(p.alerted_cards == 3);  // (1, day 0), (2, day 0), (3, day 1)
  CHECK(p.alerts_per_day == 2);
  CHECK(p.cards_per_day == 1.5);
  CHECK(p.frauds_caught == 2);
  CHECK(p.precision == 0.5);
  CHECK(p.recall == Approx(2.0 / 3));
  CHECK(p.fraud_amount_caught == 150);
  CHECK(p.amount_recall == Approx(150.0 / 350));
  CHECK(p.cost == 5 * 4 + 200);  // four reviews, 200 of fraud missed

  // OperatingPointAt agrees, and a stated period length divides the counts.
  auto at = OperatingPointAt(c.rows, c.amounts, 0.5, 4, o.cost);
  REQUIRE(at.ok());
  CHECK(at->alerts == 4);
  CHECK(at->alerts_per_day == 1);
  CHECK(at->cost == p.cost);
  o.days = 7;
  CHECK(Kpis(c, o).at_threshold.cards_per_day == Approx(3.0 / 7));

  // Loss at half the amount, free reviews.
  o.cost = {0, 0.5};
  CHECK(Kpis(c, o).at_threshold.cost == 100);
}

TEST_CASE("the cost-minimising threshold is exact over the distinct scores, ties to the highest",
          "[models][kpi]") {
  const Case c;
  KpiOptions o;
  // Costs at 5 a review: none 350, 0.9 255, 0.8 260, 0.7 265, 0.6 220, 0.4 225, 0.2 30, 0.1 35.
  const OperatingPoint m = Kpis(c, o).min_cost;
  CHECK(m.threshold == 0.2);
  CHECK(m.cost == 30);
  CHECK(m.alerts == 6);
  CHECK(m.precision == 0.5);
  CHECK(m.recall == 1);
  CHECK(m.amount_recall == 1);
  // At 50 a review: none 350, 0.9 300, ..., 0.2 300: the tie goes to the higher threshold.
  o.cost.review_cost = 50;
  CHECK(Kpis(c, o).min_cost.threshold == 0.9);
  CHECK(Kpis(c, o).min_cost.cost == 300);
  // Reviews dearer than any fraud: alert nothing.
  o.cost.review_cost = 1000;
  const OperatingPoint none = Kpis(c, o).min_cost;
  CHECK(std::isinf(none.threshold));
  CHECK(none.alerts == 0);
  CHECK(std::isnan(none.precision));
  CHECK(none.cost == 350);
}

TEST_CASE("the alert-budget threshold is the lowest whose alerted cards a day fit", "[models][kpi]") {
  const Case c;
  KpiOptions o;
  // Alerted cards going down the scores: 1, 2, 2, 3, 4, 5, 6 over 2 days.
  o.alert_budget = 1;  // 2 cards in all
  OperatingPoint b = Kpis(c, o).budget;
  CHECK(b.threshold == 0.7);
  CHECK(b.alerted_cards == 2);
  CHECK(b.alerts == 3);
  CHECK(b.precision == Approx(1.0 / 3));
  CHECK(b.recall == Approx(1.0 / 3));
  CHECK(b.fraud_amount_caught == 100);
  o.alert_budget = 1.5;
  CHECK(Kpis(c, o).budget.threshold == 0.6);
  o.alert_budget = 100;
  CHECK(Kpis(c, o).budget.threshold == 0.1);  // everything fits
  o.alert_budget = 0.4;                       // not even the top card
  b = Kpis(c, o).budget;
  CHECK(std::isinf(b.threshold));
  CHECK(b.alerts == 0);

  // A tie group is alerted whole: two cards at 0.5 do not fit a budget of one.
  const std::vector<ScoredTransaction> tied = {{0, 1, 1, 0.5}, {0, 2, 0, 0.5}, {0, 3, 1, 0.3}};
  const std::vector<double> amounts = {10, 10, 10};
  o.alert_budget = 1;
  auto k = ComputeKpis(tied, amounts, o);
  REQUIRE(k.ok());
  CHECK(std::isinf(k->budget.threshold));
  o.alert_budget = 2;
  CHECK(ComputeKpis(tied, amounts, o)->budget.threshold == 0.5);
}

TEST_CASE("KPI inputs are checked", "[models][kpi]") {
  const Case c;
  const KpiOptions o;
  CHECK_FALSE(ComputeKpis(c.rows, std::vector<double>{1, 2}, o).ok());
  CHECK_FALSE(ComputeKpis({}, {}, o).ok());
  std::vector<double> negative = c.amounts;
  negative[3] = -1;
  CHECK(ComputeKpis(c.rows, negative, o).status().message() == "amount 3 is -1");
  std::vector<ScoredTransaction> nan = c.rows;
  nan[1].score = std::nan("");
  CHECK_FALSE(ComputeKpis(nan, c.amounts, o).ok());
  KpiOptions bad = o;
  bad.alert_budget = 0;
  CHECK_FALSE(ComputeKpis(c.rows, c.amounts, bad).ok());
  bad = o;
  bad.cost.review_cost = -1;
  CHECK_FALSE(ComputeKpis(c.rows, c.amounts, bad).ok());
  CHECK_FALSE(OperatingPointAt(c.rows, c.amounts, 0.5, 0).ok());
}

}  // namespace
}  // namespace vigil::models
