#include "models/handbook_eval.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace vigil::models {
namespace {

// Days since the Unix epoch of a "YYYY-MM-DD" date.
base::Result<int64_t> EpochDay(std::string_view date) {
  int values[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t widths[3] = {4, 2, 2};
  bool ok = date.size() == 10 && date[4] == '-' && date[7] == '-';
  for (int i = 0; ok && i < 3; ++i) {
    const char* first = date.data() + starts[i];
    auto [ptr, ec] = std::from_chars(first, first + widths[i], values[i]);
    ok = ec == std::errc() && ptr == first + widths[i];
  }
  const std::chrono::year_month_day ymd{std::chrono::year(values[0]),
                                        std::chrono::month(static_cast<unsigned>(values[1])),
                                        std::chrono::day(static_cast<unsigned>(values[2]))};
  if (!ok || !ymd.ok())
    return base::InvalidArgument("expected a date YYYY-MM-DD, got '" + std::string(date) + "'");
  return static_cast<int64_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}

base::Status ValidateSplit(const HandbookSplit& split) {
  if (split.train_start_day < 0 || split.train_days < 1 || split.delay_days < 0 || split.test_days < 1) {
    return base::InvalidArgument(
        "split needs train_start_day >= 0, train_days >= 1, delay_days >= 0, test_days >= 1");
  }
  return base::Status::OK();
}

// Customers with a fraud, per day, over [first_day, end_day).
std::unordered_map<int32_t, std::vector<int64_t>> FraudCustomersByDay(std::span<const ScoredTransaction> rows,
                                                                      int32_t first_day, int32_t end_day) {
  std::unordered_map<int32_t, std::vector<int64_t>> out;
  for (const ScoredTransaction& row : rows) {
    if (row.label == 1 && row.day >= first_day && row.day < end_day) out[row.day].push_back(row.customer_id);
  }
  return out;
}

}  // namespace

base::Result<HandbookSplit> SplitFromDates(std::string_view dataset_start_date,
                                           std::string_view train_start_date, int32_t train_days,
                                           int32_t delay_days, int32_t test_days) {
  VIGIL_ASSIGN_OR_RETURN(const int64_t start, EpochDay(dataset_start_date));
  VIGIL_ASSIGN_OR_RETURN(const int64_t train, EpochDay(train_start_date));
  HandbookSplit split{static_cast<int32_t>(train - start), train_days, delay_days, test_days};
  VIGIL_RETURN_IF_ERROR(ValidateSplit(split));
  return split;
}

base::Result<std::vector<HandbookSplit>> PrequentialSplits(const HandbookSplit& latest, int32_t folds) {
  VIGIL_RETURN_IF_ERROR(ValidateSplit(latest));
  if (folds < 1) return base::InvalidArgument("folds must be >= 1");
  std::vector<HandbookSplit> out;
  for (int32_t i = 0; i < folds; ++i) {
    HandbookSplit fold = latest;
    fold.train_start_day -= i * latest.test_days;
    if (fold.train_start_day < 0) {
      return base::InvalidArgument("fold " + std::to_string(i) + " would start before the dataset");
    }
    out.push_back(fold);
  }
  return out;
}

base::Result<HandbookSets> SelectHandbookSets(std::span<const ScoredTransaction> rows,
                                              const HandbookSplit& split) {
  VIGIL_RETURN_IF_ERROR(ValidateSplit(split));
  HandbookSets sets;
  std::unordered_set<int64_t> known;
  for (size_t i = 0; i < rows.size(); ++i) {
    const ScoredTransaction& row = rows[i];
    if (row.day < split.train_start_day || row.day >= split.TrainEndDay()) continue;
    sets.train.push_back(i);
    if (row.label == 1) known.insert(row.customer_id);
  }
  // Test day D learns the frauds of day D - delay - 1: days train_end - 1 .. test_end - delay - 2.
  const auto revealed =
      FraudCustomersByDay(rows, split.TrainEndDay() - 1, split.TestEndDay() - split.delay_days - 1);
  std::unordered_map<int32_t, std::vector<size_t>> test_by_day;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].day >= split.TestStartDay() && rows[i].day < split.TestEndDay()) {
      test_by_day[rows[i].day].push_back(i);
    }
  }
  for (int32_t day = split.TestStartDay(); day < split.TestEndDay(); ++day) {
    if (auto it = revealed.find(day - split.delay_days - 1); it != revealed.end()) {
      known.insert(it->second.begin(), it->second.end());
    }
    sets.known_cards.push_back(static_cast<int64_t>(known.size()));
    for (size_t i : test_by_day[day]) {
      if (known.count(rows[i].customer_id) != 0) {
        ++sets.removed_test_rows;
      } else {
        sets.test.push_back(i);
      }
    }
  }
  std::sort(sets.test.begin(), sets.test.end());
  return sets;
}

base::Result<HandbookMetrics> EvaluateRows(std::span<const ScoredTransaction> rows, int64_t top_k) {
  std::vector<double> scores;
  std::vector<int> labels;
  scores.reserve(rows.size());
  labels.reserve(rows.size());
  for (const ScoredTransaction& row : rows) {
    scores.push_back(row.score);
    labels.push_back(row.label);
  }
  HandbookMetrics m;
  m.transactions = static_cast<int64_t>(rows.size());
  for (int label : labels) m.frauds += label == 1 ? 1 : 0;
  m.top_k = top_k;
  VIGIL_ASSIGN_OR_RETURN(m.auc_roc, AucRoc(scores, labels));
  VIGIL_ASSIGN_OR_RETURN(m.average_precision, AveragePrecision(scores, labels));
  VIGIL_ASSIGN_OR_RETURN(const CardPrecision cp, CardPrecisionAtK(rows, top_k));
  m.card_precision_at_k = cp.mean;
  return m;
}

base::Result<HandbookEvaluation> EvaluateHandbook(std::span<const ScoredTransaction> rows,
                                                  const HandbookSplit& split, int64_t top_k) {
  VIGIL_ASSIGN_OR_RETURN(const HandbookSets sets, SelectHandbookSets(rows, split));
  HandbookEvaluation eval;
  eval.split = split;
  eval.train_transactions = static_cast<int64_t>(sets.train.size());
  for (size_t i : sets.train) eval.train_frauds += rows[i].label == 1 ? 1 : 0;
  eval.removed_test_rows = sets.removed_test_rows;
  std::vector<ScoredTransaction> test;
  test.reserve(sets.test.size());
  for (size_t i : sets.test) test.push_back(rows[i]);
  auto metrics = EvaluateRows(test, top_k);
  if (!metrics.ok()) return metrics.status().WithContext("test set");
  eval.test = *metrics;
  return eval;
}

}  // namespace vigil::models
