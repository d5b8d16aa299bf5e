#pragma once
// The random search of `vigil train --search N` and of the retraining worker (`retrain: {search: N}`).
// Random search, not a grid and not successive halving: each trial draws every parameter of the
// space independently (a stream of the seed per trial, so trial k draws the same values whatever the
// budget cut), trains on the training window (early stopping on the validation window, when set) and
// scores the validation window, which starts `delay_days` after the training window (7 by default
// for `vigil train --search`, as the Handbook's model selection, chapter 5, leaves a delay week).
//
// Records: the search reserves one run id first (its id names the search); each trial then writes a
// run record of its own (trigger "search", outcome "trial", its params and validation metrics, its
// number); at the end the best trial's model (the highest metric; the earliest trial on a tie) is
// registered as a version under the reserved id, with the best trial's params, whose validation
// metrics are the best trial's (the same model scored on the same rows), and `search` = {its id, the
// best trial, the trials run}. With a wall-time budget, no trial starts once it is spent (the first
// always runs); the best so far is registered.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "lifecycle/trainer.h"
#include "models/runs.h"

namespace vigil::lifecycle {

//! The delay between training and validation of `vigil train --search` when neither --delay-days nor
//! train.delay_days says: the Handbook's week.
inline constexpr int kSearchDelayDays = 7;

//! One trial, as the search saw it.
struct SearchTrial {
  int number = 0;                            //!< 1-based.
  std::map<std::string, std::string> drawn;  //!< The searched parameters' values (and "rounds").
  models::RunRecord run;                     //!< Its run record, as written.
  double score = 0;                          //!< The metric on the validation window; NaN if it failed.
  base::Status status;                       //!< Why it failed, or OK.
};

//! How a search runs.
struct SearchOptions {
  int trials = 10;                           //!< Trials to run, at least 1. Default 10.
  std::string metric = "average_precision";  //!< average_precision or card_precision (@100).
  //! The searched parameters (config::SearchDimension); empty: config::DefaultSearchSpace().
  std::map<std::string, config::SearchDimension> space;
  uint64_t seed = 0;      //!< Seeds the draws: the same seed, space and trials draw the same values.
  int64_t budget_ms = 0;  //!< Wall time after which no trial starts; 0: none. Default 0.
  //! Called after each trial (a progress line). Default none.
  std::function<void(const SearchTrial& trial, int trials)> on_trial;
};

//! What a search did.
struct SearchOutcome {
  std::vector<SearchTrial> trials;  //!< Trials run, in order.
  int best = 0;                     //!< Number of the best trial; 0 when none succeeded.
  bool budget_reached = false;      //!< The budget stopped the search before its last trial.
  TrainOutcome registered;          //!< The registering run (its `trained` fails when no trial did).
};

//! The values trial `number` (1-based) draws from `space` for `seed`: integers as integers, other
//! numbers with 3 significant digits, choices as written. Deterministic and independent across trials.
std::map<std::string, std::string> DrawTrial(const std::map<std::string, config::SearchDimension>& space,
                                             uint64_t seed, int number);

//! Runs the search on `request`'s table and windows (its `model` holds the parameters not searched;
//! `run_id`, if set, is the reserved id of the registering run) and registers the best. Errors
//! (InvalidArgument for bad options, an unknown trigger or no validation window; IoError when the
//! registry cannot be written) mean nothing was trained; a failure after the id was reserved is
//! recorded there ("failed: ..."), as a failed `registered` outcome. Blocking; thread-safe as
//! TrainAndRegister.
base::Result<SearchOutcome> SearchAndRegister(const TrainRequest& request, const SearchOptions& options);

//! The drawn values as "name=value name=value", for a log line.
std::string DrawnText(const std::map<std::string, std::string>& drawn);

}  // namespace vigil::lifecycle
