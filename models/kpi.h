#pragma once
// Business KPIs of a fraud score: what a threshold costs and catches in money and in review work.
//
// Definitions (one row = one transaction, with its day, card, label, score and amount):
//   - an alert is a transaction scored at or above the threshold (what DECISION = 1 flags); an
//     alerted card is a (card, day) pair with at least one alert: the investigators' unit of work,
//     as in card precision@k;
//   - fraud amount caught: the amount of the frauds scored at or above the threshold; amount recall:
//     that over the amount of every fraud;
//   - cost = review_cost × alerts + loss_rate × fraud amount missed (the frauds under the threshold),
//     in the amount's currency;
//   - per day: over `days` days (the evaluated period's length).
// Thresholds searched (the cost-minimising one and the alert-budget one) are the distinct scores of
// the rows, plus "nothing alerted" (+inf): every cost and count is constant between two distinct
// scores, so this search is exact, not a grid.
//
// All functions are pure and thread-safe. Errors (InvalidArgument): lengths that differ, labels other
// than 0/1, NaN scores, NaN or negative amounts, days < 1, no rows.

#include <cstdint>
#include <limits>
#include <span>

#include "base/status.h"
#include "models/metrics.h"

namespace vigil::models {

//! The price of a threshold's mistakes.
struct CostModel {
  //! Cost of reviewing one alert, in the amount's currency. >= 0. Default 5.
  double review_cost = 5;
  //! Share of a missed fraud's amount that is lost. >= 0. Default 1 (all of it).
  double loss_rate = 1;
};

//! Parameters of ComputeKpis.
struct KpiOptions {
  double threshold = 0.5;     //!< The stated decision threshold. Default 0.5.
  CostModel cost;             //!< See CostModel.
  double alert_budget = 100;  //!< Alerted cards a day the reviewers can handle. > 0. Default 100.
  int32_t days = 0;           //!< Days of the period; 0 = from the rows' first to last day.
};

//! What one threshold does to the rows.
struct OperatingPoint {
  //! Alert when score >= threshold; +inf = nothing alerted.
  double threshold = std::numeric_limits<double>::infinity();
  int64_t alerts = 0;              //!< Transactions at or above the threshold.
  int64_t alerted_cards = 0;       //!< Distinct (card, day) pairs among them.
  double alerts_per_day = 0;       //!< alerts / days.
  double cards_per_day = 0;        //!< alerted_cards / days.
  int64_t frauds_caught = 0;       //!< Frauds among the alerts.
  double precision = 0;            //!< frauds_caught / alerts; NaN without alerts.
  double recall = 0;               //!< frauds_caught / frauds; NaN without frauds.
  double fraud_amount_caught = 0;  //!< Amount of the frauds among the alerts.
  double amount_recall = 0;        //!< fraud_amount_caught / fraud amount; NaN without fraud amount.
  double cost = 0;                 //!< review_cost × alerts + loss_rate × (fraud amount − caught).
};

//! The KPIs of a set of scored rows.
struct BusinessKpis {
  int64_t transactions = 0;     //!< Rows.
  int64_t frauds = 0;           //!< Fraudulent rows.
  double fraud_amount = 0;      //!< Their amount.
  int32_t days = 0;             //!< Days of the period.
  KpiOptions options;           //!< As given (days resolved).
  OperatingPoint at_threshold;  //!< At options.threshold.
  //! The lowest-cost threshold (the highest one among equal costs).
  OperatingPoint min_cost;
  //! The lowest threshold whose cards_per_day <= alert_budget (+inf if even the top score exceeds it).
  OperatingPoint budget;
};

//! The operating point of `threshold` on `rows` (with `amounts`, one per row) over `days` days.
base::Result<OperatingPoint> OperatingPointAt(std::span<const ScoredTransaction> rows,
                                              std::span<const double> amounts, double threshold, int32_t days,
                                              const CostModel& cost = {});

//! The operating points of options.threshold, of the cost-minimising threshold and of the alert
//! budget. Cost: one sort of the rows, one pass over them.
base::Result<BusinessKpis> ComputeKpis(std::span<const ScoredTransaction> rows,
                                       std::span<const double> amounts, const KpiOptions& options);

}  // namespace vigil::models
