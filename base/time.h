#pragma once
// Calendar arithmetic on epoch milliseconds (UTC), without time zones or the C library's locale.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::base {

inline constexpr int64_t kMsPerSecond = 1000;
inline constexpr int64_t kMsPerMinute = 60'000;
inline constexpr int64_t kMsPerHour = 3'600'000;
inline constexpr int64_t kMsPerDay = 86'400'000;
//! Largest magnitude of an epoch-ms time vigil handles: 2^53 ms (about 285,000 years). Such times are
//! exact in a double, and the calendar arithmetic below cannot overflow on them. `parse` refuses
//! event times beyond it.
inline constexpr int64_t kMaxAbsTimeMs = int64_t{1} << 53;

//! Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

//! Floor division, correct for negative times.
constexpr int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

//! Day number (days since epoch) of a timestamp.
constexpr int64_t DayOf(int64_t ms) { return FloorDiv(ms, kMsPerDay); }
//! Hour of day, 0–23.
constexpr int HourOfDay(int64_t ms) {
  return static_cast<int>(FloorDiv(ms - DayOf(ms) * kMsPerDay, kMsPerHour));
}
//! Day of week, Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
constexpr int DayOfWeek(int64_t ms) { return static_cast<int>(((DayOf(ms) + 3) % 7 + 7) % 7); }

//! Parses "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS[.fff…][Z|±HH:MM]" into epoch ms.
std::optional<int64_t> ParseIso8601Ms(std::string_view text);
//! Formats epoch ms as "YYYY-MM-DDTHH:MM:SSZ" (seconds precision) into `out` (at least 21 bytes);
//! returns the length written.
int FormatIso8601(int64_t ms, char* out);
//! FormatIso8601 as a string: "YYYY-MM-DDTHH:MM:SSZ".
std::string Iso8601(int64_t ms);
//! The UTC date of `ms`: "YYYY-MM-DD".
std::string IsoDate(int64_t ms);

}  // namespace vigil::base
