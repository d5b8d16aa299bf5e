#include "models/segments.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "models/metrics.h"

namespace vigil::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

//! Metrics of the rows `rows` (indices into scores and labels).
SegmentMetrics Measure(std::span<const double> scores, std::span<const int> labels,
                       std::span<const size_t> rows, double threshold, std::vector<double>& s,
                       std::vector<int>& l) {
  SegmentMetrics m;
  s.clear();
  l.clear();
  for (size_t i : rows) {
    s.push_back(scores[i]);
    l.push_back(labels[i]);
    m.frauds += labels[i];
    if (scores[i] >= threshold) {
      ++m.alerts;
      m.frauds_caught += labels[i];
    }
  }
  m.transactions = static_cast<int64_t>(rows.size());
  m.precision = m.alerts > 0 ? static_cast<double>(m.frauds_caught) / static_cast<double>(m.alerts) : kNaN;
  m.recall = m.frauds > 0 ? static_cast<double>(m.frauds_caught) / static_cast<double>(m.frauds) : kNaN;
  m.average_precision = kNaN;
  if (m.frauds > 0) {
    if (auto ap = AveragePrecision(s, l); ap.ok()) m.average_precision = *ap;
  }
  return m;
}

//! NaN on either side compares false: an undefined figure flags nothing.
bool Below(double value, double ratio, double overall) { return value < ratio * overall; }

}  // namespace

base::Result<SegmentReport> EvaluateSegments(std::span<const double> scores, std::span<const int> labels,
                                             std::span<const Segmentation> segmentations, double threshold,
                                             double ratio) {
  if (scores.size() != labels.size())
    return base::InvalidArgument(
        fmt::format("scores and labels differ in length: {} vs {}", scores.size(), labels.size()));
  if (std::isnan(threshold)) return base::InvalidArgument("threshold is NaN");
  if (!(ratio >= 0 && ratio <= 1))
    return base::InvalidArgument(fmt::format("the under-served ratio must be in [0, 1], got {}", ratio));
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1)
      return base::InvalidArgument(fmt::format("label {} is {}, expected 0 or 1", i, labels[i]));
    if (std::isnan(scores[i])) return base::InvalidArgument(fmt::format("score {} is NaN", i));
  }
  SegmentReport report;
  report.threshold = threshold;
  report.ratio = ratio;
  std::vector<double> s;
  std::vector<int> l;
  std::vector<size_t> all(scores.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  report.overall = Measure(scores, labels, all, threshold, s, l);
  for (const Segmentation& seg : segmentations) {
    if (seg.value_of_row.size() != scores.size())
      return base::InvalidArgument(fmt::format("segmentation {} has {} rows, the scores {}", seg.dimension,
                                               seg.value_of_row.size(), scores.size()));
    std::vector<std::vector<size_t>> rows(seg.values.size());
    for (size_t i = 0; i < seg.value_of_row.size(); ++i) {
      const uint32_t v = seg.value_of_row[i];
      if (v >= seg.values.size())
        return base::InvalidArgument(fmt::format("segmentation {}: row {} has value {} of {}", seg.dimension,
                                                 i, v, seg.values.size()));
      rows[v].push_back(i);
    }
    for (size_t v = 0; v < seg.values.size(); ++v) {
      SegmentMetrics m = Measure(scores, labels, rows[v], threshold, s, l);
      m.dimension = seg.dimension;
      m.value = seg.values[v];
      m.low_precision = Below(m.precision, ratio, report.overall.precision);
      m.low_recall = Below(m.recall, ratio, report.overall.recall);
      m.underserved = m.low_precision || m.low_recall;
      report.underserved += m.underserved ? 1 : 0;
      report.segments.push_back(std::move(m));
    }
  }
  return report;
}

base::Status CheckAmountBands(std::span<const double> bounds) {
  if (bounds.empty()) return base::InvalidArgument("amount bands need at least one bound");
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]))
      return base::InvalidArgument(fmt::format("amount band bound {} is not finite", bounds[i]));
    if (i > 0 && !(bounds[i] > bounds[i - 1]))
      return base::InvalidArgument(
          fmt::format("amount band bounds must increase: {} then {}", bounds[i - 1], bounds[i]));
  }
  return base::Status::OK();
}

std::vector<std::string> AmountBandNames(std::span<const double> bounds) {
  std::vector<std::string> names;
  if (bounds.empty()) return names;
  names.push_back(fmt::format("<{}", bounds.front()));
  for (size_t i = 1; i < bounds.size(); ++i) names.push_back(fmt::format("{}-{}", bounds[i - 1], bounds[i]));
  names.push_back(fmt::format(">={}", bounds.back()));
  return names;
}

uint32_t AmountBand(double amount, std::span<const double> bounds) {
  if (std::isnan(amount)) return 0;
  return static_cast<uint32_t>(std::upper_bound(bounds.begin(), bounds.end(), amount) - bounds.begin());
}

}  // namespace vigil::models
