#pragma once
// `window`: keyed event-time sliding windows with exact semantics. For an event at time t, an output
// with window w and delay d aggregates the key's events with time in (t − d − w, t − d]; with d = 0
// the current event is included. Events with equal times count in arrival order: an earlier twin is
// included, a later one is not. An event older than its key's latest by more than `lateness` is
// dead-lettered as `late` and changes nothing.
//
// Aggregates (NaN values skipped): count; sum, avg, min, max of a field (avg/min/max of nothing =
// NaN); ratio = sum(field) / sum(denominator) (or / count without a denominator), 0 when the divisor
// is 0; stddev = the population standard deviation (ddof 0; pandas' rolling std(ddof=0)), NaN over
// nothing, exactly 0 over one value or equal values; zscore = (current value − avg) / stddev, 0 when
// stddev is 0, NaN when the window has no value or the current value is NaN; distinct = the number of
// distinct values; ratio_to_sum/avg/min/max = current value / that aggregate, NaN when it is 0 or NaN.
// "Current value" is the event's own field, whether or not the window (delayed) includes it.
// time_since_last takes no window: t minus the time of the key's previous event (the latest at or
// before t in event time, an earlier twin included, however old), in ms; NaN for a key's first event.
// last = the field's value at the window's newest entry where it is known (not NaN, and passing
// `where`): over "$label", the label of the newest event whose label was known at t; NaN for none.
//
// The key is one column or a composite of 2 to 4 (string or integer) columns, whose state is kept per
// combination of values.
//
// Costs per event, on top of locating the window (bench/pipeline_bench measures them): one pass over
// the window's entries for each of sum..max, ratio, ratio_to_*; two for stddev and zscore; distinct
// puts the window's values in a reused hash table, O(n); time_since_last reads one entry; last reads
// back from the window's end to the first known value.
// Nothing allocates per event once the buffers have grown.

#include "engine/operator.h"

namespace vigil::operators {

//! Factory registered as "window".
base::Result<std::unique_ptr<engine::Operator>> MakeWindow(engine::BindContext& ctx);

}  // namespace vigil::operators
