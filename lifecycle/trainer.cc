// TrainAndRegister: one training window of a table -> one model version in the registry and its run
// record. The command line around it is app/train_command.cc.
#include "lifecycle/trainer.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/json.h"
#include "base/time.h"
#include "config/pipeline_config.h"
#include "models/forest.h"
#include "models/metrics.h"
#include "models/registry.h"
#include "models/runs.h"
#include "models/xgb_model.h"
#include "monitor/reference.h"

namespace vigil::lifecycle {
namespace {

namespace fs = std::filesystem;

using base::kMsPerDay;
//! Golden rows stored in metadata.json.
constexpr size_t kGoldenRows = 5;
//! Largest difference tolerated between vigil's Forest and libxgboost on the golden rows.
constexpr double kGoldenTolerance = 1e-5;

using base::JsonString;

std::string JsonNumber(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }
//! Shortest round-trip text of a float: the model's input precision.
std::string JsonNumber(float v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

base::Status CheckVersionName(const std::string& version) {
  const bool ok =
      !version.empty() && version[0] != '.' && std::all_of(version.begin(), version.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  return ok ? base::Status::OK()
            : base::InvalidArgument(
                  fmt::format("--version '{}': use letters, digits, '.', '_' or '-'", version));
}

//! What metadata.json records besides the model itself.
struct VersionInfo {
  std::string version;                       //!< Version name.
  std::string parent;                        //!< The champion when training started; empty if none.
  std::string pipeline_name;                 //!< The pipeline's `name:`.
  std::vector<std::string> features;         //!< Input columns, in order.
  std::string table;                         //!< Training table path.
  int64_t start_ms = 0;                      //!< Training window start (inclusive).
  int64_t end_ms = 0;                        //!< Training window end (exclusive).
  int64_t valid_start_ms = 0;                //!< Validation window start (inclusive).
  int64_t valid_end_ms = 0;                  //!< Validation window end (exclusive); = start: none.
  std::vector<models::OffsetRange> offsets;  //!< Kafka offsets behind the table, from --offsets.
  int64_t rows = 0;                          //!< Training rows.
  int64_t frauds = 0;                        //!< Frauds among them.
  models::TrainOptions train;                //!< libxgboost parameters and rounds.
  int trees = 0;                             //!< Boosting rounds in the model (fewer after early stopping).
  std::optional<models::EarlyStopping> early_stopping;  //!< What early stopping saw, if it ran.
  double auc_roc = 0;                                   //!< On the training rows.
  double average_precision = 0;                         //!< On the training rows.
  std::map<std::string, double> train_metrics;  //!< The two above, rows and frauds; empty until computed.
  std::map<std::string, double> validation_metrics;  //!< Same on the validation rows; empty if none.
  std::string validation_note;                       //!< Why there are no validation metrics, or empty.
  std::string model_sha256;                          //!< SHA-256 of the model file; empty until trained.
  std::string model_file = "model.json";             //!< Its name in the version's folder.
  std::vector<size_t> golden;                        //!< Golden table rows.
  std::vector<float> golden_inputs;                  //!< Their inputs, row-major.
  std::vector<float> golden_scores;                  //!< Their scores (Forest).
  std::string reference_json;                        //!< ReferenceSet of the training rows, as JSON.
};

std::string MetadataJson(const VersionInfo& v, const Table& table, size_t model_bytes) {
  std::string j = "{\n";
  j += fmt::format("  \"format\": \"vigil-model/1\",\n  \"version\": {},\n  \"parent\": {},\n",
                   JsonString(v.version), v.parent.empty() ? "null" : JsonString(v.parent));
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  j += fmt::format("  \"created\": {},\n  \"pipeline\": {},\n", JsonString(base::Iso8601(now_ms)),
                   JsonString(v.pipeline_name));
  j += fmt::format("  \"model_file\": {},\n  \"model_sha256\": \"{}\",\n  \"model_bytes\": {},\n",
                   JsonString(v.model_file), v.model_sha256, model_bytes);
  std::vector<std::string> quoted;
  for (const std::string& f : v.features) quoted.push_back(JsonString(f));
  j += fmt::format("  \"features\": [{}],\n", fmt::join(quoted, ", "));
  std::vector<std::string> params;
  for (const auto& [key, value] : v.train.params)
    params.push_back(JsonString(key) + ": " + JsonString(value));
  j += fmt::format("  \"params\": {{{}}},\n  \"rounds\": {},\n", fmt::join(params, ", "), v.trees);
  if (const auto& e = v.early_stopping) {
    j += fmt::format(
        "  \"early_stopping\": {{\"metric\": {}, \"patience\": {}, \"rounds_run\": {}, \"best_round\": {}, "
        "\"best_value\": {}}},\n",
        JsonString(e->metric), v.train.early_stopping_rounds, e->rounds_run, e->best_round,
        JsonNumber(e->best_value));
  }
  j += fmt::format(
      "  \"training\": {{\"table\": {}, \"start\": {}, \"end\": {}, \"start_ms\": {}, \"end_ms\": {}, "
      "\"rows\": {}, \"frauds\": {}}},\n",
      JsonString(v.table), JsonString(base::Iso8601(v.start_ms)), JsonString(base::Iso8601(v.end_ms)),
      v.start_ms, v.end_ms, v.rows, v.frauds);
  j += fmt::format("  \"train_metrics\": {{\"auc_roc\": {}, \"average_precision\": {}}},\n",
                   JsonNumber(v.auc_roc), JsonNumber(v.average_precision));
  const auto ids = table.Int64s(kTransactionColumn);
  std::vector<std::string> golden;
  for (size_t g = 0; g < v.golden.size(); ++g) {
    std::vector<std::string> inputs;
    for (size_t c = 0; c < v.features.size(); ++c)
      inputs.push_back(JsonNumber(v.golden_inputs[g * v.features.size() + c]));
    golden.push_back(fmt::format("    {{\"transaction_id\": {}, \"inputs\": [{}], \"score\": {}}}",
                                 ids.ok() ? (*ids)[v.golden[g]] : -1, fmt::join(inputs, ", "),
                                 JsonNumber(v.golden_scores[g])));
  }
  j += fmt::format("  \"golden_rows\": [\n{}\n  ],\n", fmt::join(golden, ",\n"));
  j += fmt::format("  \"reference\": {}\n}}\n", v.reference_json);
  return j;
}

//! Picks up to kGoldenRows training rows, frauds and genuine ones, spread over the window.
std::vector<size_t> PickGoldenRows(std::span<const size_t> rows, std::span<const int64_t> labels) {
  std::vector<size_t> frauds, genuine;
  for (const size_t r : rows) (labels[r] != 0 ? frauds : genuine).push_back(r);
  std::vector<size_t> golden;
  const auto take = [&golden](const std::vector<size_t>& from, size_t n) {
    for (size_t i = 0; i < n && i < from.size(); ++i) golden.push_back(from[i * from.size() / n]);
  };
  take(frauds, 2);
  take(genuine, kGoldenRows - golden.size());
  return golden;
}

//! Scores the golden rows with Forest and checks libxgboost agrees.
//! Scores the golden rows with `forest`, and checks them against libxgboost's `booster` (when given:
//! an imported model in a format newer than libxgboost 1.7 reads has none).
base::Status ScoreGoldenRows(const Table& table, const models::Forest& forest,
                             const models::XgbBooster* booster, VersionInfo& info) {
  VIGIL_ASSIGN_OR_RETURN(info.golden_inputs, table.DenseRows(info.features, info.golden));
  info.golden_scores.resize(info.golden.size());
  forest.PredictBatch(info.golden_inputs.data(), info.golden.size(), info.features.size(),
                      info.golden_scores.data());
  if (booster == nullptr) return base::Status::OK();
  VIGIL_ASSIGN_OR_RETURN(
      std::vector<float> reference,
      booster->PredictDense(info.golden_inputs.data(), info.golden.size(), info.features.size()));
  for (size_t g = 0; g < info.golden.size(); ++g) {
    if (std::fabs(double{reference[g]} - double{info.golden_scores[g]}) > kGoldenTolerance) {
      return base::Internal(fmt::format("golden row {}: Forest scores {} but libxgboost {}", g,
                                        info.golden_scores[g], reference[g]));
    }
  }
  return base::Status::OK();
}

//! The reference histograms (drift monitoring) of the training rows' inputs and scores.
base::Status FillReference(std::span<const float> inputs, std::span<const float> scores, VersionInfo& info) {
  const size_t n = scores.size(), width = info.features.size();
  std::vector<float> columns(inputs.size());
  for (size_t r = 0; r < n; ++r) {
    for (size_t f = 0; f < width; ++f) columns[f * n + r] = inputs[r * width + f];
  }
  VIGIL_ASSIGN_OR_RETURN(monitor::ReferenceSet reference,
                         monitor::ReferenceSet::Build(info.features, columns, n, scores));
  info.reference_json = reference.ToJson("  ");
  return base::Status::OK();
}

//! The Forest's scores of `rows` (and their inputs, row-major, in `inputs`).
base::Result<std::vector<double>> ScoreRows(const Table& table, const models::Forest& forest,
                                            std::span<const size_t> rows, const VersionInfo& info,
                                            std::vector<float>& inputs) {
  VIGIL_ASSIGN_OR_RETURN(inputs, table.DenseRows(info.features, rows));
  std::vector<float> scores(rows.size());
  forest.PredictBatch(inputs.data(), rows.size(), info.features.size(), scores.data());
  return std::vector<double>(scores.begin(), scores.end());
}

//! The LABEL of `rows`.
base::Result<std::vector<int>> LabelsOf(const Table& table, std::span<const size_t> rows,
                                        std::string_view what) {
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
  VIGIL_RETURN_IF_ERROR(CheckLabeled(labels, rows, what));
  std::vector<int> l(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) l[i] = static_cast<int>(labels[rows[i]]);
  return l;
}

//! Train AUC ROC and AP, and the reference histograms, from the Forest's scores of the training rows.
base::Status FillTrainMetrics(const Table& table, const models::Forest& forest, std::span<const size_t> rows,
                              VersionInfo& info) {
  std::vector<float> inputs;
  VIGIL_ASSIGN_OR_RETURN(std::vector<double> s, ScoreRows(table, forest, rows, info, inputs));
  const std::vector<float> scores(s.begin(), s.end());
  VIGIL_RETURN_IF_ERROR(FillReference(inputs, scores, info));
  VIGIL_ASSIGN_OR_RETURN(std::vector<int> l, LabelsOf(table, rows, "training"));
  VIGIL_ASSIGN_OR_RETURN(info.auc_roc, models::AucRoc(s, l));
  VIGIL_ASSIGN_OR_RETURN(info.average_precision, models::AveragePrecision(s, l));
  info.train_metrics = {{"auc_roc", info.auc_roc},
                        {"average_precision", info.average_precision},
                        {"rows", static_cast<double>(info.rows)},
                        {"frauds", static_cast<double>(info.frauds)}};
  return base::Status::OK();
}

//! Validation AUC ROC and AP on the rows of the validation window, or a note saying why there are none.
base::Status FillValidationMetrics(const Table& table, const models::Forest& forest,
                                   std::span<const int64_t> times, VersionInfo& info) {
  if (info.valid_end_ms <= info.valid_start_ms) return base::Status::OK();
  const std::vector<size_t> rows = RowsInWindow(times, info.valid_start_ms, info.valid_end_ms);
  const std::string window =
      fmt::format("[{}, {})", base::Iso8601(info.valid_start_ms), base::Iso8601(info.valid_end_ms));
  if (rows.empty()) {
    info.validation_note = fmt::format("no validation: the table has no row in {}", window);
    return base::Status::OK();
  }
  VIGIL_ASSIGN_OR_RETURN(std::vector<int> l, LabelsOf(table, rows, "validation"));
  const auto frauds = std::count(l.begin(), l.end(), 1);
  if (frauds == 0 || frauds == static_cast<int64_t>(rows.size())) {
    info.validation_note =
        fmt::format("no validation: the {} rows in {} are all of one class", rows.size(), window);
    return base::Status::OK();
  }
  VIGIL_ASSIGN_OR_RETURN(info.validation_metrics,
                         WindowMetrics(table, forest, info.features, rows, "validation"));
  return base::Status::OK();
}

//! Checks the request and fills in what the run record needs before any data is read.
base::Status PrepareRun(const TrainRequest& o, const config::PipelineSpec& pipeline, VersionInfo& info) {
  if (pipeline.features.empty())
    return base::InvalidArgument(o.pipeline_file + ": the pipeline has no `features:` list");
  if (o.train_days < 1) return base::InvalidArgument("--train-days must be at least 1");
  if (o.valid_days < 0) return base::InvalidArgument("--valid-days must be 0 or more");
  if (o.delay_days < 0) return base::InvalidArgument("--delay-days must be 0 or more");
  if (o.valid_days == 0 && o.model.early_stopping_rounds > 0)
    return base::InvalidArgument("early stopping needs a validation window: --valid-days must be 1 or more");
  info.start_ms = o.train_start_ms;
  if (!o.train_start.empty()) {
    VIGIL_ASSIGN_OR_RETURN(info.start_ms, ParseDateMs(o.train_start));
  }
  info.end_ms = info.start_ms + o.train_days * kMsPerDay;
  info.valid_start_ms = info.end_ms + o.delay_days * kMsPerDay;
  info.valid_end_ms = info.valid_start_ms + o.valid_days * kMsPerDay;
  VIGIL_ASSIGN_OR_RETURN(info.train, MakeTrainOptions(o.model));
  if (o.on_round)
    info.train.on_round = [&o, total = info.train.rounds](int done) { o.on_round(done, total); };
  for (const std::string& text : o.offsets) {
    VIGIL_ASSIGN_OR_RETURN(models::OffsetRange range, models::ParseOffsetRange(text));
    info.offsets.push_back(std::move(range));
  }
  const models::Registry registry(o.models_dir);
  info.version = o.version.empty() ? registry.NextVersionName() : o.version;
  VIGIL_RETURN_IF_ERROR(CheckVersionName(info.version));
  VIGIL_RETURN_IF_ERROR(registry.CheckVersionFree(info.version));
  info.pipeline_name = pipeline.name;
  info.features = pipeline.features;
  info.table = o.input.empty() ? o.table : o.input;
  return base::Status::OK();
}

//! The bytes of the model file to import (XGBoost JSON or UBJSON, any version the evaluator reads);
//! sets the name it gets in the version's folder.
base::Result<std::string> ReadImportedModel(const std::string& path, VersionInfo& info) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot read the model file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  info.model_file =
      models::SniffModelFormat(bytes) == models::ModelFormat::kJson ? "model.json" : "model.ubj";
  return bytes;
}

//! An imported model must read the pipeline's features: by name when it names them (a model trained
//! on a pandas DataFrame does), else by count.
base::Status CheckImportedFeatures(const models::Forest& forest, const std::vector<std::string>& features,
                                   const std::string& path) {
  const auto list = [](const std::vector<std::string>& names) {
    return fmt::format("[{}]", fmt::join(names, ", "));
  };
  if (!forest.feature_names().empty() && forest.feature_names() != features)
    return base::InvalidArgument(
        fmt::format("{}: the model's features {} differ from the pipeline's {} (names and order must match)",
                    path, list(forest.feature_names()), list(features)));
  if (forest.num_features() != features.size())
    return base::InvalidArgument(fmt::format("{}: the model reads {} features, the pipeline has {} {}", path,
                                             forest.num_features(), features.size(), list(features)));
  return base::Status::OK();
}

//! The Kafka offsets behind the rows used (training and validation windows), per partition, when the
//! table says where its rows came from (a feature log).
base::Status FillOffsets(const Table& table, std::span<const int64_t> times, const std::string& topic,
                         VersionInfo& info) {
  if (!table.HasColumn("SOURCE_OFFSET") || !table.HasColumn("SOURCE_PARTITION")) return base::Status::OK();
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> partitions, table.Int64s("SOURCE_PARTITION"));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> offsets, table.Int64s("SOURCE_OFFSET"));
  std::map<int32_t, std::pair<int64_t, int64_t>> ranges;
  for (size_t i : RowsInWindow(times, info.start_ms, std::max(info.end_ms, info.valid_end_ms))) {
    if (partitions[i] < 0 || offsets[i] < 0) continue;
    auto [it, inserted] = ranges.try_emplace(static_cast<int32_t>(partitions[i]), offsets[i], offsets[i] + 1);
    it->second.first = std::min(it->second.first, offsets[i]);
    it->second.second = std::max(it->second.second, offsets[i] + 1);
  }
  for (const auto& [p, range] : ranges) info.offsets.push_back({topic, p, range.first, range.second});
  return base::Status::OK();
}

//! The model's bytes: trained on `rows` (early stopping on the validation window), or given (a search's
//! best, an imported file). Sets `booster` when libxgboost can read the model, and what `info` records.
base::Result<std::string> ObtainModel(const TrainRequest& o, const Table& table,
                                      std::span<const int64_t> times, std::span<const size_t> rows,
                                      VersionInfo& info, std::unique_ptr<models::XgbBooster>& booster) {
  std::string model_json;
  if (o.import_model.empty() && o.model_bytes.empty()) {
    const std::vector<size_t> valid_rows = info.train.early_stopping_rounds > 0
                                               ? RowsInWindow(times, info.valid_start_ms, info.valid_end_ms)
                                               : std::vector<size_t>{};
    VIGIL_ASSIGN_OR_RETURN(TrainedModel trained,
                           TrainOnRows(table, info.features, rows, info.train, valid_rows));
    info.rows = trained.rows;
    info.frauds = trained.frauds;
    booster = std::move(trained.booster);
    info.early_stopping = booster->early_stopping();
    VIGIL_ASSIGN_OR_RETURN(model_json, booster->Save(models::ModelFormat::kJson));
  } else {
    if (o.model_bytes.empty()) {
      VIGIL_ASSIGN_OR_RETURN(model_json, ReadImportedModel(o.import_model, info));
    } else {
      model_json = o.model_bytes;
    }
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
    info.rows = static_cast<int64_t>(rows.size());
    for (size_t r : rows) info.frauds += labels[r] != 0 ? 1 : 0;
    // libxgboost 1.7 cross-checks the golden rows of files it reads as written. It also loads 3.x
    // files, but takes 3.1's array base_score ("[2.98E-2]") for 0.5 and predicts something else, so
    // those are checked by Forest alone (whose reading of them the fixtures test against Python).
    if (auto parsed = models::ParseXgbModel(model_json); parsed.ok() && parsed->version[0] < 3)
      if (auto loaded = models::XgbBooster::Load(model_json); loaded.ok()) booster = std::move(*loaded);
  }
  if (booster) {
    VIGIL_ASSIGN_OR_RETURN(info.trees, booster->BoostedRounds());
  }
  return model_json;
}

//! Trains (or, with `import_model`, reads) and stores the version. `info` holds what is known so far
//! even when this fails.
base::Status RunTrain(const TrainRequest& o, VersionInfo& info) {
  config::PipelineSpec loaded;
  if (!o.pipeline) {
    VIGIL_ASSIGN_OR_RETURN(loaded, config::LoadPipelineFile(o.pipeline_file));
  }
  const config::PipelineSpec& pipeline = o.pipeline ? *o.pipeline : loaded;
  VIGIL_RETURN_IF_ERROR(PrepareRun(o, pipeline, info));
  VIGIL_ASSIGN_OR_RETURN(Table table, ReadTrainingTable(o.table, pipeline.features));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, table.Int64s(kTimeColumn));
  if (!o.import_model.empty() && o.train_start.empty() && o.train_start_ms == 0 && !times.empty()) {
    // An imported model without a stated window: its reference is the whole table, no validation.
    const auto [lo, hi] = std::minmax_element(times.begin(), times.end());
    info.start_ms = *lo;
    info.end_ms = info.valid_start_ms = info.valid_end_ms = *hi + 1;
  }
  const std::vector<size_t> rows = RowsInWindow(times, info.start_ms, info.end_ms);
  if (rows.empty()) {
    const auto [lo, hi] = std::minmax_element(times.begin(), times.end());
    return base::InvalidArgument(fmt::format(
        "empty training window: no row of {} has TX_TIME_MS in [{}, {}) (the table spans {} .. {})",
        info.table, base::Iso8601(info.start_ms), base::Iso8601(info.end_ms),
        times.empty() ? "-" : base::Iso8601(*lo), times.empty() ? "-" : base::Iso8601(*hi)));
  }
  if (info.offsets.empty()) VIGIL_RETURN_IF_ERROR(FillOffsets(table, times, pipeline.source.topic, info));
  std::unique_ptr<models::XgbBooster> booster;
  VIGIL_ASSIGN_OR_RETURN(const std::string model_json, ObtainModel(o, table, times, rows, info, booster));
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest, models::Forest::Load(model_json));
  if (!o.import_model.empty())
    VIGIL_RETURN_IF_ERROR(CheckImportedFeatures(*forest, info.features, o.import_model));
  if (info.trees == 0) info.trees = static_cast<int>(forest->num_trees());
  info.model_sha256 = Sha256Hex(model_json);
  VIGIL_RETURN_IF_ERROR(FillTrainMetrics(table, *forest, rows, info));
  VIGIL_RETURN_IF_ERROR(FillValidationMetrics(table, *forest, times, info));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
  info.golden = PickGoldenRows(rows, labels);
  VIGIL_RETURN_IF_ERROR(ScoreGoldenRows(table, *forest, booster.get(), info));
  return models::Registry(o.models_dir)
      .AddVersion(info.version, info.model_file, model_json, MetadataJson(info, table, model_json.size()));
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

