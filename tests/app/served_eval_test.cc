// `vigil evaluate --served`: week-by-week AP and card precision@k of served scores on a table's
// labels, known compromised cards removed, rows without a score in every file left out.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDay0 = 1'522'540'800'000;  // 2018-04-01T00:00:00Z
constexpr int64_t kDayMs = 86'400'000;

int Evaluate(const std::string& dir, const std::vector<std::string>& extra, std::string* out) {
  std::vector<std::string> argv = {VigilBinary(), "evaluate", std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml",
                                   "--table", dir + "/table.csv"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Child child(argv, dir + "/out.log");
  const int rc = child.Wait(std::chrono::seconds(30));
  *out = ReadFile(dir + "/out.log");
  return rc;
}

TEST_CASE("evaluate --served scores each week on the same rows without known compromised cards", "[app]") {
  const std::string dir = TempDir("vigil-served");
  // id, day, card, label; scores of A (jsonl) and B (csv). Week 1 = days 0..6, week 2 = days 7..13.
  struct Row { int64_t id; int day; int64_t card; int label; double a, b; bool in_b; };
  const std::vector<Row> rows = {
      {1, 0, 1, 1, 0.9, 0.1, true}, {2, 0, 2, 0, 0.5, 0.6, true}, {3, 0, 3, 0, 0.4, 0.7, true},
      {4, 0, 4, 0, 0.3, 0.8, true},
      {5, 8, 1, 1, 0.9, 0.9, true},   // card 1: fraud on day 0, known from day 8: removed
      {6, 8, 5, 0, 0.2, 0.8, true}, {7, 8, 6, 1, 0.8, 0.3, true},
      {8, 9, 7, 0, 0.1, 0.0, false},  // no B score: left out of both
      {9, 14, 8, 0, 0.5, 0.5, true},  // day 14: an incomplete third week, not evaluated
  };
  std::ofstream table(dir + "/table.csv"), a(dir + "/a.jsonl"), b(dir + "/b.csv");
  table << "TRANSACTION_ID,TX_TIME_MS,CUSTOMER_ID,TX_AMOUNT,LABEL\n";
  b << "TRANSACTION_ID,SCORE\n";
  for (const Row& r : rows) {
    table << r.id << ',' << kDay0 + r.day * kDayMs + 3'600'000 << ',' << r.card << ",10.5," << r.label << '\n';
    a << "{\"TRANSACTION_ID\":" << r.id << ",\"SCORE\":" << r.a << ",\"MODEL_VERSION\":\"v1\"}\n";
    if (r.in_b) b << r.id << ',' << r.b << '\n';
  }
  table.close(), a.close(), b.close();

  std::string out;
  REQUIRE(Evaluate(dir, {"--served", "A=" + dir + "/a.jsonl", "--served", "B=" + dir + "/b.csv", "--k", "1",
                         "--last", "1", "--json"}, &out) == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out);
  simdjson::dom::array weeks = doc["weeks"];
  REQUIRE(weeks.size() == 2);
  simdjson::dom::element w1 = weeks.at(0), w2 = weeks.at(1);
  CHECK(std::string_view(w1["start"]) == "2018-04-01");
  CHECK(int64_t(w1["transactions"]) == 4);
  CHECK(double(w1["A"]["average_precision"]) == Approx(1.0));
  CHECK(double(w1["B"]["average_precision"]) == Approx(0.25));  // the fraud ranked last of 4
  CHECK(double(w1["A"]["card_precision_at_k"]) == Approx(1.0));
  CHECK(double(w1["B"]["card_precision_at_k"]) == Approx(0.0));
  CHECK(int64_t(w2["transactions"]) == 2);  // card 1 removed, row 8 unscored by B
  CHECK(int64_t(w2["frauds"]) == 1);
  CHECK(int64_t(w2["unscored"]) == 1);
  CHECK(double(w2["A"]["average_precision"]) == Approx(1.0));
  CHECK(double(w2["B"]["average_precision"]) == Approx(0.5));
  CHECK(int64_t(doc["last_weeks"]) == 1);
  CHECK(double(doc["mean"]["B"]["average_precision"]) == Approx(0.5));

  // The table form names both score sets; bad arguments are refused with a reason.
  REQUIRE(Evaluate(dir, {"--served", "A=" + dir + "/a.jsonl", "--served", "B=" + dir + "/b.csv"}, &out) == 0);
  CHECK_THAT(out, Catch::Contains("A AP") && Catch::Contains("B CP@100") && Catch::Contains("mean, last 2 weeks"));
  CHECK(Evaluate(dir, {"--served", dir + "/a.jsonl"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("expected NAME=FILE"));
  std::ofstream(dir + "/bad.jsonl") << "{\"TRANSACTION_ID\":1}\n";
  CHECK(Evaluate(dir, {"--served", "X=" + dir + "/bad.jsonl"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("bad.jsonl:1: expected a JSON object with TRANSACTION_ID and SCORE"));
}

}  // namespace
}  // namespace vigil::testing
