#pragma once
// `score`: scores every live event with the registry's champion model (vigil's native evaluator, one
// call per batch) and writes SCORE, DECISION (SCORE ≥ threshold) and MODEL_VERSION. A background
// thread watches the registry's CHAMPION; a promoted version is loaded and verified (features, golden
// rows) off the hot path and swapped in atomically between batches. A version that fails to load or
// verify is refused with an error in the log while the current one keeps serving.

#include "engine/operator.h"

namespace vigil::operators {

//! Factory registered as "score". Fails (a located config error) when the registry has no usable
//! champion at start-up.
base::Result<std::unique_ptr<engine::Operator>> MakeScore(engine::BindContext& ctx);

}  // namespace vigil::operators
