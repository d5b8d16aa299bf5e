// Printing of `vigil evaluate`'s Handbook results (see evaluate_print.h).
#include "app/evaluate_print.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/business_print.h"
#include "base/json.h"

namespace vigil::app {
namespace {

//! The book's chapter-3 XGBoost results (fraudsim/SPEC.md).
constexpr double kBookAuc = 0.862, kBookAp = 0.639, kBookCp = 0.273;
constexpr int64_t kBookTrainRows = 67'240, kBookTrainFrauds = 598, kBookTestRows = 58'264,
                  kBookTestFrauds = 385;
//! The book's chapter-5 prequential XGBoost results: mean and standard deviation.
constexpr double kBookPreqAuc = 0.859, kBookPreqAucStd = 0.005, kBookPreqAp = 0.659, kBookPreqApStd = 0.012,
                 kBookPreqCp = 0.285, kBookPreqCpStd = 0.010;

//! Mean and sample standard deviation (n - 1, as pandas' std) of one metric over folds.
struct MeanStd {
  double mean = 0;  //!< Mean.
  double std = 0;   //!< Sample standard deviation; 0 for one fold.
};

template <typename Get>
MeanStd Summarise(const std::vector<FoldResult>& folds, Get get) {
  MeanStd out;
  for (const FoldResult& f : folds) out.mean += get(f.evaluation.test);
  out.mean /= static_cast<double>(folds.size());
  double squares = 0;
  for (const FoldResult& f : folds) squares += std::pow(get(f.evaluation.test) - out.mean, 2);
  out.std = folds.size() > 1 ? std::sqrt(squares / static_cast<double>(folds.size() - 1)) : 0.0;
  return out;
}

std::string BookCell(bool show, double value) { return show ? fmt::format("{:.3f}", value) : "-"; }

std::string FoldJson(const FoldResult& f) {
  const models::HandbookEvaluation& e = f.evaluation;
  return fmt::format(
      "\"train_start\": \"{}\", \"test_start\": \"{}\", \"test_end\": \"{}\", \"train_transactions\": {}, "
      "\"train_frauds\": {}, \"test_transactions\": {}, \"test_frauds\": {}, \"removed_test_rows\": {}, "
      "\"auc_roc\": {}, \"average_precision\": {}, \"k\": {}, \"card_precision_at_k\": {}",
      f.train_start, f.test_start, f.test_end, e.train_transactions, e.train_frauds, e.test.transactions,
      e.test.frauds, e.removed_test_rows, e.test.auc_roc, e.test.average_precision, e.test.top_k,
      e.test.card_precision_at_k);
}

std::string ModelJson(const ModelResult& m) {
  return fmt::format("{{\"model\": {}, {}, {}}}", base::JsonString(m.dir), FoldJson(m.fold),
                     BusinessJsonMembers(m.business));
}

}  // namespace

bool IsBookSetup(const EvaluateOptions& o) {
  return o.train_start == lifecycle::kBookTrainStart && o.train_days == 7 && o.delay_days == 7 &&
         o.test_days == 7 && o.k == 100;
}

void PrintChapter3(const TableSummary& table, std::span<const ModelResult> models,
                   const BusinessSettings& business, const EvaluateOptions& o) {
  const FoldResult& r = models.front().fold;
  const models::HandbookEvaluation& e = r.evaluation;
  const bool book = IsBookSetup(o);
  fmt::print("table {}: {} rows, {} .. {}\n", o.table, table.rows, table.first_day, table.last_day);
  for (const ModelResult& m : models)
    fmt::print("model {}{}\n", m.dir, models.size() > 1 ? " (" + m.name + ")" : "");
  fmt::print("train from {} ({} days), delay {} days, test {} .. {}\n", r.train_start, e.split.train_days,
             e.split.delay_days, r.test_start, r.test_end);
  // One column per model, as wide as the longest name (two clashing names are shown as their paths).
  size_t w = 12;
  for (const ModelResult& m : models) w = std::max(w, m.name.size() + 2);
  std::string header = fmt::format("{:<28}", "");
  for (const ModelResult& m : models)
    header += fmt::format("{:>{}}", models.size() > 1 ? m.name : "vigil", w);
  fmt::print("{}{:>10}\n", header, book ? "book" : "");
  const auto count = [&](const char* name, int64_t value, int64_t book_value) {
    fmt::print("{:<28}{:>{}}{:>{}}\n", name, value, w, book ? std::to_string(book_value) : "",
               10 + w * (models.size() - 1));
  };
  count("train transactions", e.train_transactions, kBookTrainRows);
  count("train frauds", e.train_frauds, kBookTrainFrauds);
  count("test transactions", e.test.transactions, kBookTestRows);
  count("test frauds", e.test.frauds, kBookTestFrauds);
  fmt::print("{:<28}{:>{}}\n", "test rows of known cards", e.removed_test_rows, w);
  const auto metric = [&](const std::string& name, double models::HandbookMetrics::*field,
                          double book_value) {
    std::string line = fmt::format("{:<28}", name);
    for (const ModelResult& m : models) line += fmt::format("{:>{}.3f}", m.fold.evaluation.test.*field, w);
    fmt::print("{}{:>10}\n", line, BookCell(book, book_value));
  };
  metric("AUC ROC", &models::HandbookMetrics::auc_roc, kBookAuc);
  metric("average precision", &models::HandbookMetrics::average_precision, kBookAp);
  metric(fmt::format("card precision@{}", o.k), &models::HandbookMetrics::card_precision_at_k, kBookCp);
  std::vector<BusinessReport> reports;
  for (const ModelResult& m : models) reports.push_back(m.business);
  PrintBusiness(business, reports, "the test period, known compromised cards removed");
}

void PrintPrequential(const std::vector<FoldResult>& folds, const EvaluateOptions& o) {
  fmt::print("\nprequential, {} folds (train {} d / delay {} d / test {} d, one model per fold)\n",
             folds.size(), o.train_days, o.delay_days, o.test_days);
  fmt::print("{:<12}{:<24}{:>8}{:>8}{:>17}{:>17}{:>17}\n", "train from", "test", "tx", "frauds", "AUC ROC",
             "AP", fmt::format("CP@{}", o.k));
  for (const FoldResult& f : folds) {
    const models::HandbookMetrics& m = f.evaluation.test;
    fmt::print("{:<12}{:<24}{:>8}{:>8}{:>17.3f}{:>17.3f}{:>17.3f}\n", f.train_start,
               f.test_start + " .. " + f.test_end, m.transactions, m.frauds, m.auc_roc, m.average_precision,
               m.card_precision_at_k);
  }
  const MeanStd auc = Summarise(folds, [](const auto& m) { return m.auc_roc; });
  const MeanStd ap = Summarise(folds, [](const auto& m) { return m.average_precision; });
  const MeanStd cp = Summarise(folds, [](const auto& m) { return m.card_precision_at_k; });
  const auto cell = [](double mean, double std) { return fmt::format("{:.3f} ± {:.3f}", mean, std); };
  fmt::print("{:<52}{:>17}{:>17}{:>17}\n", "vigil, mean ± std", cell(auc.mean, auc.std),
             cell(ap.mean, ap.std), cell(cp.mean, cp.std));
  if (IsBookSetup(o) && o.prequential == 4) {
    fmt::print("{:<52}{:>17}{:>17}{:>17}\n", "book (XGBoost default)", cell(kBookPreqAuc, kBookPreqAucStd),
               cell(kBookPreqAp, kBookPreqApStd), cell(kBookPreqCp, kBookPreqCpStd));
  }
}

void PrintJson(std::span<const ModelResult> models, const std::vector<FoldResult>& folds,
               const EvaluateOptions& o) {
  std::vector<std::string> parts;
  if (!models.empty()) {
    parts.push_back(fmt::format("\"chapter3\": {}", ModelJson(models.front())));
    if (models.size() > 1) {
      std::vector<std::string> all;
      for (const ModelResult& m : models) all.push_back(ModelJson(m));
      parts.push_back(fmt::format("\"models\": [{}]", fmt::join(all, ", ")));
    }
    if (IsBookSetup(o)) {
      parts.push_back(
          fmt::format("\"book_chapter3\": {{\"auc_roc\": {}, \"average_precision\": {}, "
                      "\"card_precision_at_k\": {}}}",
                      kBookAuc, kBookAp, kBookCp));
    }
  }
  if (!folds.empty()) {
    std::vector<std::string> fold_json;
    for (const FoldResult& f : folds) fold_json.push_back("{" + FoldJson(f) + "}");
    const MeanStd auc = Summarise(folds, [](const auto& m) { return m.auc_roc; });
    const MeanStd ap = Summarise(folds, [](const auto& m) { return m.average_precision; });
    const MeanStd cp = Summarise(folds, [](const auto& m) { return m.card_precision_at_k; });
    parts.push_back(
        fmt::format("\"prequential\": {{\"folds\": [{}], \"mean\": {{\"auc_roc\": {}, \"average_precision\": "
                    "{}, \"card_precision_at_k\": {}}}, \"std\": {{\"auc_roc\": {}, \"average_precision\": "
                    "{}, \"card_precision_at_k\": {}}}}}",
                    fmt::join(fold_json, ", "), auc.mean, ap.mean, cp.mean, auc.std, ap.std, cp.std));
  }
  fmt::print("{{{}}}\n", fmt::join(parts, ", "));
}

}  // namespace vigil::app
