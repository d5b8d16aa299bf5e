// `vigil evaluate`: the Handbook's chapter-3 test and chapter-5 prequential folds on a replay table.
#include "app/evaluate_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "app/served_eval.h"
#include "base/time.h"
#include "config/pipeline_config.h"
#include "models/forest.h"
#include "models/handbook_eval.h"

namespace vigil::app {
namespace {

namespace fs = std::filesystem;

//! The book's chapter-3 XGBoost results (fraudsim/SPEC.md).
constexpr double kBookAuc = 0.862, kBookAp = 0.639, kBookCp = 0.273;
constexpr int64_t kBookTrainRows = 67'240, kBookTrainFrauds = 598, kBookTestRows = 58'264,
                  kBookTestFrauds = 385;
//! The book's chapter-5 prequential XGBoost results: mean and standard deviation.
constexpr double kBookPreqAuc = 0.859, kBookPreqAucStd = 0.005, kBookPreqAp = 0.659, kBookPreqApStd = 0.012,
                 kBookPreqCp = 0.285, kBookPreqCpStd = 0.010;

std::string DateOfDay(int64_t epoch_day) {
  char buffer[32];
  base::FormatIso8601(epoch_day * base::kMsPerDay, buffer);
  return std::string(buffer, 10);
}

//! The table with its rows as the protocol sees them: day since the table's first day, card, label.
struct EvalData {
  Table table;                                  //!< The training table.
  std::vector<std::string> features;            //!< Model inputs, in order.
  int64_t first_epoch_day = 0;                  //!< Day (since 1970) of the earliest row: day 0.
  int64_t last_epoch_day = 0;                   //!< Day (since 1970) of the latest row.
  std::vector<models::ScoredTransaction> rows;  //!< One per table row, scores filled per split.
};

base::Result<EvalData> LoadEvalData(const EvaluateOptions& o) {
  VIGIL_ASSIGN_OR_RETURN(config::PipelineSpec pipeline, config::LoadPipelineFile(o.pipeline));
  if (pipeline.features.empty())
    return base::InvalidArgument(o.pipeline + ": the pipeline has no `features:` list");
  VIGIL_ASSIGN_OR_RETURN(Table table, ReadTrainingTable(o.table, pipeline.features));
  if (table.num_rows() == 0) return base::InvalidArgument(o.table + ": the table has no rows");
  EvalData data{std::move(table), pipeline.features, 0, 0, {}};
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, data.table.Int64s(kTimeColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> customers, data.table.Int64s(kCustomerColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, data.table.Int64s(kLabelColumn));
  const auto [lo, hi] = std::minmax_element(times.begin(), times.end());
  data.first_epoch_day = base::DayOf(*lo);
  data.last_epoch_day = base::DayOf(*hi);
  data.rows.resize(times.size());
  for (size_t i = 0; i < times.size(); ++i) {
    if (labels[i] == Table::kMissing)
      return base::InvalidArgument(fmt::format(
          "{}: row {} has no LABEL yet (its label was not known when the table was replayed): replay "
          "again once the labels have arrived",
          o.table, i + 1));
    if (labels[i] != 0 && labels[i] != 1)
      return base::InvalidArgument(fmt::format("{}: LABEL {} is neither 0 nor 1", o.table, labels[i]));
    data.rows[i] = {static_cast<int32_t>(base::DayOf(times[i]) - data.first_epoch_day), customers[i],
                    static_cast<int>(labels[i]), 0.0};
  }
  return data;
}

//! Table rows whose day is in [begin, end).
std::vector<size_t> RowsOfDays(const EvalData& data, int32_t begin, int32_t end) {
  std::vector<size_t> out;
  for (size_t i = 0; i < data.rows.size(); ++i) {
    if (data.rows[i].day >= begin && data.rows[i].day < end) out.push_back(i);
  }
  return out;
}

//! Scores the test period of `split` with `forest` (other rows keep score 0) and evaluates it.
base::Result<models::HandbookEvaluation> ScoreAndEvaluate(EvalData& data, const models::Forest& forest,
                                                          const models::HandbookSplit& split, int64_t k) {
  const std::vector<size_t> test = RowsOfDays(data, split.TestStartDay(), split.TestEndDay());
  if (test.empty()) {
    return base::InvalidArgument(fmt::format("the test period {} .. {} holds no rows of the table",
                                             DateOfDay(data.first_epoch_day + split.TestStartDay()),
                                             DateOfDay(data.first_epoch_day + split.TestEndDay() - 1)));
  }
  VIGIL_ASSIGN_OR_RETURN(std::vector<float> inputs, data.table.DenseRows(data.features, test));
  std::vector<float> scores(test.size());
  forest.PredictBatch(inputs.data(), test.size(), data.features.size(), scores.data());
  for (models::ScoredTransaction& row : data.rows) row.score = 0;
  for (size_t i = 0; i < test.size(); ++i) data.rows[test[i]].score = scores[i];
  auto evaluation = models::EvaluateHandbook(data.rows, split, k);
  if (!evaluation.ok()) return evaluation.status().WithContext("test period");
  return evaluation;
}

base::Result<std::shared_ptr<const models::Forest>> LoadModel(const std::string& model_dir,
                                                              const std::vector<std::string>& features) {
  const fs::path path = fs::path(model_dir) / "model.json";
  if (!fs::is_directory(model_dir))
    return base::NotFound(fmt::format("model directory {} does not exist", model_dir));
  if (!fs::exists(path))
    return base::NotFound(
        fmt::format("{} does not exist (is {} a model version?)", path.string(), model_dir));
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest,
                         models::Forest::LoadFile(path.string()));
  if (forest->num_features() != features.size() ||
      (!forest->feature_names().empty() && forest->feature_names() != features)) {
    return base::InvalidArgument(fmt::format("{} was trained on [{}], the pipeline's features are [{}]",
                                             path.string(), fmt::join(forest->feature_names(), ", "),
                                             fmt::join(features, ", ")));
  }
  return forest;
}

base::Result<models::HandbookSplit> MakeSplit(const EvalData& data, const EvaluateOptions& o) {
  VIGIL_RETURN_IF_ERROR(ParseDateMs(o.train_start).status());
  auto split = models::SplitFromDates(DateOfDay(data.first_epoch_day), o.train_start, o.train_days,
                                      o.delay_days, o.test_days);
  if (!split.ok())
    return split.status().WithContext(fmt::format("table starts on {}", DateOfDay(data.first_epoch_day)));
  return split;
}

bool IsBookSetup(const EvaluateOptions& o) {
  return o.train_start == kBookTrainStart && o.train_days == 7 && o.delay_days == 7 && o.test_days == 7 &&
         o.k == 100;
}

//! One evaluated fold (or the single chapter-3 split).
struct FoldResult {
  models::HandbookEvaluation evaluation;  //!< Sets and metrics.
  std::string train_start;                //!< First training day, YYYY-MM-DD.
  std::string test_start;                 //!< First test day, YYYY-MM-DD.
  std::string test_end;                   //!< Last test day, YYYY-MM-DD.
};

FoldResult MakeFoldResult(const EvalData& data, const models::HandbookEvaluation& evaluation) {
  const models::HandbookSplit& s = evaluation.split;
  return {evaluation, DateOfDay(data.first_epoch_day + s.train_start_day),
          DateOfDay(data.first_epoch_day + s.TestStartDay()),
          DateOfDay(data.first_epoch_day + s.TestEndDay() - 1)};
}

//! Chapter 5: trains one model per fold and evaluates it, earliest fold first.
base::Result<std::vector<FoldResult>> RunPrequential(EvalData& data, const models::HandbookSplit& earliest,
                                                     const EvaluateOptions& o) {
  VIGIL_ASSIGN_OR_RETURN(models::TrainOptions train, MakeTrainOptions(o.model));
  models::HandbookSplit latest = earliest;
  latest.train_start_day += (o.prequential - 1) * earliest.test_days;
  VIGIL_ASSIGN_OR_RETURN(std::vector<models::HandbookSplit> splits,
                         models::PrequentialSplits(latest, o.prequential));
  std::reverse(splits.begin(), splits.end());
  std::vector<FoldResult> folds;
  for (const models::HandbookSplit& split : splits) {
    const std::vector<size_t> rows = RowsOfDays(data, split.train_start_day, split.TrainEndDay());
    const std::string context =
        fmt::format("fold training from {}", DateOfDay(data.first_epoch_day + split.train_start_day));
    auto trained = TrainOnRows(data.table, data.features, rows, train);
    if (!trained.ok()) return trained.status().WithContext(context);
    VIGIL_ASSIGN_OR_RETURN(std::string model_json, trained->booster->Save(models::ModelFormat::kJson));
    VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest, models::Forest::Load(model_json));
    auto evaluation = ScoreAndEvaluate(data, *forest, split, o.k);
    if (!evaluation.ok()) return evaluation.status().WithContext(context);
    folds.push_back(MakeFoldResult(data, *evaluation));
  }
  return folds;
}

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

void PrintChapter3(const EvalData& data, const FoldResult& r, const EvaluateOptions& o) {
  const models::HandbookEvaluation& e = r.evaluation;
  const bool book = IsBookSetup(o);
  fmt::print("table {}: {} rows, {} .. {}\n", o.table, data.rows.size(), DateOfDay(data.first_epoch_day),
             DateOfDay(data.last_epoch_day));
  fmt::print("model {}; train from {} ({} days), delay {} days, test {} .. {}\n", o.model_dir, r.train_start,
             e.split.train_days, e.split.delay_days, r.test_start, r.test_end);
  fmt::print("{:<28}{:>10}{:>10}\n", "", "vigil", book ? "book" : "");
  const auto count = [&](const char* name, int64_t value, int64_t book_value) {
    fmt::print("{:<28}{:>10}{:>10}\n", name, value, book ? std::to_string(book_value) : "");
  };
  count("train transactions", e.train_transactions, kBookTrainRows);
  count("train frauds", e.train_frauds, kBookTrainFrauds);
  count("test transactions", e.test.transactions, kBookTestRows);
  count("test frauds", e.test.frauds, kBookTestFrauds);
  fmt::print("{:<28}{:>10}\n", "test rows of known cards", e.removed_test_rows);
  fmt::print("{:<28}{:>10.3f}{:>10}\n", "AUC ROC", e.test.auc_roc, BookCell(book, kBookAuc));
  fmt::print("{:<28}{:>10.3f}{:>10}\n", "average precision", e.test.average_precision,
             BookCell(book, kBookAp));
  fmt::print("{:<28}{:>10.3f}{:>10}\n", fmt::format("card precision@{}", o.k), e.test.card_precision_at_k,
             BookCell(book, kBookCp));
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

std::string FoldJson(const FoldResult& f) {
  const models::HandbookEvaluation& e = f.evaluation;
  return fmt::format(
      "{{\"train_start\": \"{}\", \"test_start\": \"{}\", \"test_end\": \"{}\", \"train_transactions\": {}, "
      "\"train_frauds\": {}, \"test_transactions\": {}, \"test_frauds\": {}, \"removed_test_rows\": {}, "
      "\"auc_roc\": {}, \"average_precision\": {}, \"k\": {}, \"card_precision_at_k\": {}}}",
      f.train_start, f.test_start, f.test_end, e.train_transactions, e.train_frauds, e.test.transactions,
      e.test.frauds, e.removed_test_rows, e.test.auc_roc, e.test.average_precision, e.test.top_k,
      e.test.card_precision_at_k);
}

void PrintJson(const FoldResult* chapter3, const std::vector<FoldResult>& folds, const EvaluateOptions& o) {
  std::vector<std::string> parts;
  if (chapter3 != nullptr) {
    parts.push_back(fmt::format("\"chapter3\": {}", FoldJson(*chapter3)));
    if (IsBookSetup(o)) {
      parts.push_back(
          fmt::format("\"book_chapter3\": {{\"auc_roc\": {}, \"average_precision\": {}, "
                      "\"card_precision_at_k\": {}}}",
                      kBookAuc, kBookAp, kBookCp));
    }
  }
  if (!folds.empty()) {
    std::vector<std::string> fold_json;
    for (const FoldResult& f : folds) fold_json.push_back(FoldJson(f));
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

base::Status RunEvaluate(const EvaluateOptions& o) {
  if (!o.served.empty()) {
    if (!o.model_dir.empty() || o.prequential > 0)
      return base::InvalidArgument("--served goes without --model and --prequential");
    return EvaluateServed({o.table, o.served, o.weeks_from, o.delay_days, o.k, o.last, o.json});
  }
  if (o.model_dir.empty() && o.prequential == 0)
    return base::InvalidArgument("give --model DIR and/or --prequential N");
  if (o.prequential < 0) return base::InvalidArgument("--prequential must be 0 or more");
  if (o.k < 1) return base::InvalidArgument("--k must be at least 1");
  VIGIL_ASSIGN_OR_RETURN(EvalData data, LoadEvalData(o));
  VIGIL_ASSIGN_OR_RETURN(models::HandbookSplit split, MakeSplit(data, o));
  std::unique_ptr<FoldResult> chapter3;
  if (!o.model_dir.empty()) {
    VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest,
                           LoadModel(o.model_dir, data.features));
    VIGIL_ASSIGN_OR_RETURN(models::HandbookEvaluation evaluation,
                           ScoreAndEvaluate(data, *forest, split, o.k));
    chapter3 = std::make_unique<FoldResult>(MakeFoldResult(data, evaluation));
  }
  std::vector<FoldResult> folds;
  if (o.prequential > 0) {
    VIGIL_ASSIGN_OR_RETURN(folds, RunPrequential(data, split, o));
  }
  if (o.json) {
    PrintJson(chapter3.get(), folds, o);
    return base::Status::OK();
  }
  if (chapter3) PrintChapter3(data, *chapter3, o);
  if (!folds.empty()) PrintPrequential(folds, o);
  return base::Status::OK();
}

}  // namespace

int EvaluateCommand(const EvaluateOptions& o) {
  const base::Status st = RunEvaluate(o);
  if (st.ok()) return 0;
  fmt::print(stderr, "error: {}\n", st.message());
  return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2 : 1;
}

void AddEvaluateCommand(CLI::App& app, EvaluateOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Evaluate models with the Fraud Detection Handbook's protocol (chapter 3 test week, chapter 5 "
      "prequential folds) on a training table");
  cmd->add_option("pipeline", o.pipeline,
                  "Pipeline YAML; its `features:` list names the model's input columns")
      ->required();
  cmd->add_option("--table", o.table, "Training table CSV (vigil replay's output, with LABEL)")->required();
  cmd->add_option("--model", o.model_dir,
                  "Model version directory DIR/<version> written by vigil train; scored on "
                  "the test period");
  cmd->add_option("--train-start", o.train_start,
                  "First training day (UTC), YYYY-MM-DD; day 0 is the table's first "
                  "day")
      ->capture_default_str();
  cmd->add_option("--train-days", o.train_days, "Training period, in days")->capture_default_str();
  cmd->add_option("--delay-days", o.delay_days,
                  "Gap between training and test, in days (labels not yet known)")
      ->capture_default_str();
  cmd->add_option("--test-days", o.test_days, "Test period, in days")->capture_default_str();
  cmd->add_option("--k", o.k, "The k of card precision@k (cards checked per day)")->capture_default_str();
  cmd->add_option(
         "--prequential", o.prequential,
         "Also run N prequential folds (chapter 5): the earliest trains from --train-start, each next one "
         "a test period later; one model trained per fold, in memory (0 = none)")
      ->capture_default_str();
  cmd->add_option(
      "--served", o.served,
      "NAME=FILE, repeatable: scores a pipeline served (decisions JSONL or a replay CSV, with TRANSACTION_ID "
      "and SCORE), evaluated week by week on the table's labels (AP, CP@k; known compromised cards removed)");
  cmd->add_option("--weeks-from", o.weeks_from,
                  "With --served: first day of the first week, YYYY-MM-DD (default: the "
                  "table's first day)");
  cmd->add_option("--last", o.last, "With --served: weeks averaged in the summary")->capture_default_str();
  AddModelFlags(*cmd, o.model);
  cmd->add_flag("--json", o.json, "Print one JSON object instead of tables");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
