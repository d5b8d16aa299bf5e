#pragma once
// RolloutJudge: the verdict on a candidate version, from matured labels. While a rollout runs, the
// score operator hands it every scored event once its label is due (ScoredEvent, with the
// candidate's score next to the served one). The judge keeps two label windows (monitor::LabelWindow):
//   shadow  champion window: every event with the champion's score; candidate window: every event
//           with the candidate's score (same events, so the comparison is paired);
//   canary  each event in the window of the version that decided it (disjoint card populations).
// Only events scored after the rollout began count, and only from the first full UTC day after the
// one it began in. Once `days` such days have matured, Judge() compares the configured metric:
// promote when candidate >= champion + margin, reject otherwise (a canary is "rolled back"). While a
// metric is undefined (no fraud yet in the window) the verdict waits.
//
// Metrics (labels pipeline, and transition or role): vigil_rollout_transitions_total{transition=
// started|promoted|rejected|rolled_back|refused}, vigil_rollout_metric{role=champion|candidate} (the
// compared metric over the window so far), vigil_rollout_active (1 while a candidate is on trial).
//
// Lifecycle: one per score operator. Thread-safety: every method may be called from any thread. The
// tasks take one mutex once per batch that has matured events, only to append them to a buffer;
// Judge swaps that buffer out under it and records and evaluates (sorts) the windows under a lock of
// its own, so a verdict never holds a worker up.

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "operators/score_monitor.h"

namespace prometheus {
class Registry;
}

namespace vigil::operators {

//! What Judge() decided.
struct RolloutVerdict {
  enum class Kind { kWait, kPromote, kReject };
  Kind kind = Kind::kWait;
  double champion = 0;   //!< The champion's metric over the window (NaN when undefined).
  double candidate = 0;  //!< The candidate's.
  int64_t events = 0;    //!< Events compared (both windows together in canary).
  std::string detail;    //!< One line for logs and the run record, e.g. "average_precision 0.71 vs 0.65 ...".
};

class RolloutJudge {
 public:
  //! `metrics` may be null. `top_k` and `review_threshold` as in the performance monitor.
  static base::Result<std::unique_ptr<RolloutJudge>> Make(
      const config::RolloutSpec& spec, int64_t top_k, double review_threshold, std::string pipeline,
      const std::shared_ptr<prometheus::Registry>& metrics);
  ~RolloutJudge();

  //! Starts judging rollout `epoch` (events tagged with another epoch are ignored): empty windows.
  void Begin(uint32_t epoch, const std::string& candidate, const std::string& champion);
  //! Stops judging (events are ignored until the next Begin).
  void End();
  //! Records matured events of the current epoch.
  void AddOutcomes(std::span<const ScoredEvent> events);
  //! The verdict as of the events recorded so far; kWait until `days` full days have matured.
  RolloutVerdict Judge();
  //! Counts a transition in vigil_rollout_transitions_total.
  void Count(std::string_view transition);

 private:
  struct Impl;
  explicit RolloutJudge(std::unique_ptr<Impl> impl);
  std::mutex judge_mu_;  //!< The windows (Begin, End, Judge); taken before mu_.
  std::mutex mu_;        //!< The epoch and the events recorded since the last Judge.
  std::unique_ptr<Impl> impl_;
};

//! True when `card` falls in the canary share `percent` (0..100): sticky, by a hash of the id.
bool InCanary(int64_t card, double percent);

}  // namespace vigil::operators
