#include "lifecycle/rollout_judge.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "base/time.h"
#include "operators/serving.h"

namespace vigil::lifecycle {
namespace {

using operators::InCanary;
using operators::ScoredEvent;

constexpr int64_t kDay = base::kMsPerDay;
constexpr int64_t kDay0 = 17'622LL * kDay;  // 2018-04-01, the day the rollout starts

std::unique_ptr<RolloutJudge> MakeJudge(const std::string& mode, int days, double margin,
                                        int64_t min_frauds = 30) {
  config::RolloutSpec spec;
  spec.enabled = true;
  spec.mode = mode;
  spec.days = days;
  spec.margin = margin;
  spec.min_frauds = min_frauds;
  spec.canary_percent = 50;
  auto judge = RolloutJudge::Make(spec, 100, "test", nullptr);
  REQUIRE(judge.ok());
  return std::move(judge).value();
}

//! `per_day` events on each of days [first, last] (relative to kDay0), card = id; every 10th is a
//! fraud. The champion ranks frauds with `champion_good` and the candidate with `candidate_good`:
//! a "good" model scores the frauds 0.9 and the rest 0.1..0.5, a bad one scores everything by id.
std::vector<ScoredEvent> Events(uint32_t epoch, int first, int last, int per_day, bool champion_good,
                                bool candidate_good, bool canary = false) {
  std::vector<ScoredEvent> events;
  int64_t id = 1000 * first;
  for (int day = first; day <= last; ++day) {
    for (int i = 0; i < per_day; ++i, ++id) {
      const int label = id % 10 == 0 ? 1 : 0;
      auto score = [&](bool good) {
        return static_cast<float>(good ? (label ? 0.9 : 0.1 + 0.004 * static_cast<double>(i % 100))
                                       : static_cast<double>(id % 97) / 97.0);
      };
      ScoredEvent e;
      e.id = id;
      e.time_ms = kDay0 + day * kDay + i * 1000;
      e.card = id;
      e.label = label;
      e.epoch = epoch;
      e.canary = canary && InCanary(id, 50);
      e.score = score(e.canary ? candidate_good : champion_good);
      e.challenger = score(candidate_good);
      if (e.canary) e.champion = score(champion_good);  // the champion's shadow score
      e.flagged = e.score >= 0.5;
      events.push_back(e);
    }
  }
  return events;
}

TEST_CASE(
    "RolloutJudge waits for the configured matured days then promotes a clearly better shadow candidate") {
  auto judge = MakeJudge("shadow", 3, 0.05);
  judge->Begin(1, "v2", "v1");
  // Day 0 is the start day (not counted); days 1..3 must be complete, so the verdict needs day 4.
  judge->AddOutcomes(Events(1, 0, 3, 200, false, true));
  RolloutVerdict v = judge->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kWait);
  CHECK(v.candidate == Approx(1.0));  // the metric so far is reported while waiting
  CHECK(std::isnan(v.low));
  CHECK_THAT(v.detail, Catch::Contains("waiting: 2 of 3 days matured"));
  judge->AddOutcomes(Events(1, 4, 4, 10, false, true));
  v = judge->Judge();
  REQUIRE(v.kind == RolloutVerdict::Kind::kPromote);
  CHECK(v.candidate == Approx(1.0));
  CHECK(v.champion < 0.5);
  CHECK(v.events == 600);  // days 1..3, each event with both scores
  CHECK(v.frauds == 60);
  CHECK(v.cards == 600);
  CHECK(v.resamples == 1000);
  // The evidence: the whole interval is above the margin.
  CHECK(v.low > 0.05);
  CHECK(v.low <= v.difference);
  CHECK(v.difference <= v.high);
  CHECK(v.difference == Approx(v.candidate - v.champion));
  CHECK_THAT(v.detail, Catch::Contains("average_precision 1.0000 (v2) vs champion") &&
                           Catch::Contains("95% CI [") && Catch::Contains("1000 resamples of 600 cards") &&
                           Catch::Contains("lower bound above margin 0.05") && Catch::Contains("shadow"));
  const auto figures = v.Figures();
  CHECK(figures.at("ci_low") == v.low);
  CHECK(figures.at("ci_high") == v.high);
  CHECK(figures.at("frauds") == 60);
  CHECK(figures.at("confidence") == 0.95);
}

TEST_CASE("RolloutJudge compares the same days whether it runs at every day or once after many") {
  // Nine days of a clearly better candidate; the window is the first two full days (1 and 2),
  // whether Judge sees each day as it matures or all of them at once.
  auto stepwise = MakeJudge("shadow", 2, 0.0);
  stepwise->Begin(3, "v2", "v1");
  RolloutVerdict a;
  for (int day = 0; day <= 8 && a.kind == RolloutVerdict::Kind::kWait; ++day) {
    stepwise->AddOutcomes(Events(3, day, day, 200, false, true));
    a = stepwise->Judge();
  }
  auto at_once = MakeJudge("shadow", 2, 0.0);
  at_once->Begin(3, "v2", "v1");
  std::vector<ScoredEvent> all;
  for (int day = 0; day <= 8; ++day)
    for (const ScoredEvent& e : Events(3, day, day, 200, false, true)) all.push_back(e);
  at_once->AddOutcomes(all);
  const RolloutVerdict b = at_once->Judge();
  REQUIRE(a.kind == RolloutVerdict::Kind::kPromote);
  REQUIRE(b.kind == RolloutVerdict::Kind::kPromote);
  CHECK_THAT(b.detail, Catch::Contains("over days 2018-04-02..2018-04-03 (400 events, 40 frauds"));
  CHECK(a.detail == b.detail);
  CHECK(a.low == b.low);
}

TEST_CASE("RolloutJudge rejects a worse candidate, and never promotes the champion's equal") {
  auto judge = MakeJudge("shadow", 2, 0.0);
  judge->Begin(7, "v3", "v2");
  judge->AddOutcomes(Events(7, 0, 3, 200, true, false));
  const RolloutVerdict v = judge->Judge();
  REQUIRE(v.kind == RolloutVerdict::Kind::kReject);
  CHECK(v.champion == Approx(1.0));
  CHECK(v.candidate < 0.5);
  CHECK(v.high < 0);
  CHECK_THAT(v.detail, Catch::Contains("lower bound not above margin 0"));

  // The same model registered again scores every event the same: a tie, rejected, with or without a
  // margin, under either metric.
  for (const char* metric : {"average_precision", "card_precision"}) {
    for (const bool good : {true, false}) {
      INFO(metric << (good ? " good" : " weak") << " models");
      config::RolloutSpec spec;
      spec.enabled = true;
      spec.days = 2;
      spec.metric = metric;
      auto same = RolloutJudge::Make(spec, 100, "test", nullptr).value();
      same->Begin(1, "v3", "v2");
      same->AddOutcomes(Events(1, 0, 3, 200, good, good));
      const RolloutVerdict tie = same->Judge();
      CHECK(tie.kind == RolloutVerdict::Kind::kReject);
      CHECK(tie.difference == 0);
      CHECK(tie.low == 0);
      CHECK(tie.high == 0);
    }
  }
}

TEST_CASE("RolloutJudge waits for min_frauds frauds in the compared days") {
  auto judge = MakeJudge("shadow", 2, 0.0, /*min_frauds=*/100);
  judge->Begin(4, "v2", "v1");
  // Days 1..2 hold 2 × 20 frauds: defined metrics, but not enough evidence to decide.
  judge->AddOutcomes(Events(4, 0, 3, 200, false, true));
  RolloutVerdict v = judge->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kWait);
  CHECK(v.frauds == 40);
  CHECK(v.candidate == Approx(1.0));
  CHECK_THAT(v.detail, Catch::Contains("waiting: 2 of 2 days matured, 40 of 100 frauds"));
  // Busier days: the last two matured days (4 and 5) hold 2 × 60 frauds.
  judge->AddOutcomes(Events(4, 4, 6, 600, false, true));
  v = judge->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kPromote);
  CHECK(v.frauds == 120);
}

