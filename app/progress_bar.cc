#include "app/progress_bar.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>

namespace vigil::app {

ProgressBar::ProgressBar(bool enabled, std::string label)
    : enabled_(enabled && isatty(STDERR_FILENO)), label_(std::move(label)) {}

std::string ProgressBar::Line(std::string_view label, double fraction, std::string_view detail) {
  constexpr int kWidth = 40;
  std::string line(label);
  if (fraction >= 0) {
    const double f = std::clamp(fraction, 0.0, 1.0);
    const auto filled = static_cast<size_t>(f * kWidth);
    line += fmt::format(" [{:<{}}] {:5.1f}%", std::string(filled, '#'), kWidth, f * 100);
  }
  if (!detail.empty()) {
    line += ' ';
    line += detail;
  }
  return line;
}

void ProgressBar::Update(double fraction, std::string_view detail) {
  if (!enabled_) return;
  // \033[K clears what a longer previous line left on the right.
  fmt::print(stderr, "\r{}\033[K", Line(label_, fraction, detail));
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (!drawn_) return;
  fmt::print(stderr, "\n");
  drawn_ = false;
}

}  // namespace vigil::app
