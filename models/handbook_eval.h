#pragma once
// The Handbook's evaluation protocol (chapter 3 baseline, fraudsim/SPEC.md): a training week, a
// delay week, a test week; known compromised cards removed from the test set; AUC ROC, average
// precision and card precision@100 on what remains. Chapter 5's prequential folds are the same split
// shifted back week by week.
//
// Rows carry a day index (days since the dataset start), so dates are turned into days once, with
// SplitFromDates(). All functions are pure and thread-safe.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "models/metrics.h"

namespace vigil::models {

//! The periods of one train/delay/test split, in days since the dataset start.
struct HandbookSplit {
  //! First training day. Default 115: 2018-07-25 for the book's dataset starting 2018-04-01.
  int32_t train_start_day = 115;
  //! Length of the training period. Default 7 (days).
  int32_t train_days = 7;
  //! Gap between training and test, during which labels are not yet known. Default 7 (days).
  int32_t delay_days = 7;
  //! Length of the test period. Default 7 (days).
  int32_t test_days = 7;

  //! One past the last training day.
  int32_t TrainEndDay() const { return train_start_day + train_days; }
  //! First test day: 129 (2018-08-08) by default.
  int32_t TestStartDay() const { return TrainEndDay() + delay_days; }
  //! One past the last test day.
  int32_t TestEndDay() const { return TestStartDay() + test_days; }
};

//! The split whose training starts on `train_start_date` for a dataset starting on
//! `dataset_start_date` (both "YYYY-MM-DD"). InvalidArgument for bad dates or lengths.
base::Result<HandbookSplit> SplitFromDates(std::string_view dataset_start_date,
                                           std::string_view train_start_date, int32_t train_days = 7,
                                           int32_t delay_days = 7, int32_t test_days = 7);

//! Chapter 5's prequential folds: fold i is `latest` moved back by i * test_days days, i = 0 ..
//! folds-1. InvalidArgument if a fold would start before day 0.
base::Result<std::vector<HandbookSplit>> PrequentialSplits(const HandbookSplit& latest, int32_t folds);

//! The rows of a split, as indices into the input (in input order).
struct HandbookSets {
  std::vector<size_t> train;         //!< Rows of the training period.
  std::vector<size_t> test;          //!< Test-period rows of cards not known to be compromised.
  int64_t removed_test_rows = 0;     //!< Test-period rows dropped as known compromised.
  std::vector<int64_t> known_cards;  //!< Per test day: size of the known-compromised set used.
};

//! Selects the training rows, and the test rows left after removing known compromised cards: start
//! with the customers that have a fraud in the training period; before filtering test day D, add
//! the customers with a fraud on day D - delay_days - 1 (taken from all rows). Rows' scores are
//! ignored. InvalidArgument for a malformed split.
base::Result<HandbookSets> SelectHandbookSets(std::span<const ScoredTransaction> rows,
                                              const HandbookSplit& split);

//! Metrics of a set of scored rows.
struct HandbookMetrics {
  int64_t transactions = 0;        //!< Rows evaluated.
  int64_t frauds = 0;              //!< Fraudulent rows among them.
  double auc_roc = 0;              //!< AucRoc().
  double average_precision = 0;    //!< AveragePrecision().
  int64_t top_k = 0;               //!< The k of card precision@k.
  double card_precision_at_k = 0;  //!< CardPrecisionAtK().mean.
};

//! AUC ROC, average precision and card precision@top_k of `rows` (all of them, any order).
base::Result<HandbookMetrics> EvaluateRows(std::span<const ScoredTransaction> rows, int64_t top_k = 100);

//! A whole chapter-3 evaluation.
struct HandbookEvaluation {
  HandbookSplit split;             //!< The periods used.
  int64_t train_transactions = 0;  //!< Rows in the training period.
  int64_t train_frauds = 0;        //!< Frauds among them.
  int64_t removed_test_rows = 0;   //!< Test-period rows dropped as known compromised.
  HandbookMetrics test;            //!< Metrics on the remaining test rows.
};

//! Selects the sets of `split` from `rows` (scored by the model under test) and evaluates the test
//! set. The book reports, on its dataset: 67,240 training rows with 598 frauds; 58,264 test rows
//! with 385 frauds; XGBoost AUC 0.862, AP 0.639, CP@100 0.273.
base::Result<HandbookEvaluation> EvaluateHandbook(std::span<const ScoredTransaction> rows,
                                                  const HandbookSplit& split, int64_t top_k = 100);

}  // namespace vigil::models
