// `vigil evaluate`: the Handbook's chapter-3 test and chapter-5 prequential folds on a replay table.
#include "app/evaluate_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "app/evaluate_print.h"
#include "app/served_eval.h"
#include "base/time.h"
#include "config/pipeline_config.h"
#include "models/forest.h"
#include "models/handbook_eval.h"

namespace vigil::app {
namespace {

namespace fs = std::filesystem;

std::string DateOfDay(int64_t epoch_day) { return base::IsoDate(epoch_day * base::kMsPerDay); }

//! The table with its rows as the protocol sees them: day since the table's first day, card, label.
struct EvalData {
  lifecycle::Table table;                       //!< The training table.
  BusinessSettings business;                    //!< The business report's settings.
  BusinessTable business_table;                 //!< Amounts and segments of the table's rows.
  std::vector<std::string> features;            //!< The pipeline's features: the table's inputs, in order.
  config::TrainSpec train;                      //!< The pipeline's `train:` section (prequential folds).
  int64_t first_epoch_day = 0;                  //!< Day (since 1970) of the earliest row: day 0.
  int64_t last_epoch_day = 0;                   //!< Day (since 1970) of the latest row.
  std::vector<models::ScoredTransaction> rows;  //!< One per table row, scores filled per split.
};

base::Result<EvalData> LoadEvalData(const EvaluateOptions& o) {
  VIGIL_ASSIGN_OR_RETURN(config::PipelineSpec pipeline, config::LoadPipelineFile(o.pipeline));
  if (pipeline.features.empty())
    return base::InvalidArgument(o.pipeline + ": the pipeline has no `features:` list");
  VIGIL_ASSIGN_OR_RETURN(BusinessSettings business, ResolveBusinessSettings(pipeline, o.business));
  lifecycle::TableReadOptions extra;
  extra.double_columns = pipeline.features;
  extra.int64_columns = {std::string(lifecycle::kTimeColumn), std::string(lifecycle::kCustomerColumn),
                         std::string(lifecycle::kTransactionColumn), std::string(lifecycle::kLabelColumn)};
  AddBusinessColumns(business, &extra);
  if (std::filesystem::exists(o.table)) VIGIL_RETURN_IF_ERROR(CheckAmountColumn(o.table, business));
  VIGIL_ASSIGN_OR_RETURN(lifecycle::Table table,
                         lifecycle::ReadTrainingTable(o.table, pipeline.features, extra));
  if (table.num_rows() == 0) return base::InvalidArgument(o.table + ": the table has no rows");
  VIGIL_ASSIGN_OR_RETURN(BusinessTable business_table, MakeBusinessTable(table, business));
  EvalData data{std::move(table),
                std::move(business),
                std::move(business_table),
                pipeline.features,
                pipeline.train,
                0,
                0,
                {}};
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, data.table.Int64s(lifecycle::kTimeColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> customers, data.table.Int64s(lifecycle::kCustomerColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, data.table.Int64s(lifecycle::kLabelColumn));
  const auto [lo, hi] = std::minmax_element(times.begin(), times.end());
  data.first_epoch_day = base::DayOf(*lo);
  data.last_epoch_day = base::DayOf(*hi);
  data.rows.resize(times.size());
  for (size_t i = 0; i < times.size(); ++i) {
    if (labels[i] == lifecycle::Table::kMissing)
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

//! Scores the test period of `split` with `forest`, whose inputs are the table's columns `features`
//! (other rows keep score 0), and evaluates it.
base::Result<models::HandbookEvaluation> ScoreAndEvaluate(EvalData& data, const models::Forest& forest,
                                                          const std::vector<std::string>& features,
                                                          const models::HandbookSplit& split, int64_t k) {
  const std::vector<size_t> test = RowsOfDays(data, split.TestStartDay(), split.TestEndDay());
  if (test.empty()) {
    return base::InvalidArgument(fmt::format("the test period {} .. {} holds no rows of the table",
                                             DateOfDay(data.first_epoch_day + split.TestStartDay()),
                                             DateOfDay(data.first_epoch_day + split.TestEndDay() - 1)));
  }
  VIGIL_ASSIGN_OR_RETURN(std::vector<float> inputs, data.table.DenseRows(features, test));
  std::vector<float> scores(test.size());
  forest.PredictBatch(inputs.data(), test.size(), features.size(), scores.data());
  for (models::ScoredTransaction& row : data.rows) row.score = 0;
  for (size_t i = 0; i < test.size(); ++i) data.rows[test[i]].score = scores[i];
  auto evaluation = models::EvaluateHandbook(data.rows, split, k);
  if (!evaluation.ok()) return evaluation.status().WithContext("test period");
  return evaluation;
}

//! The model of `model_dir` and its inputs: its own feature names when the pipeline's features hold
//! them all (a baseline model beside one on more features, on the same table), else the pipeline's.
struct LoadedModel {
  std::shared_ptr<const models::Forest> forest;
  std::vector<std::string> features;
};

base::Result<LoadedModel> LoadModel(const std::string& model_dir, const std::vector<std::string>& features) {
  const fs::path path = fs::path(model_dir) / "model.json";
  if (!fs::is_directory(model_dir))
    return base::NotFound(fmt::format("model directory {} does not exist", model_dir));
  if (!fs::exists(path))
    return base::NotFound(
        fmt::format("{} does not exist (is {} a model version?)", path.string(), model_dir));
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest,
                         models::Forest::LoadFile(path.string()));
  const std::vector<std::string>& own = forest->feature_names();
  const bool subset = !own.empty() && std::all_of(own.begin(), own.end(), [&](const std::string& f) {
    return std::find(features.begin(), features.end(), f) != features.end();
  });
  if (subset) return LoadedModel{forest, own};
  if (forest->num_features() != features.size() || !own.empty()) {
    return base::InvalidArgument(
        fmt::format("{} was trained on [{}], which the pipeline's features [{}] do not all hold",
                    path.string(), fmt::join(own, ", "), fmt::join(features, ", ")));
  }
  return LoadedModel{forest, features};  // a model without feature names: the pipeline's, by position
}

base::Result<models::HandbookSplit> MakeSplit(const EvalData& data, const EvaluateOptions& o) {
  VIGIL_RETURN_IF_ERROR(lifecycle::ParseDateMs(o.train_start).status());
  auto split = models::SplitFromDates(DateOfDay(data.first_epoch_day), o.train_start, o.train_days,
                                      o.delay_days, o.test_days);
  if (!split.ok())
    return split.status().WithContext(fmt::format("table starts on {}", DateOfDay(data.first_epoch_day)));
  return split;
}

FoldResult MakeFoldResult(const EvalData& data, const models::HandbookEvaluation& evaluation) {
  const models::HandbookSplit& s = evaluation.split;
  return {evaluation, DateOfDay(data.first_epoch_day + s.train_start_day),
          DateOfDay(data.first_epoch_day + s.TestStartDay()),
          DateOfDay(data.first_epoch_day + s.TestEndDay() - 1)};
}

//! Chapter 5: trains one model per fold and evaluates it, earliest fold first.
base::Result<std::vector<FoldResult>> RunPrequential(EvalData& data, const models::HandbookSplit& earliest,
                                                     const EvaluateOptions& o) {
  // The pipeline's train: section first, as vigil train reads it; the flags on top.
  lifecycle::ModelFlags flags = o.model;
  flags.params.clear();
  for (const auto& [key, value] : data.train.params) flags.params.push_back(key + "=" + value);
  flags.params.insert(flags.params.end(), o.model.params.begin(), o.model.params.end());
  if (!o.rounds_given) flags.rounds = data.train.rounds;
  VIGIL_ASSIGN_OR_RETURN(models::TrainOptions train, lifecycle::MakeTrainOptions(flags));
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
    auto trained = lifecycle::TrainOnRows(data.table, data.features, rows, train);
    if (!trained.ok()) return trained.status().WithContext(context);
    VIGIL_ASSIGN_OR_RETURN(std::string model_json, trained->booster->Save(models::ModelFormat::kJson));
    VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest, models::Forest::Load(model_json));
    auto evaluation = ScoreAndEvaluate(data, *forest, data.features, split, o.k);
    if (!evaluation.ok()) return evaluation.status().WithContext(context);
    folds.push_back(MakeFoldResult(data, *evaluation));
  }
  return folds;
}

//! Column names of the models: their version directories' names, or the paths given if two clash.
std::vector<std::string> ModelNames(const std::vector<std::string>& dirs) {
  std::vector<std::string> names;
  for (const std::string& dir : dirs) {
    fs::path path(dir);
    if (!path.has_filename()) path = path.parent_path();
    names.push_back(path.filename().string());
  }
  for (const std::string& name : names)
    if (std::count(names.begin(), names.end(), name) > 1) return dirs;
  return names;
}

//! One model on the test period: chapter 3, and the business report on the same rows.
base::Result<ModelResult> EvaluateModel(EvalData& data, const std::string& dir, std::string name,
                                        const models::HandbookSplit& split, const EvaluateOptions& o) {
  VIGIL_ASSIGN_OR_RETURN(LoadedModel model, LoadModel(dir, data.features));
  VIGIL_ASSIGN_OR_RETURN(models::HandbookEvaluation evaluation,
                         ScoreAndEvaluate(data, *model.forest, model.features, split, o.k));
  VIGIL_ASSIGN_OR_RETURN(models::HandbookSets sets, models::SelectHandbookSets(data.rows, split));
  std::vector<models::ScoredTransaction> rows;
  for (size_t i : sets.test) rows.push_back(data.rows[i]);
  auto business =
      EvaluateBusiness(data.business_table, data.business, name, rows, sets.test, split.test_days);
  if (!business.ok()) return business.status().WithContext("business report of " + dir);
  return ModelResult{std::move(name), dir, MakeFoldResult(data, evaluation), std::move(business).value()};
}

base::Status RunEvaluate(const EvaluateOptions& o) {
  if (!o.served.empty()) {
    if (!o.model_dirs.empty() || o.prequential > 0)
      return base::InvalidArgument("--served goes without --model and --prequential");
    VIGIL_ASSIGN_OR_RETURN(config::PipelineSpec pipeline, config::LoadPipelineFile(o.pipeline));
    VIGIL_ASSIGN_OR_RETURN(BusinessSettings business, ResolveBusinessSettings(pipeline, o.business));
    return EvaluateServed({o.table, o.served, o.weeks_from, o.delay_days, o.k, o.last, o.json, business});
  }
  if (o.model_dirs.empty() && o.prequential == 0)
    return base::InvalidArgument("give --model DIR and/or --prequential N");
  if (o.prequential < 0) return base::InvalidArgument("--prequential must be 0 or more");
  if (o.k < 1) return base::InvalidArgument("--k must be at least 1");
  VIGIL_ASSIGN_OR_RETURN(EvalData data, LoadEvalData(o));
  VIGIL_ASSIGN_OR_RETURN(models::HandbookSplit split, MakeSplit(data, o));
  std::vector<ModelResult> models;
  const std::vector<std::string> names = ModelNames(o.model_dirs);
  for (size_t i = 0; i < o.model_dirs.size(); ++i) {
    VIGIL_ASSIGN_OR_RETURN(ModelResult result, EvaluateModel(data, o.model_dirs[i], names[i], split, o));
    models.push_back(std::move(result));
  }
  std::vector<FoldResult> folds;
  if (o.prequential > 0) {
    VIGIL_ASSIGN_OR_RETURN(folds, RunPrequential(data, split, o));
  }
  if (o.json) {
    PrintJson(models, folds, o);
    return base::Status::OK();
  }
  if (!models.empty()) {
    const TableSummary table{data.rows.size(), DateOfDay(data.first_epoch_day),
                             DateOfDay(data.last_epoch_day)};
    PrintChapter3(table, models, data.business, o);
  }
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
      "prequential folds) on a training table, with a business report: cost and alert-budget thresholds, "
      "metrics per segment");
  cmd->add_option("pipeline", o.pipeline,
                  "Pipeline YAML; its `features:` list names the model's input columns")
      ->required();
  cmd->add_option("--table", o.table, "Training table CSV (vigil replay's output, with LABEL)")->required();
  cmd->add_option("--model", o.model_dirs,
                  "Model version directory DIR/<version> written by vigil train; scored on the test period. "
                  "Repeatable: models compared side by side");
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
         "a test period later; one model trained per fold, in memory, with the pipeline's train: params and "
         "rounds unless --param/--rounds override them (0 = none)")
      ->capture_default_str();
  cmd->add_option(
      "--served", o.served,
      "NAME=FILE, repeatable: scores a pipeline served (decisions JSONL or a replay CSV, with TRANSACTION_ID "
      "and SCORE), evaluated week by week on the table's labels (AP, CP@k; known compromised cards removed), "
      "with the business report over the last weeks");
  cmd->add_option("--weeks-from", o.weeks_from,
                  "With --served: first day of the first week, YYYY-MM-DD (default: the "
                  "table's first day)");
  cmd->add_option("--last", o.last, "With --served: weeks averaged in the summary and in the business report")
      ->capture_default_str();
  AddModelFlags(*cmd, o.model);
  AddBusinessFlags(*cmd, o.business);
  cmd->add_flag("--json", o.json, "Print one JSON object instead of tables");
  cmd->callback([&o, cmd] {
    o.selected = true;
    o.rounds_given = cmd->get_option("--rounds")->count() > 0;
  });
}

}  // namespace vigil::app
