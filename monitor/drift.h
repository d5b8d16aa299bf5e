#pragma once
// Drift of live values against a reference histogram (monitor/reference.h), over a sliding window.
//
// The window is a ring of N sub-windows, each holding one count per bin. Two ways to slide:
//   - by event count: each sub-window takes M events; when the newest is full the oldest is cleared
//     and reused, so the window holds the last (N-1)*M + 1 .. N*M events;
//   - by event time: sub-window i holds the events with event time in [i*W, (i+1)*W) (W in ms, from
//     the epoch); the window covers the newest N of them. Time only moves forward: the newest event
//     time seen (or AdvanceTo) decides which sub-windows are current, and events older than the
//     window are not counted (late_events()).
//
// PSI (population stability index) = sum over bins of (a_i - e_i) * ln(a_i / e_i), a_i the window's
// fraction and e_i the reference fraction, bins including the missing bin. Empty bins would make it
// infinite, so each fraction is floored at kPsiEpsilon before the sum (no renormalisation). Usual
// reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift.
// KS here is the largest |A_k - E_k| over the cumulative fractions at the bin boundaries (missing
// last): the Kolmogorov-Smirnov distance of the binned distributions, a lower bound of the unbinned one.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "monitor/reference.h"

namespace vigil::monitor {

//! Floor of each bin fraction in Psi(): 1e-4, i.e. an empty bin counts as 0.01 % of the values.
inline constexpr double kPsiEpsilon = 1e-4;

//! How a drift window slides.
enum class WindowKind {
  kEventCount,  //!< N sub-windows of M events each.
  kEventTime,   //!< N sub-windows of a fixed event-time width each.
};

//! Shape of a drift window.
struct WindowOptions {
  WindowKind kind = WindowKind::kEventCount;  //!< Default: by event count.
  int sub_windows = 10;                       //!< N, the ring size, 1..1024. Default 10.
  int64_t events_per_sub_window = 1000;       //!< M, for kEventCount; >= 1. Default 1000 events.
  int64_t sub_window_ms = 3'600'000;          //!< W, for kEventTime; >= 1. Default 1 hour, in ms.
};

//! PSI of live fractions `live` against reference fractions `reference` (same size, each summing
//! to 1), every fraction floored at `epsilon`. Pure; no allocation.
double Psi(std::span<const double> live, std::span<const double> reference, double epsilon = kPsiEpsilon);

//! The sliding-window counts of one variable against its reference histogram.
//! Lifecycle: Make, then Add/AdvanceTo as events arrive; Psi/Ks at any time. Not thread-safe: one
//! owner (a task) mutates it; reads need the same owner or external synchronisation. Memory:
//! (N + 1) * bins + N counters of 8 bytes, fixed at Make; Add, Psi and Ks never allocate.
class DriftWindow {
 public:
  //! A window over `reference` (copied). InvalidArgument for options out of range.
  static base::Result<DriftWindow> Make(const ReferenceHistogram& reference, const WindowOptions& options);

  //! Counts `value` (NaN = missing). For kEventTime windows `event_time_ms` places it; it is ignored
  //! for kEventCount. Cost: a binary search over <= 16 edges, and on a sub-window boundary one
  //! clear of bins counters.
  void Add(float value, int64_t event_time_ms = 0);
  //! kEventTime only: slides the window so that its newest sub-window holds `event_time_ms`, clearing
  //! the sub-windows that fall out. Earlier times than the newest seen are a no-op. No-op for
  //! kEventCount windows.
  void AdvanceTo(int64_t event_time_ms);

  //! PSI of the window against the reference (see the file comment); NaN if the window is empty.
  double Psi() const;
  //! Binned KS distance (see the file comment) in [0, 1]; NaN if the window is empty.
  double Ks() const;
  //! Fractions of the window per bin (value bins, then missing) into `out` (resized to num_bins()).
  //! All zero if the window is empty.
  void Fractions(std::vector<double>& out) const;

  //! Events currently in the window.
  int64_t events_in_window() const { return in_window_; }
  //! kEventTime: events dropped for falling before the window when they arrived. 0 for kEventCount.
  int64_t late_events() const { return late_; }
  //! The reference the window compares with.
  const ReferenceHistogram& reference() const { return reference_; }
  //! The window's shape.
  const WindowOptions& options() const { return options_; }

 private:
  DriftWindow(const ReferenceHistogram& reference, const WindowOptions& options);
  //! Makes sub-window slot `slot` empty, taking its counts out of the totals.
  void ClearSlot(size_t slot);

