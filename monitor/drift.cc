#include "monitor/drift.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace vigil::monitor {
namespace {

//! Largest ring accepted: keeps a window's counters small.
constexpr int kMaxSubWindows = 1024;

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

double Psi(std::span<const double> live, std::span<const double> reference, double epsilon) {
  double psi = 0;
  const size_t n = std::min(live.size(), reference.size());
  for (size_t i = 0; i < n; ++i) {
    const double a = std::max(live[i], epsilon);
    const double e = std::max(reference[i], epsilon);
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

DriftWindow::DriftWindow(const ReferenceHistogram& reference, const WindowOptions& options)
    : reference_(reference),
      options_(options),
      bins_(reference.num_bins()),
      counts_(static_cast<size_t>(options.sub_windows) * reference.num_bins(), 0),
      events_(static_cast<size_t>(options.sub_windows), 0),
      totals_(reference.num_bins(), 0) {}

base::Result<DriftWindow> DriftWindow::Make(const ReferenceHistogram& reference, const WindowOptions& options) {
  if (options.sub_windows < 1 || options.sub_windows > kMaxSubWindows) {
    return base::InvalidArgument(fmt::format("sub_windows must be in [1, {}], got {}", kMaxSubWindows, options.sub_windows));
  }
  if (options.kind == WindowKind::kEventCount && options.events_per_sub_window < 1) {
    return base::InvalidArgument(fmt::format("events_per_sub_window must be >= 1, got {}", options.events_per_sub_window));
  }
  if (options.kind == WindowKind::kEventTime && options.sub_window_ms < 1) {
    return base::InvalidArgument(fmt::format("sub_window_ms must be >= 1, got {}", options.sub_window_ms));
  }
  return DriftWindow(reference, options);
}

void DriftWindow::ClearSlot(size_t slot) {
  int64_t* counts = counts_.data() + slot * bins_;
  for (size_t b = 0; b < bins_; ++b) {
    totals_[b] -= counts[b];
    counts[b] = 0;
  }
  in_window_ -= events_[slot];
  events_[slot] = 0;
}

void DriftWindow::AdvanceTo(int64_t event_time_ms) {
  if (options_.kind != WindowKind::kEventTime) return;
  const int64_t index = FloorDiv(event_time_ms, options_.sub_window_ms);
  if (!started_) {
    started_ = true;
    current_index_ = index;
    return;
  }
  if (index <= current_index_) return;
  const int64_t ring = options_.sub_windows;
  const int64_t steps = index - current_index_;
  for (int64_t s = 0; s < std::min(steps, ring); ++s) {
    current_ = (current_ + 1) % static_cast<size_t>(ring);
    ClearSlot(current_);
  }
  // Beyond one full turn every slot is already clear; only the position matters.
  if (steps > ring) current_ = (current_ + static_cast<size_t>((steps - ring) % ring)) % static_cast<size_t>(ring);
  current_index_ = index;
}

void DriftWindow::Add(float value, int64_t event_time_ms) {
  size_t slot = current_;
  if (options_.kind == WindowKind::kEventCount) {
    if (events_[current_] >= options_.events_per_sub_window) {
      current_ = (current_ + 1) % events_.size();
      ClearSlot(current_);
    }
    slot = current_;
  } else {
    AdvanceTo(event_time_ms);
    const int64_t age = current_index_ - FloorDiv(event_time_ms, options_.sub_window_ms);
    const int64_t ring = options_.sub_windows;
    if (age >= ring) {
      ++late_;
      return;
    }
    slot = (current_ + static_cast<size_t>(ring - age)) % static_cast<size_t>(ring);
  }
  const size_t bin = reference_.BinOf(value);
  ++counts_[slot * bins_ + bin];
  ++totals_[bin];
  ++events_[slot];
  ++in_window_;
}

void DriftWindow::Fractions(std::vector<double>& out) const {
  out.assign(bins_, 0.0);
  if (in_window_ == 0) return;
  for (size_t b = 0; b < bins_; ++b) out[b] = static_cast<double>(totals_[b]) / static_cast<double>(in_window_);
}

double DriftWindow::Psi() const {
  if (in_window_ == 0) return std::numeric_limits<double>::quiet_NaN();
  std::array<double, kMaxEdges + 2> live;
  for (size_t b = 0; b < bins_; ++b) live[b] = static_cast<double>(totals_[b]) / static_cast<double>(in_window_);
  return monitor::Psi(std::span<const double>(live.data(), bins_), reference_.fractions());
}

double DriftWindow::Ks() const {
  if (in_window_ == 0) return std::numeric_limits<double>::quiet_NaN();
  const std::span<const double> reference = reference_.fractions();
  double live_cdf = 0, reference_cdf = 0, ks = 0;
  for (size_t b = 0; b < bins_; ++b) {
    live_cdf += static_cast<double>(totals_[b]) / static_cast<double>(in_window_);
    reference_cdf += reference[b];
    ks = std::max(ks, std::fabs(live_cdf - reference_cdf));
  }
  return std::min(ks, 1.0);
}

base::Result<std::unique_ptr<DriftMonitor>> DriftMonitor::Make(const ReferenceSet& reference,
                                                               const WindowOptions& options) {
  std::vector<DriftWindow> features;
  features.reserve(reference.num_features());
  for (size_t i = 0; i < reference.num_features(); ++i) {
    VIGIL_ASSIGN_OR_RETURN(DriftWindow window, DriftWindow::Make(reference.feature(i), options));
    features.push_back(std::move(window));
  }
  VIGIL_ASSIGN_OR_RETURN(DriftWindow score, DriftWindow::Make(reference.score(), options));
  return std::unique_ptr<DriftMonitor>(new DriftMonitor(reference.feature_names(), std::move(features), std::move(score)));
}

base::Status DriftMonitor::Observe(std::span<const float> rows, std::span<const float> scores,
                                   std::span<const int64_t> event_times_ms) {
  const size_t n = scores.size();
  const size_t width = features_.size();
  if (rows.size() != n * width) {
    return base::InvalidArgument(fmt::format("drift: {} values for {} rows of {} features", rows.size(), n, width));
  }
  const bool by_time = score_.options().kind == WindowKind::kEventTime;
  if (by_time && event_times_ms.size() != n) {
    return base::InvalidArgument(fmt::format("drift: {} event times for {} rows", event_times_ms.size(), n));
  }
  // Window by window keeps one window's counters hot; every window still sees the events in order.
  for (size_t f = 0; f < width; ++f) {
    DriftWindow& window = features_[f];
    for (size_t r = 0; r < n; ++r) window.Add(rows[r * width + f], by_time ? event_times_ms[r] : 0);
  }
  for (size_t r = 0; r < n; ++r) score_.Add(scores[r], by_time ? event_times_ms[r] : 0);
  observed_ += static_cast<int64_t>(n);
  return base::Status::OK();
}

void DriftMonitor::AdvanceTo(int64_t event_time_ms) {
  for (DriftWindow& window : features_) window.AdvanceTo(event_time_ms);
  score_.AdvanceTo(event_time_ms);
}

DriftSnapshot DriftMonitor::Snapshot(int64_t now_ms) const {
  DriftSnapshot s;
  s.features = names_;
  s.feature_psi.reserve(features_.size());
  s.feature_ks.reserve(features_.size());
  for (const DriftWindow& window : features_) {
    s.feature_psi.push_back(window.Psi());
    s.feature_ks.push_back(window.Ks());
  }
  s.score_psi = score_.Psi();
  s.score_ks = score_.Ks();
  s.events_in_window = score_.events_in_window();
  s.events_observed = observed_;
  s.late_events = score_.late_events();
  s.evaluated_at_ms = now_ms;
  return s;
}

}  // namespace vigil::monitor
