#pragma once
// The background retraining worker of `vigil run`. When the score operator has `retrain:` (and a
// `feature_log:`), one low-priority thread follows the feature log and, when a trigger fires,
// trains on it through the same code as `vigil train` (TrainAndRegister), registering the new
// version (never promoting it) with parent = the champion, and recording the run (models/runs.h).
//
// Triggers:
//   schedule  event time: each time the log's newest event time passes the previous training's
//             point P by `every`, a training "as of" P + every: validation on [P' - valid_days, P'),
//             training on the train_days that end delay_days before it. Points are taken in order, so windows
//             advance by exactly `every`. The first point is `every` after the last scheduled run recorded in
//             the registry (so a restart keeps the cadence); without one, `every` after the newest
//             time of the log at start (history is not retrained), or after its first row when the
//             log was empty or absent at start; in both cases not before the first point whose
//             windows all begin at or after the log's first row.
//   command   RequestRetrain (POST /v1/retrain): a training as of just after the newest logged row.
//   drift     (`on_drift`) the monitor raised a drift signal (models::DriftSignal in the registry)
//             newer than the worker's start: a training as of just after the newest logged row, once
//             the log has reached the signal's event time (the outcomes of the events that raised it
//             have matured, so the training sees the drift; a condition on event time, not on how fast
//             the stream is read), unless the previous drift training's signal came less than
//             `drift_cooldown` of event time before. A signal within a cooldown of a waiting
//             one's is counted with it; a later one trains after it.
// With the score operator's `rollout:` (propose_retrained, the default), the newest registered version
// becomes the registry's candidate as soon as no trial runs; the pipeline then shadows or canaries it
// and promotes or rejects it (lifecycle/model_watcher.h, lifecycle/rollout_judge.h).
//
// A training with fewer than `min_rows` rows in its training window is skipped, with a log line
// (a command run is then recorded "failed: ..."). With `search: N`, a training is a random search
// (lifecycle/train_search.h): N trials, each logged and recorded (trigger "search"), stopped early once
// `search_budget` of wall time is spent; the best so far is registered under the trigger's run.
//
// Isolation from scoring: the worker only reads the log file (appended by the score operator, or over
// a group by the lifecycle's leader from the outcomes topic) and writes the registry; it takes no lock
// the pipeline's workers take. It trains on a snapshot of one window of the log's complete lines (a
// temporary copy of the rows of the training and validation windows, read from the first of them on:
// never the whole history), so a row being written is never read half-way.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "models/registry.h"

namespace prometheus {
class Registry;
}

namespace vigil::lifecycle {

struct TrainRequest;
struct TrainOutcome;

//! Follows a growing CSV feature log (operators/feature_log.h): reads only the bytes appended since
//! the previous Poll, complete lines only, and keeps the newest event time and the event times of
//! recent rows. Lifecycle: a plain object; the file may not exist yet. Thread-safety: none (one
//! owner thread). Cost: each byte of the file is read once; memory is 8 bytes per remembered row.
class FeatureLogTail {
 public:
  //! Follows `path`; `time_column` names the event-time column (epoch ms) in its header line.
  explicit FeatureLogTail(std::string path, std::string time_column = "TX_TIME_MS");

  //! Reads the complete lines appended since the last call and returns how many rows they held. A
  //! missing file is 0 rows; a file shorter than the offset read so far (replaced) is read again
  //! from the start. A row whose time cell is not an integer is counted in bad_rows() and skipped.
  //! IoError if the file cannot be read; Corruption if the header lacks the time column.
  base::Result<size_t> Poll();
  //! The newest event time read so far; nullopt before the first row.
  std::optional<int64_t> newest_ms() const { return newest_ms_; }
  //! The oldest event time read so far; nullopt before the first row.
  std::optional<int64_t> oldest_ms() const { return oldest_ms_; }
  //! Bytes of complete lines read: the file's prefix that a snapshot may copy.
  uint64_t offset() const { return offset_; }
  //! Rows read so far (header excluded).
  uint64_t rows() const { return rows_; }
  //! Rows skipped because their time cell was not an integer.
  uint64_t bad_rows() const { return bad_rows_; }
  //! Remembered rows with event time in [start_ms, end_ms). Cost: linear in remembered rows.
  int64_t CountRows(int64_t start_ms, int64_t end_ms) const;
  //! Forgets the event times before `ms` (rows no later window will count).
  void ForgetBefore(int64_t ms);
  //! Writes to `to` the header and the rows read so far with event time in [start_ms, end_ms): a
  //! training table of one window. Reads the file from the first remembered row of that window only,
  //! never the history before it.
  base::Status CopyWindow(const std::string& to, int64_t start_ms, int64_t end_ms) const;

 private:
  //! Handles one complete line (no '\n') that starts at byte `at`.
  base::Status OnLine(std::string_view line, uint64_t at);
  //! The line's event time, if its time cell is an integer.
  std::optional<int64_t> TimeOf(std::string_view line) const;

