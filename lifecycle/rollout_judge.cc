#include "lifecycle/rollout_judge.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <unordered_set>
#include <vector>

#include "base/time.h"
#include "models/bootstrap.h"

namespace vigil::lifecycle {

using operators::ScoredEvent;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int32_t DayOf(int64_t time_ms) { return static_cast<int32_t>(base::DayOf(time_ms)); }

//! "YYYY-MM-DD" of a day number (days since the epoch).
std::string Date(int32_t day) { return base::IsoDate(int64_t{day} * base::kMsPerDay); }

}  // namespace

struct RolloutJudge::Impl {
  config::RolloutSpec spec;
  int64_t top_k = 100;
  int expected_partitions = 0;                    // the verdict waits for events from this many partitions
  std::chrono::milliseconds partitions_grace{0};  // and, for a missing one, at least this long
  std::chrono::steady_clock::time_point began;    // the trial's Begin on this judge
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

  // Under judge_mu_ only: the window, fed and evaluated by Judge, so its sorts hold no worker up.
  std::vector<ScoredEvent> judging;
  std::optional<int32_t> start_day;  // the day the first event of the rollout was scored in
  int32_t end_day = 0;               // the last day of the window under judgement (from start_day)
  int64_t newest_ms = std::numeric_limits<int64_t>::min();
  //! Each recorded event, by day: its id and its outcome with both versions' scores.
  std::map<int32_t, std::vector<std::pair<int64_t, models::PairedOutcome>>> days;
  std::unordered_set<int64_t> ids;  // the ids in `days`: an event counts once
  std::set<int32_t> partitions;     // of the events recorded since Begin

  //! The last day whose events are all in: the newest event's day may still grow.
  int32_t LastMaturedDay() const { return DayOf(newest_ms) - 1; }
  //! The window under judgement: `days` days ending at end_day, never the start day. It starts at
  //! the first full days and slides one day at a time, in event time, while it cannot decide, so the
  //! days a verdict compares do not depend on how many matured between two calls of Judge.
  int32_t FirstDay() const { return std::max(*start_day + 1, end_day - spec.days + 1); }
  //! Slides the window by a day, forgetting the day that leaves it.
  void Slide() {
    ++end_day;
    while (!days.empty() && days.begin()->first < FirstDay()) {
      for (const auto& [id, outcome] : days.begin()->second) ids.erase(id);
      days.erase(days.begin());
    }
  }

  //! Records `judging` (judge_mu_ held), then drops the days before the window.
  void Record() {
    const bool canary = spec.mode == "canary";
    for (const ScoredEvent& e : judging) {
      const int32_t day = DayOf(e.time_ms);
      if (!start_day) {
        start_day = day;
        end_day = day + spec.days;
      }
      newest_ms = std::max(newest_ms, e.time_ms);
      partitions.insert(e.partition);
      if (day <= *start_day) continue;    // the rollout began during that day: not a full day
      if (canary && !e.canary) continue;  // the champion's own cards: the candidate decided none
      if (day < FirstDay() || !ids.insert(e.id).second) continue;
      const float champion_score = e.canary ? e.champion : e.score;
      days[day].emplace_back(e.id, models::PairedOutcome{day, e.card, e.label, champion_score, e.challenger});
    }
    judging.clear();
  }

  //! The window's outcomes: its matured days.
  std::vector<models::PairedOutcome> Window() const {
    std::vector<models::PairedOutcome> out;
    const int32_t last = std::min(end_day, LastMaturedDay());
    for (auto it = days.lower_bound(FirstDay()); it != days.end() && it->first <= last; ++it)
      for (const auto& [id, outcome] : it->second) out.push_back(outcome);
    return out;
  }

  models::PairedBootstrapOptions Options(int resamples) const {
    models::PairedBootstrapOptions o;
    o.metric = spec.metric == "card_precision" ? models::PairedMetric::kCardPrecisionAtK
                                               : models::PairedMetric::kAveragePrecision;
    // A canary judges on its share of the cards: k shrinks with it, as the share of alerts would.
    const double share = spec.mode == "canary" ? spec.canary_percent / 100.0 : 1.0;
    o.top_k = std::max<int64_t>(1, std::llround(static_cast<double>(top_k) * share));
    o.resamples = resamples;
    o.confidence = spec.confidence;
    return o;
  }
};

