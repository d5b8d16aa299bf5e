#pragma once
// The model registry: a directory of versions, each `<dir>/<version>/model.json` (or .ubj) plus
// `metadata.json` (features in order, data window, params, metrics, golden rows, parent). The file
// `<dir>/CHAMPION` names the version that serves; `<dir>/HISTORY` lists every promotion, oldest first,
// and every rollback as "rollback <version>": replayed as a stack, its top is the champion.
// `<dir>/CANDIDATE`, when present, names the version on trial: pipelines with `rollout:` score it next
// to the champion (shadow or canary) and promote or reject it on matured labels. `<dir>/DRIFT` keeps
// the drift signals; `<dir>/runs/<run id>.json` the training run records (runs.h).
//
// A version is only ever served after it loads, its features match the pipeline's, and its golden
// rows reproduce (|score - expected| <= 1e-6). Promotion writes CHAMPION atomically (rename), so a
// running pipeline polling it never reads half a name.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "models/explain.h"
#include "models/forest.h"
#include "models/runs.h"

namespace vigil::models {

//! A loaded, verified version. Immutable; shared by every task that scores with it.
struct ModelVersion {
  std::string version;                //!< Directory name, e.g. "v3".
  std::string parent;                 //!< Version it was derived from, or empty.
  std::vector<std::string> features;  //!< Input columns, in order.
  std::shared_ptr<const Forest> forest;
  std::shared_ptr<const Explainer> explainer;  //!< Reason codes; null when the model has no node covers.
};

//! A drift signal: the monitor saw the serving version's inputs or score drift (or its precision on
//! matured labels drop). `<dir>/DRIFT` keeps every signal, one line each (`time version reason`,
//! tab-separated), the newest last; the retraining worker follows the newest.
struct DriftSignal {
  int64_t time_ms = 0;  //!< Wall clock when it was raised.
  std::string version;  //!< The serving version.
  std::string reason;   //!< E.g. "TX_AMOUNT PSI 0.41 >= 0.25".
  //! Event time of the newest event the monitor had seen when it raised the signal (epoch ms; 0:
  //! unknown, as in a DRIFT line written before it was recorded).
  int64_t event_time_ms = 0;
};

//! The one reader and writer of a registry directory: its versions, champion, candidate, history,
//! drift signals and training run records. Every file the registry holds is read and written here
//! (MetadataPath only names a version's metadata.json for monitor::LoadVersionReference).
//!
//! Lifecycle: the object is only the directory's name. Constructing it touches nothing (the directory
//! need not exist yet); copies are interchangeable, and every method is const.
//! State: the files are the store; nothing is cached, so every call sees what other processes wrote.
//! Thread-safety: any method may be called from any thread, and other processes may use the same
//! directory. Single files are replaced atomically (tmp + rename) or appended in one write, so readers
//! never see half a name or half a record. Read-modify-write calls (Promote, Rollback, SetRunOutcome)
//! are not serialised: two writers at once may lose one update.
class Registry {
 public:
  //! The registry in directory `dir` (a path, relative to the working directory or absolute).
  explicit Registry(std::string dir) : dir_(std::move(dir)) {}

  //! The directory, as given.
  const std::string& dir() const { return dir_; }

  // Versions.

  //! `<dir>/<version>/metadata.json`, the version's description (whether or not it exists).
  std::string MetadataPath(const std::string& version) const;
  //! Loads `<dir>/<version>` and verifies it. `expected_features` empty = accept any.
  base::Result<std::shared_ptr<const ModelVersion>> LoadVersion(
      const std::string& version, const std::vector<std::string>& expected_features) const;
  //! Every version directory (one holding metadata.json), sorted by name.
  base::Result<std::vector<std::string>> ListVersions() const;
  //! The folders holding a model file (model.json or model.ubj) but no metadata.json: models copied
  //! in, not versions yet (LoadVersion refuses them). Sorted by name; empty when `<dir>` cannot be read.
  std::vector<std::string> ListUnregistered() const;
  //! The next free "v<N>": one more than the highest "v<digits>" entry in the directory ("v1" when
  //! there is none, or no directory).
  std::string NextVersionName() const;
  //! OK when `<dir>/<version>` does not exist; AlreadyExists "<dir>/<version> exists already" when it
  //! does (a name is never reused).
  base::Status CheckVersionFree(const std::string& version) const;
  //! Stores a new version: `<dir>/<version>/<model_file>` holding `model` and `metadata.json` holding
  //! `metadata`, written in a private folder first and renamed into place, so a reader never sees a
  //! half-written version. Creates `<dir>` if needed. AlreadyExists as CheckVersionFree; IoError when
  //! a file cannot be written.
  base::Status AddVersion(const std::string& version, const std::string& model_file, std::string_view model,
                          std::string_view metadata) const;

  // Champion and history.

