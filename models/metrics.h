#pragma once
// Fraud-detection metrics: AUC ROC, average precision, precision@k and the Handbook's card
// precision@k. Scores are "higher = more suspicious"; labels are 0 (genuine) or 1 (fraud).
//
// Ties: AUC ROC and average precision treat equal scores as one threshold, exactly as scikit-learn's
// roc_auc_score and average_precision_score do. Rankings (precision@k, card precision@k) break ties
// deterministically: by input position, and by customer id for cards.
//
// All functions are pure and thread-safe. Errors (InvalidArgument): mismatched lengths, labels other
// than 0/1, NaN scores, a metric undefined for the input (AUC with one class, AP without frauds).

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"

namespace vigil::models {

//! Area under the ROC curve, ties counted one half (Mann-Whitney U). Needs both classes.
base::Result<double> AucRoc(std::span<const double> scores, std::span<const int> labels);

//! Average precision, scikit-learn's definition: sum over distinct thresholds, highest first, of
//! (R_n - R_{n-1}) * P_n, where P_n and R_n are the precision and recall of predicting fraud for
//! scores >= the n-th threshold. Needs at least one fraud.
base::Result<double> AveragePrecision(std::span<const double> scores, std::span<const int> labels);

//! Frauds among the k highest scores, divided by k (so fewer than k rows count as misses). k >= 1.
base::Result<double> PrecisionAtK(std::span<const double> scores, std::span<const int> labels, int64_t k);

//! A transaction with its outcome, as the evaluation protocols see it.
struct ScoredTransaction {
  int32_t day = 0;          //!< Day index (days since the dataset start).
  int64_t customer_id = 0;  //!< The card.
  int label = 0;            //!< 1 if fraud, else 0.
  double score = 0;         //!< Model output; ignored where only the sets are selected.
};

//! Card precision@k, with its per-day details.
struct CardPrecision {
  double mean = 0;                         //!< Mean of per_day.
  std::vector<int32_t> days;               //!< The days present in the input, ascending.
  std::vector<double> per_day;             //!< Card precision@k of each day.
  std::vector<int64_t> compromised_cards;  //!< Per day: remaining cards with a fraud that day.
};

//! The Handbook's card precision@k (fraudsim/SPEC.md). For each day present, in order:
//!   1. drop the customers that were true positives in the top k of an earlier day;
//!   2. give each remaining customer their max score and max label of the day;
//!   3. rank customers by score (ties: lower customer id first); precision = frauds in the top k / k.
//! The result is the mean over days. k >= 1; the input may be in any order.
base::Result<CardPrecision> CardPrecisionAtK(std::span<const ScoredTransaction> rows, int64_t k);

}  // namespace vigil::models