  ReferenceHistogram reference_;  //!< Copy of the reference histogram.
  WindowOptions options_;         //!< Shape.
  size_t bins_ = 0;               //!< reference_.num_bins().
  std::vector<int64_t> counts_;   //!< Per sub-window slot, per bin: slot * bins_ + bin.
  std::vector<int64_t> events_;   //!< Per slot: events counted.
  std::vector<int64_t> totals_;   //!< Per bin: sum over slots.
  int64_t in_window_ = 0;         //!< Sum of events_.
  int64_t late_ = 0;              //!< Events older than the window (kEventTime).
  size_t current_ = 0;            //!< Slot of the newest sub-window.
  int64_t current_index_ = 0;     //!< kEventTime: floor(time / W) of the newest sub-window.
  bool started_ = false;          //!< kEventTime: an event or AdvanceTo has set current_index_.
};

//! A point-in-time view of a DriftMonitor, ready to export as gauges:
//! vigil_feature_psi{feature} = feature_psi[i], vigil_score_psi = score_psi,
//! vigil_drift_last_evaluation_timestamp_seconds = evaluated_at_ms / 1000.
struct DriftSnapshot {
  std::vector<std::string> features;  //!< Feature names, model input order.
  std::vector<double> feature_psi;    //!< PSI per feature; NaN while the window is empty.
  std::vector<double> feature_ks;     //!< Binned KS per feature; NaN while the window is empty.
  double score_psi = 0;               //!< PSI of the model score.
  double score_ks = 0;                //!< Binned KS of the model score.
  int64_t events_in_window = 0;       //!< Events in each window (all windows see the same events).
  int64_t events_observed = 0;        //!< Events observed since Make.
  int64_t late_events = 0;            //!< kEventTime: events that arrived older than the window.
  int64_t evaluated_at_ms = 0;        //!< The `now_ms` given to Snapshot (wall clock, epoch ms).
};

//! One drift window per model input plus one for the score, all of the same shape.
//! Lifecycle: Make once per task (or per model version: a new version brings a new reference),
//! Observe every scored batch, Snapshot when metrics are exported. Not thread-safe: Observe and
//! Snapshot must come from one thread or be serialised by the caller.
class DriftMonitor {
 public:
  //! Windows over every histogram of `reference`. InvalidArgument for bad options.
  static base::Result<std::unique_ptr<DriftMonitor>> Make(const ReferenceSet& reference,
                                                          const WindowOptions& options);

  //! Counts a scored batch. `rows` is row-major, the layout Forest::PredictBatch reads:
  //! rows[r * num_features() + f] is feature f (in the reference's order, i.e. the model's input
  //! order) of event r; `scores[r]` is its score. `event_times_ms[r]` is its event time, required for
  //! kEventTime windows (and ignored, may be empty, for kEventCount). InvalidArgument, and nothing
  //! counted, if the sizes disagree. Cost per event: (features + 1) binary searches over <= 16 edges;
  //! no allocation.
  base::Status Observe(std::span<const float> rows, std::span<const float> scores,
                       std::span<const int64_t> event_times_ms = {});
  //! kEventTime: slides every window up to `event_time_ms` (e.g. the watermark) without events.
  void AdvanceTo(int64_t event_time_ms);

  //! PSI and KS of every window now. `now_ms` is stamped as evaluated_at_ms. Allocates the result.
  DriftSnapshot Snapshot(int64_t now_ms) const;

  //! Number of features (columns of a row in Observe).
  size_t num_features() const { return features_.size(); }
  //! Events observed since Make.
  int64_t events_observed() const { return observed_; }
  //! Feature names, model input order.
  const std::vector<std::string>& feature_names() const { return names_; }
  //! Window of feature `i`.
  const DriftWindow& feature_window(size_t i) const { return features_[i]; }
  //! Window of the score.
  const DriftWindow& score_window() const { return score_; }

 private:
  DriftMonitor(std::vector<std::string> names, std::vector<DriftWindow> features, DriftWindow score)
      : names_(std::move(names)), features_(std::move(features)), score_(std::move(score)) {}

  std::vector<std::string> names_;     //!< Feature names.
  std::vector<DriftWindow> features_;  //!< One per feature.
  DriftWindow score_;                  //!< The score's.
  int64_t observed_ = 0;               //!< Events observed since Make.
};

}  // namespace vigil::monitor
