#pragma once
// One task of a pipeline, in-process: the plan built from YAML text and the task of partition 0 on a
// fresh state directory, for engine tests that drive a Task directly (RunOnce, Query, commits).
// Fails the test (REQUIRE) when the pipeline does not bind. Not thread-safe; the task is.

#include <memory>
#include <string>

#include "engine/engine_probe.h"
#include "engine/operator_registry.h"
#include "engine/plan.h"
#include "engine/task.h"

namespace vigil::testing {

struct OneTask {
  //! Binds `yaml` (every operator registered) and opens partition 0 in TempDir("vigil-<name>")/p0;
  //! `name` also names the metrics' pipeline label.
  OneTask(const std::string& yaml, const std::string& name);

  engine::OperatorRegistry registry;
  engine::EngineProbe probe;
  std::unique_ptr<const engine::Plan> plan;
  std::unique_ptr<engine::Task> task;
};

}  // namespace vigil::testing
