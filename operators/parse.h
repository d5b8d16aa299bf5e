#pragma once
// `parse`: validates raw JSON events against the schema (simdjson On-Demand) and fills the schema's
// columns. Invalid events are dropped with a machine-readable reason; nothing is thrown.

#include "engine/operator.h"

namespace vigil::operators {

//! Factory registered as "parse". The Plan puts it first, bound to the pipeline's `schema:`.
base::Result<std::unique_ptr<engine::Operator>> MakeParse(engine::BindContext& ctx);

}  // namespace vigil::operators
