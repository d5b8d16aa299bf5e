#include "operators/rollout_judge.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "base/time.h"
#include "monitor/label_window.h"

namespace vigil::operators {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int32_t DayOf(int64_t time_ms) { return static_cast<int32_t>(base::DayOf(time_ms)); }

//! splitmix64's finaliser: a well-mixed 64-bit hash of the card id.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

//! "YYYY-MM-DD" of a day number (days since the epoch).
std::string Date(int32_t day) {
  char text[32];
  const int n = base::FormatIso8601(int64_t{day} * kMsPerDay, text);
  return std::string(text, static_cast<size_t>(std::min(n, 10)));
}

}  // namespace

bool InCanary(int64_t card, double percent) {
  constexpr uint64_t kBuckets = 10'000;
  return static_cast<double>(Mix(static_cast<uint64_t>(card)) % kBuckets) < percent * (kBuckets / 100.0);
}

struct RolloutJudge::Impl {
  config::RolloutSpec spec;
  int64_t top_k = 100;
  double review_threshold = 0.5;
  std::string pipeline;
  std::shared_ptr<prometheus::Registry> metrics;
  prometheus::Family<prometheus::Counter>* transitions = nullptr;
  prometheus::Gauge* champion_metric = nullptr;
  prometheus::Gauge* candidate_metric = nullptr;
  prometheus::Gauge* active_gauge = nullptr;

  // Under mu_: what the workers touch.
  uint32_t epoch = 0;  // 0: not judging
  std::string candidate, champion;
  std::vector<ScoredEvent> matured;  // this epoch's events recorded since the last Judge

  // Under judge_mu_ only: the windows, fed and evaluated by Judge, so their sorts hold no worker up.
  std::vector<ScoredEvent> judging;
  std::optional<int32_t> start_day;  // the day the first event of the rollout was scored in
  int64_t newest_ms = std::numeric_limits<int64_t>::min();
  std::unique_ptr<monitor::LabelWindow> champion_window, candidate_window;

  //! Records `judging` into the windows (judge_mu_ held).
  void Record() {
    const bool canary = spec.mode == "canary";
    for (const ScoredEvent& e : judging) {
      const int32_t day = DayOf(e.time_ms);
      if (!start_day) start_day = day;
      newest_ms = std::max(newest_ms, e.time_ms);
      champion_window->AdvanceTo(e.time_ms);
      candidate_window->AdvanceTo(e.time_ms);
      if (day <= *start_day) continue;  // the rollout began during that day: not a full day
      // Record then label: a window keeps at most one entry per id (duplicates are ignored).
      auto add = [&e](monitor::LabelWindow& w, float score, bool flagged) {
        if (!w.Record(e.id, e.time_ms, e.card, score, flagged).ok()) return;
        if (e.label != 0) (void)w.SetLabel(e.id, e.label);
      };
      if (canary) {
        add(e.canary ? *candidate_window : *champion_window, e.score, e.flagged);
      } else {
        add(*champion_window, e.score, e.flagged);
        add(*candidate_window, e.challenger, e.challenger >= review_threshold);
      }
    }
    judging.clear();
  }

  std::unique_ptr<monitor::LabelWindow> NewWindow(double share) const {
    monitor::LabelWindowOptions o;
    o.window_days = spec.days;
    o.label_delay_days = 0;  // events arrive with their label already due
    o.review_threshold = review_threshold;
    o.top_k = std::max<int64_t>(1, std::llround(static_cast<double>(top_k) * share));
    return monitor::LabelWindow::Make(o).value();
  }
  double Metric(const monitor::LabelMetrics& m) const {
    return spec.metric == "card_precision" ? m.card_precision_at_k : m.average_precision;
  }
};

base::Result<std::unique_ptr<RolloutJudge>> RolloutJudge::Make(
    const config::RolloutSpec& spec, int64_t top_k, double review_threshold, std::string pipeline,
    const std::shared_ptr<prometheus::Registry>& metrics) {
  if (top_k < 1) return base::InvalidArgument("rollout: top_k must be >= 1");
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->top_k = top_k;
  impl->review_threshold = review_threshold;
  impl->pipeline = std::move(pipeline);
  impl->metrics = metrics;
  if (metrics) {
    using namespace prometheus;
    impl->transitions = &BuildCounter()
                             .Name("vigil_rollout_transitions_total")
                             .Help(
                                 "Rollout transitions of candidate versions: started, promoted, rejected, "
                                 "rolled_back, refused.")
                             .Register(*metrics);
    auto& metric =
        BuildGauge()
            .Name("vigil_rollout_metric")
            .Help(
                "The rollout's compared label metric over its matured window, by role (champion, candidate).")
            .Register(*metrics);
    impl->champion_metric = &metric.Add({{"pipeline", impl->pipeline}, {"role", "champion"}});
    impl->candidate_metric = &metric.Add({{"pipeline", impl->pipeline}, {"role", "candidate"}});
    impl->active_gauge = &BuildGauge()
                              .Name("vigil_rollout_active")
                              .Help("1 while a candidate version is on trial (shadow or canary).")
                              .Register(*metrics)
                              .Add({{"pipeline", impl->pipeline}});
    for (const char* t : {"started", "promoted", "rejected", "rolled_back", "refused"})
      impl->transitions->Add({{"pipeline", impl->pipeline}, {"transition", t}});
    impl->champion_metric->Set(kNaN);
    impl->candidate_metric->Set(kNaN);
  }
  return std::unique_ptr<RolloutJudge>(new RolloutJudge(std::move(impl)));
}

