#include "monitor/drift.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace vigil::monitor {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

//! Deciles of 1..100: edges 10, 20, .., 90, a tenth of the values in each bin.
ReferenceHistogram Deciles() {
  std::vector<float> v;
  for (int i = 1; i <= 100; ++i) v.push_back(static_cast<float>(i));
  auto h = ReferenceHistogram::FromValues(v);
  REQUIRE(h.ok());
  return *h;
}

DriftWindow Window(const WindowOptions& options) {
  auto w = DriftWindow::Make(Deciles(), options);
  REQUIRE(w.ok());
  return std::move(w).value();
}

TEST_CASE("Psi of fractions: zero for equal ones, hand-computed for a shift, epsilon for empty bins", "[monitor][drift]") {
  const std::vector<double> half = {0.5, 0.5};
  CHECK(Psi(half, half) == 0);
  // (0.7 - 0.5) ln(0.7 / 0.5) + (0.3 - 0.5) ln(0.3 / 0.5)
  const std::vector<double> shifted = {0.7, 0.3};
  CHECK(Psi(shifted, half) == Approx(0.2 * std::log(1.4) + 0.2 * std::log(0.5 / 0.3)));
  CHECK(Psi(shifted, half) == Approx(0.16945957));
  // An empty live bin counts as 1e-4.
  const std::vector<double> all_left = {1, 0};
  CHECK(Psi(all_left, half) == Approx(0.5 * std::log(2.0) + (1e-4 - 0.5) * std::log(1e-4 / 0.5)));
  CHECK(Psi(all_left, half) == Approx(4.60432));
}

TEST_CASE("A window fed the reference's own values has PSI and KS zero", "[monitor][drift]") {
  DriftWindow w = Window({});
  CHECK(std::isnan(w.Psi()));
  CHECK(std::isnan(w.Ks()));
  for (int i = 1; i <= 100; ++i) w.Add(static_cast<float>(i));
  CHECK(w.events_in_window() == 100);
  CHECK(w.Psi() == Approx(0).margin(1e-12));
  CHECK(w.Ks() == Approx(0).margin(1e-12));
}

TEST_CASE("PSI and KS of a known shift equal the hand-computed values", "[monitor][drift]") {
  DriftWindow w = Window({});
  // Half the values in the lowest decile, half in the highest; none missing.
  for (int i = 0; i < 50; ++i) w.Add(5);
  for (int i = 0; i < 50; ++i) w.Add(95);
  std::vector<double> live;
  w.Fractions(live);
  REQUIRE(live.size() == 11);
  CHECK(live[0] == 0.5);
  CHECK(live[9] == 0.5);
  CHECK(live[10] == 0);
  // Two bins at 0.5 against 0.1; eight empty bins (1e-4) against 0.1; the missing bin 0 against 0.
  const double expected = 2 * (0.5 - 0.1) * std::log(5.0) + 8 * (1e-4 - 0.1) * std::log(1e-4 / 0.1);
  CHECK(w.Psi() == Approx(expected));
  CHECK(w.Psi() == Approx(6.808234).epsilon(1e-6));
  // Cumulative: 0.5 vs 0.1 after the first bin, 0.5 vs 0.9 after the ninth.
  CHECK(w.Ks() == Approx(0.4));

  // Missing values where the reference has none: that bin alone gives 1 * ln(1 / 1e-4) (live all
  // missing, every value bin 1e-4 against 0.1).
  DriftWindow missing = Window({});
  for (int i = 0; i < 10; ++i) missing.Add(kNaN);
  CHECK(missing.Psi() == Approx((1 - 1e-4) * std::log(1 / 1e-4) + 10 * (1e-4 - 0.1) * std::log(1e-4 / 0.1)));
  CHECK(missing.Ks() == Approx(1));
}

