// `vigil train`: one training window of a replay table -> one model version in the registry.
#include "app/train_command.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/progress_bar.h"
#include "base/json.h"
#include "base/time.h"
#include "config/pipeline_config.h"
#include "models/forest.h"
#include "models/metrics.h"
#include "models/registry.h"
#include "models/runs.h"
#include "monitor/reference.h"

namespace vigil::app {
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

std::string FormatTimeMs(int64_t ms) {
  char buffer[32];
  return std::string(buffer, static_cast<size_t>(base::FormatIso8601(ms, buffer)));
}

//! The next free "v<N>" in `dir`: one more than the highest existing.
std::string NextVersion(const fs::path& dir) {
  int64_t highest = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 2 || name[0] != 'v' || !std::all_of(name.begin() + 1, name.end(), ::isdigit)) continue;
    highest = std::max<int64_t>(highest, std::stoll(name.substr(1)));
  }
  return fmt::format("v{}", highest + 1);
}

base::Status CheckVersionName(const std::string& version) {
  const bool ok =
      !version.empty() && version[0] != '.' && std::all_of(version.begin(), version.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  return ok ? base::Status::OK()
            : base::InvalidArgument(
                  fmt::format("--version '{}': use letters, digits, '.', '_' or '-'", version));
}

base::Status WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  return out ? base::Status::OK() : base::IoError(fmt::format("cannot write {}", path.string()));
}

//! What metadata.json records besides the model itself.
struct VersionInfo {
  std::string version;                          //!< Version name.
  std::string parent;                           //!< The champion when training started; empty if none.
  std::string pipeline_name;                    //!< The pipeline's `name:`.
  std::vector<std::string> features;            //!< Input columns, in order.
  std::string table;                            //!< Training table path.
  int64_t start_ms = 0;                         //!< Training window start (inclusive).
  int64_t end_ms = 0;                           //!< Training window end (exclusive).
  int64_t valid_start_ms = 0;                   //!< Validation window start (inclusive).
  int64_t valid_end_ms = 0;                     //!< Validation window end (exclusive); = start: none.
  std::vector<models::OffsetRange> offsets;     //!< Kafka offsets behind the table, from --offsets.
  int64_t rows = 0;                             //!< Training rows.
  int64_t frauds = 0;                           //!< Frauds among them.
  models::TrainOptions train;                   //!< libxgboost parameters and rounds.
  double auc_roc = 0;                           //!< On the training rows.
  double average_precision = 0;                 //!< On the training rows.
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
  j += fmt::format("  \"created\": {},\n  \"pipeline\": {},\n", JsonString(FormatTimeMs(now_ms)),
                   JsonString(v.pipeline_name));
  j += fmt::format("  \"model_file\": {},\n  \"model_sha256\": \"{}\",\n  \"model_bytes\": {},\n",
                   JsonString(v.model_file), v.model_sha256, model_bytes);
  std::vector<std::string> quoted;
  for (const std::string& f : v.features) quoted.push_back(JsonString(f));
  j += fmt::format("  \"features\": [{}],\n", fmt::join(quoted, ", "));
  std::vector<std::string> params;
  for (const auto& [key, value] : v.train.params)
    params.push_back(JsonString(key) + ": " + JsonString(value));
  j += fmt::format("  \"params\": {{{}}},\n  \"rounds\": {},\n", fmt::join(params, ", "), v.train.rounds);
  j += fmt::format(
      "  \"training\": {{\"table\": {}, \"start\": {}, \"end\": {}, \"start_ms\": {}, \"end_ms\": {}, "
      "\"rows\": {}, \"frauds\": {}}},\n",
      JsonString(v.table), JsonString(FormatTimeMs(v.start_ms)), JsonString(FormatTimeMs(v.end_ms)),
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

}  // namespace

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size())
    return {};  // OpenSSL failed: no digest rather than a wrong one
  std::string hex;
  hex.reserve(2 * digest.size());
  for (const unsigned char byte : digest) hex += fmt::format("{:02x}", byte);
  return hex;
}