//! Copies what the run learned into its record; `trained` is the outcome of RunTrain.
void FillRun(const VersionInfo& info, const base::Status& trained, models::RunRecord& run) {
  run.train_window = {info.start_ms, info.end_ms};
  run.validation_window = {info.valid_start_ms, info.valid_end_ms};
  run.offsets = info.offsets;
  if (!info.train.params.empty()) run.params = RunParams(info.train);
  run.train_metrics = info.train_metrics;
  if (!run.train_metrics.empty()) run.train_metrics["trees"] = info.trees;
  run.validation_metrics = info.validation_metrics;
  if (trained.ok()) {
    run.model_version = info.version;
    run.model_sha256 = info.model_sha256;
    run.outcome = std::string(models::kRunRegistered);
    run.detail = info.validation_note;
  } else {
    run.outcome = std::string(models::kRunFailedPrefix) + trained.message();
  }
}

constexpr std::array<std::string_view, 5> kTriggers = {"manual", "schedule", "drift", "command", "import"};

}  // namespace

base::Status CheckTrigger(std::string_view trigger) {
  if (std::find(kTriggers.begin(), kTriggers.end(), trigger) != kTriggers.end()) return base::Status::OK();
  return base::InvalidArgument(
      fmt::format("--trigger '{}': expected manual, schedule, drift or command", trigger));
}

