#pragma once
// Training run records: what one training run read, did and produced, and its JSON form. The records
// are stored one file per run, `<registry>/runs/<run id>.json`, next to the model versions they
// produce, and read and written only through models::Registry (registry.h), which also states their
// lifecycle: written when a run starts (outcome "running"), rewritten when it ends, and updated when
// its version becomes the candidate, the champion, or is rolled back. The files are the store:
// records survive restarts, and any process may read them.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::models {

//! Outcome of a run still in progress (or of one whose process died before it ended).
inline constexpr std::string_view kRunRunning = "running";
//! Outcome of a run whose model was stored as a version of the registry.
inline constexpr std::string_view kRunRegistered = "registered";
//! Outcome while the run's version is the registry's candidate (shadow or canary rollout).
inline constexpr std::string_view kRunCandidate = "candidate";
//! Outcome once the run's version became the champion.
inline constexpr std::string_view kRunPromoted = "promoted";
//! Outcome once the run's version stopped serving through a rollback.
inline constexpr std::string_view kRunRolledBack = "rolled_back";
//! Outcome of one trial of a random search: a model trained and scored, not registered.
inline constexpr std::string_view kRunTrial = "trial";
//! Outcome of a run whose model was trained but refused (e.g. by a promotion gate).
inline constexpr std::string_view kRunRejected = "rejected";
//! Prefix of the outcome of a run that failed: "failed: <reason>".
inline constexpr std::string_view kRunFailedPrefix = "failed: ";

//! A half-open time window [start_ms, end_ms), epoch ms (UTC). Empty when end_ms <= start_ms.
struct TimeWindow {
  int64_t start_ms = 0;  //!< First instant inside.
  int64_t end_ms = 0;    //!< First instant after.
  bool empty() const { return end_ms <= start_ms; }
  bool operator==(const TimeWindow&) const = default;
};

//! The offsets [first, end) of one Kafka partition that a run's data came from.
struct OffsetRange {
  std::string topic;      //!< Topic name.
  int32_t partition = 0;  //!< Partition number.
  int64_t first = 0;      //!< First offset read.
  int64_t end = 0;        //!< One past the last offset read.
  bool operator==(const OffsetRange&) const = default;
};

//! The random search a run belongs to (lifecycle/train_search.h): each trial is a run, and so is the
//! registration of the best trial's model, which names the search.
struct SearchRef {
  std::string id;  //!< The search: the id of the run that registers its best model.
  int trial = 0;   //!< A trial: its 1-based number. The registering run: the best trial's number.
  int trials = 0;  //!< A trial: the trials asked for. The registering run: the trials run.
  bool empty() const { return id.empty(); }
  bool operator==(const SearchRef&) const = default;
};

//! One training run. A plain value; the JSON file is its durable form (see RunToJson).
struct RunRecord {
  std::string id;                    //!< Run id, e.g. "r20260412-101500-0001"; the file name without ".json".
  std::string trigger;               //!< What started it: "manual", "schedule", "drift" or "command".
  int64_t started_ms = 0;            //!< Wall-clock start, epoch ms.
  int64_t finished_ms = 0;           //!< Wall-clock end, epoch ms; 0 while running.
  std::string input;                 //!< The data it read: a table path, or empty.
  TimeWindow train_window;           //!< Event-time window of the training rows.
  TimeWindow validation_window;      //!< Event-time window of the validation rows; empty if none.
  std::vector<OffsetRange> offsets;  //!< Kafka offset ranges behind the data; empty for file input.
  std::map<std::string, std::string> params;         //!< Training parameters (libxgboost, rounds).
  std::map<std::string, double> train_metrics;       //!< On the training rows, e.g. "average_precision".
  std::map<std::string, double> validation_metrics;  //!< On the validation rows; empty if none.
  std::string model_version;                         //!< Version it registered; empty if none.
  std::string model_sha256;                          //!< SHA-256 (hex) of the model file; empty if none.
  std::string parent;                                //!< The champion when it started; empty if none.
  std::string outcome;  //!< kRunRunning, kRunRegistered, kRunPromoted, ..., or "failed: <reason>".
  std::string detail;   //!< Free text about the outcome (e.g. why validation was skipped).
  SearchRef search;     //!< The search it is part of; empty if none.
  //! The figures of the rollout verdict on its version (lifecycle/rollout_judge.h): champion and
  //! candidate metric, difference, ci_low, ci_high, confidence, margin, resamples, events, frauds,
  //! cards. Empty when no trial judged it.
  std::map<std::string, double> rollout_metrics;

  //! finished_ms - started_ms, or 0 while running.
  int64_t duration_ms() const { return finished_ms > 0 ? finished_ms - started_ms : 0; }
  bool operator==(const RunRecord&) const = default;
};

//! The record as a JSON object, one member a line, e.g. (abridged):
//!   {"format": "vigil-run/1", "id": "r20260412-101500-0001", "trigger": "manual",
//!    "outcome": "registered", "detail": "", "started": "2026-04-12T10:15:00Z", "started_ms": ...,
//!    "finished": ..., "finished_ms": ..., "duration_ms": 3120, "input": "table.csv",
//!    "train_window": {"start": "2018-04-11T00:00:00Z", "end": ..., "start_ms": ..., "end_ms": ...},
//!    "validation_window": {...} or null,
//!    "offsets": [{"topic": "transactions", "partition": 0, "first": 0, "end": 1200}],
//!    "params": {"eta": "0.3", "rounds": "100", ...},
//!    "train_metrics": {"auc_roc": 0.99, "average_precision": 0.91, "rows": 58264, "frauds": 385},
//!    "validation_metrics": {...}, "model_version": "v3", "model_sha256": "9f2c...", "parent": "v2",
//!    "search": {"id": "r20260412-101500-0001", "trial": 4, "trials": 10} or null,
//!    "rollout_metrics": {"candidate": 0.71, "champion": 0.65, "ci_low": 0.02, ...}}
//! Times appear both as epoch ms (what is read back) and ISO-8601 text (for people); the ISO text and
//! duration_ms are ignored on reading. Empty strings (no version, no parent, no end) and non-finite
//! metrics are written as null.
std::string RunToJson(const RunRecord& run);
//! Parses RunToJson's output. Unknown keys are ignored; a null metric reads as NaN. Corruption, with
//! `what` (e.g. the file name) as context, for invalid JSON, a missing id/started_ms/outcome, a value
//! of the wrong type, or another format.
base::Result<RunRecord> RunFromJson(std::string_view json, std::string_view what);

//! Parses "TOPIC:PARTITION:FIRST-END" (e.g. "transactions:0:1200-5400"). InvalidArgument otherwise,
//! or when END < FIRST.
base::Result<OffsetRange> ParseOffsetRange(std::string_view text);

}  // namespace vigil::models
