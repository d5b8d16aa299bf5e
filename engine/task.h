#pragma once
// Task: everything that belongs to one input partition — its reader, its RocksDB store, its
// operators' states and its reusable batch buffers. State never crosses tasks.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "engine/engine_probe.h"
#include "engine/io.h"
#include "engine/memory_budget.h"
#include "engine/plan.h"

namespace vigil::engine {

//! Where a task keeps its store and how big its caches may grow.
struct TaskOptions {
  std::string store_path;               //!< RocksDB directory of this partition.
  std::string source_name;              //!< Input topic or file, for dead-letter headers.
  std::size_t cache_max_keys = 200000;  //!< Per operator cache, in keys.
  //! The process's memory budget, shared by every task (must outlive the task). Null: the task makes
  //! its own, of the pipeline's runtime.memory.
  MemoryBudget* memory = nullptr;
};

//! Counts a task publishes; read by the control thread while the worker is paused.
struct TaskStats {
  uint64_t events_in = 0;
  uint64_t events_out = 0;
  uint64_t dead_letters = 0;
};

//! Lifecycle: Open (control thread) → SetReader → RunOnce* (its worker) / Commit (control thread,
//! worker paused) → Close. Query may be called from any thread: the task's state lock keeps it apart
//! from RunOnce's processing, the in-memory staging of StageState (the states' Flush), Restore and
//! Close, so operator states are used by one thread at a time. A commit's I/O (the changelog
//! appends in StageState, the store write in ApplyState) runs without that lock: a query never
//! waits for it, and sees the live state between batches (the processed events, committed or not).
class Task {
 public:
  static base::Result<std::unique_ptr<Task>> Open(const Plan& plan, int32_t partition,
                                                  const TaskOptions& options, EngineProbe* probe);
  ~Task();

  //! The partition's event reader and, with labels, its label reader.
  void SetReaders(std::unique_ptr<PartitionReader> reader, std::unique_ptr<PartitionReader> labels) {
    reader_ = std::move(reader);
    label_reader_ = std::move(labels);
    last_accepted_ = std::chrono::steady_clock::now();
  }
  //! Reads one micro-batch and runs it through the operators into the sinks. Returns the number of
  //! events read (0 when the partition had nothing). A non-OK status is fatal (see operator.h).
  //! Records below next_offset() (or labels below label_next_offset()) that a client delivers again
  //! are skipped with a warning: an offset is processed once.
  //! The records the operators emit to the stage's side output (TaskContext::side_output) go to
  //! `side_output` (null: dropped).
  //! When no event came, the labels that did are read, and the operators release what waited for
  //! them (Operator::LabelsAdvanced): a quiet event stream does not hold back delayed outcomes.
  base::Result<std::size_t> RunOnce(std::size_t max_events, int wait_ms, Sink* output, Sink* dead_letter,
                                    Sink* side_output = nullptr);
  //! Runs one event through the operators with `mode` (read-only: operator.h rule 8) on a batch of
  //! its own, then calls `fn` with that batch and the row (dead-lettered if the event was rejected)
  //! while the lock is held. Answers from the live state between batches: waits for a batch in
  //! progress (at most that one: the worker lets a waiting query in before its next batch) and for a
  //! commit's in-memory staging, never for the commit's changelog appends, flushes or store write.
  //! Unavailable once the task is closed.
  base::Status Query(std::string_view event, const BatchMode& mode,
                     const std::function<void(const Batch&, size_t row)>& fn);
  //! Stages the operators' state and commits the store at next_offset(). Sinks must be flushed first.
  base::Status CommitState();
  //! A commit in two steps around the source's commit: StageState stages the operators' state and
  //! the checkpoint and appends them to `changelog` (may be null); ApplyState writes them to the store
  //! (with the changelog position once they are delivered). StageState needs the workers paused;
  //! ApplyState does not (a worker's store reads see the write whole or not at all, and find the
  //! same values either way, see ApplyState). Queries may go on (only the states' Flush holds the
  //! state lock). When the process's write-back caches are over their byte budget, ApplyState then
  //! trims the task's caches (OperatorState::Trim) under the state lock, waiting for a batch in
  //! progress as a query does. Control thread.
  base::Status StageState(Changelog* changelog);
  base::Status ApplyState(const Changelog* changelog);
  //! StageState's second half: appends the staged changes to `changelog`. StageState(nullptr) then
  //! AppendStaged is StageState(changelog), with the workers free to run between the two and during
  //! this (they never touch the staged changes). Control thread.
  base::Status AppendStaged(Changelog* changelog);
  //! After ApplyState, on the same thread and with the worker running: the states' and the labels'
  //! reads of the store for the next StageState's expiry sweep (operator.h rule 6), so that the
  //! workers' pause at the next commit does not include them.
  base::Status ScanExpired();
  //! From the control thread: the worker's read waiting for events returns now (PartitionReader::Wake).
  void WakeReader() {
    if (reader_) reader_->Wake();
  }
  //! Brings the store up to date with `changelog` (from the store's changelog position, or from the
  //! start for a new store), then resets the operators' states to it. Before the task runs: on the
  //! control thread, or on a restore thread while restoring() keeps workers, commits and queries
  //! away. Returns the number of changes read; Aborted once CancelRestore was called.
  base::Result<uint64_t> Restore(Changelog* changelog);
  //! FailedPrecondition when Restore cannot bring the store up to date (it has state but no changelog
  //! position): the store must be rebuilt from the changelog whole.
  base::Status CheckRestorable() const;
  //! While true, the task is being restored in the background: workers skip it, commits leave it
  //! out (its committed offsets stay) and queries are refused. Set by the runtime before the task is
  //! handed to the workers, cleared once Restore returned.
  bool restoring() const { return restoring_.load(std::memory_order_acquire); }
  void set_restoring(bool restoring) { restoring_.store(restoring, std::memory_order_release); }
  //! Makes a Restore in progress (or the next) stop with Aborted. Any thread.
  void CancelRestore() { cancel_restore_.store(true, std::memory_order_relaxed); }
  //! Flushes the store to disk and closes it. Idempotent.
  base::Status Close();
  //! The memory budget the task's store and caches draw on.
  const MemoryBudget& memory() const { return *memory_; }

