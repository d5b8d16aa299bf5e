#include "monitor/label_window.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "base/time.h"

namespace vigil::monitor {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int32_t DayOf(int64_t time_ms) { return static_cast<int32_t>(base::DayOf(time_ms)); }

}  // namespace

base::Result<std::unique_ptr<LabelWindow>> LabelWindow::Make(const LabelWindowOptions& options) {
  if (options.window_days < 1)
    return base::InvalidArgument(fmt::format("window_days must be >= 1, got {}", options.window_days));
  if (options.label_delay_days < 0) {
    return base::InvalidArgument(
        fmt::format("label_delay_days must be >= 0, got {}", options.label_delay_days));
  }
  if (options.top_k < 1)
    return base::InvalidArgument(fmt::format("top_k must be >= 1, got {}", options.top_k));
  if (std::isnan(options.review_threshold)) return base::InvalidArgument("review_threshold is NaN");
  return std::unique_ptr<LabelWindow>(new LabelWindow(options));
}

int32_t LabelWindow::LastMaturedDay() const {
  // Day D is complete once now >= (D + 1 + delay) days.
  return DayOf(now_ms_) - options_.label_delay_days - 1;
}

void LabelWindow::DropOldDays() {
  const int32_t first = FirstKeptDay();
  while (!days_.empty() && days_.begin()->first < first) {
    for (const Entry& e : days_.begin()->second) index_.erase(e.transaction_id);
    days_.erase(days_.begin());
  }
}

void LabelWindow::AdvanceTo(int64_t now_ms) {
  if (now_ms <= now_ms_) return;
  now_ms_ = now_ms;
  DropOldDays();
}

base::Status LabelWindow::Record(int64_t transaction_id, int64_t event_time_ms, int64_t customer_id,
                                 double score, bool flagged, const SegmentKey& segments) {
  if (std::isnan(score))
    return base::InvalidArgument(fmt::format("transaction {}: NaN score", transaction_id));
  AdvanceTo(event_time_ms);
  const int32_t day = DayOf(event_time_ms);
  if (day < FirstKeptDay()) {
    ++too_old_;
    return base::Status::OK();
  }
  std::vector<Entry>& entries = days_[day];
  const auto [it, inserted] =
      index_.try_emplace(transaction_id, Slot{day, static_cast<uint32_t>(entries.size())});
  if (!inserted) {
    ++duplicates_;
    return base::Status::OK();
  }
  entries.push_back(Entry{transaction_id, customer_id, score, -1, flagged, segments});
  return base::Status::OK();
}

base::Status LabelWindow::SetLabel(int64_t transaction_id, int label) {
  if (label != 0 && label != 1) {
    return base::InvalidArgument(
        fmt::format("transaction {}: label {} is neither 0 nor 1", transaction_id, label));
  }
  const auto it = index_.find(transaction_id);
  if (it == index_.end()) {
    ++unmatched_labels_;
    return base::Status::OK();
  }
  days_[it->second.day][it->second.index].label = static_cast<int8_t>(label);
  return base::Status::OK();
}

template <typename F>
int64_t LabelWindow::ForEachEvaluated(int32_t first_day, int32_t last_day, F f) const {
  int64_t unlabelled = 0;
  for (auto it = days_.lower_bound(first_day); it != days_.end() && it->first <= last_day; ++it) {
    for (const Entry& e : it->second) {
      if (e.label < 0) {
        ++unlabelled;
        if (!options_.unlabelled_are_genuine) continue;
      }
      f(it->first, e, e.label > 0 ? 1 : 0);
    }
  }
  return unlabelled;
}

base::Result<LabelMetrics> LabelWindow::Evaluate() {
  LabelMetrics m;
  m.last_day = LastMaturedDay();
  m.first_day = FirstKeptDay();
  scratch_scores_.clear();
  scratch_labels_.clear();
  scratch_rows_.clear();
  int64_t frauds_reviewed = 0, frauds_flagged = 0;
  m.unlabelled = ForEachEvaluated(m.first_day, m.last_day, [&](int32_t day, const Entry& e, int label) {
    scratch_scores_.push_back(e.score);
    scratch_labels_.push_back(label);
    scratch_rows_.push_back(models::ScoredTransaction{day, e.customer_id, label, e.score});
    m.frauds += label;
    if (e.score >= options_.review_threshold) {
      ++m.reviewed;
      frauds_reviewed += label;
    }
    if (e.flagged) {
      ++m.flagged;
      frauds_flagged += label;
    }
  });
  m.transactions = static_cast<int64_t>(scratch_rows_.size());
  m.precision_at_threshold =
      m.reviewed > 0 ? static_cast<double>(frauds_reviewed) / static_cast<double>(m.reviewed) : kNaN;
  m.recall_at_threshold =
      m.frauds > 0 ? static_cast<double>(frauds_reviewed) / static_cast<double>(m.frauds) : kNaN;
  m.decision_precision =
      m.flagged > 0 ? static_cast<double>(frauds_flagged) / static_cast<double>(m.flagged) : kNaN;
  m.average_precision = kNaN;
  m.card_precision_at_k = kNaN;
  if (m.frauds > 0) {
    VIGIL_ASSIGN_OR_RETURN(m.average_precision, models::AveragePrecision(scratch_scores_, scratch_labels_));
  }
  if (m.transactions > 0) {
    VIGIL_ASSIGN_OR_RETURN(models::CardPrecision cp, models::CardPrecisionAtK(scratch_rows_, options_.top_k));
    m.card_precision_at_k = cp.mean;
    m.days = std::move(cp.days);
    m.card_precision_per_day = std::move(cp.per_day);
  }
  return m;
}

base::Result<models::SegmentReport> LabelWindow::EvaluateSegments(
    std::span<const SegmentDimension> dimensions, double ratio) {
  if (dimensions.size() > kMaxSegmentations)
    return base::InvalidArgument(
        fmt::format("{} segmentations, at most {}", dimensions.size(), kMaxSegmentations));
  std::vector<models::Segmentation> segmentations(dimensions.size());
  for (size_t d = 0; d < dimensions.size(); ++d) {
    segmentations[d].dimension = dimensions[d].name;
    segmentations[d].values = dimensions[d].values;
  }
  scratch_scores_.clear();
  scratch_labels_.clear();
  ForEachEvaluated(FirstKeptDay(), LastMaturedDay(), [&](int32_t, const Entry& e, int label) {
    scratch_scores_.push_back(e.score);
    scratch_labels_.push_back(label);
    for (size_t d = 0; d < dimensions.size(); ++d) segmentations[d].value_of_row.push_back(e.segments[d]);
  });
  return models::EvaluateSegments(scratch_scores_, scratch_labels_, segmentations, options_.review_threshold,
                                  ratio);
}

}  // namespace vigil::monitor
