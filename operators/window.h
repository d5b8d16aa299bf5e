#pragma once
// `window`: keyed event-time sliding windows with exact semantics. For an event at time t, an output
// with window w and delay d aggregates the key's events with time in (t − d − w, t − d]; with d = 0
// the current event is included. Events with equal times count in arrival order: an earlier twin is
// included, a later one is not. An event older than its key's latest by more than `lateness` is
// dead-lettered as `late` and changes nothing.
//
// Aggregates: count; sum, avg, min, max of a field (NaN values skipped; avg/min/max of nothing = NaN);
// ratio = sum(field) / sum(denominator) (or / count without a denominator), 0 when the divisor is 0.

#include "engine/operator.h"

namespace vigil::operators {

//! Factory registered as "window".
base::Result<std::unique_ptr<engine::Operator>> MakeWindow(engine::BindContext& ctx);

}  // namespace vigil::operators
