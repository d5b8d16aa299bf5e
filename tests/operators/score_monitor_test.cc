// ScoreMonitor's performance gauges under concurrent recording: an export thread (as the model
// lifecycle runs one) evaluates the matured labels (outside the workers' mutex) while several workers
// record, and the gauges end up exactly what one label window fed every event computes.
#include "operators/score_monitor.h"

#include <prometheus/registry.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "base/time.h"
#include "monitor/label_window.h"
#include "monitor/reference.h"
#include "tests/support/process.h"

namespace vigil::operators {
namespace {

constexpr int64_t kDay = base::kMsPerDay;
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
  auto metrics = std::make_shared<prometheus::Registry>();
  auto monitor =
      ScoreMonitor::Make(spec, 0.5, models::Registry(testing::TempDir("vigil-monitor")), "test", metrics);
  REQUIRE(monitor.ok());
  models::ModelVersion model;
  model.version = "v1";

  const std::vector<ScoredEvent> events = Events(40'000);
  constexpr int kWorkers = 4;
  std::atomic<bool> exporting{true};
  std::thread exporter([&] {  // exports back to back while the workers record
    while (exporting) (*monitor)->Export(0);
  });
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
  exporting = false;
  exporter.join();
  CHECK(Gauge(*metrics, "vigil_label_average_precision") == expected->average_precision);
  CHECK(Gauge(*metrics, "vigil_label_precision_at_threshold") == expected->precision_at_threshold);
  CHECK(Gauge(*metrics, "vigil_label_card_precision_at_k") == expected->card_precision_at_k);
  CHECK(Gauge(*metrics, "vigil_performance_drift_detected") == 0);
}

//! The value of gauge `name` for the series with `segment` and `value`; NaN when absent.
double SegmentGauge(prometheus::Registry& registry, const std::string& name, const std::string& segment,
                    const std::string& value) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      int matched = 0;
      for (const auto& label : metric.label)
        matched += (label.name == "segment" && label.value == segment) ||
                   (label.name == "value" && label.value == value);
      if (matched == 2) return metric.gauge.value;
    }
  }
  return std::nan("");
}

//! Series of gauge `name`.
size_t Series(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect())
    if (family.name == name) return family.metric.size();
  return 0;
}

TEST_CASE("score monitor: per-segment gauges flag the planted under-served channel, values capped") {
  config::MonitorSpec spec;
  spec.enabled = true;
  spec.performance = true;
  spec.window_days = 3;
  spec.segments.enabled = true;
  spec.segments.card_age_days = 2;
  spec.segments.amount_bands = {100};
  spec.segments.columns = {"CHANNEL"};
  spec.segments.max_values = 2;  // pos and web; atm is pooled as `other`
  spec.segments.underserved_ratio = 0.5;
  auto metrics = std::make_shared<prometheus::Registry>();
  auto monitor =
      ScoreMonitor::Make(spec, 0.5, models::Registry(testing::TempDir("vigil-monitor")), "test", metrics);
  REQUIRE(monitor.ok());
  models::ModelVersion model;
  model.version = "v1";
  // id, day, card, score, label, amount, channel. Web's frauds are scored low, a genuine one high.
  struct E {
    int64_t id;
    int day;
    int64_t card;
    float score;
    int label;
    double amount;
    std::string channel;
  };
  const std::vector<E> rows = {
      {1, 0, 1, 0.9f, 1, 50, "pos"},   {2, 0, 2, 0.8f, 0, 150, "web"}, {3, 0, 3, 0.2f, 1, 150, "web"},
      {4, 0, 4, 0.4f, 0, 20, "atm"},   {5, 1, 1, 0.1f, 0, 50, "pos"},  {6, 1, 5, 0.7f, 1, 500, "pos"},
      {7, 1, 3, 0.3f, 1, 40, "web"},   {8, 2, 1, 0.95f, 1, 60, "pos"}, {9, 2, 2, 0.85f, 0, 200, "web"},
      {10, 2, 6, 0.05f, 0, 10, "pos"}, {11, 3, 7, 0.5f, 0, 10, "pos"},  // day 3 only moves time on
  };
  std::vector<ScoredEvent> events;
  std::vector<std::string> channels;
  for (const E& r : rows) {
    ScoredEvent e;
    e.id = r.id;
    e.time_ms = kDay0 + r.day * kDay + r.id * 3'600'000;
    e.card = r.card;
    e.score = r.score;
    e.flagged = r.score >= 0.5f;
    e.label = r.label;
    e.amount = r.amount;
    events.push_back(e);
    channels.push_back(r.channel);
  }
  (*monitor)->IdentifySegmentValues(events, channels);
  CHECK(events[3].segment_values[0] == 2);  // `other`
  (*monitor)->AddOutcomes(model, events);
  CHECK((*monitor)->Export(0).empty());  // no drift signal without drift_signal_psi
  const auto gauge = [&](const char* name, const char* segment, const char* value) {
    return SegmentGauge(*metrics, std::string("vigil_label_segment_") + name, segment, value);
  };
  // Overall, days 0..2: alerts 1, 2, 6, 8, 9; frauds 1, 3, 6, 7, 8.
  CHECK(Gauge(*metrics, "vigil_label_precision_at_threshold") == Approx(0.6));
  CHECK(Gauge(*metrics, "vigil_label_recall_at_threshold") == Approx(0.6));
  CHECK(gauge("precision_at_threshold", "CHANNEL", "pos") == 1);
  CHECK(gauge("recall_at_threshold", "CHANNEL", "pos") == 1);
  CHECK(gauge("average_precision", "CHANNEL", "pos") == 1);
  CHECK(gauge("underserved", "CHANNEL", "pos") == 0);
  CHECK(gauge("precision_at_threshold", "CHANNEL", "web") == 0);
  CHECK(gauge("recall_at_threshold", "CHANNEL", "web") == 0);
  CHECK(gauge("underserved", "CHANNEL", "web") == 1);
  CHECK(std::isnan(gauge("precision_at_threshold", "CHANNEL", "other")));  // no alert there
  CHECK(gauge("underserved", "CHANNEL", "other") == 0);
  // Cards 1 and 2 are two days old on day 2: established; the others new.
  CHECK(gauge("precision_at_threshold", "card_age", "new") == Approx(2.0 / 3));
  CHECK(gauge("recall_at_threshold", "card_age", "new") == Approx(0.5));
  CHECK(gauge("precision_at_threshold", "card_age", "established") == Approx(0.5));
  CHECK(gauge("recall_at_threshold", "card_age", "established") == 1);
  CHECK(gauge("precision_at_threshold", "amount", "<100") == 1);
  CHECK(gauge("recall_at_threshold", "amount", "<100") == Approx(2.0 / 3));
  CHECK(gauge("precision_at_threshold", "amount", ">=100") == Approx(1.0 / 3));
  CHECK(gauge("underserved", "amount", ">=100") == 0);
  // Bounded: card age 2 + amount 2 + channel 2 and `other`.
  CHECK(Series(*metrics, "vigil_label_segment_underserved") == 7);
}