base::Result<int64_t> ParseDateMs(std::string_view date) {
  const bool shape = date.size() == 10 && date[4] == '-' && date[7] == '-';
  const auto ms = shape ? base::ParseIso8601Ms(date) : std::nullopt;
  if (!ms) return base::InvalidArgument(fmt::format("'{}' is not a date YYYY-MM-DD", date));
  return *ms;
}

base::Result<Table> ReadTrainingTable(const std::string& path, const std::vector<std::string>& features,
                                      const TableReadOptions& extra) {
  TableReadOptions read;
  read.double_columns = features;
  read.int64_columns = {std::string(kTimeColumn), std::string(kCustomerColumn),
                        std::string(kTransactionColumn), std::string(kLabelColumn)};
  const auto listed = [&](const std::string& c) {
    return std::find(read.double_columns.begin(), read.double_columns.end(), c) !=
               read.double_columns.end() ||
           std::find(read.int64_columns.begin(), read.int64_columns.end(), c) != read.int64_columns.end();
  };
  for (const std::string& c : extra.double_columns)
    if (!listed(c)) read.double_columns.push_back(c);
  for (const std::string& c : extra.text_columns)
    if (!listed(c)) read.text_columns.push_back(c);
  // A table replayed from Kafka ends with events whose labels were not known yet.
  read.optional_int64_columns = {std::string(kLabelColumn)};
  // A feature log (operators/feature_log.h) also says where each row came from.
  if (std::ifstream in(path); in) {
    std::string header;
    std::getline(in, header);
    if (header.find(",SOURCE_PARTITION,SOURCE_OFFSET") != std::string::npos) {
      read.int64_columns.emplace_back("SOURCE_PARTITION");
      read.int64_columns.emplace_back("SOURCE_OFFSET");
    }
  }
  for (const std::string& name : features) {
    if (std::find(read.int64_columns.begin(), read.int64_columns.end(), name) != read.int64_columns.end()) {
      return base::InvalidArgument(fmt::format("feature '{}' is an id, time or label column", name));
    }
  }
  auto table = Table::ReadCsv(path, read);
  if (!table.ok() && table.status().code() == base::StatusCode::kNotFound && fs::exists(path)) {
    return table.status().WithContext(
        "the pipeline's features and TX_TIME_MS, CUSTOMER_ID, TRANSACTION_ID, LABEL "
        "must all be table columns");
  }
  return table;
}

std::vector<size_t> RowsInWindow(std::span<const int64_t> times_ms, int64_t start_ms, int64_t end_ms) {
  std::vector<size_t> rows;
  for (size_t i = 0; i < times_ms.size(); ++i) {
    if (times_ms[i] >= start_ms && times_ms[i] < end_ms) rows.push_back(i);
  }
  return rows;
}

base::Result<models::TrainOptions> MakeTrainOptions(const ModelFlags& flags) {
  models::TrainOptions options;
  options.params = {
      {"objective", "binary:logistic"}, {"max_depth", "6"}, {"eta", "0.3"}, {"tree_method", "exact"}};
  options.params["seed"] = std::to_string(flags.seed);
  options.params["nthread"] = std::to_string(flags.threads);
  for (const std::string& kv : flags.params) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return base::InvalidArgument(fmt::format("--param '{}': expected key=value", kv));
    options.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (flags.rounds < 1) return base::InvalidArgument("--rounds must be at least 1");
  options.rounds = flags.rounds;
  return options;
}

//! InvalidArgument when a row of the `what` window has no label yet (Table::kMissing).
base::Status CheckLabeled(std::span<const int64_t> labels, std::span<const size_t> rows,
                          std::string_view what) {
  const auto missing =
      std::count_if(rows.begin(), rows.end(), [&](size_t r) { return labels[r] == Table::kMissing; });
  if (missing == 0) return base::Status::OK();
  return base::InvalidArgument(fmt::format(
      "{} of the {} window's {} rows have no LABEL yet (their labels were not known when the table was "
      "replayed): end the window earlier, or replay again once the labels have arrived",
      missing, what, rows.size()));
}

