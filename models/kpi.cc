#include "models/kpi.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>
#include <utility>

namespace vigil::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

base::Status CheckRows(std::span<const ScoredTransaction> rows, std::span<const double> amounts) {
  if (rows.empty()) return base::InvalidArgument("business KPIs of an empty set");
  if (rows.size() != amounts.size())
    return base::InvalidArgument(
        fmt::format("rows and amounts differ in length: {} vs {}", rows.size(), amounts.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].label != 0 && rows[i].label != 1)
      return base::InvalidArgument(fmt::format("label {} is {}, expected 0 or 1", i, rows[i].label));
    if (std::isnan(rows[i].score)) return base::InvalidArgument(fmt::format("score {} is NaN", i));
    if (!(amounts[i] >= 0)) return base::InvalidArgument(fmt::format("amount {} is {}", i, amounts[i]));
  }
  return base::Status::OK();
}

base::Status CheckCost(const CostModel& cost) {
  if (!(cost.review_cost >= 0) || !(cost.loss_rate >= 0))
    return base::InvalidArgument(fmt::format("review cost ({}) and loss rate ({}) must be 0 or more",
                                             cost.review_cost, cost.loss_rate));
  return base::Status::OK();
}

//! Fraud totals of the rows.
struct Totals {
  int64_t frauds = 0;
  double fraud_amount = 0;
};

Totals TotalsOf(std::span<const ScoredTransaction> rows, std::span<const double> amounts) {
  Totals t;
  for (size_t i = 0; i < rows.size(); ++i) {
    t.frauds += rows[i].label;
    if (rows[i].label == 1) t.fraud_amount += amounts[i];
  }
  return t;
}

struct CardDayHash {
  size_t operator()(const std::pair<int64_t, int32_t>& p) const {
    return std::hash<int64_t>()(p.first) ^ (std::hash<int32_t>()(p.second) * 0x9e3779b97f4a7c15ULL);
  }
};

//! Alerts accumulated while the threshold goes down the scores.
struct Accumulator {
  int64_t alerts = 0;
  int64_t frauds_caught = 0;
  double amount_caught = 0;
  std::unordered_set<std::pair<int64_t, int32_t>, CardDayHash> cards;

  void Add(const ScoredTransaction& row, double amount) {
    ++alerts;
    frauds_caught += row.label;
    if (row.label == 1) amount_caught += amount;
    cards.emplace(row.customer_id, row.day);
  }

  OperatingPoint Point(double threshold, const Totals& t, int32_t days, const CostModel& c) const {
    OperatingPoint p;
    p.threshold = threshold;
    p.alerts = alerts;
    p.alerted_cards = static_cast<int64_t>(cards.size());
    p.alerts_per_day = static_cast<double>(alerts) / days;
    p.cards_per_day = static_cast<double>(p.alerted_cards) / days;
    p.frauds_caught = frauds_caught;
    p.precision = alerts > 0 ? static_cast<double>(frauds_caught) / static_cast<double>(alerts) : kNaN;
    p.recall = t.frauds > 0 ? static_cast<double>(frauds_caught) / static_cast<double>(t.frauds) : kNaN;
    p.fraud_amount_caught = amount_caught;
    p.amount_recall = t.fraud_amount > 0 ? amount_caught / t.fraud_amount : kNaN;
    p.cost = c.review_cost * static_cast<double>(alerts) + c.loss_rate * (t.fraud_amount - amount_caught);
    return p;
  }
};

int32_t SpanDays(std::span<const ScoredTransaction> rows) {
  const auto [lo, hi] = std::minmax_element(
      rows.begin(), rows.end(),
      [](const ScoredTransaction& a, const ScoredTransaction& b) { return a.day < b.day; });
  return hi->day - lo->day + 1;
}

}  // namespace

base::Result<OperatingPoint> OperatingPointAt(std::span<const ScoredTransaction> rows,
                                              std::span<const double> amounts, double threshold, int32_t days,
                                              const CostModel& cost) {
  VIGIL_RETURN_IF_ERROR(CheckRows(rows, amounts));
  VIGIL_RETURN_IF_ERROR(CheckCost(cost));
  if (days < 1) return base::InvalidArgument(fmt::format("days must be >= 1, got {}", days));
  if (std::isnan(threshold)) return base::InvalidArgument("threshold is NaN");
  Accumulator acc;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].score >= threshold) acc.Add(rows[i], amounts[i]);
  return acc.Point(threshold, TotalsOf(rows, amounts), days, cost);
}

base::Result<BusinessKpis> ComputeKpis(std::span<const ScoredTransaction> rows,
                                       std::span<const double> amounts, const KpiOptions& options) {
  VIGIL_RETURN_IF_ERROR(CheckRows(rows, amounts));
  VIGIL_RETURN_IF_ERROR(CheckCost(options.cost));
  if (!(options.alert_budget > 0))
    return base::InvalidArgument(
        fmt::format("the alert budget must be positive, got {}", options.alert_budget));
  if (options.days < 0) return base::InvalidArgument(fmt::format("days must be >= 0, got {}", options.days));
  BusinessKpis k;
  k.options = options;
  k.days = k.options.days = options.days > 0 ? options.days : SpanDays(rows);
  const Totals totals = TotalsOf(rows, amounts);
  k.transactions = static_cast<int64_t>(rows.size());
  k.frauds = totals.frauds;
  k.fraud_amount = totals.fraud_amount;
  VIGIL_ASSIGN_OR_RETURN(k.at_threshold,
                         OperatingPointAt(rows, amounts, options.threshold, k.days, options.cost));

  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a].score > rows[b].score; });
  // Down the distinct scores, from "nothing alerted": a threshold at a score alerts its whole tie group.
  Accumulator acc;
  k.min_cost = k.budget = acc.Point(std::numeric_limits<double>::infinity(), totals, k.days, options.cost);
  const double budget_cards = options.alert_budget * k.days;
  bool within_budget = true;
  for (size_t i = 0; i < order.size(); ++i) {
    acc.Add(rows[order[i]], amounts[order[i]]);
    const double score = rows[order[i]].score;
    if (i + 1 < order.size() && rows[order[i + 1]].score == score) continue;
    const OperatingPoint p = acc.Point(score, totals, k.days, options.cost);
    if (p.cost < k.min_cost.cost) k.min_cost = p;
    // Alerted cards only grow as the threshold goes down: the budget's threshold is the last one within it.
    within_budget = within_budget && static_cast<double>(p.alerted_cards) <= budget_cards;
    if (within_budget) k.budget = p;
  }
  return k;
}

}  // namespace vigil::models