  std::string path_;                  //!< The log file.
  std::string time_column_;           //!< Name of the event-time column.
  int time_index_ = -1;               //!< Its index; -1 until the header is read.
  uint64_t offset_ = 0;               //!< End of the last complete line read.
  uint64_t rows_ = 0;                 //!< Rows read.
  uint64_t bad_rows_ = 0;             //!< Rows skipped.
  std::optional<int64_t> newest_ms_;  //!< Newest event time read.
  std::optional<int64_t> oldest_ms_;  //!< Oldest event time read.
  std::vector<int64_t> times_;        //!< Event times of remembered rows, in file order.
  std::vector<uint64_t> offsets_;     //!< Where each remembered row starts in the file.
  uint64_t header_bytes_ = 0;         //!< The header line's length, with its '\n'.
};

//! The retraining worker. Lifecycle: Start (after the pipeline's runtime is made) starts its thread;
//! Stop (or the destructor) ends it, after the training in progress, if any, finishes (libxgboost
//! cannot be interrupted; at most one training runs at a time). Thread-safety: RequestRetrain and
//! busy may be called from any thread (the HTTP server's); Stop from the owner. The thread runs at
//! the lowest CPU priority (nice 19, set on its own thread id) and trains with one libxgboost
//! thread, so scoring keeps the cores.
class Retrainer {
 public:
  //! Starts the worker for the pipeline's first score operator with `retrain:`; nullptr when there
  //! is none. Registers vigil_retrain_runs_total{pipeline,outcome} (outcome registered, failed or
  //! skipped), vigil_retrain_last_run_timestamp_seconds{pipeline} (wall clock of the last ended
  //! run) and vigil_retrain_busy{pipeline} (1 while training) in `metrics` (may be null: no metrics). The
  //! spec is copied.
  //! `leads` (may be null: always) says whether this instance trains for its group
  //! (lifecycle::Lifecycle::Leads): while it does not, no trigger fires, the schedule follows the
  //! runs the leader records, and a command is refused.
  static base::Result<std::unique_ptr<Retrainer>> Start(const config::PipelineSpec& pipeline,
                                                        const std::shared_ptr<prometheus::Registry>& metrics,
                                                        std::function<bool()> leads = nullptr);
  ~Retrainer();
  Retrainer(const Retrainer&) = delete;
  Retrainer& operator=(const Retrainer&) = delete;

  //! Asks for a training now (trigger "command") and returns its run id, reserved in the registry
  //! (outcome "running" until it ends). FailedPrecondition when a training is running or pending, or
  //! when the log holds no row yet. Returns at once; the worker trains within about a second.
  base::Result<std::string> RequestRetrain();
  //! True while a training runs or a command waits for the worker.
  bool busy() const;
  //! Ends the thread (idempotent), waiting for a training in progress.
  void Stop();

 private:
  struct Probe;
  Retrainer(config::PipelineSpec pipeline, const config::ScoreSpec& score,
            const std::shared_ptr<prometheus::Registry>& metrics);
  //! The thread's body: poll the log each second, fire triggers.
  void Loop();
  //! The as-of point of the first scheduled training's predecessor, from the registry's runs.
  std::optional<int64_t> LastScheduledPoint() const;
  //! With `rollout:` (propose_retrained), proposes the newest version this worker registered as the
  //! candidate when no trial runs (older, never-tried versions are skipped).
  void ProposeNewest();
  //! With `on_drift`: reads a new drift signal (if any) and returns whether a drift training is due
  //! now, i.e. a signal waits and the log's `newest` time has reached its event time.
  bool DriftDue(std::optional<int64_t> newest);
  //! Trains as of `point_ms` (exclusive end of the validation window) with `trigger`; `run_id` is a
  //! reserved id or empty.
  void TrainAsOf(int64_t point_ms, const std::string& trigger, const std::string& run_id);
  //! The training as of `point_ms`: the windows and parameters of `retrain:` (table left empty).
  TrainRequest MakeRequest(int64_t point_ms, const std::string& trigger, const std::string& run_id) const;
  //! With `retrain: {search: N}`: a search within `search_budget`, logged trial by trial.
  base::Result<TrainOutcome> Search(const TrainRequest& request) const;

  const config::PipelineSpec pipeline_;      //!< Copy of the pipeline (features, name, file).
  const config::ScoreSpec score_;            //!< The score operator: registry, feature_log, retrain.
  const models::Registry registry_;          //!< The score operator's registry (score_.registry).
  std::unique_ptr<Probe> probe_;             //!< Metrics; null without a registry.
  int64_t drift_seen_ms_ = 0;                //!< Time of the newest drift signal handled (thread only).
  std::optional<int64_t> drift_waits_for_;   //!< Event time a signalled drift training waits for.
  std::optional<int64_t> drift_then_;        //!< The next one's, a cooldown or more after it.
  std::optional<int64_t> drift_trained_at_;  //!< Event time of the last trained drift signal.
  FeatureLogTail tail_;                      //!< The log follower; touched by the thread only.
  std::atomic<int64_t> newest_ms_;           //!< tail_.newest_ms() for other threads; INT64_MIN: none.

  mutable std::mutex mu_;         //!< Guards the three fields below; never held while training.
  std::condition_variable wake_;  //!< Signals stop or a command.
  bool stop_ = false;             //!< Stop was called.
  bool training_ = false;         //!< A training runs.
  std::string pending_command_;   //!< Reserved run id of a requested training; empty: none.
  std::thread thread_;            //!< The worker.
  std::function<bool()> leads_;   //!< Null: always.
};

}  // namespace vigil::lifecycle
