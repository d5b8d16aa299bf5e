// Training tables and models, shared by `vigil train`, its search, `vigil evaluate` and the retrainer.
#include "lifecycle/train_data.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "base/time.h"
#include "models/metrics.h"

namespace vigil::lifecycle {

namespace fs = std::filesystem;

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
  if (flags.early_stopping_rounds < 0)
    return base::InvalidArgument("--early-stopping-rounds must be 0 or more");
  options.early_stopping_rounds = flags.early_stopping_rounds;
  options.early_stopping_metric = flags.early_stopping_metric;
  return options;
}

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
                                       std::span<const size_t> rows, const models::TrainOptions& options,
                                       std::span<const size_t> valid_rows) {
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
  std::unique_ptr<models::DMatrix> valid;
  if (options.early_stopping_rounds > 0) {
    if (valid_rows.empty())
      return base::InvalidArgument("early stopping needs a validation window with rows");
    VIGIL_RETURN_IF_ERROR(CheckLabeled(labels, valid_rows, "validation"));
    std::vector<float> valid_targets(valid_rows.size());
    for (size_t i = 0; i < valid_rows.size(); ++i)
      valid_targets[i] = labels[valid_rows[i]] != 0 ? 1.0F : 0.0F;
    VIGIL_ASSIGN_OR_RETURN(std::vector<float> valid_inputs, table.DenseRows(features, valid_rows));
    VIGIL_ASSIGN_OR_RETURN(valid, models::DMatrix::FromDense(valid_inputs.data(), valid_rows.size(),
                                                             features.size(), valid_targets));
    VIGIL_RETURN_IF_ERROR(valid->SetFeatureNames(features));
  }
  VIGIL_ASSIGN_OR_RETURN(trained.booster, models::XgbBooster::Train(*matrix, options, valid.get()));
  return trained;
}

base::Result<std::map<std::string, double>> WindowMetrics(const Table& table, const models::Forest& forest,
                                                          const std::vector<std::string>& features,
                                                          std::span<const size_t> rows,
                                                          std::string_view what) {
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(kLabelColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, table.Int64s(kTimeColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> cards, table.Int64s(kCustomerColumn));
  VIGIL_RETURN_IF_ERROR(CheckLabeled(labels, rows, what));
  VIGIL_ASSIGN_OR_RETURN(std::vector<float> inputs, table.DenseRows(features, rows));
  std::vector<float> scores(rows.size());
  forest.PredictBatch(inputs.data(), rows.size(), features.size(), scores.data());
  const std::vector<double> s(scores.begin(), scores.end());
  std::vector<int> l(rows.size());
  std::vector<models::ScoredTransaction> scored(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    l[i] = static_cast<int>(labels[rows[i]]);
    scored[i] = {static_cast<int32_t>(base::DayOf(times[rows[i]])), cards[rows[i]], l[i], s[i]};
  }
  VIGIL_ASSIGN_OR_RETURN(const double auc, models::AucRoc(s, l));
  VIGIL_ASSIGN_OR_RETURN(const double ap, models::AveragePrecision(s, l));
  VIGIL_ASSIGN_OR_RETURN(const models::CardPrecision cp,
                         models::CardPrecisionAtK(scored, kRunCardPrecisionK));
  return std::map<std::string, double>{{"auc_roc", auc},
                                       {"average_precision", ap},
                                       {"card_precision", cp.mean},
                                       {"rows", static_cast<double>(rows.size())},
                                       {"frauds", static_cast<double>(std::count(l.begin(), l.end(), 1))}};
}

}  // namespace vigil::lifecycle
