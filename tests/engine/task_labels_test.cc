// The label join of a task: how long a batch waits for its label stream (labels.max_wait), ids
// compared as int64 (exact beyond 2^53), and a corrected label replacing the first from its time on.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <thread>

#include "config/pipeline_config.h"
#include "engine/plan.h"
#include "engine/task.h"
#include "operators/register.h"
#include "tests/support/one_task.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"
#include "tests/support/queue_reader.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
labels:
  source: {kind: file, path: unused}
  id: ID
  max_wait: 50ms
operators:
  - type: window
    key: K
    lateness: 1000
    outputs:
      - {name: C, agg: count, window: 1000}
      - {name: L, agg: sum, field: $label, window: 1000}
output: {kind: none, fields: [ID, C, L]}
)";

std::string Ev(int64_t id, int64_t t, const char* k) {
  return "{\"ID\":" + std::to_string(id) + ",\"T\":" + std::to_string(t) + ",\"K\":\"" + k + "\"}";
}

std::string Label(int64_t id, int fraud, int64_t t) {
  return "{\"ID\":" + std::to_string(id) + ",\"TX_FRAUD\":" + std::to_string(fraud) +
         ",\"LABEL_TIME_MS\":" + std::to_string(t) + "}";
}

//! The test pipeline and one task of it (partition 0), reading from two QueueReaders it owns.
struct LabelledTask : OneTask {
  explicit LabelledTask(const std::string& name) : OneTask(kYaml, name) {
    auto e = std::make_unique<QueueReader>();
    auto l = std::make_unique<QueueReader>();
    events = e.get();
    labels = l.get();
    task->SetReaders(std::move(e), std::move(l));
  }
  //! Runs the events pushed so far; returns their outputs' L (the window's sum of known labels).
  std::vector<double> Run() {
    std::vector<Captured> out, dead;
    CapturingSink output(&out), dead_letter(&dead);
    auto n = task->RunOnce(100, 0, &output, &dead_letter);
    REQUIRE(n.ok());
    REQUIRE(dead.empty());
    std::vector<double> sums;
    for (const Captured& c : out) {
      const size_t at = c.value.find("\"L\":");
      REQUIRE(at != std::string::npos);
      sums.push_back(std::strtod(c.value.c_str() + at + 4, nullptr));
    }
    return sums;
  }
  std::string Metrics() const { return engine::SerializeMetrics(*probe->registry()); }

  QueueReader* events = nullptr;
  QueueReader* labels = nullptr;
};

TEST_CASE("task labels: a stalled label stream holds a batch at most labels.max_wait, then it is scored",
          "[engine][labels]") {
  LabelledTask t("labels-stalled");
  t.labels->Push(Label(1, 1, 5));
  t.labels->set_stalled_lag(7);  // more labels exist than the client ever delivers
  t.events->Push(Ev(1, 1, "a"));
  t.events->Push(Ev(2, 100, "a"));
  const std::vector<double> sums = t.Run();
  // Scored with the labels known so far: id 1's label (time 5) is known at 100.
  REQUIRE(sums.size() == 2);
  CHECK(sums[1] == 1);
  // The wait asked of the label reader, in total, stays within the bound (a deadline, not per read).
  CHECK(t.labels->waited_ms() <= 50);
  CHECK(t.labels->waited_ms() > 0);
  const std::string metrics = t.Metrics();
  CHECK(metrics.find("vigil_label_wait_timeouts_total{pipeline=\"labels-stalled\"} 1") != std::string::npos);
  // The label stream's latest time is 5 ms, the batch reaches 100 ms.
  CHECK(MetricValue(metrics, "vigil_label_lag_seconds{partition=\"0\",pipeline=\"labels-stalled\"}") ==
        Approx(0.095));

  // Still stalled: every batch gives up again, and counts.
  t.events->Push(Ev(3, 200, "a"));
  REQUIRE(t.Run().size() == 1);
  CHECK(t.Metrics().find("vigil_label_wait_timeouts_total{pipeline=\"labels-stalled\"} 2") !=
        std::string::npos);
}