TEST_CASE("score monitor: a drift signal carries the event time its PSI crossed, however late Export runs") {
  // v1's reference: feature A and the score uniform over [0, 1).
  const std::string dir = testing::TempDir("vigil-monitor-signal");
  std::vector<float> uniform;
  for (int i = 0; i < 1000; ++i) uniform.push_back(static_cast<float>(i) / 1000);
  const std::vector<std::string> names{"A"};
  auto reference = monitor::ReferenceSet::Build(names, uniform, uniform.size(), uniform);
  REQUIRE(reference.ok());
  std::filesystem::create_directories(dir + "/v1");
  std::ofstream(dir + "/v1/metadata.json")
      << "{\"features\": [\"A\"], \"reference\": " << reference->ToJson() << "}";

  config::MonitorSpec spec;
  spec.enabled = true;
  spec.events = 100;
  spec.sub_windows = 4;
  auto monitor =
      ScoreMonitor::Make(spec, 0.5, models::Registry(dir), "test", nullptr, /*drift_signal_psi=*/0.25);
  REQUIRE(monitor.ok());
  models::ModelVersion model;
  model.version = "v1";
  // Event i at kDay0 + i minutes; from event 2000 on, A is far above the reference (the drift). 4000
  // events in batches of 50, and no Export until the end, as when a replay outruns the export timer.
  constexpr int kDriftAt = 2000, kEvents = 4000;
  const auto time_of = [](int i) { return kDay0 + int64_t{i} * base::kMsPerMinute; };
  for (int first = 0; first < kEvents; first += 50) {
    std::vector<float> rows, scores;
    std::vector<int64_t> times;
    for (int i = first; i < first + 50; ++i) {
      rows.push_back(i < kDriftAt ? uniform[static_cast<size_t>(i * 7 % 1000)] : 5.0F);
      scores.push_back(uniform[static_cast<size_t>(i * 7 % 1000)]);
      times.push_back(time_of(i));
    }
    (*monitor)->Observe(model, rows, scores, times);
  }
  const auto signals = (*monitor)->Export(1234);
  REQUIRE(signals.size() == 1);
  CHECK(signals[0].time_ms == 1234);
  CHECK(signals[0].version == "v1");
  CHECK_THAT(signals[0].reason, Catch::StartsWith("A PSI "));
  // The crossing: within the two sub-windows after the drift began, not the newest event's time.
  INFO("signal event time: minute " << (signals[0].event_time_ms - kDay0) / base::kMsPerMinute);
  CHECK(signals[0].event_time_ms > time_of(kDriftAt));
  CHECK(signals[0].event_time_ms <= time_of(kDriftAt + 200));
  // Latched: no second signal while A stays over.
  CHECK((*monitor)->Export(1235).empty());
}

}  // namespace
}  // namespace vigil::operators
