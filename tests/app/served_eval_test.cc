// `vigil evaluate --served`: week-by-week AP and card precision@k of served scores on a table's
// labels, known compromised cards removed, rows without a score in every file left out.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "base/time.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDay0 = 1'522'540'800'000;  // 2018-04-01T00:00:00Z
constexpr int64_t kDayMs = base::kMsPerDay;

int Evaluate(const std::string& dir, const std::vector<std::string>& extra, std::string* out) {
  std::vector<std::string> argv = {VigilBinary(), "evaluate",
                                   std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml",
                                   "--table", dir + "/table.csv"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Child child(argv, dir + "/out.log");
  const int rc = child.Wait(std::chrono::seconds(30));
  *out = ReadFile(dir + "/out.log");
  return rc;
}

//! The first line of `text` that starts with `prefix`; empty if none.
std::string Line(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(prefix, 0) == 0) return line;
  return "";
}

TEST_CASE("evaluate --served scores each week on the same rows without known compromised cards", "[app]") {
  const std::string dir = TempDir("vigil-served");
  // id, day, card, label; scores of A (jsonl) and B (csv). Week 1 = days 0..6, week 2 = days 7..13.
  struct Row {
    int64_t id;
    int day;
    int64_t card;
    int label;
    double a, b;
    bool in_b;
  };
  const std::vector<Row> rows = {
      {1, 0, 1, 1, 0.9, 0.1, true},  {2, 0, 2, 0, 0.5, 0.6, true},
      {3, 0, 3, 0, 0.4, 0.7, true},  {4, 0, 4, 0, 0.3, 0.8, true},
      {5, 8, 1, 1, 0.9, 0.9, true},  // card 1: fraud on day 0, known from day 8: removed
      {6, 8, 5, 0, 0.2, 0.8, true},  {7, 8, 6, 1, 0.8, 0.3, true},
      {8, 9, 7, 0, 0.1, 0.0, false},  // no B score: left out of both
      {9, 14, 8, 0, 0.5, 0.5, true},  // day 14: an incomplete third week, not evaluated
  };
  std::ofstream table(dir + "/table.csv"), a(dir + "/a.jsonl"), b(dir + "/b.csv");
  table << "TRANSACTION_ID,TX_TIME_MS,CUSTOMER_ID,TX_AMOUNT,LABEL\n";
  b << "TRANSACTION_ID,SCORE\n";
  for (const Row& r : rows) {
    table << r.id << ',' << kDay0 + r.day * kDayMs + 3'600'000 << ',' << r.card << ",10.5," << r.label
          << '\n';
    a << "{\"TRANSACTION_ID\":" << r.id << ",\"SCORE\":" << r.a << ",\"MODEL_VERSION\":\"v1\"}\n";
    if (r.in_b) b << r.id << ',' << r.b << '\n';
  }
  table.close(), a.close(), b.close();

  std::string out;
  REQUIRE(Evaluate(dir,
                   {"--served", "A=" + dir + "/a.jsonl", "--served", "B=" + dir + "/b.csv", "--k", "1",
                    "--last", "1", "--json"},
                   &out) == 0);
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
  CHECK_THAT(out,
             Catch::Contains("A AP") && Catch::Contains("B CP@100") && Catch::Contains("mean, last 2 weeks"));
  CHECK(Evaluate(dir, {"--served", dir + "/a.jsonl"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("expected NAME=FILE"));
  std::ofstream(dir + "/bad.jsonl") << "{\"TRANSACTION_ID\":1}\n";
  CHECK(Evaluate(dir, {"--served", "X=" + dir + "/bad.jsonl"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("bad.jsonl:1: expected a JSON object with TRANSACTION_ID and SCORE"));
}

TEST_CASE(
    "evaluate --served: business KPIs and segments side by side, a planted under-served channel flagged",
    "[app]") {
  const std::string dir = TempDir("vigil-served-kpi");
  // One week. Frauds: 1 (100), 2 (50), 6 (200). A scores web's frauds low and a web genuine high; B
  // scores every fraud high.
  struct Row {
    int64_t id;
    int day;
    std::string channel;
    double amount;
    int label;
    double a, b;
  };
  const std::vector<Row> rows = {
      {1, 0, "pos", 100, 1, 0.9, 0.9}, {2, 0, "web", 50, 1, 0.2, 0.8},  {3, 0, "pos", 10, 0, 0.1, 0.1},
      {4, 1, "web", 30, 0, 0.7, 0.3},  {5, 1, "pos", 20, 0, 0.6, 0.2},  {6, 2, "web", 200, 1, 0.3, 0.95},
      {7, 3, "pos", 40, 0, 0.05, 0.6}, {8, 6, "pos", 5, 0, 0.15, 0.05},
  };
  std::ofstream table(dir + "/table.csv"), a(dir + "/a.jsonl"), b(dir + "/b.csv");
  table << "TRANSACTION_ID,TX_TIME_MS,CUSTOMER_ID,TX_AMOUNT,CHANNEL,LABEL\n";
  b << "TRANSACTION_ID,SCORE\n";
  for (const Row& r : rows) {
    // CHANNEL is JSON-quoted, as vigil replay writes a string field; every card is a new one.
    table << r.id << ',' << kDay0 + r.day * kDayMs + 3'600'000 << ',' << r.id << ',' << r.amount << ",\""
          << r.channel << "\"," << r.label << '\n';
    a << "{\"TRANSACTION_ID\":" << r.id << ",\"SCORE\":" << r.a << "}\n";
    b << r.id << ',' << r.b << '\n';
  }
  table.close(), a.close(), b.close();
  const std::vector<std::string> served = {
      "--served", "A=" + dir + "/a.jsonl", "--served", "B=" + dir + "/b.csv", "--segment",
      "CHANNEL",  "--review-cost",         "1",        "--alert-budget",      "0.5"};

  std::string out;
  std::vector<std::string> args = served;
  args.push_back("--json");
  REQUIRE(Evaluate(dir, args, &out) == 0);
  INFO(out);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out);
  simdjson::dom::element ka = doc["business"]["A"]["kpis"], kb = doc["business"]["B"]["kpis"];
  CHECK(int64_t(ka["days"]) == 7);
  CHECK(double(ka["fraud_amount"]) == 350);
  // A at 0.5 (the default: handbook.yaml has no score operator): alerts 1, 4, 5; 100 of 350 caught.
  CHECK(int64_t(ka["at_threshold"]["alerts"]) == 3);
  CHECK(double(ka["at_threshold"]["alerts_per_day"]) == Approx(3.0 / 7));
  CHECK(double(ka["at_threshold"]["precision"]) == Approx(1.0 / 3));
  CHECK(double(ka["at_threshold"]["recall"]) == Approx(1.0 / 3));
  CHECK(double(ka["at_threshold"]["fraud_amount_caught"]) == 100);
  CHECK(double(ka["at_threshold"]["amount_recall"]) == Approx(100.0 / 350));
  CHECK(double(ka["at_threshold"]["cost"]) == 3 + 250);
  // A's costs down its scores: .9 251, .7 252, .6 253, .3 54, .2 5, .15 6, .1 7, .05 8.
  CHECK(double(ka["min_cost"]["threshold"]) == 0.2);
  CHECK(double(ka["min_cost"]["cost"]) == 5);
  // Budget 0.5 cards a day = 3 cards in the week: A down to 0.6, B down to 0.8.
  CHECK(double(ka["budget"]["threshold"]) == 0.6);
  CHECK(int64_t(ka["budget"]["alerted_cards"]) == 3);
  CHECK(double(kb["budget"]["threshold"]) == 0.8);
  CHECK(double(kb["budget"]["precision"]) == 1);
  CHECK(double(kb["budget"]["recall"]) == 1);
  CHECK(double(kb["at_threshold"]["cost"]) == 4);  // four reviews, nothing missed
  CHECK(double(kb["min_cost"]["threshold"]) == 0.8);
  CHECK(double(kb["min_cost"]["cost"]) == 3);
  // Segments: A's web channel (precision 0, recall 0) and 20-100 band are under-served; B has none.
  simdjson::dom::element sa = doc["business"]["A"]["segments"], sb = doc["business"]["B"]["segments"];
  CHECK(int64_t(sa["underserved"]) == 2);
  CHECK(int64_t(sb["underserved"]) == 0);
  std::vector<std::string> flagged;
  for (simdjson::dom::element seg : simdjson::dom::array(sa["segments"])) {
    if (bool(seg["underserved"])) flagged.push_back(std::string(std::string_view(seg["value"])));
    if (std::string_view(seg["value"]) == "pos") {
      CHECK(double(seg["precision"]) == 0.5);
      CHECK(double(seg["recall"]) == 1);
    }
    if (std::string_view(seg["value"]) == "established") CHECK(int64_t(seg["transactions"]) == 0);
  }
  CHECK(flagged == std::vector<std::string>{"20-100", "web"});

  // The tables: both sets side by side, the flagged lines marked, the count.
  REQUIRE(Evaluate(dir, served, &out) == 0);
  CHECK_THAT(out, Catch::Contains("business KPIs over the last week") &&
                      Catch::Contains("at the cost-minimising threshold") &&
                      Catch::Contains("at the alert budget of 0.5 cards a day") &&
                      Catch::Contains("under-served segments: A 2, B 0"));
  CHECK_THAT(Line(out, "  cost "), Catch::Matches("  cost +253\\.00 +4\\.00"));  // at the threshold
  CHECK_THAT(Line(out, "CHANNEL         web     "),
             Catch::EndsWith("<- under-served (A precision, A recall)"));
  CHECK_THAT(Line(out, "CHANNEL         pos     "), Catch::EndsWith("1.000"));  // not marked

  // A column with too many values for a segment is refused, naming the count.
  CHECK(
      Evaluate(dir,
               {"--served", "A=" + dir + "/a.jsonl", "--segment", "CUSTOMER_ID", "--max-segment-values", "5"},
               &out) == 2);
  CHECK_THAT(out, Catch::Contains("--segment CUSTOMER_ID: 8 distinct values, more than 5"));
  CHECK(Evaluate(dir, {"--served", "A=" + dir + "/a.jsonl", "--amount-column", "AMOUNT"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("no amount column 'AMOUNT' for the business report (--amount-column"));
}

}  // namespace
}  // namespace vigil::testing