TEST_CASE("RolloutJudge over a group waits for every partition, at most the trial's days more") {
  auto judge = MakeJudge("shadow", 2, 0.0);
  judge->ExpectPartitions(3, std::chrono::milliseconds(0));
  judge->Begin(5, "v2", "v1");
  // The same events, judged within the wall-clock grace of the trial's start (a catch-up, where an
  // instance a moment behind the others has sent nothing yet): it waits, however many days matured.
  auto patient = MakeJudge("shadow", 2, 0.0);
  patient->ExpectPartitions(3, std::chrono::hours(1));
  patient->Begin(5, "v2", "v1");
  // Partitions 0 and 1 send events; partition 2 none (idle, or its instance is down).
  const auto on_two = [](std::vector<ScoredEvent> events) {
    for (ScoredEvent& e : events) e.partition = static_cast<int32_t>(e.id % 2);
    return events;
  };
  judge->AddOutcomes(on_two(Events(5, 0, 3, 200, false, true)));
  RolloutVerdict v = judge->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kWait);
  CHECK(v.partitions == 2);
  CHECK_THAT(v.detail, Catch::Contains("waiting: 2 of 2 days matured, 40 of 30 frauds, 2 of 3 partitions"));
  judge->AddOutcomes(on_two(Events(5, 4, 4, 200, false, true)));
  CHECK(judge->Judge().kind == RolloutVerdict::Kind::kWait);  // 3 matured days
  // Twice the trial's days matured: judged on the two partitions, and it says so.
  judge->AddOutcomes(on_two(Events(5, 5, 5, 200, false, true)));
  v = judge->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kPromote);
  CHECK_THAT(v.detail, Catch::Contains("from 2 of 3 partitions"));
  patient->AddOutcomes(on_two(Events(5, 0, 5, 200, false, true)));
  v = patient->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kWait);
  CHECK_THAT(v.detail, Catch::Contains("2 of 3 partitions"));

  // Every partition present: no extra wait.
  auto all = MakeJudge("shadow", 2, 0.0);
  all->ExpectPartitions(2);
  all->Begin(5, "v2", "v1");
  all->AddOutcomes(on_two(Events(5, 0, 3, 200, false, true)));
  v = all->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kPromote);
  CHECK_THAT(v.detail, Catch::Contains("from 2 of 2 partitions"));
}