base::Result<TrainedModel> TrainOnRows(const Table& table, const std::vector<std::string>& features,
                                       std::span<const size_t> rows, const models::TrainOptions& options) {
  if (rows.empty()) return base::InvalidArgument("the training window holds no rows of the table");
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
  VIGIL_RETURN_IF_ERROR(CheckLabeled(labels, rows, "training"));
  TrainedModel trained;
  std::vector<float> targets(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t label = labels[rows[i]];
    if (label != 0 && label != 1)
      return base::InvalidArgument(fmt::format("LABEL {} is neither 0 nor 1", label));
    targets[i] = static_cast<float>(label);
    trained.frauds += label;
  }
  trained.rows = static_cast<int64_t>(rows.size());
  if (trained.frauds == 0 || trained.frauds == trained.rows) {
    return base::InvalidArgument(fmt::format("the training window's {} rows are all of one class ({} frauds)",
                                             trained.rows, trained.frauds));
  }
  VIGIL_ASSIGN_OR_RETURN(std::vector<float> inputs, table.DenseRows(features, rows));
  VIGIL_ASSIGN_OR_RETURN(auto matrix,
                         models::DMatrix::FromDense(inputs.data(), rows.size(), features.size(), targets));
  VIGIL_RETURN_IF_ERROR(matrix->SetFeatureNames(features));
  VIGIL_ASSIGN_OR_RETURN(trained.booster, models::XgbBooster::Train(*matrix, options));
  return trained;
}

