// The window aggregates beyond count/sum/avg/min/max/ratio (stddev, zscore, distinct, ratio_to_*,
// time_since_last, last) and composite keys, on small hand-made streams whose values are worked out by hand:
// the window's edges, the delay, out-of-order events within lateness, late events, a key's first event.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "engine/plan.h"
#include "operators/register.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
    - {name: M, type: int64}
    - {name: V, type: double, required: false}
operators:
  - type: window
    key: K
    lateness: 10
    outputs:
      - {name: SD, agg: stddev, field: V, window: 100}
      - {name: Z, agg: zscore, field: V, window: 100}
      - {name: D, agg: distinct, field: M, window: 100}
      - {name: GAP, agg: time_since_last}
      - {name: TO_SUM, agg: ratio_to_sum, field: V, window: 100}
      - {name: TO_AVG, agg: ratio_to_avg, field: V, window: 100}
      - {name: TO_MIN, agg: ratio_to_min, field: V, window: 100}
      - {name: TO_MAX, agg: ratio_to_max, field: V, window: 100}
      - {name: DSD, agg: stddev, field: V, window: 100, delay: 50}
      - {name: DZ, agg: zscore, field: V, window: 100, delay: 50}
      - {name: DD, agg: distinct, field: M, window: 100, delay: 50}
      - {name: LAST, agg: last, field: V, window: 100}
      - {name: DLAST, agg: last, field: V, window: 100, delay: 50}
  - type: window
    name: pair
    key: [K, M]
    lateness: 10
    outputs:
      - {name: PC, agg: count, window: 100}
      - {name: PGAP, agg: time_since_last}
output: {kind: none}
)";

//! An event; a NaN `v` leaves V out (it is optional).
std::string Ev(int id, int t, const char* k, int m, double v) {
  char buf[200];
  if (std::isnan(v))
    std::snprintf(buf, sizeof buf, R"({"ID":%d,"T":%d,"K":"%s","M":%d})", id, t, k, m);
  else
    std::snprintf(buf, sizeof buf, R"({"ID":%d,"T":%d,"K":"%s","M":%d,"V":%.17g})", id, t, k, m, v);
  return std::string(buf) + "\n";
}

constexpr double kNaN = NAN;

//! Each output record's numeric columns by name, keyed by ID; null reads as NaN.
std::map<int64_t, std::map<std::string, double>> Rows(const std::vector<Captured>& outputs) {
  simdjson::dom::parser parser;
  std::map<int64_t, std::map<std::string, double>> rows;
  for (const auto& o : outputs) {
    auto doc = parser.parse(o.value).value();
    auto& row = rows[doc["ID"].get_int64()];
    for (auto [key, value] : doc.get_object()) {
      if (value.is_null())
        row[std::string(key)] = kNaN;
      else if (value.is_number())
        row[std::string(key)] = double(value.get_double());
    }
  }
  return rows;
}

//! Exactly `expected`, NaN included.
bool Same(double actual, double expected) {
  return std::isnan(expected) ? std::isnan(actual) : actual == Approx(expected).epsilon(1e-12);
}

#define CHECK_VALUE(row, column, expected)                                 \
  do {                                                                     \
    INFO("ID " << (row) << " " << (column) << " = " << rows[row][column]); \
    CHECK(rows[row].count(column) == 1);                                   \
    CHECK(Same(rows[row][column], expected));                              \
  } while (0)

