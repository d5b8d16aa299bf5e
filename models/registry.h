#pragma once
// The model registry: a directory of versions, each `<dir>/<version>/model.json` (or .ubj) plus
// `metadata.json` (features in order, data window, params, metrics, golden rows, parent). The file
// `<dir>/CHAMPION` names the version that serves; `<dir>/HISTORY` lists every promotion, oldest first,
// and every rollback as "rollback <version>": replayed as a stack, its top is the champion.
// `<dir>/CANDIDATE`, when present, names the version on trial: pipelines with `rollout:` score it next
// to the champion (shadow or canary) and promote or reject it on matured labels.
//
// A version is only ever served after it loads, its features match the pipeline's, and its golden
// rows reproduce (|score - expected| <= 1e-6). Promotion writes CHAMPION atomically (rename), so a
// running pipeline polling it never reads half a name.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "models/explain.h"
#include "models/forest.h"

namespace vigil::models {

//! A loaded, verified version. Immutable; shared by every task that scores with it.
struct ModelVersion {
  std::string version;                //!< Directory name, e.g. "v3".
  std::string parent;                 //!< Version it was derived from, or empty.
  std::vector<std::string> features;  //!< Input columns, in order.
  std::shared_ptr<const Forest> forest;
  std::shared_ptr<const Explainer> explainer;  //!< Reason codes; null when the model has no node covers.
};

//! Loads `<registry>/<version>` and verifies it. `expected_features` empty = accept any.
base::Result<std::shared_ptr<const ModelVersion>> LoadVersion(
    const std::string& registry, const std::string& version,
    const std::vector<std::string>& expected_features);
//! The serving version's name (contents of CHAMPION), NotFound when none was promoted.
base::Result<std::string> ReadChampion(const std::string& registry);
//! Verifies `version` (as LoadVersion) and makes it the champion; records it in HISTORY and marks the
//! run that registered it (runs.h) "promoted" with `detail` and `rollout_metrics` (a verdict's), best
//! effort, in one write after HISTORY: a reader never sees a run promoted without its detail or its
//! HISTORY line. Promoting the champion changes nothing. IoError when CHAMPION or HISTORY cannot be
//! written.
base::Status Promote(const std::string& registry, const std::string& version,
                     const std::vector<std::string>& expected_features, std::string_view detail = {},
                     const std::map<std::string, double>& rollout_metrics = {});
//! Pops the champions' stack: the champion promoted before the current one serves again, verified as
//! Promote verifies (with `expected_features` when not empty); returns its name. HISTORY gets a line
//! "rollback <current>", so a second rollback goes one step further back, never back and forth. The
//! rolled-back version's run is marked "rolled_back" and the restored one's "promoted", best effort.
//! A CANDIDATE naming the restored version is removed, as Promote removes it. FailedPrecondition when
//! fewer than two champions are on the stack, or when CHAMPION does not name the stack's top (nothing
//! is changed then).
base::Result<std::string> Rollback(const std::string& registry,
                                   const std::vector<std::string>& expected_features = {});
//! The version on trial (contents of CANDIDATE); NotFound when there is none.
base::Result<std::string> ReadCandidate(const std::string& registry);
//! Verifies `version` (as LoadVersion) and makes it the candidate; marks its run "candidate".
//! FailedPrecondition when it is the champion, or when another candidate is on trial.
base::Status ProposeCandidate(const std::string& registry, const std::string& version,
                              const std::vector<std::string>& expected_features);
//! Ends the trial of `version`: removes CANDIDATE if it still names it, and sets the run outcome of
//! the version to `outcome` (e.g. kRunRejected) with `detail` and the verdict's `rollout_metrics`
//! (runs.h), best effort.
base::Status EndCandidate(const std::string& registry, const std::string& version, std::string_view outcome,
                          const std::string& detail,
                          const std::map<std::string, double>& rollout_metrics = {});
//! A drift signal: the monitor saw the serving version's inputs or score drift (or its precision on
//! matured labels drop). `<registry>/DRIFT` keeps every signal, one line each (`time version reason`,
//! tab-separated), the newest last; the retraining worker follows the newest.
struct DriftSignal {
  int64_t time_ms = 0;  //!< Wall clock when it was raised.
  std::string version;  //!< The serving version.
  std::string reason;   //!< E.g. "TX_AMOUNT PSI 0.41 >= 0.25".
};
//! Appends `signal` to `<registry>/DRIFT` (one write of a whole line).
base::Status WriteDriftSignal(const std::string& registry, const DriftSignal& signal);
//! The newest signal; NotFound when none was raised.
base::Result<DriftSignal> ReadDriftSignal(const std::string& registry);
//! Every version directory, sorted by name.
base::Result<std::vector<std::string>> ListVersions(const std::string& registry);

}  // namespace vigil::models
