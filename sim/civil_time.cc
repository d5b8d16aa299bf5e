#include "sim/civil_time.h"

#include <charconv>
#include <chrono>

#include "base/time.h"

namespace vigil::sim {
namespace {

// Parses exactly `width` digits of `text` starting at `pos`.
bool ParseDigits(std::string_view text, size_t pos, size_t width, int* value) {
  if (pos + width > text.size()) return false;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + pos + width, *value);
  return ec == std::errc() && ptr == text.data() + pos + width;
}

// Writes `value` as exactly `width` zero-padded digits.
char* PutDigits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

}  // namespace

base::Result<int64_t> ParseDateMs(std::string_view date) {
  int y = 0;
  int m = 0;
  int d = 0;
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' || !ParseDigits(date, 0, 4, &y) ||
      !ParseDigits(date, 5, 2, &m) || !ParseDigits(date, 8, 2, &d)) {
    return base::InvalidArgument("expected a date YYYY-MM-DD, got '" + std::string(date) + "'");
  }
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return base::InvalidArgument("no such date: '" + std::string(date) + "'");
  const auto days = std::chrono::sys_days(ymd).time_since_epoch().count();
  return static_cast<int64_t>(days) * base::kMsPerDay;
}

size_t FormatIsoUtc(int64_t epoch_ms, char* out) {
  using std::chrono::floor;
  const std::chrono::sys_time<std::chrono::milliseconds> tp{std::chrono::milliseconds(epoch_ms)};
  const auto day_start = floor<std::chrono::days>(tp);
  const std::chrono::year_month_day ymd{day_start};
  const int64_t ms_of_day = (tp - day_start).count();
  char* p = out;
  int year = static_cast<int>(ymd.year());
  if (year < 0) {
    *p++ = '-';
    year = -year;
  }
  p = PutDigits(p, year, year > 9999 ? 6 : 4);
  *p++ = '-';
  p = PutDigits(p, static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  p = PutDigits(p, static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  p = PutDigits(p, ms_of_day / base::kMsPerHour, 2);
  *p++ = ':';
  p = PutDigits(p, ms_of_day / 60'000 % 60, 2);
  *p++ = ':';
  p = PutDigits(p, ms_of_day / 1000 % 60, 2);
  if (ms_of_day % 1000 != 0) {
    *p++ = '.';
    p = PutDigits(p, ms_of_day % 1000, 3);
  }
  *p++ = 'Z';
  return static_cast<size_t>(p - out);
}

std::string IsoUtc(int64_t epoch_ms) {
  char buffer[kMaxIsoUtcLength];
  return std::string(buffer, FormatIsoUtc(epoch_ms, buffer));
}

}  // namespace vigil::sim
