#include <simdjson.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>

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
    - {name: V, type: double, required: false}
    - {name: Y, type: double, required: false}
operators:
  - type: window
    key: K
    lateness: 10
    outputs:
      - {name: C, agg: count, window: 100}
      - {name: S, agg: sum, field: V, window: 100}
      - {name: A, agg: avg, field: V, window: 100}
      - {name: MN, agg: min, field: V, window: 100}
      - {name: MX, agg: max, field: V, window: 100}
      - {name: DC, agg: count, window: 100, delay: 50}
      - {name: R, agg: ratio, field: Y, window: 100, delay: 50}
output: {kind: none, fields: [ID, C, S, A, MN, MX, DC, R]}
)";

std::string Ev(int id, int t, const char* k, double v, double y = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"ID":%d,"T":%d,"K":"%s","V":%.17g,"Y":%.17g})", id, t, k, v, y);
  return std::string(buf) + "\n";
}

struct Row {
  double c, s, a, mn, mx, dc, r;
};

std::map<int64_t, Row> Rows(const std::vector<Captured>& outputs) {
  simdjson::dom::parser parser;
  std::map<int64_t, Row> rows;
  auto num = [](simdjson::dom::element e) { return e.is_null() ? NAN : double(e.get_double()); };
  for (const auto& o : outputs) {
    auto doc = parser.parse(o.value).value();
    rows[doc["ID"].get_int64()] = {num(doc["C"]),  num(doc["S"]),  num(doc["A"]), num(doc["MN"]),
                                   num(doc["MX"]), num(doc["DC"]), num(doc["R"])};
  }
  return rows;
}

TEST_CASE("window: from t-N exclusive to t inclusive with the current event, twins in arrival order, per key",
          "[operators]") {
  std::string in = Ev(1, 1000, "a", 10) + Ev(2, 1050, "a", 20) + Ev(3, 1050, "a", 30) + Ev(4, 1050, "b", 5) +
                   Ev(5, 1100, "a", 40) + Ev(6, 1150, "a", 50) + Ev(7, 1200, "a", 60);
  const auto r = RunOnText(kYaml, in, TempDir("window"));
  REQUIRE(r.status.ok());
  auto rows = Rows(r.outputs);
  REQUIRE(rows.size() == 7);
  CHECK(rows[1].c == 1);
  CHECK(rows[2].c == 2);  // the earlier twin at 1050 is not yet there; event 1 at 1000 is
  CHECK(rows[3].c == 3);  // the later twin counts the earlier one
  CHECK(rows[3].s == 60);
  CHECK(rows[4].c == 1);  // other key
  CHECK(rows[5].c == 3);  // (1000, 1100]: 1000 excluded
  CHECK(rows[5].s == 20 + 30 + 40);
  CHECK(rows[5].a == Approx(30));
  CHECK(rows[5].mn == 20);
  CHECK(rows[5].mx == 40);
  CHECK(rows[7].c == 2);  // (1100, 1200]: 1150, 1200
  // delayed: (t-150, t-50]
  CHECK(rows[5].dc == 3);  // (950, 1050] = 1000, 1050, 1050
  CHECK(rows[7].dc == 2);  // (1050, 1150] = 1100, 1150; the twins at 1050 are out
}

TEST_CASE("window: late events are dead-lettered and change nothing and ratio is 0 over nothing",
          "[operators]") {
  std::string in = Ev(1, 1000, "a", 1, 1) + Ev(2, 1100, "a", 1, 0) + Ev(3, 1089, "a", 1, 1) +
                   Ev(4, 1091, "a", 2, 1) + Ev(5, 1200, "a", 1, 0);
  const auto r = RunOnText(kYaml, in, TempDir("window"));
  REQUIRE(r.status.ok());
  REQUIRE(r.dead_letters.size() == 1);
  CHECK(r.dead_letters[0].reason == "late");
  CHECK(r.dead_letters[0].offset == 2);
  auto rows = Rows(r.outputs);
  CHECK(rows.count(3) == 0);
  CHECK(rows[4].c == 2);    // out of order but within lateness: (991, 1091] = 1000, 1091; not 1100
  CHECK(rows[1].r == 0);    // nothing in (850, 950]
  CHECK(rows[5].r == 0.5);  // (1050, 1150]: 1091 (y=1), 1100 (y=0)
  CHECK(rows[5].dc == 2);
}

//! An event of `kYaml` at epoch ms `t` (64-bit: real dates).
std::string EvAt(int id, int64_t t, const char* k, double v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"ID":%d,"T":%lld,"K":"%s","V":%.17g,"Y":0})", id,
                static_cast<long long>(t), k, v);
  return std::string(buf) + "\n";
}

TEST_CASE(
    "window: an event from a clock years ahead is dead-lettered future and the key's real events stay exact",
    "[operators]") {
  const int64_t t0 = 1522540800000;     // 2018-04-01T00:00:00Z
  const int64_t ahead = 4102444800000;  // 2100-01-01T00:00:00Z, far beyond the wall clock plus the default 1d
  std::string in = EvAt(1, t0 + 1000, "a", 10) + EvAt(2, t0 + 1050, "a", 20) + EvAt(3, ahead, "a", 1000) +
                   EvAt(4, t0 + 1100, "a", 30) + EvAt(5, t0 + 1150, "a", 40);
  const auto r = RunOnText(kYaml, in, TempDir("window"));
  REQUIRE(r.status.ok());
  REQUIRE(r.dead_letters.size() == 1);
  CHECK(r.dead_letters[0].reason == "future");
  CHECK(r.dead_letters[0].field == "T");
  CHECK(r.dead_letters[0].offset == 2);
  auto rows = Rows(r.outputs);
  REQUIRE(rows.size() == 4);
  CHECK(rows.count(3) == 0);
  CHECK(rows[2].c == 2);
  CHECK(rows[2].s == 30);
  CHECK(rows[4].c == 2);  // (t0+1000, t0+1100]: 1050, 1100; the event of 2100 is nowhere
  CHECK(rows[4].s == 50);
  CHECK(rows[5].c == 2);  // (t0+1050, t0+1150]: 1100, 1150
  CHECK(rows[5].s == 70);
  CHECK(rows[5].mn == 30);
  CHECK(rows[5].mx == 40);
}

