// vigil_decision_latency_seconds: each event's time from its record's timestamp to its output
// handed to the sink; records without a timestamp (files) are not counted.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "engine/engine_probe.h"
#include "engine/task.h"
#include "tests/support/count_window.h"
#include "tests/support/one_task.h"
#include "tests/support/pipeline_harness.h"

namespace vigil::testing {
namespace {

//! Serves its lines once, each stamped with the timestamp given with it (-1: none).
class StampedReader final : public engine::PartitionReader {
 public:
  void Push(std::string line, int64_t timestamp_ms) { lines_.push_back({std::move(line), timestamp_ms}); }
  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    for (; next_ < lines_.size() && out->size() < max_events; ++next_) {
      engine::RawEvent e{lines_[next_].first.data(), static_cast<uint32_t>(lines_[next_].first.size()),
                         nullptr, 0, static_cast<int64_t>(next_)};
      e.timestamp_ms = lines_[next_].second;
      out->push_back(e);
    }
    return base::Status::OK();
  }
  int64_t Lag() const override { return static_cast<int64_t>(lines_.size() - next_); }

 private:
  std::vector<std::pair<std::string, int64_t>> lines_;
  size_t next_ = 0;
};

TEST_CASE("task latency: each event's time from its record's timestamp to its output is observed",
          "[engine]") {
  OneTask t(CountWindowYaml("{workers: 1}"), "latency");
  auto owned = std::make_unique<StampedReader>();
  StampedReader* reader = owned.get();
  t.task->SetReaders(std::move(owned), nullptr);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  reader->Push(R"({"ID":1,"T":1,"K":"a"})", now_ms - 60'000);  // produced a minute ago
  reader->Push(R"({"ID":2,"T":2,"K":"a"})", now_ms - 60'000);
  reader->Push(R"({"ID":3,"T":3,"K":"b"})", now_ms - 500);  // half a second ago
  std::vector<Captured> out, dead;
  CapturingSink output(&out), dead_letter(&dead);
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).value() == 3);
  REQUIRE(out.size() == 3);
  std::string m = engine::SerializeMetrics(*t.probe->registry());
  CHECK(MetricValue(m, "vigil_decision_latency_seconds_count{pipeline=\"latency\"}") == 3);
  // 60 + 60 + 0.5 s, plus the time the batch took (and this test's own steps).
  const double sum = MetricValue(m, "vigil_decision_latency_seconds_sum{pipeline=\"latency\"}");
  CHECK(sum >= 120.5);
  CHECK(sum < 120.5 + 3 * 60);
  // The newer one within 8 s, the two older ones beyond the last bound (11.3 s).
  CHECK(MetricValue(m, "vigil_decision_latency_seconds_bucket{pipeline=\"latency\",le=\"8\"}") == 1);
  CHECK(MetricValue(
            m, "vigil_decision_latency_seconds_bucket{pipeline=\"latency\",le=\"11.31370849898476\"}") == 1);
  CHECK(MetricValue(m, "vigil_decision_latency_seconds_bucket{pipeline=\"latency\",le=\"+Inf\"}") == 3);

  // A record without a timestamp (a file's line) is not counted.
  reader->Push(R"({"ID":4,"T":4,"K":"a"})", -1);
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).value() == 1);
  m = engine::SerializeMetrics(*t.probe->registry());
  CHECK(MetricValue(m, "vigil_decision_latency_seconds_count{pipeline=\"latency\"}") == 3);
}

}  // namespace
}  // namespace vigil::testing
