#pragma once

#include "engine/operator_registry.h"

namespace vigil::operators {

//! Registers every operator of this folder ("parse", "derive", "window") by name.
base::Status RegisterOperators(engine::OperatorRegistry* registry);

}  // namespace vigil::operators