namespace {

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

//! Writes model.json and metadata.json into a fresh DIR/<version>, atomically (rename).
base::Status WriteVersion(const fs::path& models_dir, const VersionInfo& info, const Table& table,
                          const std::string& model_json) {
  const fs::path target = models_dir / info.version;
  if (fs::exists(target))
    return base::Status(base::StatusCode::kAlreadyExists, target.string() + " exists already");
  const fs::path staging = models_dir / fmt::format(".{}.tmp-{}", info.version, ::getpid());
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return base::IoError(fmt::format("cannot create {}: {}", staging.string(), ec.message()));
  VIGIL_RETURN_IF_ERROR(WriteFile(staging / info.model_file, model_json));
  VIGIL_RETURN_IF_ERROR(WriteFile(staging / "metadata.json", MetadataJson(info, table, model_json.size())));
  fs::rename(staging, target, ec);
  if (ec)
    return base::IoError(
        fmt::format("cannot rename {} to {}: {}", staging.string(), target.string(), ec.message()));
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
      fmt::format("[{}, {})", FormatTimeMs(info.valid_start_ms), FormatTimeMs(info.valid_end_ms));
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
  std::vector<float> inputs;
  VIGIL_ASSIGN_OR_RETURN(std::vector<double> s, ScoreRows(table, forest, rows, info, inputs));
  VIGIL_ASSIGN_OR_RETURN(const double auc, models::AucRoc(s, l));
  VIGIL_ASSIGN_OR_RETURN(const double ap, models::AveragePrecision(s, l));
  info.validation_metrics = {{"auc_roc", auc},
                             {"average_precision", ap},
                             {"rows", static_cast<double>(rows.size())},
                             {"frauds", static_cast<double>(frauds)}};
  return base::Status::OK();
}

//! Checks the request and fills in what the run record needs before any data is read.
base::Status PrepareRun(const TrainRequest& o, const config::PipelineSpec& pipeline, VersionInfo& info) {
  if (pipeline.features.empty())
    return base::InvalidArgument(o.pipeline_file + ": the pipeline has no `features:` list");
  if (o.train_days < 1) return base::InvalidArgument("--train-days must be at least 1");
  if (o.valid_days < 0) return base::InvalidArgument("--valid-days must be 0 or more");
  info.start_ms = o.train_start_ms;
  if (!o.train_start.empty()) {
    VIGIL_ASSIGN_OR_RETURN(info.start_ms, ParseDateMs(o.train_start));
  }
  info.end_ms = info.start_ms + o.train_days * kMsPerDay;
  info.valid_start_ms = info.end_ms;
  info.valid_end_ms = info.end_ms + o.valid_days * kMsPerDay;
  VIGIL_ASSIGN_OR_RETURN(info.train, MakeTrainOptions(o.model));
  if (o.on_round)
    info.train.on_round = [&o, total = info.train.rounds](int done) { o.on_round(done, total); };
  for (const std::string& text : o.offsets) {
    VIGIL_ASSIGN_OR_RETURN(models::OffsetRange range, models::ParseOffsetRange(text));
    info.offsets.push_back(std::move(range));
  }
  info.version = o.version.empty() ? NextVersion(o.models_dir) : o.version;
  VIGIL_RETURN_IF_ERROR(CheckVersionName(info.version));
  if (fs::exists(fs::path(o.models_dir) / info.version)) {
    return base::Status(base::StatusCode::kAlreadyExists,
                        (fs::path(o.models_dir) / info.version).string() + " exists already");
  }
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
        info.table, FormatTimeMs(info.start_ms), FormatTimeMs(info.end_ms),
        times.empty() ? "-" : FormatTimeMs(*lo), times.empty() ? "-" : FormatTimeMs(*hi)));
  }
  if (info.offsets.empty() && table.HasColumn("SOURCE_OFFSET") && table.HasColumn("SOURCE_PARTITION")) {
    // The Kafka offsets behind the rows used (training and validation windows), per partition.
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> partitions, table.Int64s("SOURCE_PARTITION"));
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> offsets, table.Int64s("SOURCE_OFFSET"));
    std::map<int32_t, std::pair<int64_t, int64_t>> ranges;
    for (size_t i : RowsInWindow(times, info.start_ms, std::max(info.end_ms, info.valid_end_ms))) {
      if (partitions[i] < 0 || offsets[i] < 0) continue;
      auto [it, inserted] =
          ranges.try_emplace(static_cast<int32_t>(partitions[i]), offsets[i], offsets[i] + 1);
      it->second.first = std::min(it->second.first, offsets[i]);
      it->second.second = std::max(it->second.second, offsets[i] + 1);
    }
    for (const auto& [p, range] : ranges)
      info.offsets.push_back({pipeline.source.topic, p, range.first, range.second});
  }
  std::unique_ptr<models::XgbBooster> booster;
  std::string model_json;
  if (o.import_model.empty()) {
    VIGIL_ASSIGN_OR_RETURN(TrainedModel trained, TrainOnRows(table, info.features, rows, info.train));
    info.rows = trained.rows;
    info.frauds = trained.frauds;
    booster = std::move(trained.booster);
    VIGIL_ASSIGN_OR_RETURN(model_json, booster->Save(models::ModelFormat::kJson));
  } else {
    VIGIL_ASSIGN_OR_RETURN(model_json, ReadImportedModel(o.import_model, info));
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
    info.rows = static_cast<int64_t>(rows.size());
    for (size_t r : rows) info.frauds += labels[r] != 0 ? 1 : 0;
    // libxgboost 1.7 cross-checks the golden rows when it reads the format (3.x files it may not).
    if (auto loaded = models::XgbBooster::Load(model_json); loaded.ok()) booster = std::move(*loaded);
  }
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<const models::Forest> forest, models::Forest::Load(model_json));
  if (!o.import_model.empty())
    VIGIL_RETURN_IF_ERROR(CheckImportedFeatures(*forest, info.features, o.import_model));
  info.model_sha256 = Sha256Hex(model_json);
  VIGIL_RETURN_IF_ERROR(FillTrainMetrics(table, *forest, rows, info));
  VIGIL_RETURN_IF_ERROR(FillValidationMetrics(table, *forest, times, info));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
  info.golden = PickGoldenRows(rows, labels);
  VIGIL_RETURN_IF_ERROR(ScoreGoldenRows(table, *forest, booster.get(), info));
  VIGIL_RETURN_IF_ERROR(WriteVersion(o.models_dir, info, table, model_json));
  return base::Status::OK();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int ExitCode(const base::Status& st) {
  return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2 : 1;
}

