#pragma once
// The progress bar of the long commands (simulate, replay, train): one line on stderr, redrawn in
// place, and only when stderr is a terminal, so logs and pipes never receive it.

#include <cstdio>
#include <string>
#include <string_view>

namespace vigil::app {

//! Lifecycle: constructed enabled or not; Update any number of times; Finish once (or destroyed).
class ProgressBar {
 public:
  //! Draws only when `enabled` and stderr is a terminal. `label` starts the line ("replay").
  ProgressBar(bool enabled, std::string label);
  ~ProgressBar() { Finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  //! Redraws the line: the bar at `fraction` (0..1; negative = unknown: no bar) and `detail`.
  void Update(double fraction, std::string_view detail = {});
  //! Ends the line (a newline), once something was drawn.
  void Finish();

  //! The line Update draws, without the carriage return: "label [####    ]  45.0% detail".
  static std::string Line(std::string_view label, double fraction, std::string_view detail);

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
};

}  // namespace vigil::app
