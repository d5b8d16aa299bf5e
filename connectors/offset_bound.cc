// ParseOffsetBound: the text forms of a bounded read's ends (`vigil replay --from/--to` and the like).
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "connectors/kafka_source.h"

namespace vigil::connectors {
namespace {

//! Parses a non-negative decimal offset.
std::optional<int64_t> ParseOffset(std::string_view s) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

base::Result<OffsetBound> ParseOffsetBound(std::string_view text) {
  OffsetBound b;
  if (text == "earliest") return b;
  if (text == "latest") {
    b.kind = OffsetBound::Kind::kLatest;
    return b;
  }
  if (auto v = ParseOffset(text)) {
    b.kind = OffsetBound::Kind::kOffset;
    b.offsets[-1] = *v;
    return b;
  }
  if (text.find(':') != std::string_view::npos && text.find('-') == std::string_view::npos) {
    b.kind = OffsetBound::Kind::kOffset;
    for (size_t pos = 0; pos <= text.size();) {
      const size_t comma = std::min(text.find(',', pos), text.size());
      const std::string_view item = text.substr(pos, comma - pos);
      const size_t colon = item.find(':');
      const auto partition =
          colon == std::string_view::npos ? std::nullopt : ParseOffset(item.substr(0, colon));
      const auto offset =
          colon == std::string_view::npos ? std::nullopt : ParseOffset(item.substr(colon + 1));
      if (!partition || !offset || *partition > INT32_MAX)
        return base::InvalidArgument("bad offset '" + std::string(item) + "' in '" + std::string(text) +
                                     "': expected PARTITION:OFFSET");
      b.offsets[static_cast<int32_t>(*partition)] = *offset;
      pos = comma + 1;
    }
    return b;
  }
  if (auto ms = base::ParseIso8601Ms(text)) {
    b.kind = OffsetBound::Kind::kTime;
    b.time_ms = *ms;
    return b;
  }
  return base::InvalidArgument(
      "bad offset bound '" + std::string(text) +
      "': expected earliest, latest, an offset, PARTITION:OFFSET,... or an ISO-8601 time");
}

}  // namespace vigil::connectors
