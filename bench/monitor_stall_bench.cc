// How long a worker's record call waits while the performance monitor's exports and the rollout judge
// evaluate N matured records (default 200,000) on other threads, in one process.
//
//   build/release/bench/monitor_stall_bench [N] [SECONDS]   # release preset, target monitor_stall_bench
//
// Two phases of SECONDS (default 3) each. monitor: a ScoreMonitor (performance on, 7-day window)
// holds N matured records and is exported every 50 ms (lifecycle::PeriodicThread, as `vigil run`); a worker
// records batches of 100 newly matured events (ScoreMonitor::AddOutcomes, as the score operator does once per
// batch), one batch every 200 µs. judge: a RolloutJudge in shadow mode holds the same N records; a second
// thread calls Judge back to back while the worker records the same way (RolloutJudge::AddOutcomes). Printed
// per phase: the calls, and the wait of a record call (its wall time) as mean, p99 and max, in microseconds.
// The call itself costs a few µs; everything above that is time spent behind an export or a verdict.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "lifecycle/periodic.h"
#include "lifecycle/rollout_judge.h"
#include "operators/score_monitor.h"

namespace vigil::operators {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kDay = base::kMsPerDay;
constexpr int64_t kDay0 = 17'622LL * kDay;
constexpr size_t kBatch = 100;

//! `n` events spread over days 0..8 from id `first`; distinct scores, every 20th a fraud.
std::vector<ScoredEvent> Events(int64_t first, size_t n, int64_t from_ms, int64_t span_ms) {
  std::vector<ScoredEvent> events(n);
  for (size_t i = 0; i < n; ++i) {
    ScoredEvent& e = events[i];
    e.id = first + static_cast<int64_t>(i);
    e.time_ms = from_ms + span_ms * static_cast<int64_t>(i) / static_cast<int64_t>(n);
    e.card = e.id % 5000;
    e.label = e.id % 20 == 0 ? 1 : 0;
    e.score = static_cast<float>((e.id * 7919) % 1'000'003) / 1'000'003.0f;
    e.challenger = e.score;
    e.flagged = e.score >= 0.5f;
    e.epoch = 1;
  }
  return events;
}

struct Waits {
  size_t calls = 0;
  double mean_us = 0, p99_us = 0, max_us = 0;
};

//! Calls `record(batch)` with fresh batches for `seconds`, one every 200 µs, and times each call.
template <typename Record>
Waits Measure(int64_t first_id, double seconds, Record record) {
  std::vector<double> us;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  int64_t id = first_id;
  while (Clock::now() < end) {
    // Newly matured events at the end of the window: they join the evaluated days.
    const std::vector<ScoredEvent> batch = Events(id, kBatch, kDay0 + 8 * kDay - 1000, 1);
    id += static_cast<int64_t>(kBatch);
    const auto t0 = Clock::now();
    record(batch);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  Waits w;
  w.calls = us.size();
  if (us.empty()) return w;
  double sum = 0;
  for (double u : us) sum += u;
  w.mean_us = sum / static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  w.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  w.max_us = us.back();
  return w;
}

void Print(const char* phase, size_t n, const Waits& w) {
  std::printf("%-8s N=%zu  record calls %zu  wait mean %.1f us  p99 %.1f us  max %.1f us\n", phase, n,
              w.calls, w.mean_us, w.p99_us, w.max_us);
}

int Main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  spdlog::set_level(spdlog::level::err);
  const std::vector<ScoredEvent> preload = Events(1, n, kDay0, 8 * kDay);
  const int64_t next_id = static_cast<int64_t>(n) + 1;

  {
    config::MonitorSpec spec;
    spec.enabled = true;
    spec.performance = true;
    spec.window_days = 7;
    spec.every_ms = 50;
    const std::string registry = (std::filesystem::temp_directory_path() / "vigil-monitor-stall").string();
    std::filesystem::create_directories(registry);
    auto monitor = ScoreMonitor::Make(spec, 0.5, models::Registry(registry), "bench", nullptr);
    if (!monitor.ok()) return 1;
    models::ModelVersion model;
    model.version = "v1";
    for (size_t i = 0; i < preload.size(); i += 1000)
      (*monitor)->AddOutcomes(model,
                              std::span(preload).subspan(i, std::min<size_t>(1000, preload.size() - i)));
    lifecycle::PeriodicThread exporter(std::chrono::milliseconds(spec.every_ms), [&monitor] {
      (void)(*monitor)->Export(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the exports take the preload in
    Print("monitor", n, Measure(next_id, seconds, [&](const std::vector<ScoredEvent>& b) {
            (*monitor)->AddOutcomes(model, b);
          }));
  }
  {
    config::RolloutSpec spec;
    spec.enabled = true;
    spec.mode = "shadow";
    spec.days = 7;
    auto judge = lifecycle::RolloutJudge::Make(spec, 100, "bench", nullptr);
    if (!judge.ok()) return 1;
    (*judge)->Begin(1, "v2", "v1");
    (*judge)->AddOutcomes(preload);
    (void)(*judge)->Judge();
    std::atomic<bool> stop{false};
    size_t verdicts = 0;
    std::thread judging([&] {
      while (!stop) {
        (void)(*judge)->Judge();
        ++verdicts;
      }
    });
    const Waits w =
        Measure(next_id, seconds, [&](const std::vector<ScoredEvent>& b) { (*judge)->AddOutcomes(b); });
    stop = true;
    judging.join();
    Print("judge", n, w);
    std::printf("judge    verdicts computed meanwhile: %zu\n", verdicts);
  }
  return 0;
}

}  // namespace
}  // namespace vigil::operators

int main(int argc, char** argv) { return vigil::operators::Main(argc, argv); }