base::Result<std::unique_ptr<RolloutJudge>> RolloutJudge::Make(
    const config::RolloutSpec& spec, int64_t top_k, std::string pipeline,
    const std::shared_ptr<prometheus::Registry>& metrics) {
  if (top_k < 1) return base::InvalidArgument("rollout: top_k must be >= 1");
  if (spec.min_frauds < 1) return base::InvalidArgument("rollout: min_frauds must be >= 1");
  if (spec.resamples < 1) return base::InvalidArgument("rollout: resamples must be >= 1");
  if (!(spec.confidence > 0 && spec.confidence < 1))
    return base::InvalidArgument("rollout: confidence must be strictly between 0 and 1");
  if (spec.margin < 0) return base::InvalidArgument("rollout: margin must be >= 0");
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->top_k = top_k;
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
  m.days.clear();
  m.ids.clear();
  m.partitions.clear();
  m.began = std::chrono::steady_clock::now();
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
  impl_->days.clear();
  impl_->ids.clear();
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
  const config::RolloutSpec& spec = m.spec;
  v.partitions = static_cast<int64_t>(m.partitions.size());
  // A partition that sends no event (an idle one, or one whose instance is down) holds the verdict
  // back for at most `days` more days; then the trial is judged on the partitions it has.
  const auto partitions_wait = [&] {
    return v.partitions < m.expected_partitions &&
           (m.end_day - *m.start_day < 2 * spec.days ||
            std::chrono::steady_clock::now() - m.began < m.partitions_grace);
  };
  const auto frauds = [&] {
    int64_t n = 0;
    for (auto it = m.days.lower_bound(m.FirstDay()); it != m.days.end() && it->first <= m.end_day; ++it)
      for (const auto& [id, outcome] : it->second) n += outcome.label;
    return n;
  };
  // A complete window that cannot decide (too few frauds, a partition missing) slides a day once the
  // next day has matured, and so on, in event time.
  while (m.end_day < m.LastMaturedDay() && (frauds() < spec.min_frauds || partitions_wait())) m.Slide();
  const int32_t last_day = std::min(m.end_day, m.LastMaturedDay());
  const int32_t matured = std::max(0, last_day - m.FirstDay() + 1);
  const std::vector<models::PairedOutcome> window = m.Window();
  v.champion = v.candidate = v.difference = v.low = v.high = kNaN;
  v.confidence = spec.confidence;
  v.margin = spec.margin;
  for (const models::PairedOutcome& o : window) v.frauds += o.label;
  v.events = static_cast<int64_t>(window.size());
  const std::string mode =
      spec.mode == "canary" ? fmt::format("canary {}%", spec.canary_percent) : std::string("shadow");
  const std::string of_expected =
      m.expected_partitions > 0 ? fmt::format(" of {}", m.expected_partitions) : std::string();
  const std::string where =
      fmt::format("{} over days {}..{} ({} events, {} frauds, from {}{} partitions)", mode,
                  Date(m.FirstDay()), Date(last_day), v.events, v.frauds, v.partitions, of_expected);
  if (window.empty()) {
    v.detail = fmt::format("no matured event yet; {} of {} days matured", matured, spec.days);
    return v;
  }
  auto point = models::ComparePaired(window, m.Options(0));
  if (!point.ok()) {
    v.detail = fmt::format("{}: {}", where, point.status().message());
    return v;
  }
  v.champion = point->baseline;
  v.candidate = point->contender;
  v.cards = point->cards;
  if (m.champion_metric) {
    m.champion_metric->Set(v.champion);
    m.candidate_metric->Set(v.candidate);
  }
  const std::string versus = fmt::format("{} {:.4f} ({}) vs champion {:.4f} ({})", spec.metric, v.candidate,
                                         m.candidate, v.champion, m.champion);
  if (matured < spec.days || v.frauds < spec.min_frauds || partitions_wait()) {
    v.detail = fmt::format("{}, {}; waiting: {} of {} days matured, {} of {} frauds, {} of {} partitions",
                           versus, where, matured, spec.days, v.frauds, spec.min_frauds, v.partitions,
                           std::max(m.expected_partitions, 1));
    return v;
  }
  auto compared = models::ComparePaired(window, m.Options(spec.resamples));
  if (!compared.ok()) {  // not expected: the point estimates passed
    v.detail = fmt::format("{}, {}: {}", versus, where, compared.status().message());
    return v;
  }
  v.difference = compared->difference;
  v.low = compared->low;
  v.high = compared->high;
  v.resamples = compared->resamples;
  // A NaN bound (no resample with a fraud) is no evidence: it rejects, as any doubt does.
  const bool better = v.low > spec.margin;
  v.kind = better ? RolloutVerdict::Kind::kPromote : RolloutVerdict::Kind::kReject;
  v.detail = fmt::format(
      "{}: difference {:+.4f}, {:g}% CI [{:+.4f}, {:+.4f}] ({} resamples of {} cards), {} margin {}; {}",
      versus, v.difference, spec.confidence * 100, v.low, v.high, v.resamples, v.cards,
      better ? "lower bound above" : "lower bound not above", spec.margin, where);
  return v;
}

std::map<std::string, double> RolloutVerdict::Figures() const {
  return {{"champion", champion},
          {"candidate", candidate},
          {"difference", difference},
          {"ci_low", low},
          {"ci_high", high},
          {"confidence", confidence},
          {"margin", margin},
          {"resamples", static_cast<double>(resamples)},
          {"events", static_cast<double>(events)},
          {"frauds", static_cast<double>(frauds)},
          {"cards", static_cast<double>(cards)},
          {"partitions", static_cast<double>(partitions)}};
}

void RolloutJudge::ExpectPartitions(int partitions, std::chrono::milliseconds grace) {
  std::lock_guard judging(judge_mu_);
  impl_->expected_partitions = partitions;
  impl_->partitions_grace = grace;
}

void RolloutJudge::Count(std::string_view transition) {
  std::lock_guard lock(mu_);
  if (impl_->transitions)
    impl_->transitions->Add({{"pipeline", impl_->pipeline}, {"transition", std::string(transition)}})
        .Increment();
}

}  // namespace vigil::lifecycle
