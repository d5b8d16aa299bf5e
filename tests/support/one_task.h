#pragma once
// One task of a pipeline, in-process: the pipeline bound from YAML text (engine::Pipeline, without
// I/O) and the task of partition 0 of its stage on a fresh state directory, for engine tests that
// drive a Task directly (RunOnce, Query, commits). Fails the test (REQUIRE) when the pipeline does not
// bind. Not thread-safe; the task is.

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/pipeline.h"
#include "engine/task.h"

namespace vigil::testing {

struct OneTask {
  //! Binds `yaml` (every operator registered) and opens partition 0 in TempDir("vigil-<name>")/p0;
  //! `name` also names the pipeline, hence the metrics' pipeline label.
  OneTask(const std::string& yaml, const std::string& name);

  engine::OperatorRegistry registry;
  std::unique_ptr<engine::Pipeline> pipeline;
  const engine::Plan* plan = nullptr;  //!< The stage's, owned by `pipeline`.
  engine::EngineProbe* probe = nullptr;
  std::unique_ptr<engine::Task> task;
};

//! The value of the metric line starting with `series` in Prometheus text (SerializeMetrics), or NaN.
inline double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return std::nan("");
  return std::strtod(metrics.c_str() + at + series.size() + 2, nullptr);
}

}  // namespace vigil::testing