TEST_CASE(
    "window aggregates: stddev, zscore, distinct, ratio_to, time_since_last and last over a hand-made stream",
    "[operators]") {
  const std::string in = Ev(1, 1000, "a", 1, 10) + Ev(2, 1050, "a", 2, 20) + Ev(3, 1050, "a", 1, 30) +
                         Ev(4, 1100, "a", 3, kNaN) + Ev(5, 1095, "a", 2, 20) + Ev(6, 1080, "a", 1, 99) +
                         Ev(7, 1200, "a", 1, 40) + Ev(8, 5000, "a", 1, 40) + Ev(9, 1100, "b", 7, 5);
  const auto r = RunOnText(kYaml, in, TempDir("window-aggs"));
  REQUIRE(r.status.ok());
  REQUIRE(r.dead_letters.size() == 1);  // 6: 1080 < 1100 − lateness
  CHECK(r.dead_letters[0].reason == "late");
  CHECK(r.dead_letters[0].offset == 5);
  auto rows = Rows(r.outputs);
  REQUIRE(rows.size() == 8);

  // 1, a key's first event: a window of one value; nothing in the delayed window (850, 950].
  CHECK_VALUE(1, "SD", 0);
  CHECK_VALUE(1, "Z", 0);
  CHECK_VALUE(1, "D", 1);
  CHECK_VALUE(1, "GAP", kNaN);
  CHECK_VALUE(1, "TO_SUM", 1);
  CHECK_VALUE(1, "TO_AVG", 1);
  CHECK_VALUE(1, "TO_MAX", 1);
  CHECK_VALUE(1, "DSD", kNaN);
  CHECK_VALUE(1, "DZ", kNaN);
  CHECK_VALUE(1, "DD", 0);
  CHECK_VALUE(1, "PC", 1);
  CHECK_VALUE(1, "PGAP", kNaN);
  CHECK_VALUE(1, "LAST", 10);  // the current event's own value
  CHECK_VALUE(1, "DLAST", kNaN);

  // 2: (950, 1050] = {10, 20}: mean 15, stddev 5 (population); delayed (900, 1000] = {10}.
  CHECK_VALUE(2, "SD", 5);
  CHECK_VALUE(2, "Z", 1);
  CHECK_VALUE(2, "D", 2);
  CHECK_VALUE(2, "GAP", 50);
  CHECK_VALUE(2, "TO_SUM", 20.0 / 30);
  CHECK_VALUE(2, "TO_AVG", 20.0 / 15);
  CHECK_VALUE(2, "TO_MIN", 2);
  CHECK_VALUE(2, "TO_MAX", 1);
  CHECK_VALUE(2, "DSD", 0);
  CHECK_VALUE(2, "DZ", 0);  // one value in the window: 0, though 20 is not it
  CHECK_VALUE(2, "DD", 1);
  CHECK_VALUE(2, "PC", 1);  // (a, 2) is a new pair
  CHECK_VALUE(2, "PGAP", kNaN);
  CHECK_VALUE(2, "LAST", 20);
  CHECK_VALUE(2, "DLAST", 10);

  // 3, the later twin at 1050: {10, 20, 30}; its predecessor is the earlier twin.
  CHECK_VALUE(3, "SD", std::sqrt(200.0 / 3));
  CHECK_VALUE(3, "Z", 10 / std::sqrt(200.0 / 3));
  CHECK_VALUE(3, "D", 2);
  CHECK_VALUE(3, "GAP", 0);
  CHECK_VALUE(3, "PC", 2);  // (a, 1): 1000, 1050
  CHECK_VALUE(3, "PGAP", 50);
  CHECK_VALUE(3, "LAST", 30);  // the later twin is the newest
  CHECK_VALUE(3, "DLAST", 10);

  // 4 at 1100 without V: (1000, 1100] = {20, 30, NaN}, 1000 out at the edge; NaN is skipped, and a NaN
  // current value has no z-score nor ratio. Delayed (950, 1050] = {10, 20, 30}.
  CHECK_VALUE(4, "SD", 5);
  CHECK_VALUE(4, "Z", kNaN);
  CHECK_VALUE(4, "D", 3);  // M: 2, 1, 3
  CHECK_VALUE(4, "GAP", 50);
  CHECK_VALUE(4, "TO_AVG", kNaN);
  CHECK_VALUE(4, "DSD", std::sqrt(200.0 / 3));
  CHECK_VALUE(4, "DZ", kNaN);
  CHECK_VALUE(4, "DD", 2);
  CHECK_VALUE(4, "LAST", 30);  // its own V is not known: the newest known one
  CHECK_VALUE(4, "DLAST", 30);

  // 5 at 1095, after 1100 but within lateness: (995, 1095] = {10@1000, 20, 30, 20@1095}, not 1100's.
  // Its previous event is the one before it in event time (1050), not the one that came before it.
  CHECK_VALUE(5, "SD", std::sqrt(50.0));
  CHECK_VALUE(5, "Z", 0);
  CHECK_VALUE(5, "D", 2);
  CHECK_VALUE(5, "GAP", 45);
  CHECK_VALUE(5, "TO_AVG", 1);
  CHECK_VALUE(5, "TO_SUM", 20.0 / 80);
  CHECK_VALUE(5, "TO_MIN", 2);
  CHECK_VALUE(5, "PC", 2);  // (a, 2): 1050, 1095
  CHECK_VALUE(5, "PGAP", 45);
  CHECK_VALUE(5, "LAST", 20);   // its own, not 1100's, which is after it
  CHECK_VALUE(5, "DLAST", 10);  // (945, 1045]

  // 7 at 1200: (1100, 1200] = {40}; its previous event is 1100 (the late 6 changed nothing). Delayed
  // (1050, 1150] = {NaN@1100, 20@1095}. The pair (a, 1) had 1000 and 1050, both evicted by now but the
  // newest, which time_since_last keeps.
  CHECK_VALUE(7, "SD", 0);
  CHECK_VALUE(7, "Z", 0);
  CHECK_VALUE(7, "D", 1);
  CHECK_VALUE(7, "GAP", 100);
  CHECK_VALUE(7, "TO_AVG", 1);
  CHECK_VALUE(7, "DSD", 0);
  CHECK_VALUE(7, "DD", 2);
  CHECK_VALUE(7, "PC", 1);
  CHECK_VALUE(7, "PGAP", 150);
  CHECK_VALUE(7, "LAST", 40);
  CHECK_VALUE(7, "DLAST", 20);  // 1100's V is NaN: 1095's

  // 8, long after: every window holds it alone; the previous event, long evicted from them, still counts.
  CHECK_VALUE(8, "SD", 0);
  CHECK_VALUE(8, "D", 1);
  CHECK_VALUE(8, "GAP", 3800);
  CHECK_VALUE(8, "PGAP", 3800);
  CHECK_VALUE(8, "DSD", kNaN);
  CHECK_VALUE(8, "LAST", 40);
  CHECK_VALUE(8, "DLAST", kNaN);

  // 9: another key's first event.
  CHECK_VALUE(9, "GAP", kNaN);
  CHECK_VALUE(9, "SD", 0);
  CHECK_VALUE(9, "D", 1);
  CHECK_VALUE(9, "PC", 1);
  CHECK_VALUE(9, "LAST", 5);
  CHECK_VALUE(9, "DLAST", kNaN);
}

