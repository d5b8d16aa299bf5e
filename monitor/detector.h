#pragma once
// Change detectors over a stream of numbers: Page-Hinkley and ADWIN. They watch a performance
// stream (for example the precision of each newly matured day, or per-event 0/1 errors) and raise an
// alarm when its mean changes; vigil_performance_drift_detected exports the alarm.
//
// Both are deterministic: the same stream gives the same alarms. Neither is thread-safe; each is
// owned by one caller. Neither allocates after Make (ADWIN keeps a fixed-size ring).

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"

namespace vigil::monitor {

//! Which change of the mean a detector reports.
enum class ChangeDirection {
  kDecrease,  //!< A drop: use on a quality metric (precision, AP, card precision@k).
  kIncrease,  //!< A rise: use on an error stream (1 - precision, per-event 0/1 misclassification).
};

//! Parameters of PageHinkley.
struct PageHinkleyOptions {
  //! Which change to detect. Default kDecrease (a quality metric dropping).
  ChangeDirection direction = ChangeDirection::kDecrease;
  //! delta: changes of the mean smaller than this are tolerated (same unit as the stream). Default 0.005.
  double delta = 0.005;
  //! lambda: alarm threshold on the cumulative deviation (stream unit times samples). Larger = fewer
  //! false alarms, later detection. Default 50, the usual choice for per-event 0/1 error streams; for
  //! one sample per day of a metric in [0, 1] a value near 1 is typical.
  double lambda = 50;
  //! alpha: fading factor of the cumulative sum, in (0, 1]; 1 = no forgetting. Default 0.9999.
  double alpha = 0.9999;
  //! Samples (since the start or the last alarm) before an alarm may be raised. Default 30.
  int64_t min_samples = 30;
};

//! Page-Hinkley test (Page 1954; Hinkley 1971), with a fading factor.
//! For kIncrease: m_t = alpha * m_{t-1} + (x_t - mean_t - delta), M_t = min(M_1..M_t) and the
//! statistic is m_t - M_t. For kDecrease: m_t = alpha * m_{t-1} + (x_t - mean_t + delta), M_t the
//! max, and the statistic is M_t - m_t. mean_t is the mean of the samples since the last reset. An
//! alarm is raised when the statistic exceeds lambda (after min_samples); the detector then resets,
//! so it learns the new level and can detect the next change.
class PageHinkley {
 public:
  //! A detector; InvalidArgument for delta < 0, lambda <= 0, alpha outside (0, 1], min_samples < 1.
  static base::Result<PageHinkley> Make(const PageHinkleyOptions& options);

  //! Adds one sample (NaN samples are ignored and return false). True when it raises an alarm.
  //! Cost: O(1).
  bool Update(double x);
  //! Forgets the samples (not the alarm count).
  void Reset();

  //! Current statistic (see the class comment); 0 after a reset.
  double statistic() const { return statistic_; }
  //! Samples since the start or the last alarm.
  int64_t samples() const { return samples_; }
  //! Alarms raised since Make.
  int64_t alarms() const { return alarms_; }
  //! The parameters.
  const PageHinkleyOptions& options() const { return options_; }

 private:
  explicit PageHinkley(const PageHinkleyOptions& options) : options_(options) {}

  PageHinkleyOptions options_;  //!< Parameters.
  int64_t samples_ = 0;         //!< Since reset.
  double mean_ = 0;             //!< Mean since reset.
  double sum_ = 0;              //!< m_t.
  double extreme_ = 0;          //!< M_t: min (kIncrease) or max (kDecrease) of m.
  double statistic_ = 0;        //!< |m_t - M_t|.
  int64_t alarms_ = 0;          //!< Alarms raised.
};

//! Parameters of Adwin.
struct AdwinOptions {
  //! Which change to report. Default kDecrease (a quality metric dropping).
  ChangeDirection direction = ChangeDirection::kDecrease;
  //! Confidence: the probability of a false cut per check is bounded by about delta. Default 0.002.
  double delta = 0.002;
  //! Largest window kept, in samples; older samples are dropped. 16 .. 1,000,000. Default 1000.
  int64_t max_window = 1000;
  //! Smallest sub-window on either side of a cut, in samples. >= 1. Default 5.
  int64_t min_side = 5;
};

//! ADWIN (Bifet and Gavaldà 2007), the exact variant over a bounded window: after each sample, every
//! split of the window into an older part W0 and a newer part W1 (each >= min_side samples) is
//! tested; when |mean(W0) - mean(W1)| >= eps_cut = sqrt(2 / m * sigma^2 * ln(2 / delta')) +
//! 2 / (3 m) * ln(2 / delta') (m = 1 / (1/|W0| + 1/|W1|), sigma^2 the window variance, delta' =
//! delta / n, n the window size) the older part is dropped. A cut in `direction` raises an alarm; a cut the
//! other way only shrinks the window. Samples should lie in [0, 1] (the bound assumes it).
class Adwin {
 public:
  //! A detector; InvalidArgument for delta outside (0, 1), max_window outside [16, 1e6], min_side < 1.
  static base::Result<Adwin> Make(const AdwinOptions& options);

  //! Adds one sample (NaN ignored, returns false). True when it raises an alarm. Cost: O(window)
  //! per sample (one pass over the prefix sums), no allocation.
  bool Update(double x);

  //! Samples in the window.
  int64_t width() const { return size_; }
  //! Mean of the window; 0 when empty.
  double mean() const;
  //! Alarms raised since Make.
  int64_t alarms() const { return alarms_; }
  //! The parameters.
  const AdwinOptions& options() const { return options_; }

 private:
  explicit Adwin(const AdwinOptions& options)
      : options_(options), ring_(static_cast<size_t>(options.max_window)) {}
  //! Sample i of the window, oldest first.
  double At(int64_t i) const { return ring_[static_cast<size_t>((head_ + i) % options_.max_window)]; }
  //! Drops the oldest `n` samples.
  void DropOldest(int64_t n);

  AdwinOptions options_;      //!< Parameters.
  std::vector<double> ring_;  //!< Samples, a ring of max_window.
  int64_t head_ = 0;          //!< Ring index of the oldest sample.
  int64_t size_ = 0;          //!< Samples in the window.
  double sum_ = 0;            //!< Sum of the window.
  double sum_squares_ = 0;    //!< Sum of squares of the window.
  int64_t alarms_ = 0;        //!< Alarms raised.
};

}  // namespace vigil::monitor