//! Copies what the run learned into its record; `trained` is the outcome of RunTrain.
void FillRun(const VersionInfo& info, const base::Status& trained, models::RunRecord& run) {
  run.train_window = {info.start_ms, info.end_ms};
  run.validation_window = {info.valid_start_ms, info.valid_end_ms};
  run.offsets = info.offsets;
  if (!info.train.params.empty()) {
    run.params = info.train.params;
    run.params["rounds"] = std::to_string(info.train.rounds);
  }
  run.train_metrics = info.train_metrics;
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

void PrintTrained(const TrainCommandOptions& o, const TrainOutcome& outcome) {
  const models::RunRecord& run = outcome.run;
  const fs::path dir = fs::path(o.models_dir) / run.model_version;
  const auto metric = [](const std::map<std::string, double>& m, const char* key) {
    const auto it = m.find(key);
    return it == m.end() ? 0.0 : it->second;
  };
  fmt::print("model {}: {} features, {} rounds, trained on {} .. {} ({} rows, {} frauds)\n", dir.string(),
             outcome.features.size(), run.params.count("rounds") ? run.params.at("rounds") : "?",
             FormatTimeMs(run.train_window.start_ms), FormatTimeMs(run.train_window.end_ms),
             static_cast<int64_t>(metric(run.train_metrics, "rows")),
             static_cast<int64_t>(metric(run.train_metrics, "frauds")));
  fmt::print("train AUC ROC {:.4f}, AP {:.4f}\n", metric(run.train_metrics, "auc_roc"),
             metric(run.train_metrics, "average_precision"));
  if (!run.validation_metrics.empty()) {
    const auto& v = run.validation_metrics;
    fmt::print("validation {} .. {}: AUC ROC {:.4f}, AP {:.4f} ({} rows, {} frauds)\n",
               FormatTimeMs(run.validation_window.start_ms), FormatTimeMs(run.validation_window.end_ms),
               v.at("auc_roc"), v.at("average_precision"), v.at("rows"), v.at("frauds"));
  } else if (!run.detail.empty()) {
    fmt::print("{}\n", run.detail);
  }
  fmt::print("run {}: {} {} (parent {}), {:.1f} s\n", run.id, run.outcome, run.model_version,
             run.parent.empty() ? "none" : run.parent, static_cast<double>(run.duration_ms()) / 1000.0);
}

constexpr std::array<std::string_view, 5> kTriggers = {"manual", "schedule", "drift", "command", "import"};

}  // namespace

base::Result<TrainOutcome> TrainAndRegister(const TrainRequest& o) {
  if (std::find(kTriggers.begin(), kTriggers.end(), o.trigger) == kTriggers.end()) {
    return base::InvalidArgument(
        fmt::format("--trigger '{}': expected manual, schedule, drift or command", o.trigger));
  }
  TrainOutcome outcome;
  models::RunRecord& run = outcome.run;
  run.trigger = o.trigger;
  run.started_ms = NowMs();
  run.input = o.input.empty() ? o.table : o.input;
  std::error_code ec;
  fs::create_directories(o.models_dir, ec);
  if (ec) return base::IoError(fmt::format("cannot create {}: {}", o.models_dir, ec.message()));
  if (o.run_id.empty()) {
    VIGIL_ASSIGN_OR_RETURN(run.id, models::NewRunId(o.models_dir, o.trigger, run.started_ms));
  } else {
    run.id = o.run_id;
  }
  if (auto champion = models::ReadChampion(o.models_dir); champion.ok()) run.parent = *champion;
  VersionInfo info;
  info.parent = run.parent;
  outcome.trained = RunTrain(o, info);
  outcome.features = info.features;
  run.finished_ms = NowMs();
  FillRun(info, outcome.trained, run);
  outcome.recorded = models::WriteRun(o.models_dir, run);
  return outcome;
}

