#include "operators/monitor_segments.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "models/segments.h"

namespace vigil::operators {

base::Result<MonitorSegments> MonitorSegments::Make(const config::SegmentsSpec& spec) {
  if (!spec.amount_bands.empty()) VIGIL_RETURN_IF_ERROR(models::CheckAmountBands(spec.amount_bands));
  if (spec.columns.size() > kMaxSegmentColumns)
    return base::InvalidArgument(fmt::format("at most {} segment columns", kMaxSegmentColumns));
  if (spec.max_values < 1 || spec.max_values > 100)
    return base::InvalidArgument(fmt::format("segments max_values {}: expected 1..100", spec.max_values));
  return MonitorSegments(spec);
}

MonitorSegments::MonitorSegments(const config::SegmentsSpec& spec)
    : spec_(spec), values_(spec.columns.size()), index_(spec.columns.size()), capped_(spec.columns.size()) {}

uint8_t MonitorSegments::ValueIndex(size_t column, const std::string& value) {
  const auto limit = static_cast<size_t>(spec_.max_values);
  if (const auto it = index_[column].find(value); it != index_[column].end()) return it->second;
  if (values_[column].size() < limit) {
    const auto index = static_cast<uint8_t>(values_[column].size());
    values_[column].push_back(value);
    index_[column].emplace(value, index);
    return index;
  }
  if (!capped_[column]) {
    capped_[column] = true;
    values_[column].push_back(models::kOtherValue);
    spdlog::warn(
        "segment column {}: more than {} values; value '{}' and later new ones are counted as '{}' "
        "(monitor.performance.segments.max_values)",
        spec_.columns[column], limit, value, models::kOtherValue);
  }
  return static_cast<uint8_t>(limit);
}

std::vector<monitor::SegmentDimension> MonitorSegments::Dimensions() const {
  std::vector<monitor::SegmentDimension> dims;
  if (spec_.card_age_days > 0)
    dims.push_back({models::kCardAgeDimension, {models::kNewCard, models::kEstablishedCard}});
  if (!spec_.amount_bands.empty())
    dims.push_back({models::kAmountDimension, models::AmountBandNames(spec_.amount_bands)});
  for (size_t c = 0; c < spec_.columns.size(); ++c) dims.push_back({spec_.columns[c], values_[c]});
  return dims;
}

void MonitorSegments::LearnFirstSeen(int64_t card, int64_t time_ms) {
  if (spec_.card_age_days <= 0) return;
  auto [it, inserted] = first_seen_.try_emplace(card, time_ms);
  if (!inserted) it->second = std::min(it->second, time_ms);
}

monitor::SegmentKey MonitorSegments::KeyOf(int64_t card, int64_t time_ms, double amount,
                                           std::span<const uint8_t> values) const {
  monitor::SegmentKey key{};
  size_t d = 0;
  if (spec_.card_age_days > 0)
    key[d++] = models::IsNewCard(first_seen_.at(card), time_ms, spec_.card_age_days) ? 0 : 1;
  if (!spec_.amount_bands.empty())
    key[d++] = static_cast<uint8_t>(models::AmountBand(amount, spec_.amount_bands));
  for (size_t c = 0; c < spec_.columns.size(); ++c) key[d++] = values[c];
  return key;
}

}  // namespace vigil::operators