RolloutJudge::RolloutJudge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RolloutJudge::~RolloutJudge() = default;

void RolloutJudge::Begin(uint32_t epoch, const std::string& candidate, const std::string& champion) {
  std::lock_guard judging(judge_mu_);
  std::lock_guard lock(mu_);
  Impl& m = *impl_;
  m.epoch = epoch;
  m.candidate = candidate;
  m.champion = champion;
  m.matured.clear();
  m.judging.clear();
  m.start_day.reset();
  m.newest_ms = std::numeric_limits<int64_t>::min();
  const bool canary = m.spec.mode == "canary";
  const double share = m.spec.canary_percent / 100.0;
  m.champion_window = m.NewWindow(canary ? 1 - share : 1);
  m.candidate_window = m.NewWindow(canary ? share : 1);
  if (m.active_gauge) {
    m.active_gauge->Set(1);
    m.champion_metric->Set(kNaN);
    m.candidate_metric->Set(kNaN);
  }
}

void RolloutJudge::End() {
  std::lock_guard judging(judge_mu_);
  std::lock_guard lock(mu_);
  impl_->epoch = 0;
  impl_->matured.clear();
  impl_->champion_window.reset();
  impl_->candidate_window.reset();
  if (impl_->active_gauge) impl_->active_gauge->Set(0);
}

void RolloutJudge::AddOutcomes(std::span<const ScoredEvent> events) {
  std::lock_guard lock(mu_);
  Impl& m = *impl_;
  if (m.epoch == 0) return;
  for (const ScoredEvent& e : events)
    if (e.epoch == m.epoch) m.matured.push_back(e);
}

RolloutVerdict RolloutJudge::Judge() {
  std::lock_guard judging(judge_mu_);
  Impl& m = *impl_;
  RolloutVerdict v;
  {
    std::lock_guard lock(mu_);  // only to take the workers' new events
    if (m.epoch == 0) return v;
    m.judging.swap(m.matured);
  }
  m.Record();
  if (!m.start_day) return v;
  const int32_t last_matured = DayOf(m.newest_ms) - 1;  // the newest event's day may still grow
  const int32_t matured = std::max(0, last_matured - *m.start_day);
  auto champion = m.champion_window->Evaluate();
  auto candidate = m.candidate_window->Evaluate();
  if (!champion.ok() || !candidate.ok()) {
    v.detail = "cannot evaluate: " + (champion.ok() ? candidate.status() : champion.status()).message();
    return v;
  }
  v.champion = m.Metric(*champion);
  v.candidate = m.Metric(*candidate);
  v.events = champion->transactions + (m.spec.mode == "canary" ? candidate->transactions : 0);
  if (m.champion_metric) {
    m.champion_metric->Set(v.champion);
    m.candidate_metric->Set(v.candidate);
  }
  const std::string mode =
      m.spec.mode == "canary" ? fmt::format("canary {}%", m.spec.canary_percent) : std::string("shadow");
  v.detail = fmt::format(
      "{} {:.4f} ({}) vs champion {:.4f} ({}), margin {}, {} over days {}..{} ({} events, {} frauds)",
      m.spec.metric, v.candidate, m.candidate, v.champion, m.champion, m.spec.margin, mode,
      Date(champion->first_day), Date(champion->last_day), v.events,
      champion->frauds + (m.spec.mode == "canary" ? candidate->frauds : 0));
  if (matured < m.spec.days) return v;  // not enough matured days yet
  if (std::isnan(v.champion) || std::isnan(v.candidate)) return v;
  v.kind = v.candidate >= v.champion + m.spec.margin ? RolloutVerdict::Kind::kPromote
                                                     : RolloutVerdict::Kind::kReject;
  return v;
}

void RolloutJudge::Count(std::string_view transition) {
  std::lock_guard lock(mu_);
  if (impl_->transitions)
    impl_->transitions->Add({{"pipeline", impl_->pipeline}, {"transition", std::string(transition)}})
        .Increment();
}

}  // namespace vigil::operators
