#pragma once
// Printing of `vigil evaluate`'s Handbook results: chapter 3 (one column per model, beside the book's
// figures when the setup is the book's), chapter 5's prequential folds, the business reports, or all
// of it as one JSON object. Internal to app/ (evaluate_command.cc).

#include <span>
#include <string>
#include <vector>

#include "app/business_eval.h"
#include "app/evaluate_command.h"
#include "models/handbook_eval.h"

namespace vigil::app {

//! One evaluated fold (or the single chapter-3 split).
struct FoldResult {
  models::HandbookEvaluation evaluation;  //!< Sets and metrics.
  std::string train_start;                //!< First training day, YYYY-MM-DD.
  std::string test_start;                 //!< First test day, YYYY-MM-DD.
  std::string test_end;                   //!< Last test day, YYYY-MM-DD.
};

//! One model's chapter-3 evaluation and business report.
struct ModelResult {
  std::string name;         //!< Column name: the version directory's name (its path if names clash).
  std::string dir;          //!< The --model given.
  FoldResult fold;          //!< Chapter 3.
  BusinessReport business;  //!< On the same test rows.
};

//! What the table holds, for the header line.
struct TableSummary {
  size_t rows = 0;        //!< Table rows.
  std::string first_day;  //!< YYYY-MM-DD.
  std::string last_day;   //!< YYYY-MM-DD.
};

//! Whether the options are the book's chapter-3 setup (its figures are then printed alongside).
bool IsBookSetup(const EvaluateOptions& o);

//! Chapter 3 of every model, side by side, then their business report.
void PrintChapter3(const TableSummary& table, std::span<const ModelResult> models,
                   const BusinessSettings& business, const EvaluateOptions& o);
//! The prequential folds, their mean ± std, and the book's when the setup is its chapter 5.
void PrintPrequential(const std::vector<FoldResult>& folds, const EvaluateOptions& o);
//! Everything as one JSON object: "chapter3" (the first model), "models" (every model, with more
//! than one), "prequential".
void PrintJson(std::span<const ModelResult> models, const std::vector<FoldResult>& folds,
               const EvaluateOptions& o);

}  // namespace vigil::app
