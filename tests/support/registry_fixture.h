#pragma once
// A model registry filled from a Python xgboost fixture (tests/models/fixtures), for the tests of the
// registry's governance and of the model lifecycle.

#include <string>
#include <vector>

#include "models/registry.h"

namespace vigil::testing {

//! The fixture model's inputs.
extern const std::vector<std::string> kFixtureFeatures;

//! The fixture model, XGBoost JSON text.
std::string FixtureModel();

//! Writes `<dir>/<version>` of `registry` from the fixture (JSON text) with one golden row its forest
//! scores, and a run record that registered it. `rename_first`: the first feature is called "amt"
//! instead.
void AddFixtureVersion(const models::Registry& registry, const std::string& version,
                       bool rename_first = false);

}  // namespace vigil::testing