std::map<std::string, std::string> RunParams(const models::TrainOptions& options) {
  std::map<std::string, std::string> params = options.params;
  params["rounds"] = std::to_string(options.rounds);
  if (options.early_stopping_rounds > 0) {
    params["early_stopping_rounds"] = std::to_string(options.early_stopping_rounds);
    params["early_stopping_metric"] = options.early_stopping_metric;
  }
  return params;
}

base::Result<TrainOutcome> TrainAndRegister(const TrainRequest& o) {
  VIGIL_RETURN_IF_ERROR(CheckTrigger(o.trigger));
  TrainOutcome outcome;
  models::RunRecord& run = outcome.run;
  run.trigger = o.trigger;
  run.started_ms = NowMs();
  run.input = o.input.empty() ? o.table : o.input;
  std::error_code ec;
  fs::create_directories(o.models_dir, ec);
  if (ec) return base::IoError(fmt::format("cannot create {}: {}", o.models_dir, ec.message()));
  const models::Registry registry(o.models_dir);
  if (o.run_id.empty()) {
    VIGIL_ASSIGN_OR_RETURN(run.id, registry.NewRunId(o.trigger, run.started_ms));
  } else {
    run.id = o.run_id;
    // A reserved run (a command, a search) started when it was reserved.
    if (auto reserved = registry.ReadRun(o.run_id); reserved.ok()) run.started_ms = reserved->started_ms;
  }
  run.search = o.search;
  if (auto champion = registry.ReadChampion(); champion.ok()) run.parent = *champion;
  VersionInfo info;
  info.parent = run.parent;
  outcome.trained = RunTrain(o, info);
  outcome.features = info.features;
  run.finished_ms = NowMs();
  FillRun(info, outcome.trained, run);
  outcome.recorded = registry.WriteRun(run);
  return outcome;
}

}  // namespace vigil::lifecycle