TEST_CASE("window aggregates: equal values have a stddev and z-score of exactly 0, ratio_to a zero is NaN",
          "[operators]") {
  // The mean of three 0.1 rounds to 0.10000000000000002: without care that would be a spread.
  const std::string in = Ev(1, 1000, "c", 1, 0.1) + Ev(2, 1010, "c", 1, 0.1) + Ev(3, 1020, "c", 1, 0.1) +
                         Ev(4, 1000, "d", 1, 0) + Ev(5, 1010, "d", 1, 5) + Ev(6, 1020, "d", 1, -0.0);
  const auto r = RunOnText(kYaml, in, TempDir("window-aggs"));
  REQUIRE(r.status.ok());
  auto rows = Rows(r.outputs);
  for (int id : {1, 2, 3}) {
    CHECK_VALUE(id, "SD", 0);
    CHECK(rows[id]["SD"] == 0.0);
    CHECK(rows[id]["Z"] == 0.0);
  }
  CHECK_VALUE(4, "TO_AVG", kNaN);  // 0 / 0
  CHECK_VALUE(4, "TO_SUM", kNaN);
  CHECK_VALUE(5, "TO_MIN", kNaN);  // 5 / min 0
  CHECK_VALUE(5, "TO_MAX", 1);
  CHECK_VALUE(5, "TO_AVG", 2);
  CHECK_VALUE(6, "TO_MAX", 0);  // −0 / 5
}