  //! The serving version's name (contents of CHAMPION), NotFound when none was promoted.
  base::Result<std::string> ReadChampion() const;
  //! Verifies `version` (as LoadVersion) and makes it the champion; records it in HISTORY and marks
  //! the run that registered it "promoted" with `detail` and `rollout_metrics` (a verdict's), best
  //! effort, in one write after HISTORY: a reader never sees a run promoted without its detail or its
  //! HISTORY line. Promoting the champion changes nothing. IoError when CHAMPION or HISTORY cannot be
  //! written.
  base::Status Promote(const std::string& version, const std::vector<std::string>& expected_features,
                       std::string_view detail = {},
                       const std::map<std::string, double>& rollout_metrics = {}) const;
  //! Pops the champions' stack: the champion promoted before the current one serves again, verified
  //! as Promote verifies (with `expected_features` when not empty); returns its name. HISTORY gets a
  //! line "rollback <current>", so a second rollback goes one step further back, never back and
  //! forth. The rolled-back version's run is marked "rolled_back" and the restored one's "promoted",
  //! best effort. A CANDIDATE naming the restored version is removed, as Promote removes it.
  //! FailedPrecondition when fewer than two champions are on the stack, or when CHAMPION does not
  //! name the stack's top (nothing is changed then).
  base::Result<std::string> Rollback(const std::vector<std::string>& expected_features = {}) const;

  // Candidate (the version on trial).

  //! The version on trial (contents of CANDIDATE); NotFound when there is none.
  base::Result<std::string> ReadCandidate() const;
  //! Verifies `version` (as LoadVersion) and makes it the candidate; marks its run "candidate".
  //! FailedPrecondition when it is the champion, or when another candidate is on trial.
  base::Status ProposeCandidate(const std::string& version,
                                const std::vector<std::string>& expected_features) const;
  //! Ends the trial of `version`: removes CANDIDATE if it still names it, and sets the run outcome
  //! of the version to `outcome` (e.g. kRunRejected) with `detail` and the verdict's
  //! `rollout_metrics`, best effort.
  base::Status EndCandidate(const std::string& version, std::string_view outcome, const std::string& detail,
                            const std::map<std::string, double>& rollout_metrics = {}) const;

  // Drift signals.

  //! Appends `signal` to `<dir>/DRIFT` (one write of a whole line).
  base::Status WriteDriftSignal(const DriftSignal& signal) const;
  //! The newest signal; NotFound when none was raised.
  base::Result<DriftSignal> ReadDriftSignal() const;

  // Training run records, `<dir>/runs/<run id>.json` (format in runs.h). A run is written when it
  // starts (NewRunId, outcome "running") and rewritten when it ends (WriteRun: window, offsets,
  // params, metrics, version, sha256, outcome "registered" or "failed: <reason>"); later
  // SetRunOutcome / SetVersionRunOutcome change only `outcome` and `detail` (and a verdict's figures).
  // Promote, Rollback, ProposeCandidate and EndCandidate update the run of their version themselves.

  //! `<dir>/runs`.
  std::string runs_dir() const;
  //! Reserves a new run id, sortable by start time: "r" + YYYYMMDD-HHMMSS (UTC, of `now_ms`) + "-" +
  //! a 4-digit sequence number, the first free one. The reservation is the file itself: it is
  //! created exclusively (so concurrent processes never share an id) holding {id, trigger,
  //! started_ms = now_ms, outcome "running"}. Creates `<dir>/runs` if needed. IoError if it cannot;
  //! FailedPrecondition after 10,000 runs in one second.
  base::Result<std::string> NewRunId(std::string_view trigger, int64_t now_ms) const;
  //! Creates or replaces `<dir>/runs/<run.id>.json`, atomically. InvalidArgument for a bad id.
  base::Status WriteRun(const RunRecord& run) const;
  //! Reads one run. InvalidArgument for an id that is not a file name ([A-Za-z0-9._-], no leading
  //! '.'); NotFound "no run 'ID' in 'DIR'"; Corruption naming the file.
  base::Result<RunRecord> ReadRun(std::string_view id) const;
  //! Every run, sorted by id (oldest first). Empty when `<dir>/runs` does not exist; NotFound if
  //! `<dir>` itself does not; Corruption naming the file if any record does not parse.
  base::Result<std::vector<RunRecord>> ListRuns() const;
  //! Sets `outcome` and `detail` of an existing run (read, modify, write). Errors as
  //! ReadRun/WriteRun.
  base::Status SetRunOutcome(std::string_view id, std::string_view outcome, std::string_view detail) const;
  //! The most recent run (highest id) that registered `version`; nullopt if none did (versions made
  //! before run records existed, or copied in). Errors as ListRuns.
  base::Result<std::optional<RunRecord>> FindRunOfVersion(std::string_view version) const;
  //! Sets the outcome of FindRunOfVersion's run; OK and no change when there is none. Non-empty
  //! `rollout_metrics` replace the run's (a verdict's figures); empty ones leave them.
  base::Status SetVersionRunOutcome(std::string_view version, std::string_view outcome,
                                    std::string_view detail,
                                    const std::map<std::string, double>& rollout_metrics = {}) const;

 private:
  std::string dir_;  //!< The registry directory.
};

}  // namespace vigil::models