TEST_CASE("RolloutJudge ignores events of other trials and waits while no fraud is labelled") {
  auto judge = MakeJudge("shadow", 2, 0.0);
  judge->Begin(2, "v3", "v2");
  judge->AddOutcomes(Events(1, 0, 5, 200, false, true));  // an earlier trial's events
  CHECK(judge->Judge().kind == RolloutVerdict::Kind::kWait);
  // No fraud at all: average precision is undefined, the verdict waits.
  std::vector<ScoredEvent> genuine = Events(2, 0, 5, 200, false, true);
  for (auto& e : genuine) e.label = 0;
  judge->AddOutcomes(genuine);
  const RolloutVerdict v = judge->Judge();
  CHECK(v.kind == RolloutVerdict::Kind::kWait);
  CHECK(std::isnan(v.candidate));
  // After End, nothing is recorded or judged.
  judge->End();
  judge->AddOutcomes(Events(2, 6, 9, 200, false, true));
  CHECK(judge->Judge().kind == RolloutVerdict::Kind::kWait);
}

TEST_CASE("RolloutJudge judges a canary on the canary cards, with the champion's scores of the same events") {
  auto judge = MakeJudge("canary", 2, 0.0);
  judge->Begin(3, "v4", "v3");
  const std::vector<ScoredEvent> events = Events(3, 0, 3, 400, false, true, /*canary=*/true);
  judge->AddOutcomes(events);
  const RolloutVerdict v = judge->Judge();
  REQUIRE(v.kind == RolloutVerdict::Kind::kPromote);
  CHECK(v.candidate == Approx(1.0));
  CHECK(v.champion < 0.5);
  // Days 1..2, only the events the candidate decided, each once with both scores.
  const auto canary_events = std::count_if(events.begin(), events.end(), [](const ScoredEvent& e) {
    return e.canary && e.time_ms >= kDay0 + kDay && e.time_ms < kDay0 + 3 * kDay;
  });
  CHECK(canary_events > 300);
  CHECK(canary_events < 500);
  CHECK(v.events == canary_events);
  CHECK(v.cards == canary_events);
  CHECK(v.low > 0);
  CHECK_THAT(v.detail, Catch::Contains("canary 50%"));

  // A worse canary is turned down (the score operator rolls it back).
  auto worse = MakeJudge("canary", 2, 0.0);
  worse->Begin(3, "v4", "v3");
  worse->AddOutcomes(Events(3, 0, 3, 400, true, false, /*canary=*/true));
  const RolloutVerdict w = worse->Judge();
  CHECK(w.kind == RolloutVerdict::Kind::kReject);
  CHECK(w.champion == Approx(1.0));
  CHECK(w.high < 0);
}

TEST_CASE("RolloutJudge judges the same while workers record during its verdicts") {
  const std::vector<ScoredEvent> events = Events(5, 0, 4, 2000, false, true);
  auto sequential = MakeJudge("shadow", 3, 0.05);
  sequential->Begin(5, "v2", "v1");
  sequential->AddOutcomes(events);
  const RolloutVerdict expected = sequential->Judge();
  REQUIRE(expected.kind == RolloutVerdict::Kind::kPromote);

  auto judge = MakeJudge("shadow", 3, 0.05);
  judge->Begin(5, "v2", "v1");
  // Day 0 first (it fixes the start day), then four workers record the rest while verdicts run.
  const auto day1 = std::find_if(events.begin(), events.end(),
                                 [](const ScoredEvent& e) { return e.time_ms >= kDay0 + kDay; });
  judge->AddOutcomes(std::span<const ScoredEvent>(events.data(), static_cast<size_t>(day1 - events.begin())));
  const size_t first = static_cast<size_t>(day1 - events.begin());
  std::atomic<int> running{4};
  std::vector<std::thread> workers;
  for (size_t w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      std::vector<ScoredEvent> batch;
      for (size_t i = first + w; i < events.size(); i += 4) {
        batch.push_back(events[i]);
        if (batch.size() == 50) {
          judge->AddOutcomes(batch);
          batch.clear();
        }
      }
      judge->AddOutcomes(batch);
      --running;
    });
  }
  while (running > 0) (void)judge->Judge();
  for (auto& t : workers) t.join();
  const RolloutVerdict v = judge->Judge();
  CHECK(v.kind == expected.kind);
  CHECK(v.champion == expected.champion);
  CHECK(v.candidate == expected.candidate);
  CHECK(v.events == expected.events);
  CHECK(v.detail == expected.detail);
}

TEST_CASE("InCanary is sticky per card and takes about the configured share") {
  int in = 0;
  for (int64_t card = 0; card < 100'000; ++card) {
    const bool a = InCanary(card, 10);
    CHECK(a == InCanary(card, 10));
    if (a) ++in;
    if (a) CHECK(InCanary(card, 20));  // a larger share keeps the cards of a smaller one
  }
  CHECK(in > 9'500);
  CHECK(in < 10'500);
}

}  // namespace
}  // namespace vigil::lifecycle