TEST_CASE("task labels: a label stream at its end is not waited for", "[engine][labels]") {
  LabelledTask t("labels-at-end");
  t.labels->Push(Label(1, 1, 5));
  t.events->Push(Ev(1, 1, "a"));
  t.events->Push(Ev(2, 100, "a"));
  REQUIRE(t.Run().size() == 2);
  CHECK(t.labels->waited_ms() == 0);
  CHECK(t.Metrics().find("vigil_label_wait_timeouts_total{pipeline=\"labels-at-end\"} 0") !=
        std::string::npos);
}

TEST_CASE("task labels: ids above 2^53 match exactly and never collide", "[engine][labels]") {
  constexpr int64_t kA = 9007199254740993;  // 2^53 + 1: as a double it would be 2^53
  constexpr int64_t kB = 9007199254740992;  // 2^53
  SECTION("the label of 2^53 + 1") {
    LabelledTask t("labels-big-a");
    t.labels->Push(Label(kA, 1, 5));
    t.events->Push(Ev(kA, 1, "a"));
    t.events->Push(Ev(kB, 2, "a"));
    t.events->Push(Ev(7, 10, "a"));
    const std::vector<double> sums = t.Run();
    REQUIRE(sums.size() == 3);
    CHECK(sums[2] == 1);
  }
  SECTION("the label of 2^53") {
    LabelledTask t("labels-big-b");
    t.labels->Push(Label(kB, 1, 5));
    t.events->Push(Ev(kA, 1, "a"));
    t.events->Push(Ev(kB, 2, "a"));
    t.events->Push(Ev(7, 10, "a"));
    const std::vector<double> sums = t.Run();
    REQUIRE(sums.size() == 3);
    CHECK(sums[2] == 1);
  }
}

TEST_CASE("task labels: a corrected label replaces the first from its own time on", "[engine][labels]") {
  SECTION("both values already read: each event sees the value known at its time") {
    LabelledTask t("labels-corrected");
    t.labels->Push(Label(1, 1, 10));  // fraud...
    t.labels->Push(Label(1, 0, 20));  // ...reversed (a dispute won)
    t.events->Push(Ev(1, 1, "a"));
    t.events->Push(Ev(2, 5, "a"));
    t.events->Push(Ev(3, 15, "a"));
    t.events->Push(Ev(4, 25, "a"));
    const std::vector<double> sums = t.Run();
    REQUIRE(sums.size() == 4);
    CHECK(sums[1] == 0);  // not known yet at 5
    CHECK(sums[2] == 1);  // the first value, known at 15
    CHECK(sums[3] == 0);  // the correction, known at 25
  }
  SECTION("the correction arrives after the window has read the first value") {
    LabelledTask t("labels-corrected-later");
    t.labels->Push(Label(1, 1, 10));
    t.events->Push(Ev(1, 1, "a"));
    t.events->Push(Ev(2, 15, "a"));
    std::vector<double> sums = t.Run();
    REQUIRE(sums.size() == 2);
    CHECK(sums[1] == 1);
    t.labels->Push(Label(1, 0, 20));
    t.events->Push(Ev(3, 25, "a"));
    sums = t.Run();
    REQUIRE(sums.size() == 1);
    CHECK(sums[0] == 0);
  }
}

TEST_CASE("label record: the value known at a time, corrections and late older values", "[engine][labels]") {
  engine::LabelRecord r;
  CHECK(std::isnan(r.At(100)));
  r.Add(1, 10);
  CHECK(std::isnan(r.At(9)));
  CHECK(r.At(10) == 1);
  r.Add(0, 20);
  CHECK(r.At(15) == 1);
  CHECK(r.At(20) == 0);
  r.Add(1, 15);  // older than the latest, newer than the one before: replaces that one
  CHECK(std::isnan(r.At(12)));
  CHECK(r.At(16) == 1);
  CHECK(r.At(25) == 0);
  r.Add(1, 20);  // the same time as the latest: the later record wins
  CHECK(r.At(25) == 1);
}

}  // namespace
}  // namespace vigil::testing
