// ScoreMonitor's performance gauges under concurrent recording: the export thread evaluates the
// matured labels (outside the workers' mutex) while several workers record, and the gauges end up
// exactly what one label window fed every event computes.
#include "operators/score_monitor.h"

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "monitor/label_window.h"
#include "tests/support/process.h"

namespace vigil::operators {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kDay0 = 17'622LL * kDay;

//! `n` events over days 0..3 (days 0..2 matured by the last); distinct scores, every 7th a fraud
//! scored high more often than not.
std::vector<ScoredEvent> Events(int n) {
  std::vector<ScoredEvent> events;
  for (int i = 0; i < n; ++i) {
    ScoredEvent e;
    e.id = i + 1;
    e.time_ms = kDay0 + (4LL * kDay - 1) * i / n;
    e.card = i % 500;
    e.label = i % 7 == 0 ? 1 : 0;
    const double base = static_cast<double>((static_cast<int64_t>(i) * 7919) % n) / n;  // distinct
    e.score = static_cast<float>(e.label && i % 3 != 0 ? 0.5 + base / 2 : base / 2);
    e.flagged = e.score >= 0.5;
    events.push_back(e);
  }
  return events;
}

//! The value of gauge `name` (its only series), NaN when absent.
double Gauge(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect())
    if (family.name == name && !family.metric.empty()) return family.metric.front().gauge.value;
  return std::nan("");
}

TEST_CASE("score monitor: performance gauges unchanged by concurrent recording during exports") {
  config::MonitorSpec spec;
  spec.enabled = true;
  spec.performance = true;
  spec.window_days = 3;
  spec.top_k = 10;
  spec.every_ms = 1;  // exports run back to back while the workers record
  auto metrics = std::make_shared<prometheus::Registry>();
  auto monitor = ScoreMonitor::Make(spec, 0.5, testing::TempDir("vigil-monitor"), "test", metrics);
  REQUIRE(monitor.ok());
  models::ModelVersion model;
  model.version = "v1";

  const std::vector<ScoredEvent> events = Events(40'000);
  constexpr int kWorkers = 4;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::vector<ScoredEvent> batch;
      for (size_t i = static_cast<size_t>(w); i < events.size(); i += kWorkers) {
        batch.push_back(events[i]);
        if (batch.size() == 100 || i + kWorkers >= events.size()) {
          (*monitor)->AddOutcomes(model, batch);
          batch.clear();
        }
      }
    });
  }
  for (auto& t : workers) t.join();

  // What one window fed every event computes.
  monitor::LabelWindowOptions o;
  o.window_days = spec.window_days;
  o.label_delay_days = 0;
  o.review_threshold = 0.5;
  o.top_k = spec.top_k;
  auto reference = monitor::LabelWindow::Make(o);
  REQUIRE(reference.ok());
  for (const ScoredEvent& e : events) {
    REQUIRE((*reference)->Record(e.id, e.time_ms, e.card, e.score, e.flagged).ok());
    if (e.label) REQUIRE((*reference)->SetLabel(e.id, e.label).ok());
  }
  auto expected = (*reference)->Evaluate();
  REQUIRE(expected.ok());
  REQUIRE(expected->transactions > 29'000);  // days 0..2
  REQUIRE(!std::isnan(expected->average_precision));

  // Wait for an export that has seen every event (the gauges then stop changing); 60 s is a
  // deadlock guard only.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Gauge(*metrics, "vigil_label_average_precision") != expected->average_precision &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(Gauge(*metrics, "vigil_label_average_precision") == expected->average_precision);
  CHECK(Gauge(*metrics, "vigil_label_precision_at_threshold") == expected->precision_at_threshold);
  CHECK(Gauge(*metrics, "vigil_label_card_precision_at_k") == expected->card_precision_at_k);
  CHECK(Gauge(*metrics, "vigil_performance_drift_detected") == 0);
}

}  // namespace
}  // namespace vigil::operators