TEST_CASE("window aggregates: distinct counts values, not events, and −0 equals 0", "[operators]") {
  std::string yaml = kYaml;
  const std::string d = "{name: D, agg: distinct, field: M, window: 100}";
  yaml.replace(yaml.find(d), d.size(), "{name: D, agg: distinct, field: V, window: 100}");
  const std::string in = Ev(1, 1000, "a", 1, 0.0) + Ev(2, 1001, "a", 1, -0.0) + Ev(3, 1002, "a", 1, 2.5) +
                         Ev(4, 1003, "a", 1, kNaN) + Ev(5, 1004, "a", 1, 2.5) + Ev(6, 1005, "a", 1, 7);
  const auto r = RunOnText(yaml, in, TempDir("window-aggs"));
  REQUIRE(r.status.ok());
  auto rows = Rows(r.outputs);
  CHECK_VALUE(2, "D", 1);
  CHECK_VALUE(3, "D", 2);
  CHECK_VALUE(4, "D", 2);  // NaN is no value
  CHECK_VALUE(5, "D", 2);
  CHECK_VALUE(6, "D", 3);
}

TEST_CASE("window aggregates: state survives a restart and resumes bit for bit, time_since_last included",
          "[operators]") {
  std::string all;
  for (int i = 0; i < 3000; ++i) {
    const char* key = i % 3 ? "x" : "y";
    all += Ev(i, i * 7 + (i % 2 ? 0 : 9), key, i % 4, i % 13 == 0 ? kNaN : (i % 11) * 1.5);
  }
  const std::string dir = TempDir("window-aggs");
  const auto once = RunOnText(kYaml, all, TempDir("window-aggs"));
  const size_t cut = all.find('\n', all.size() / 2) + 1;
  const auto first = RunOnText(kYaml, all.substr(0, cut), dir);
  const auto second = RunOnText(kYaml, all, dir);
  REQUIRE(once.status.ok());
  REQUIRE(first.status.ok());
  REQUIRE(second.status.ok());
  std::vector<Captured> both = first.outputs;
  both.insert(both.end(), second.outputs.begin(), second.outputs.end());
  REQUIRE(once.outputs.size() == both.size());
  CHECK(once.dead_letters.size() == first.dead_letters.size() + second.dead_letters.size());
  auto a = Rows(once.outputs), b = Rows(both);
  REQUIRE(a.size() == b.size());
  size_t compared = 0;
  for (const auto& [id, row] : a) {
    for (const auto& [column, value] : row) {
      INFO(id << " " << column);
      CHECK(std::memcmp(&value, &b[id][column], sizeof value) == 0);
      ++compared;
    }
  }
  CHECK(compared > 3000 * 13);
}

//! Binds `yaml` (kYaml with one replacement) and returns its status.
base::Status Bind(const std::string& from, const std::string& to) {
  std::string yaml = kYaml;
  REQUIRE(yaml.find(from) != std::string::npos);
  yaml.replace(yaml.find(from), from.size(), to);
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto spec = config::LoadPipelineText(yaml, "w.yaml");
  if (!spec.ok()) return spec.status();
  return engine::Plan::Build(*spec, registry).status();
}

TEST_CASE("window aggregates: a key or field of the wrong type is a located error when the pipeline binds",
          "[operators]") {
  CHECK(Bind("key: [K, M]", "key: [M, K]").ok());
  auto st = Bind("key: [K, M]", "key: [K, V]");
  CHECK(st.message().rfind("w.yaml:", 0) == 0);
  CHECK_THAT(st.message(), Catch::Contains("window key 'V' must be a string or integer column"));
  st = Bind("key: [K, M]", "key: [K, NOPE]");
  CHECK_THAT(st.message(), Catch::Contains("window key 'NOPE' is not a column"));
  st = Bind("{name: D, agg: distinct, field: M, window: 100}",
            "{name: D, agg: distinct, field: K, window: 100}");
  CHECK(st.message().rfind("w.yaml:17:9: ", 0) == 0);
  CHECK_THAT(st.message(), Catch::Contains("column 'K' is a string"));
}

}  // namespace
}  // namespace vigil::testing
