#pragma once
// `derive`: small stateless column functions — calendar parts of a timestamp and arithmetic or
// comparisons on two operands (columns or constants). Every output is a double column.
//
//   hour_of_day(ts) 0–23 · day_of_week(ts) Monday=0 · is_weekend(ts) 1/0
//   add sub mul div (a, b) · lt le gt ge eq (a, b) → 1/0 · NaN in, NaN out; x/0 = NaN

#include "engine/operator.h"

namespace vigil::operators {

//! Factory registered as "derive".
base::Result<std::unique_ptr<engine::Operator>> MakeDerive(engine::BindContext& ctx);

}  // namespace vigil::operators
