#include "monitor/label_window.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "base/time.h"

namespace vigil::monitor {
namespace {

constexpr int64_t kDay = base::kMsPerDay;
constexpr int32_t kDay0 = 17'622;  // 2018-04-01

std::unique_ptr<LabelWindow> MakeWindow(const LabelWindowOptions& options) {
  auto w = LabelWindow::Make(options);
  REQUIRE(w.ok());
  return std::move(w).value();
}

struct Row {
  int64_t id;
  int32_t day;  //!< Relative to kDay0.
  int64_t customer;
  double score;
  bool flagged;
  int label;  //!< -1: no label arrives.
};

//! Two days, hand-checked below. Card 1 is caught on day 0, so it is left out of day 1's ranking.
const std::vector<Row> kRows = {
    {1, 0, 1, 0.90, true, 1},   {2, 0, 2, 0.80, true, 0},  {3, 0, 3, 0.30, false, 1},
    {4, 0, 1, 0.20, false, 0},  {5, 1, 1, 0.95, true, 0},  {6, 1, 4, 0.60, true, 0},
    {7, 1, 5, 0.40, false, -1}, {8, 1, 3, 0.70, false, 1}, {9, 1, 6, 0.65, false, 1},
};

void Fill(LabelWindow& w) {
  for (const Row& r : kRows) {
    REQUIRE(w.Record(r.id, (kDay0 + r.day) * kDay + 3'600'000 * r.id, r.customer, r.score, r.flagged).ok());
  }
  for (const Row& r : kRows) {
    if (r.label >= 0) REQUIRE(w.SetLabel(r.id, r.label).ok());
  }
}

LabelWindowOptions SmallOptions() {
  LabelWindowOptions options;
  options.window_days = 2;
  options.label_delay_days = 1;
  options.review_threshold = 0.5;
  options.top_k = 2;
  return options;
}

TEST_CASE("LabelWindow: AP, precision at threshold and card precision@k on a hand-checked example",
          "[monitor][labels]") {
  auto w = MakeWindow(SmallOptions());
  Fill(*w);
  // Day 1 ends at day 2; with a one-day delay its labels are complete at day 3.
  w->AdvanceTo((kDay0 + 3) * kDay);
  auto m = w->Evaluate();
  REQUIRE(m.ok());
  CHECK(m->first_day == kDay0);
  CHECK(m->last_day == kDay0 + 1);
  CHECK(m->transactions == 9);
  CHECK(m->frauds == 4);
  CHECK(m->unlabelled == 1);
  // Ranked: .95(0) .9(1) .8(0) .7(1) .65(1) .6(0) .4(0) .3(1) .2(0): precision at each fraud
  // 1/2, 2/4, 3/5, 4/8.
  CHECK(m->average_precision == Approx((0.5 + 0.5 + 0.6 + 0.5) / 4));
  CHECK(m->reviewed == 6);
  CHECK(m->precision_at_threshold == Approx(3.0 / 6));
  CHECK(m->recall_at_threshold == Approx(3.0 / 4));
  CHECK(m->flagged == 4);
  CHECK(m->decision_precision == Approx(1.0 / 4));
  // Day 0 top 2: cards 1 (fraud) and 2 -> 0.5. Day 1 without card 1: cards 3 and 6, both fraud -> 1.
  CHECK(m->days == std::vector<int32_t>{kDay0, kDay0 + 1});
  CHECK(m->card_precision_per_day == std::vector<double>{0.5, 1.0});
  CHECK(m->card_precision_at_k == Approx(0.75));
}

TEST_CASE("LabelWindow: per-segment metrics on the records' segment keys, hand-checked",
          "[monitor][labels]") {
  auto w = MakeWindow(SmallOptions());
  // Segment 0: odd or even card; kRows' labels arrive as in Fill.
  for (const Row& r : kRows) {
    const SegmentKey key{static_cast<uint8_t>(r.customer % 2 == 1 ? 0 : 1)};
    REQUIRE(
        w->Record(r.id, (kDay0 + r.day) * kDay + 3'600'000 * r.id, r.customer, r.score, r.flagged, key).ok());
  }
  for (const Row& r : kRows)
    if (r.label >= 0) REQUIRE(w->SetLabel(r.id, r.label).ok());
  w->AdvanceTo((kDay0 + 3) * kDay);
  const std::vector<SegmentDimension> dims = {{"parity", {"odd", "even"}}};
  auto report = w->EvaluateSegments(dims, 0.7);
  REQUIRE(report.ok());
  CHECK(report->overall.precision == Approx(0.5));
  CHECK(report->overall.recall == Approx(0.75));
  REQUIRE(report->segments.size() == 2);
  // Odd cards: .95(0) .9(1) .7(1) .4(-) .3(1) .2(0); alerts .95 .9 .7.
  const models::SegmentMetrics& odd = report->segments[0];
  CHECK(odd.value == "odd");
  CHECK(odd.transactions == 6);
  CHECK(odd.precision == Approx(2.0 / 3));
  CHECK(odd.recall == Approx(2.0 / 3));
  CHECK(odd.average_precision == Approx((0.5 + 2.0 / 3 + 0.6) / 3));
  CHECK_FALSE(odd.underserved);
  // Even cards: .8(0) .65(1) .6(0): precision 1/3 < 0.7 x 0.5.
  const models::SegmentMetrics& even = report->segments[1];
  CHECK(even.precision == Approx(1.0 / 3));
  CHECK(even.recall == 1);
  CHECK(even.average_precision == Approx(0.5));
  CHECK(even.low_precision);
  CHECK_FALSE(even.low_recall);
  CHECK(report->underserved == 1);
  // A key value without a name is refused.
  CHECK_FALSE(w->EvaluateSegments(std::vector<SegmentDimension>{{"parity", {"odd"}}}, 0.7).ok());
}

TEST_CASE("LabelWindow evaluates matured days only", "[monitor][labels]") {
  auto w = MakeWindow(SmallOptions());
  Fill(*w);
  // At day 2 only day 0 has matured.
  w->AdvanceTo((kDay0 + 2) * kDay);
  auto m = w->Evaluate();
  REQUIRE(m.ok());
  CHECK(m->last_day == kDay0);
  CHECK(m->transactions == 4);
  CHECK(m->frauds == 2);
  CHECK(m->days == std::vector<int32_t>{kDay0});
  // Ranked .9(1) .8(0) .3(1) .2(0): (1 + 2/3) / 2.
  CHECK(m->average_precision == Approx((1 + 2.0 / 3) / 2));

  // Before anything matured: no rows, every metric NaN.
  auto early = MakeWindow(SmallOptions());
  REQUIRE(early->Record(1, kDay0 * kDay, 1, 0.5, false).ok());
  auto none = early->Evaluate();
  REQUIRE(none.ok());
  CHECK(none->transactions == 0);
  CHECK(std::isnan(none->average_precision));
  CHECK(std::isnan(none->precision_at_threshold));
  CHECK(std::isnan(none->card_precision_at_k));
}

TEST_CASE("LabelWindow can leave unlabelled records out", "[monitor][labels]") {
  LabelWindowOptions options = SmallOptions();
  options.unlabelled_are_genuine = false;
  auto w = MakeWindow(options);
  Fill(*w);
  w->AdvanceTo((kDay0 + 3) * kDay);
  auto m = w->Evaluate();
  REQUIRE(m.ok());
  CHECK(m->transactions == 8);
  CHECK(m->unlabelled == 1);
  CHECK(m->average_precision == Approx((0.5 + 0.5 + 0.6 + 4.0 / 7) / 4));
}

TEST_CASE("LabelWindow counts duplicates, unmatched and bad labels", "[monitor][labels]") {
  auto w = MakeWindow(SmallOptions());
  REQUIRE(w->Record(1, kDay0 * kDay, 1, 0.5, false).ok());
  REQUIRE(w->Record(1, kDay0 * kDay, 1, 0.9, false).ok());
  CHECK(w->duplicates() == 1);
  CHECK(w->retained_records() == 1);
  REQUIRE(w->SetLabel(99, 1).ok());
  CHECK(w->unmatched_labels() == 1);
  CHECK(w->SetLabel(1, 2).message() == "transaction 1: label 2 is neither 0 nor 1");
  CHECK(w->Record(2, kDay0 * kDay, 1, std::nan(""), false).message() == "transaction 2: NaN score");

  LabelWindowOptions options;
  options.window_days = 0;
  CHECK(LabelWindow::Make(options).status().message() == "window_days must be >= 1, got 0");
  options = {};
  options.top_k = 0;
  CHECK(!LabelWindow::Make(options).ok());
  options = {};
  options.label_delay_days = -1;
  CHECK(!LabelWindow::Make(options).ok());
}

TEST_CASE("LabelWindow memory is bounded: old days are dropped", "[monitor][labels]") {
  LabelWindowOptions options;
  options.window_days = 3;
  options.label_delay_days = 2;
  options.top_k = 10;
  auto w = MakeWindow(options);
  constexpr int kPerDay = 200;
  int64_t id = 0;
  for (int32_t day = 0; day < 30; ++day) {
    for (int i = 0; i < kPerDay; ++i, ++id) {
      REQUIRE(w->Record(id, (kDay0 + day) * kDay + i * 1000, id % 50, static_cast<double>(i % 10) / 10, false)
                  .ok());
      REQUIRE(w->SetLabel(id, i % 10 == 9 ? 1 : 0).ok());
    }
    // The evaluated window (3 days) plus the delay (2) plus today.
    CHECK(w->retained_days() <= 6);
    CHECK(w->retained_records() <= 6 * kPerDay);
  }
  CHECK(w->retained_days() == 6);
  CHECK(w->retained_records() == 6 * kPerDay);
  // Day 29 is today: days 24..26 are evaluated, 27..29 wait for labels.
  auto m = w->Evaluate();
  REQUIRE(m.ok());
  CHECK(m->first_day == kDay0 + 24);
  CHECK(m->last_day == kDay0 + 26);
  CHECK(m->transactions == 3 * kPerDay);
  CHECK(m->average_precision == Approx(1));         // every score 0.9 is a fraud, nothing else is
  CHECK(m->precision_at_threshold == Approx(0.2));  // scores >= 0.5: 0.5 .. 0.9
  // A record or a label for a dropped day is ignored.
  REQUIRE(w->Record(id, kDay0 * kDay, 1, 0.5, false).ok());
  CHECK(w->too_old() == 1);
  REQUIRE(w->SetLabel(0, 1).ok());
  CHECK(w->unmatched_labels() == 1);
  CHECK(w->retained_records() == 6 * kPerDay);
  // Time moving on drops the rest.
  w->AdvanceTo((kDay0 + 100) * kDay);
  CHECK(w->retained_days() == 0);
  CHECK(w->retained_records() == 0);
}

}  // namespace
}  // namespace vigil::monitor
