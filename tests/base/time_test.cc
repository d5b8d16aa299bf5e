#include "base/time.h"

#include <catch2/catch.hpp>

namespace vigil::base {
namespace {

TEST_CASE("ISO-8601 timestamps parse to epoch milliseconds", "[base]") {
  CHECK(ParseIso8601Ms("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseIso8601Ms("2018-04-01 00:00:31") == 1522540831000LL);
  CHECK(ParseIso8601Ms("2018-04-01T00:00:31.250Z") == 1522540831250LL);
  CHECK(ParseIso8601Ms("2018-04-01T02:00:31+02:00") == 1522540831000LL);
  CHECK(ParseIso8601Ms("2018-04-01") == 1522540800000LL);
  CHECK_FALSE(ParseIso8601Ms("2018-13-01").has_value());
  CHECK_FALSE(ParseIso8601Ms("2018-04-01T00:00").has_value());
  CHECK_FALSE(ParseIso8601Ms("yesterday").has_value());
  CHECK_FALSE(ParseIso8601Ms("2018-04-01T00:00:31Zjunk").has_value());
}

TEST_CASE("calendar helpers agree with known dates", "[base]") {
  const int64_t sun = *ParseIso8601Ms("2018-04-01T06:59:59Z");  // a Sunday
  CHECK(DayOfWeek(sun) == 6);
  CHECK(HourOfDay(sun) == 6);
  CHECK(DayOfWeek(*ParseIso8601Ms("2018-04-02T00:00:00Z")) == 0);
  CHECK(HourOfDay(-1) == 23);
  char buf[32];
  const int n = FormatIso8601(sun, buf);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "2018-04-01T06:59:59Z");
}

}  // namespace
}  // namespace vigil::base
