#pragma once
// `vigil evaluate`: the Fraud Detection Handbook's evaluation protocol on a training table. Chapter 3:
// score a test week with a trained model, drop the cards already known to be compromised, report
// AUC ROC, average precision and card precision@k beside the book's numbers. Chapter 5
// (--prequential N): N train/delay/test folds a week apart, one model trained per fold in memory,
// mean ± standard deviation. With --served, the scores a pipeline actually served, week by week
// (app/served_eval.h). With --model or --served, a business report too (app/business_eval.h): money
// caught and missed, review work, the cost-minimising and alert-budget thresholds, and metrics per
// segment with the under-served ones flagged; several models or served sets side by side.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "app/business_eval.h"
#include "app/train_command.h"

namespace vigil::app {

//! Options of `vigil evaluate`.
struct EvaluateOptions {
  std::string pipeline;  //!< Pipeline YAML; its `features:` are the model inputs.
  std::string table;     //!< Training table CSV (vigil replay's output).
  //! Model version directories (DIR/<version>, holding model.json), compared side by side; may be
  //! empty with --prequential.
  std::vector<std::string> model_dirs;
  std::string train_start =
      std::string(lifecycle::kBookTrainStart);  //!< First training day (UTC), YYYY-MM-DD.
  int train_days = 7;                           //!< Training period, days. Default 7.
  int delay_days = 7;                           //!< Gap between training and test, days. Default 7.
  int test_days = 7;                            //!< Test period, days. Default 7.
  int64_t k = 100;                              //!< The k of card precision@k. Default 100.
  int prequential = 0;  //!< Chapter-5 folds; 0 = none. The earliest fold trains from train_start.
  //! Hyper-parameters of the models trained per fold: the pipeline's `train:` params and rounds,
  //! then these (a --param of the same key wins; --rounds when given, see rounds_given).
  lifecycle::ModelFlags model;
  bool rounds_given = false;  //!< --rounds was on the command line.
  bool json = false;          //!< Print one JSON object instead of tables.
  //! Served scores to evaluate week by week instead (NAME=FILE; app/served_eval.h).
  std::vector<std::string> served;
  std::string weeks_from;  //!< With `served`: first day of the first week; default the table's first day.
  int last = 8;            //!< With `served`: weeks averaged in the summary. Default 8.
  BusinessFlags business;  //!< The business report's settings.
  bool selected = false;   //!< Set when the subcommand was given.
};

int EvaluateCommand(const EvaluateOptions& options);
void AddEvaluateCommand(CLI::App& app, EvaluateOptions& options);

}  // namespace vigil::app
