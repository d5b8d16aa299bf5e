// The words, durations and sizes pipeline files write, both ways: enum names, "7d"-style durations and
// "512MiB"-style sizes.
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "base/time.h"
#include "config/pipeline_config.h"

namespace vigil::config {

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kInt64:
      return "int64";
    case FieldType::kDouble:
      return "double";
    case FieldType::kString:
      return "string";
    case FieldType::kBool:
      return "bool";
    case FieldType::kTimestamp:
      return "timestamp";
  }
  return "?";
}

std::string_view TimeFormatName(TimeFormat format) {
  switch (format) {
    case TimeFormat::kEpochMillis:
      return "epoch_ms";
    case TimeFormat::kEpochSeconds:
      return "epoch_s";
    case TimeFormat::kIso8601:
      return "iso8601";
  }
  return "?";
}

std::string_view AggregateName(Aggregate agg) {
  switch (agg) {
    case Aggregate::kCount:
      return "count";
    case Aggregate::kSum:
      return "sum";
    case Aggregate::kAvg:
      return "avg";
    case Aggregate::kMin:
      return "min";
    case Aggregate::kMax:
      return "max";
    case Aggregate::kRatio:
      return "ratio";
    case Aggregate::kStddev:
      return "stddev";
    case Aggregate::kZscore:
      return "zscore";
    case Aggregate::kDistinct:
      return "distinct";
    case Aggregate::kTimeSinceLast:
      return "time_since_last";
    case Aggregate::kRatioToSum:
      return "ratio_to_sum";
    case Aggregate::kRatioToAvg:
      return "ratio_to_avg";
    case Aggregate::kRatioToMin:
      return "ratio_to_min";
    case Aggregate::kRatioToMax:
      return "ratio_to_max";
    case Aggregate::kLast:
      return "last";
  }
  return "?";
}

std::string_view SourceKindName(SourceSpec::Kind kind) {
  return kind == SourceSpec::Kind::kKafka ? "kafka" : "file";
}

std::string_view SinkKindName(SinkSpec::Kind kind) {
  switch (kind) {
    case SinkSpec::Kind::kKafka:
      return "kafka";
    case SinkSpec::Kind::kFile:
      return "file";
    case SinkSpec::Kind::kNone:
      return "none";
  }
  return "?";
}

std::string_view SinkFormatName(SinkSpec::Format format) {
  return format == SinkSpec::Format::kJson ? "json" : "csv";
}

std::string_view GuaranteeName(Guarantee guarantee) {
  return guarantee == Guarantee::kExactlyOnce ? "exactly_once" : "at_least_once";
}

base::Result<int64_t> ParseDurationMs(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || value < 0)
    return base::InvalidArgument("expected a duration like 250ms, 10s, 5m, 2h or 7d, got '" +
                                 std::string(text) + "'");
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  static const std::pair<std::string_view, int64_t> kUnits[] = {{"", 1},
                                                                {"ms", 1},
                                                                {"s", base::kMsPerSecond},
                                                                {"m", base::kMsPerMinute},
                                                                {"h", base::kMsPerHour},
                                                                {"d", base::kMsPerDay}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    if (value > std::numeric_limits<int64_t>::max() / scale)
      return base::InvalidArgument("duration '" + std::string(text) + "' is too long");
    return value * scale;
  }
  return base::InvalidArgument("unknown duration unit '" + std::string(unit) + "' in '" + std::string(text) +
                               "'; expected ms, s, m, h or d");
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0";
  static const std::pair<std::string_view, int64_t> kUnits[] = {
      {"d", base::kMsPerDay}, {"h", base::kMsPerHour}, {"m", base::kMsPerMinute}, {"s", base::kMsPerSecond}};
  for (const auto& [name, scale] : kUnits)
    if (ms % scale == 0) return std::to_string(ms / scale) + std::string(name);
  return std::to_string(ms) + "ms";
}

base::Result<uint64_t> ParseBytes(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || !(value >= 0) || text.front() == '-')
    return base::InvalidArgument("expected a size like 512MiB, 2GB or a number of bytes, got '" +
                                 std::string(text) + "'");
  while (ptr != text.data() + text.size() && *ptr == ' ') ++ptr;
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  static const std::pair<std::string_view, double> kUnits[] = {
      {"", 1},      {"B", 1},         {"KB", 1e3},      {"MB", 1e6},         {"GB", 1e9},
      {"TB", 1e12}, {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bytes = std::round(value * scale);
    if (bytes >= 1.8e19) return base::InvalidArgument("size '" + std::string(text) + "' is too large");
    return static_cast<uint64_t>(bytes);
  }
  return base::InvalidArgument("unknown size unit '" + std::string(unit) + "' in '" + std::string(text) +
                               "'; expected B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes == 0) return "0";
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [name, scale] : kUnits)
    if (bytes % scale == 0) return std::to_string(bytes / scale) + std::string(name);
  return std::to_string(bytes) + "B";
}

}  // namespace vigil::config
