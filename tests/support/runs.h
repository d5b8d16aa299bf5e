#pragma once
// The registry's training run records, as `vigil runs list --json` prints them, for end-to-end tests.

#include <cstdint>
#include <string>
#include <vector>

#include "models/runs.h"

namespace vigil::testing {

//! One run record (the fields tests look at).
struct Run {
  std::string id, trigger, outcome, detail, parent, version;
  int64_t train_start = 0, train_end = 0, valid_end = 0;
};

//! The run records of registry `reg`, oldest first, through `vigil runs --registry REG list --json`
//! (its output is kept in `dir`/runs.json). Empty when the command fails.
std::vector<Run> ListRuns(const std::string& dir, const std::string& reg);
//! The runs with `trigger` that have ended (outcome not "running").
std::vector<Run> WithTrigger(const std::vector<Run>& runs, const std::string& trigger);

//! The one run record of `registry` whose model_version is `version`; REQUIREs that there is one.
models::RunRecord RunOf(const std::string& registry, const std::string& version);

}  // namespace vigil::testing
