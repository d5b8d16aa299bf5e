#pragma once

#include "engine/operator_registry.h"
#include "operators/serving.h"

namespace vigil::operators {

//! Registers every operator of this folder ("parse", "derive", "window", "score") by name. Each score
//! operator bound through `registry` is attached to `lifecycle` (may be null: none, the champion
//! loaded at bind time serves), which must outlive the plans built with it.
base::Status RegisterOperators(engine::OperatorRegistry* registry, ScoreLifecycle* lifecycle = nullptr);

}  // namespace vigil::operators