TEST_CASE("A count window keeps the last sub-windows of M events", "[monitor][drift]") {
  WindowOptions options;
  options.sub_windows = 2;
  options.events_per_sub_window = 3;
  DriftWindow w = Window(options);
  for (int i = 0; i < 6; ++i) w.Add(5);
  CHECK(w.events_in_window() == 6);
  // The seventh event starts a new sub-window, replacing the oldest three.
  w.Add(95);
  CHECK(w.events_in_window() == 4);
  std::vector<double> live;
  w.Fractions(live);
  CHECK(live[0] == 0.75);
  CHECK(live[9] == 0.25);
  for (int i = 0; i < 5; ++i) w.Add(95);
  CHECK(w.events_in_window() == 6);
  w.Fractions(live);
  CHECK(live[0] == 0);
  CHECK(live[9] == 1);
  w.AdvanceTo(1'000'000'000);  // no-op for count windows
  CHECK(w.events_in_window() == 6);
  CHECK(w.late_events() == 0);
}

TEST_CASE("A time window rolls with event time and drops late events", "[monitor][drift]") {
  WindowOptions options;
  options.kind = WindowKind::kEventTime;
  options.sub_windows = 3;
  options.sub_window_ms = 1000;
  DriftWindow w = Window(options);
  w.Add(5, 0);
  w.Add(5, 1500);
  w.Add(95, 2500);
  CHECK(w.events_in_window() == 3);
  w.Add(95, 3100);  // sub-window [3000, 4000): [0, 1000) falls out
  CHECK(w.events_in_window() == 3);
  std::vector<double> live;
  w.Fractions(live);
  CHECK(live[0] == Approx(1.0 / 3));
  CHECK(live[9] == Approx(2.0 / 3));
  w.Add(5, 500);  // older than the window
  CHECK(w.late_events() == 1);
  CHECK(w.events_in_window() == 3);
  w.Add(5, 2100);  // out of order, still inside
  CHECK(w.events_in_window() == 4);
  w.Fractions(live);
  CHECK(live[0] == Approx(0.5));
  w.AdvanceTo(5999);  // newest sub-window [5000, 6000): only [3000, 4000) remains of the events
  CHECK(w.events_in_window() == 1);
  w.AdvanceTo(4000);  // back in time: no-op
  CHECK(w.events_in_window() == 1);
  w.AdvanceTo(1'000'000);
  CHECK(w.events_in_window() == 0);
  CHECK(std::isnan(w.Psi()));
  w.Add(95, 1'000'100);
  w.Add(95, 999'999);  // the sub-window before the newest
  CHECK(w.events_in_window() == 2);
  w.Add(95, -5000);
  CHECK(w.late_events() == 2);
}

TEST_CASE("Window options out of range are refused", "[monitor][drift]") {
  WindowOptions options;
  options.sub_windows = 0;
  CHECK(DriftWindow::Make(Deciles(), options).status().message() == "sub_windows must be in [1, 1024], got 0");
  options = {};
  options.events_per_sub_window = 0;
  CHECK(!DriftWindow::Make(Deciles(), options).ok());
  options = {};
  options.kind = WindowKind::kEventTime;
  options.sub_window_ms = 0;
  CHECK(DriftWindow::Make(Deciles(), options).status().message() == "sub_window_ms must be >= 1, got 0");
}

//! Features "LOW" (reference 1..100) and "FLAG" (reference 0/1, half each), score 0..0.99.
ReferenceSet TwoFeatures() {
  std::vector<float> columns, scores;
  for (int i = 1; i <= 100; ++i) columns.push_back(static_cast<float>(i));
  for (int i = 0; i < 100; ++i) columns.push_back(static_cast<float>(i % 2));
  for (int i = 0; i < 100; ++i) scores.push_back(static_cast<float>(i) / 100);
  const std::vector<std::string> names = {"LOW", "FLAG"};
  auto set = ReferenceSet::Build(names, columns, 100, scores);
  REQUIRE(set.ok());
  return *set;
}

TEST_CASE("DriftMonitor reads row-major batches and snapshots PSI per feature and score", "[monitor][drift]") {
  auto monitor = DriftMonitor::Make(TwoFeatures(), {});
  REQUIRE(monitor.ok());
  DriftMonitor& m = **monitor;
  REQUIRE(m.num_features() == 2);
  // Row r: LOW = r + 1 (as the reference), FLAG = 1 always (shifted from half/half), score as the reference.
  std::vector<float> rows, scores;
  for (int r = 0; r < 100; ++r) {
    rows.push_back(static_cast<float>(r + 1));
    rows.push_back(1);
    scores.push_back(static_cast<float>(r) / 100);
  }
  REQUIRE(m.Observe(std::span<const float>(rows).first(100), std::span<const float>(scores).first(50)).ok());
  REQUIRE(m.Observe(std::span<const float>(rows).subspan(100), std::span<const float>(scores).subspan(50)).ok());
  const DriftSnapshot s = m.Snapshot(1'700'000'000'000);
  CHECK(s.features == std::vector<std::string>{"LOW", "FLAG"});
  CHECK(s.feature_psi[0] == Approx(0).margin(1e-12));
  // FLAG: bins (-inf, 0] and (0, inf) at 0.5 each; live 0 and 1.
  CHECK(s.feature_psi[1] == Approx((1e-4 - 0.5) * std::log(1e-4 / 0.5) + 0.5 * std::log(2.0)));
  CHECK(s.feature_ks[1] == Approx(0.5));
  CHECK(s.score_psi == Approx(0).margin(1e-12));
  CHECK(s.score_ks == Approx(0).margin(1e-12));
  CHECK(s.events_in_window == 100);
  CHECK(s.events_observed == 100);
  CHECK(s.evaluated_at_ms == 1'700'000'000'000);

  // Mismatched sizes: refused, nothing counted.
  CHECK(m.Observe(std::span<const float>(rows).first(3), std::span<const float>(scores).first(2)).message() ==
        "drift: 3 values for 2 rows of 2 features");
  CHECK(m.Snapshot(0).events_observed == 100);
}

TEST_CASE("DriftMonitor with time windows needs event times", "[monitor][drift]") {
  WindowOptions options;
  options.kind = WindowKind::kEventTime;
  options.sub_windows = 2;
  options.sub_window_ms = 1000;
  auto monitor = DriftMonitor::Make(TwoFeatures(), options);
  REQUIRE(monitor.ok());
  const std::vector<float> rows = {1, 0, 50, 1};
  const std::vector<float> scores = {0.1f, 0.9f};
  CHECK((*monitor)->Observe(rows, scores).message() == "drift: 0 event times for 2 rows");
  const std::vector<int64_t> times = {100, 1100};
  REQUIRE((*monitor)->Observe(rows, scores, times).ok());
  CHECK((*monitor)->Snapshot(0).events_in_window == 2);
  (*monitor)->AdvanceTo(2000);
  const DriftSnapshot s = (*monitor)->Snapshot(0);
  CHECK(s.events_in_window == 1);
  CHECK((*monitor)->feature_window(0).events_in_window() == 1);
  CHECK((*monitor)->score_window().events_in_window() == 1);
  (*monitor)->AdvanceTo(10'000);
  const DriftSnapshot empty = (*monitor)->Snapshot(0);
  CHECK(empty.events_in_window == 0);
  CHECK(std::isnan(empty.feature_psi[0]));
  CHECK(std::isnan(empty.score_psi));
}

}  // namespace
}  // namespace vigil::monitor