int TrainCommand(const TrainCommandOptions& o) {
  TrainRequest request;
  request.pipeline_file = o.pipeline;
  request.table = o.table;
  request.models_dir = o.models_dir;
  request.train_start = o.train_start;
  request.train_days = o.train_days;
  request.valid_days = o.valid_days;
  request.model = o.model;
  request.version = o.version;
  request.trigger = o.trigger;
  request.offsets = o.offsets;
  ProgressBar bar(true, "train");
  request.on_round = [&bar](int done, int total) {
    bar.Update(static_cast<double>(done) / total, fmt::format("{}/{} rounds", done, total));
  };
  auto result = TrainAndRegister(request);
  bar.Finish();
  if (!result.ok()) {
    fmt::print(stderr, "error: {}\n", result.status().message());
    return result.status().code() == base::StatusCode::kInvalidArgument ? 2 : 1;
  }
  const TrainOutcome& outcome = *result;
  if (!outcome.trained.ok()) {
    fmt::print(stderr, "error: {}\n", outcome.trained.message());
    if (!outcome.recorded.ok())
      fmt::print(stderr, "error: run {} not recorded: {}\n", outcome.run.id, outcome.recorded.message());
    return ExitCode(outcome.trained);
  }
  PrintTrained(o, outcome);
  if (!outcome.recorded.ok()) {
    fmt::print(stderr, "error: {} is stored, but its run record {} is not: {}\n", outcome.run.model_version,
               outcome.run.id, outcome.recorded.message());
    return 1;
  }
  const std::string& version = outcome.run.model_version;
  if (!o.promote) {
    fmt::print("next: vigil models --registry {} promote {}   (or train with --promote)\n", o.models_dir,
               version);
    return 0;
  }
  if (base::Status st = models::Promote(o.models_dir, version, outcome.features); !st.ok()) {
    fmt::print(stderr, "error: {} is registered but not promoted: {}\n", version, st.message());
    return ExitCode(st);
  }
  fmt::print("{} is the champion\nnext: vigil run {}   (its score operator's registry: {})\n", version,
             o.pipeline, o.models_dir);
  return 0;
}

void AddModelFlags(CLI::App& cmd, ModelFlags& flags) {
  cmd.add_option("--rounds", flags.rounds, "Boosting rounds (trees)")->capture_default_str();
  cmd.add_option(
      "--param", flags.params,
      "libxgboost parameter key=value, repeatable; overrides the defaults objective=binary:logistic, "
      "max_depth=6, eta=0.3, tree_method=exact");
  cmd.add_option("--seed", flags.seed, "libxgboost random seed")->capture_default_str();
  cmd.add_option("--threads", flags.threads, "libxgboost threads (nthread)")->capture_default_str();
}

void AddTrainCommand(CLI::App& app, TrainCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "train", "Train an XGBoost model on a time window of a training table (vigil replay's CSV)");
  cmd->add_option("pipeline", o.pipeline,
                  "Pipeline YAML; its `features:` list names the model's input columns")
      ->required();
  cmd->add_option("--table", o.table,
                  "Training table CSV: header line, the features, TX_TIME_MS, CUSTOMER_ID, "
                  "TRANSACTION_ID and LABEL (0/1)")
      ->required();
  cmd->add_option("--models-dir", o.models_dir, "Model registry directory; the model goes to DIR/<version>/")
      ->required();
  cmd->add_option("--train-start", o.train_start, "First training day (UTC), YYYY-MM-DD")
      ->capture_default_str();
  cmd->add_option("--train-days", o.train_days, "Training window length, in days")->capture_default_str();
  cmd->add_option("--valid-days", o.valid_days,
                  "Validation window: this many days right after the training "
                  "window, scored for the run record (0 = none)")
      ->capture_default_str();
  AddModelFlags(*cmd, o.model);
  cmd->add_option("--version", o.version,
                  "Version name (default: v<N+1> after the highest vN in the directory)");
  cmd->add_option("--trigger", o.trigger,
                  "What started this run, as recorded in DIR/runs/: manual, schedule, drift "
                  "or command")
      ->capture_default_str();
  cmd->add_flag("--promote", o.promote,
                "Make the new version the champion once trained (as `vigil models promote`); "
                "otherwise it is only registered");
  cmd->add_option("--offsets", o.offsets,
                  "Kafka offsets the table was replayed from, TOPIC:PARTITION:FIRST-END "
                  "(END exclusive), repeatable; recorded in the run");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
