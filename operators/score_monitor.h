#pragma once
// ScoreMonitor: what the score operator knows about how its model is doing, as Prometheus gauges.
//   - Drift: the model's inputs and its score, over a sliding window (events or event time), against
//     the reference histograms stored with the serving version (monitor::DriftMonitor): PSI and KS.
//   - Performance on delayed labels (monitor::LabelWindow): average precision, precision at the
//     review threshold and card precision@k over the recent matured days, with a Page-Hinkley
//     detector on the daily card precision.
// Gauges (labels: pipeline, model_version, feature): vigil_feature_psi, vigil_feature_ks,
// vigil_score_psi, vigil_drift_window_events, vigil_drift_last_evaluation_timestamp_seconds,
// vigil_label_average_precision, vigil_label_precision_at_threshold, vigil_label_recall_at_threshold,
// vigil_label_card_precision_at_k, vigil_performance_drift_detected. With `performance.segments`, per
// segment (labels segment, value; models/segments.h): vigil_label_segment_average_precision,
// vigil_label_segment_precision_at_threshold, vigil_label_segment_recall_at_threshold and the 0/1
// vigil_label_segment_underserved; the series are bounded (card age 2, amount bands, at most
// max_values + 1 per column). A card's age counts from the first matured event of the card this
// monitor saw (one hash-map entry per card, kept for the process's life), so after a start every card
// is new for card_age_days. A new champion brings its own reference: the windows restart and
// the old version's series are removed, so cardinality stays at one version.
//
// Lifecycle: one per score operator (in its ServingLink, operators/serving.h), shared by every task.
// It owns no thread: the tasks feed it (Observe, AddOutcomes), and the model lifecycle calls Export
// every `every_ms` of wall time (lifecycle/monitor_driver.h), so the gauges stay fresh (and the
// last-evaluation time advances) while no event arrives, and records the drift signals Export returns.
// Thread-safety: every method may be called from any thread (one mutex; tasks take it once per batch);
// Export from one thread at a time. Cost per batch: one lock, (features + 1) binary searches per
// event; matured events are only appended to a buffer. Export takes the buffer by a swap under the
// mutex and evaluates the performance (sorts over every matured record) without it.

#include <array>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "models/registry.h"
#include "operators/monitor_segments.h"

namespace prometheus {
class Registry;
}

namespace vigil::operators {

//! One scored event whose label has matured (see ScoreMonitor::AddOutcomes).
struct ScoredEvent {
  int64_t id = 0;        //!< Transaction id (the labels' join key).
  int64_t time_ms = 0;   //!< Event time.
  int64_t card = 0;      //!< Card / customer id.
  float score = 0;       //!< The model's score.
  bool flagged = false;  //!< Its decision.
  int label = 0;         //!< 1 fraud, 0 genuine or unknown.
  // During a rollout (lifecycle/rollout_judge.h):
  uint32_t epoch = 0;      //!< The rollout it was scored in; 0 = none.
  bool canary = false;     //!< The candidate decided it (canary); `score` is then the candidate's.
  float challenger = 0;    //!< The candidate's score (rollout only).
  float champion = 0;      //!< Canary: the champion's score of the event, which it did not decide.
  int64_t offset = -1;     //!< Source offset of the event (feature log).
  int32_t partition = -1;  //!< Source partition of the event (set once matured).
  // With performance segments (config::SegmentsSpec):
  double amount = 0;  //!< The amount column's value (amount bands).
  //! Per segment column, the value's index (ScoreMonitor::IdentifySegmentValues).
  std::array<uint8_t, kMaxSegmentColumns> segment_values{};
};

class ScoreMonitor {
 public:
  //! `metrics` may be null (nothing exported; the monitor still runs). `registry` holds the
  //! versions whose metadata carries the reference histograms.
  //! `drift_signal_psi` > 0: when a feature's or the score's PSI reaches it over a full drift window
  //! (each latched on its own: again only after it fell back under), or when the change detector
  //! alarms (once per version), Export returns a drift signal (models::DriftSignal) for the retraining
  //! worker. Its event time is the one from which the PSI has been over (checked by Observe once per
  //! sub-window of events, so it does not depend on when Export runs), or for the alarm the newest
  //! event's.
  static base::Result<std::unique_ptr<ScoreMonitor>> Make(const config::MonitorSpec& spec,
                                                          double review_threshold, models::Registry registry,
                                                          std::string pipeline,
                                                          std::shared_ptr<prometheus::Registry> metrics,
                                                          double drift_signal_psi = 0);
  ~ScoreMonitor();

  //! Counts a scored batch: `rows` row-major (the model's inputs), `scores`, `times_ms` (event times).
  //! Switches to `model`'s reference first if the version changed; a version without reference
  //! histograms is not drift-monitored (logged once).
  void Observe(const models::ModelVersion& model, std::span<const float> rows, std::span<const float> scores,
               std::span<const int64_t> times_ms);
  //! Records events whose labels matured (performance); ignored without `performance:`.
  void AddOutcomes(const models::ModelVersion& model, std::span<const ScoredEvent> events);

  //! Gives each event of `events` the index of its value of every segment column: `values` holds the
  //! columns' values as text, row-major (events.size() × the spec's segment columns). A column's first
  //! max_values distinct values get their own index and series, later ones share `other` (logged once
  //! per column). One lock per call.
  void IdentifySegmentValues(std::span<ScoredEvent> events, std::span<const std::string> values);

  //! Recomputes the gauges as of `wall_ms` (Unix ms) and returns the drift signals due now (none
  //! without `drift_signal_psi`), for the caller to append to the registry. Holds the mutex except
  //! while it evaluates the performance. One caller at a time.
  std::vector<models::DriftSignal> Export(int64_t wall_ms);

  //! Wall-time ms between two Exports (`every`).
  int64_t every_ms() const { return spec_.every_ms; }
  //! Whether performance tracking is on.
  bool tracks_performance() const { return spec_.performance; }
  //! The performance segments (enabled = false without them).
  const config::SegmentsSpec& segments() const { return spec_.segments; }
  //! Days after which an event's label is taken as known.
  int label_delay_days() const { return spec_.label_delay_days; }

 private:
  struct Impl;
  ScoreMonitor(const config::MonitorSpec& spec, std::unique_ptr<Impl> impl);
  //! Events a drift window needs before its PSI can signal.
  int64_t DriftSignalEvents() const;
  //! Switches to `model` if it is not the current version (mutex held).
  void SwitchTo(const models::ModelVersion& model);
  //! Records the matured events swapped in by Export into Export's own label window (a new one when
  //! the version of `generation` is not the one it holds). Without the mutex.
  void EvaluatePerformance(uint64_t generation);

  config::MonitorSpec spec_;
  std::mutex mu_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::operators