TEST_CASE("window: max_future is measured from the partition's progress when it is ahead of the wall clock",
          "[operators]") {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  constexpr int64_t kHour = 3'600'000;
  std::string yaml = kYaml;
  const std::string at = "  event_time: T\n";
  yaml.insert(yaml.find(at) + at.size(), "  max_future: 1d\n");
  // 20 h ahead: within 1 d of the wall clock; 40 h: within 1 d of the 20 h one; 100 h: beyond both;
  // 50 h: within 1 d of the 40 h one (the rejected event moved nothing).
  std::string in = EvAt(1, now + 20 * kHour, "a", 1) + EvAt(2, now + 40 * kHour, "b", 1) +
                   EvAt(3, now + 100 * kHour, "c", 1) + EvAt(4, now + 50 * kHour, "a", 1);
  const auto r = RunOnText(yaml, in, TempDir("window"));
  REQUIRE(r.status.ok());
  REQUIRE(r.dead_letters.size() == 1);
  CHECK(r.dead_letters[0].reason == "future");
  CHECK(r.dead_letters[0].offset == 2);
  auto rows = Rows(r.outputs);
  CHECK(rows.size() == 3);
  CHECK(rows.count(3) == 0);
}

TEST_CASE("window: state survives a restart and resumes exactly", "[operators]") {
  std::string all;
  for (int i = 0; i < 2000; ++i) all += Ev(i, i * 7, i % 3 ? "x" : "y", i % 11, i % 2);
  const std::string dir = TempDir("window");
  const auto once = RunOnText(kYaml, all, TempDir("window"));
  const size_t cut = all.find('\n', all.size() / 2) + 1;
  const auto first = RunOnText(kYaml, all.substr(0, cut), dir);
  const auto second = RunOnText(kYaml, all, dir);  // the checkpoint skips the lines already done
  REQUIRE(first.status.ok());
  REQUIRE(second.status.ok());
  CHECK(first.outputs.size() + second.outputs.size() == 2000);
  std::vector<Captured> both = first.outputs;
  both.insert(both.end(), second.outputs.begin(), second.outputs.end());
  auto a = Rows(once.outputs), b = Rows(both);
  REQUIRE(a.size() == b.size());
  for (const auto& [id, row] : a) {
    INFO(id);
    CHECK(std::memcmp(&row, &b[id], sizeof row) == 0);
  }
}

TEST_CASE("window: a stored state of another layout is refused, never read as garbage", "[operators]") {
  std::string events;
  for (int i = 0; i < 20; ++i) events += Ev(i, i * 7, "x", i, 0);
  const std::string dir = TempDir("window");
  REQUIRE(RunOnText(kYaml, events.substr(0, events.find('\n') + 1), dir).status.ok());
  // The same window without its V outputs: one value per event fewer, under the same state name.
  std::string fewer = kYaml;
  for (const char* line : {"      - {name: S, agg: sum, field: V, window: 100}\n",
                           "      - {name: A, agg: avg, field: V, window: 100}\n",
                           "      - {name: MN, agg: min, field: V, window: 100}\n",
                           "      - {name: MX, agg: max, field: V, window: 100}\n"})
    fewer.erase(fewer.find(line), std::string(line).size());
  fewer.replace(fewer.find("[ID, C, S, A, MN, MX, DC, R]"), 28, "[ID, C, DC, R]");
  const auto r = RunOnText(fewer, events, dir);
  REQUIRE_FALSE(r.status.ok());
  CHECK_THAT(r.status.message(), Catch::Contains("the stored state has 3 values per event, this pipeline 2"));
}

std::string SpanYaml(const std::string& lateness, const std::string& window, const std::string& delay) {
  return "source: {kind: file, path: unused}\n"
         "schema: {event_time: T, fields: [{name: T, type: timestamp}, {name: K, type: int64}]}\n"
         "operators:\n"
         "  - {type: window, key: K, lateness: " +
         lateness + ", outputs: [{name: C, agg: count, window: " + window + ", delay: " + delay +
         "}]}\n"
         "output: {kind: none}\n";
}

// Found by fuzz_config (fuzz/): binding a window whose window + delay passed int64 overflowed.
TEST_CASE("window: lateness, window and delay beyond 2^53 ms are located config errors", "[operators]") {
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto bind = [&](const std::string& yaml) {
    auto spec = config::LoadPipelineText(yaml, "t.yaml");
    REQUIRE(spec.ok());
    return engine::Plan::Build(*spec, registry).status();
  };
  CHECK(bind(SpanYaml("1h", "7d", "1d")).ok());
  CHECK(bind(SpanYaml("104249991d", "104249991d", "104249991d")).ok());  // 2^53 ms is 104,249,991.4 days
  for (const auto& yaml : {SpanYaml("1h", "7d", "9223372036854775807"), SpanYaml("1h", "104249992d", "0"),
                           SpanYaml("9007199254740993", "7d", "0")}) {
    const base::Status st = bind(yaml);
    INFO(yaml);
    CHECK(st.message().rfind("t.yaml:", 0) == 0);
    CHECK(st.message().find("too long") != std::string::npos);
  }
}

}  // namespace
}  // namespace vigil::testing
