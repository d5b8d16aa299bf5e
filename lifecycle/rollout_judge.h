#pragma once
// RolloutJudge: the verdict on a candidate version, from matured labels. While a rollout runs, the
// model watcher (lifecycle/model_watcher.h) hands it every event the score operator scored during the
// trial once its label is due (ScoredEvent, with the
// candidate's score next to the served one). Both versions are judged on the same events, each
// event with both versions' scores (a paired comparison):
//   shadow  every event: the champion decides it, the candidate's score is recorded beside it;
//   canary  the events of the canary cards only: the candidate decides them, and the champion's
//           score of each (it still scores every event) is recorded beside it.
// Only events scored after the rollout began count, and only from the first full UTC day after the
// one it began in; an event id is counted once. Judge() compares the configured metric over a window
// of `days` days: the first full days, and while it cannot decide, the window slides a day at a time
// in event time (never by more than the days matured), so the days compared do not depend on how
// often Judge runs or how fast the outcomes arrive. It decides once all of these hold:
//   1. the window's `days` full days have matured;
//   2. the window holds at least `min_frauds` frauds (the metric is defined before that, but too
//      noisy to decide on), and, over a group (ExpectPartitions), the trial's events came from every
//      input partition (a partition that gets no event holds the verdict back for at most `days` more
//      days, then the trial is judged on the partitions it has; the verdict says how many);
//   3. then a paired bootstrap over cards (models/bootstrap.h: `resamples` resamples, a fixed seed,
//      so the same events give the same verdict) gives the difference candidate - champion and its
//      two-sided `confidence` interval. The candidate is promoted when the interval's lower bound
//      is > `margin` (>= 0): it is better beyond doubt, by more than the margin. Otherwise it is
//      rejected (a canary is "rolled back"): an equal candidate (the same model registered again)
//      has a difference of 0 on every resample and is never promoted.
// Until then the verdict waits, reporting the metrics so far.
//
// Metrics (labels pipeline, and transition or role): vigil_rollout_transitions_total{transition=
// started|promoted|rejected|rolled_back|refused}, vigil_rollout_metric{role=champion|candidate} (the
// compared metric over the window so far), vigil_rollout_active (1 while a candidate is on trial).
//
// Lifecycle: one per score operator with `rollout:`, owned by its model watcher. Thread-safety: every method
// may be called from any thread. The tasks take one mutex once per batch that has matured events, only to
// append them to a buffer; Judge swaps that buffer out under it and records and evaluates (sorts, resamples)
// the window under a lock of its own, so a verdict never holds a worker up. The bootstrap runs once per
// trial, when the verdict is due: O(resamples × events) (a few seconds for a million events).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "operators/serving.h"

namespace prometheus {
class Registry;
}

namespace vigil::lifecycle {

//! What Judge() decided.
struct RolloutVerdict {
  enum class Kind { kWait, kPromote, kReject };
  Kind kind = Kind::kWait;
  double champion = 0;   //!< The champion's metric over the window (NaN when undefined).
  double candidate = 0;  //!< The candidate's.
  //! Once decided: candidate - champion, and its confidence interval (NaN while waiting).
  double difference = 0, low = 0, high = 0;
  double confidence = 0;   //!< The interval's confidence (the spec's).
  double margin = 0;       //!< The lift the lower bound had to exceed (the spec's).
  int resamples = 0;       //!< Bootstrap resamples behind the interval; 0 while waiting.
  int64_t events = 0;      //!< Events compared (each with both versions' scores).
  int64_t frauds = 0;      //!< Among them, frauds.
  int64_t cards = 0;       //!< Distinct cards among them (the resampling unit).
  int64_t partitions = 0;  //!< Distinct input partitions the trial's events came from.
  //! One line for logs and the run record, e.g. "average_precision 0.7100 (v3) vs champion 0.6500
  //! (v2): difference +0.0600, 95% CI [+0.0210, +0.0970] ...".
  std::string detail;

  //! The figures as the run record keeps them (models::RunRecord::rollout_metrics): champion,
  //! candidate, difference, ci_low, ci_high, confidence, margin, resamples, events, frauds, cards,
  //! partitions.
  std::map<std::string, double> Figures() const;
};

class RolloutJudge {
 public:
  //! `metrics` may be null. `top_k`: k of card precision@k, as in the performance monitor (a canary
  //! uses its share of it). InvalidArgument for a spec out of range.
  static base::Result<std::unique_ptr<RolloutJudge>> Make(
      const config::RolloutSpec& spec, int64_t top_k, std::string pipeline,
      const std::shared_ptr<prometheus::Registry>& metrics);
  ~RolloutJudge();

  //! Starts judging rollout `epoch` (events tagged with another epoch are ignored): empty windows.
  void Begin(uint32_t epoch, const std::string& candidate, const std::string& champion);
  //! Stops judging (events are ignored until the next Begin).
  void End();
  //! Records matured events of the current epoch.
  void AddOutcomes(std::span<const operators::ScoredEvent> events);
  //! The verdict as of the events recorded so far; kWait until `days` full days have matured and the
  //! window holds `min_frauds` frauds.
  RolloutVerdict Judge();
  //! Over a group (lifecycle/outcome_feed.h): the verdict also waits until the trial's events came
  //! from `partitions` input partitions, so that no instance's share is left out, or `days` more
  //! days have matured (a partition without events) and `grace` has passed since Begin: in a
  //! catch-up, days of event time pass in a second, and an instance a second behind the others is
  //! not missing. Default 0 partitions: no wait.
  void ExpectPartitions(int partitions, std::chrono::milliseconds grace = std::chrono::minutes(1));
  //! Counts a transition in vigil_rollout_transitions_total.
  void Count(std::string_view transition);

 private:
  struct Impl;
  explicit RolloutJudge(std::unique_ptr<Impl> impl);
  std::mutex judge_mu_;  //!< The windows (Begin, End, Judge); taken before mu_.
  std::mutex mu_;        //!< The epoch and the events recorded since the last Judge.
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::lifecycle
