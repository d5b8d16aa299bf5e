#include "monitor/detector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vigil::monitor {

base::Result<PageHinkley> PageHinkley::Make(const PageHinkleyOptions& options) {
  if (!(options.delta >= 0)) return base::InvalidArgument(fmt::format("Page-Hinkley delta must be >= 0, got {}", options.delta));
  if (!(options.lambda > 0)) return base::InvalidArgument(fmt::format("Page-Hinkley lambda must be > 0, got {}", options.lambda));
  if (!(options.alpha > 0 && options.alpha <= 1)) {
    return base::InvalidArgument(fmt::format("Page-Hinkley alpha must be in (0, 1], got {}", options.alpha));
  }
  if (options.min_samples < 1) {
    return base::InvalidArgument(fmt::format("Page-Hinkley min_samples must be >= 1, got {}", options.min_samples));
  }
  return PageHinkley(options);
}

void PageHinkley::Reset() {
  samples_ = 0;
  mean_ = 0;
  sum_ = 0;
  extreme_ = 0;
  statistic_ = 0;
}

bool PageHinkley::Update(double x) {
  if (std::isnan(x)) return false;
  ++samples_;
  mean_ += (x - mean_) / static_cast<double>(samples_);
  if (options_.direction == ChangeDirection::kIncrease) {
    sum_ = options_.alpha * sum_ + (x - mean_ - options_.delta);
    extreme_ = std::min(extreme_, sum_);
    statistic_ = sum_ - extreme_;
  } else {
    sum_ = options_.alpha * sum_ + (x - mean_ + options_.delta);
    extreme_ = std::max(extreme_, sum_);
    statistic_ = extreme_ - sum_;
  }
  if (samples_ < options_.min_samples || statistic_ <= options_.lambda) return false;
  ++alarms_;
  Reset();
  return true;
}

base::Result<Adwin> Adwin::Make(const AdwinOptions& options) {
  if (!(options.delta > 0 && options.delta < 1)) {
    return base::InvalidArgument(fmt::format("ADWIN delta must be in (0, 1), got {}", options.delta));
  }
  if (options.max_window < 16 || options.max_window > 1'000'000) {
    return base::InvalidArgument(fmt::format("ADWIN max_window must be in [16, 1000000], got {}", options.max_window));
  }
  if (options.min_side < 1) return base::InvalidArgument(fmt::format("ADWIN min_side must be >= 1, got {}", options.min_side));
  return Adwin(options);
}

double Adwin::mean() const { return size_ == 0 ? 0 : sum_ / static_cast<double>(size_); }

void Adwin::DropOldest(int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double x = At(0);
    sum_ -= x;
    sum_squares_ -= x * x;
    head_ = (head_ + 1) % options_.max_window;
    --size_;
  }
}

bool Adwin::Update(double x) {
  if (std::isnan(x)) return false;
  if (size_ == options_.max_window) DropOldest(1);
  ring_[static_cast<size_t>((head_ + size_) % options_.max_window)] = x;
  ++size_;
  sum_ += x;
  sum_squares_ += x * x;
  bool alarm = false;
  // Each pass finds the newest split that cuts and drops everything older; stop when none cuts.
  for (;;) {
    const int64_t n = size_;
    if (n < 2 * options_.min_side) break;
    const double total = sum_;
    const double mean = total / static_cast<double>(n);
    const double variance = std::max(0.0, sum_squares_ / static_cast<double>(n) - mean * mean);
    const double log_term = std::log(2.0 * static_cast<double>(n) / options_.delta);
    double older = 0;
    int64_t cut = 0;
    bool cut_down = false;
    for (int64_t k = 1; k <= n - options_.min_side; ++k) {
      older += At(k - 1);
      if (k < options_.min_side) continue;
      const double n0 = static_cast<double>(k), n1 = static_cast<double>(n - k);
      const double mean0 = older / n0, mean1 = (total - older) / n1;
      const double m = 1.0 / (1.0 / n0 + 1.0 / n1);
      const double eps = std::sqrt(2.0 / m * variance * log_term) + 2.0 / (3.0 * m) * log_term;
      if (std::fabs(mean0 - mean1) >= eps) {
        cut = k;
        cut_down = mean1 < mean0;
      }
    }
    if (cut == 0) break;
    if ((options_.direction == ChangeDirection::kDecrease) == cut_down) alarm = true;
    DropOldest(cut);
  }
  if (alarm) ++alarms_;
  return alarm;
}

}  // namespace vigil::monitor
