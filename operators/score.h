#pragma once
// `score`: scores every live event with the registry's champion model (vigil's native evaluator, one
// call per batch) and writes SCORE, DECISION (SCORE ≥ threshold) and MODEL_VERSION. It serves what its
// ServingLink holds (operators/serving.h), read once per batch: the champion and, during a rollout,
// the candidate on trial. Under `vigil run` the model lifecycle (lifecycle/) follows the registry for
// it (hot swaps between batches, trials, verdicts) and consumes what it queues; without one, the
// champion loaded at bind time serves for good. The operator owns no thread and never writes the
// registry.

#include "engine/operator.h"
#include "operators/serving.h"

namespace vigil::operators {

//! Factory registered as "score". Fails (a located config error) when the registry has no usable
//! champion at start-up. With a `lifecycle` (may be null), the operator's link is attached to it.
base::Result<std::unique_ptr<engine::Operator>> MakeScore(engine::BindContext& ctx,
                                                          ScoreLifecycle* lifecycle = nullptr);

}  // namespace vigil::operators
