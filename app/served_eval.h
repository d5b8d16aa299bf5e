#pragma once
// `vigil evaluate --served NAME=FILE ...`: prequential weekly evaluation of scores that were actually
// served (a decisions topic dumped as JSONL, or a replay's CSV), against the labels of a training
// table. Each week (7 days from --weeks-from) every named score set is evaluated on the same rows:
// the week's table rows scored in every file, without the cards already known compromised (a fraud
// on a day at least delay_days + 1 before the row's day, the Handbook's rule). Metrics: average
// precision and card precision@k (per day, averaged over the week). A summary gives the mean over
// the last N weeks, and the business report (app/business_eval.h) of the rows of those weeks, every
// set side by side. The table needs the amount column (TX_AMOUNT by default) too.

#include <cstdint>
#include <string>
#include <vector>

#include "app/business_eval.h"
#include "base/status.h"

namespace vigil::app {

//! Options of the served-scores evaluation.
struct ServedEvalOptions {
  std::string table;                //!< Training table CSV: TRANSACTION_ID, TX_TIME_MS, CUSTOMER_ID, LABEL.
  std::vector<std::string> served;  //!< NAME=FILE: a .jsonl (objects) or .csv with TRANSACTION_ID and SCORE.
  std::string weeks_from;           //!< First day of week 1, YYYY-MM-DD; empty = the table's first day.
  int delay_days = 7;               //!< Label delay of the known-compromised rule.
  int64_t k = 100;                  //!< The k of card precision@k.
  int last = 8;                     //!< Weeks averaged in the summary.
  bool json = false;                //!< One JSON object instead of tables.
  BusinessSettings business;        //!< The business report over the summary weeks.
};

//! Runs the evaluation and prints it. InvalidArgument / NotFound for bad inputs (named).
base::Status EvaluateServed(const ServedEvalOptions& options);

}  // namespace vigil::app