  int32_t partition() const { return partition_; }
  //! First offset not yet processed, or -1 before the first event.
  int64_t next_offset() const { return next_offset_; }
  //! First label offset not yet ingested, or -1.
  int64_t label_next_offset() const { return label_next_offset_; }
  //! Label offset the store reflects, or -1.
  int64_t label_checkpoint_offset() const { return store_->label_checkpoint_offset(); }
  //! Offset the store's state reflects (its last commit), or -1.
  int64_t checkpoint_offset() const { return store_->checkpoint_offset(); }
  int64_t lag() const { return reader_ ? reader_->Lag() : -1; }
  //! The worker scheduling's view (Runtime::set_event_time_alignment), read by any worker: the latest
  //! event time written to the sinks (INT64_MIN before the first); the earliest event time that may
  //! still be written (the batch in flight's earliest, else event_time()); and whether the partition
  //! looks idle: the last read found nothing and the reader is at the partition's end, or no read
  //! gave an accepted event (one that passed parse) for runtime.idle_timeout (a partition of only
  //! garbage, or of nothing).
  int64_t event_time() const { return event_time_.load(std::memory_order_relaxed); }
  int64_t pending_from() const {
    return std::min(in_flight_from_.load(std::memory_order_relaxed), event_time());
  }
  bool idle() const { return idle_.load(std::memory_order_relaxed); }
  const TaskStats& stats() const { return stats_; }
  std::size_t cached_keys() const;
  CacheStats cache_stats() const;
  //! Keys the expiry sweeps deleted (window states, label records) since the last call.
  uint64_t TakeExpired();
  uint64_t stored_keys() const { return store_->EstimateKeys(); }
  //! The task's store, to inspect (Get, Scan) from the control thread while the worker is paused.
  const StateStore* store() const { return store_.get(); }

 private:
  Task(const Plan& plan, int32_t partition, EngineProbe* probe);
  //! What the operators' states are made with.
  TaskContext Context();
  uint64_t expired_seen_ = 0;  //!< The sweeps' count at the last TakeExpired.
  //! Ingests labels until they reach event time `until`, the label stream has nothing more now, or
  //! labels.max_wait has passed (then counted in vigil_label_wait_timeouts_total): the batch is then
  //! scored with the labels known so far, which a replay (reading the whole label stream) may not
  //! reproduce. Sets vigil_label_lag_seconds.
  base::Status CatchUpLabels(int64_t until);
  //! Without events: ingests the labels the stream has now (one read, no wait) and, if any, calls
  //! the operators' LabelsAdvanced at the task's event time; their side records go to `side_output`.
  base::Status IdleLabels(Sink* side_output);
  //! Ingests the label records in label_raw_ (those below label_next_offset() skipped, with a
  //! warning) and moves label_next_offset() past them. State lock held.
  base::Status IngestLabels();
  //! Writes the records the operators emitted to the side output, if any (`side_output` null: dropped).
  base::Status WriteSide(Sink* side_output);
  //! Tells the label index how long the score operators read labels for (LabelIndex::Retain).
  void RetainLabels();

  const Plan& plan_;
  int32_t partition_;
  EngineProbe* probe_;
  std::unique_ptr<MemoryBudget> own_memory_;  //!< Without TaskOptions::memory; outlives the store.
  MemoryBudget* memory_ = nullptr;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<LabelIndex> labels_;
  std::unique_ptr<PartitionReader> label_reader_;
  std::vector<RawEvent> label_raw_;
  int64_t label_next_offset_ = -1;
  bool label_stalled_ = false;  //!< The last batch gave up waiting for labels (logged once per stall).
  std::vector<std::unique_ptr<OperatorState>> states_;
  std::unique_ptr<PartitionReader> reader_;
  std::vector<RawEvent> raw_;
  Batch batch_;
  OutBatch out_;
  OutBatch dead_;
  OutBatch side_;  //!< What the operators emit to the side output, per batch.
  std::string source_name_;
  std::mutex mu_;       //!< Held while the operators' states are in use (processing, query, staging, close).
  std::mutex turn_mu_;  //!< Taken to wait for mu_, so a query waits for one batch at most.
  std::unique_ptr<Batch> query_batch_;  //!< Query's one-row batch, made on first use.
  int64_t next_offset_ = -1;
  std::size_t cache_max_keys_ = 0;
  bool staged_ = false;  //!< StageState ran; ApplyState pending. Control thread only.
  TaskStats stats_;
  std::atomic<int64_t> event_time_{INT64_MIN};
  std::atomic<int64_t> in_flight_from_{INT64_MAX};
  std::atomic<bool> idle_{false};
  std::atomic<bool> restoring_{false};
  std::atomic<bool> cancel_restore_{false};
  //! When a read last gave an event that passed parse (or the readers came).
  std::chrono::steady_clock::time_point last_accepted_;
};

}  // namespace vigil::engine
