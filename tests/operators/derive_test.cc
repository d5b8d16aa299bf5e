#include <catch2/catch.hpp>

#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

// Found by fuzz_event (fuzz/): hour_of_day of a large int64 converted 2^63 to int64 (undefined).
TEST_CASE("derive calendar functions give null far outside event times", "[operators]") {
  const char* yaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: T, type: timestamp}
    - {name: ID, type: int64}
operators:
  - type: derive
    outputs:
      - {name: H, fn: hour_of_day, args: [ID]}
      - {name: D, fn: day_of_week, args: [ID]}
      - {name: W, fn: is_weekend, args: [ID]}
output: {kind: none, fields: [ID, H, D, W]}
)";
  const std::string input = R"({"T":0,"ID":9223372036854775807}
{"T":0,"ID":-9223372036854775807}
{"T":0,"ID":9007199254740992}
{"T":0,"ID":1522540831000}
)";
  const auto r = RunOnText(yaml, input, TempDir("derive_calendar"));
  REQUIRE(r.status.ok());
  REQUIRE(r.outputs.size() == 4);
  CHECK(r.outputs[0].value == R"({"ID":9223372036854775807,"H":null,"D":null,"W":null})");
  CHECK(r.outputs[1].value == R"({"ID":-9223372036854775807,"H":null,"D":null,"W":null})");
  CHECK(r.outputs[2].value == R"({"ID":9007199254740992,"H":8,"D":2,"W":0})");
  CHECK(r.outputs[3].value == R"({"ID":1522540831000,"H":0,"D":6,"W":1})");
}

}  // namespace
}  // namespace vigil::testing
