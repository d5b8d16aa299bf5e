#pragma once
// The periodic evaluation of a score operator's monitor (operators/score_monitor.h): the operator
// feeds it per batch; the lifecycle calls ExportMonitor every `monitor.every` of wall time, which
// recomputes the drift and performance gauges and appends the drift signals due to the registry
// (models::DriftSignal, `DRIFT`), where the retraining worker (lifecycle/retrainer.h) reads them.

#include <cstdint>

#include "models/registry.h"
#include "operators/score_monitor.h"

namespace vigil::lifecycle {

//! Exports `monitor` as of `wall_ms` (Unix ms) and appends each drift signal due to `registry`,
//! logging it (a signal that cannot be written is logged and dropped). Returns the signals written.
int ExportMonitor(operators::ScoreMonitor& monitor, const models::Registry& registry, int64_t wall_ms);

}  // namespace vigil::lifecycle
