#pragma once
// Runtime: runs a Plan. A control thread serves the source (rebalances), commits at every interval and
// publishes metrics; a small pool of worker threads runs the partitions' tasks batch by batch.
//
// Commit protocol: pause the workers between batches; then
//   at-least-once: flush the output and dead-letter sinks (every record of the processed offsets is
//     delivered; a failed delivery fails the commit before anything below happens); only then stage
//     each task's state changes and checkpoint (its next offsets), append them to the changelog, if
//     any, and flush it; write the stores; commit the offsets to the source. A crash or a failed
//     delivery anywhere re-reads events whose outputs may already exist, never the reverse: no
//     checkpoint, in the changelog or a store, is ahead of the delivered outputs;
//   exactly-once (a transactional source): stage each task's state changes and checkpoint and append
//     them to the changelog; the source's commit sends the offsets into the Kafka
//     transaction that already holds this interval's outputs, dead letters and changelog records,
//     and commits it; only then are the stores written. A crash before the commit aborts all of it;
//     after it, the changelog holds what a store may lack.
// The workers are paused only for the first step, the staging of the state in memory. Under
// at-least-once the sinks then mark what was written so far (Sink::Mark): the commit waits for
// those deliveries only, and the workers' new records go out at once. Under exactly-once the sinks
// hold the workers' new records back (Sink::Hold) while the commit delivers and commits what came
// before, and queue them into the next transaction once it has. A rebalance's and the last commit
// keep the workers paused throughout.
// On assignment a task restores its store from the changelog (only the tail when its local store
// has a changelog position) in the background, partitions in parallel: the rebalance returns at
// once, the partition is not read (nor committed, nor queried) until its store has caught up, and
// /readyz answers 503 meanwhile. It then reads from the committed offset, skipping what its store
// checkpoint already reflects (the same offset under exactly-once).
// A commit refused because the group rebalanced meanwhile (the process stalled past its session, or
// the broker lost track of it) is not fatal: the work since the last commit is dropped (under
// exactly-once, its transaction is aborted), the tasks are closed without committing, and the
// partitions still assigned are taken again from their last commit (Rewind), as a restart would,
// without one. Partitions the group took away uncommitted (Lost) are dropped the same way.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_probe.h"
#include "engine/io.h"
#include "engine/memory_budget.h"
#include "engine/plan.h"
#include "engine/task.h"

namespace vigil::engine {

//! Totals over the runtime's life, for the end-of-run summary.
struct RunSummary {
  uint64_t events_in = 0;
  uint64_t events_out = 0;
  uint64_t dead_letters = 0;
  uint64_t commits = 0;
};

//! Lets a commit coordinator stop workers between batches. Workers Enter/Leave around each batch.
class PauseGate {
 public:
  void Enter();
  void Leave();
  //! Returns once no worker is inside a batch; no new batch starts until Resume. `wake` (optional)
  //! runs once no new batch can start, before the wait: it ends the workers' waits for events.
  void Pause(const std::function<void()>& wake = nullptr);
  void Resume();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
  bool paused_ = false;
};

//! Lifecycle: Make → Run (blocks) → destroyed. RequestStop may be called from any thread or a signal
//! handler; Run then drains the current batches, commits and returns.
class Runtime final : public SourceListener {
 public:
  static base::Result<std::unique_ptr<Runtime>> Make(const Plan& plan, std::unique_ptr<Source> source,
                                                     std::unique_ptr<Sink> output,
                                                     std::unique_ptr<Sink> dead_letter, EngineProbe* probe);
  ~Runtime() override;

  //! Runs until RequestStop or until a finite source is exhausted. Returns the first fatal error.
  base::Status Run();
  //! Asks Run to finish. Async-signal-safe.
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }
  //! Makes Run return once no event has arrived for `ms` (0 = never). For demos, tests and replays
  //! of a bounded range.
  void set_idle_exit_ms(int64_t ms) { idle_exit_ms_ = ms; }
  //! The state is thrown away after Run (a replay's scratch store): at the end of the stream Run
  //! delivers the sinks' records but writes no state to the store and commits nothing. Before Run.
  void set_discard_state(bool discard) { discard_state_ = discard; }
  //! Logs one progress line (info) every `ms` on the control thread: events/s in since the last
  //! line, the consumer lag summed over the partitions, the partitions owned, and what `note`
  //! returns (e.g. "champion v3"; called on the control thread; may be empty). 0 (default): none.
  //! Before Run.
  void set_progress(int64_t ms, std::function<std::string()> note) {
    progress_ms_ = ms;
    progress_note_ = std::move(note);
  }
  //! Keeps the tasks within `ms` of event time of each other: a worker skips a task that is further
  //! ahead of the slowest task with input (an idle task, see Task::idle(): drained, or without an
  //! accepted event for runtime.idle_timeout, does not hold the others back). For a stage that
  //! feeds a repartition topic (engine/stages.h): a catch-up over a backlog then reaches the next
  //! stage about in event-time order, as far as this process's partitions go. < 0 (default): off.
  //! Before Run.
  void set_event_time_alignment(int64_t ms) { align_ms_ = ms; }
  //! Backs the tasks' stores with `changelog`; with `exactly_once` the source's Commit commits a
  //! transaction (see the protocol above). Before Run.
  void set_changelog(std::unique_ptr<Changelog> changelog, bool exactly_once) {
    changelog_ = std::move(changelog);
    exactly_once_ = exactly_once;
  }
  bool has_changelog() const { return changelog_ != nullptr; }
  //! Where the records the operators emit to the stage's side output go (Plan::side_output; e.g. the
  //! score operator's matured outcomes); committed with the output, in the same transaction under
  //! exactly-once. Null (default): those records are dropped. Before Run.
  void set_side_output(std::unique_ptr<Sink> side_output);
  //! Makes the tasks' stores and caches draw on `memory`, shared with the process's other runtimes
  //! (one per stage); it must outlive this runtime. Without it, the runtime makes its own of the
  //! pipeline's runtime.memory. Before Run.
  void set_memory_budget(MemoryBudget* memory) {
    memory_ = memory;
    own_memory_.reset();
  }
  //! The budget the tasks draw on.
  const MemoryBudget& memory_budget() const { return *memory_; }
  //! True once every assigned task exists and is restored, and the source is polling (for /readyz).
  bool ready() const {
    return ready_.load(std::memory_order_relaxed) && restoring_.load(std::memory_order_relaxed) == 0;
  }
  RunSummary summary() const;
  //! Events read so far (any thread; for a progress display).
  uint64_t events_seen() const { return events_seen_.load(std::memory_order_relaxed); }
  //! Runs one event through the task of `partition` (see Task::Query: live state between batches,
  //! never waiting for a commit). Thread-safe; for the HTTP scoring API. The runtime's lock is held
  //! only to find and pin the task, so a query waits for nothing of other partitions. Unavailable
  //! when this process does not own the partition (now).
  base::Status Query(int32_t partition, std::string_view event, const BatchMode& mode,
                     const std::function<void(const Batch&, size_t row)>& fn);
  //! The input partition that holds `key`'s state (see Source::PartitionFor).
  base::Result<int32_t> PartitionFor(std::string_view key) const { return source_->PartitionFor(key); }

  // SourceListener (control thread).
  base::Result<StartOffsets> PrepareAssign(int32_t partition) override;
  base::Status Assigned(int32_t partition, std::unique_ptr<PartitionReader> reader,
                        std::unique_ptr<PartitionReader> labels) override;
  base::Status Revoked(std::span<const int32_t> partitions) override;
  base::Status Lost(std::span<const int32_t> partitions) override;

 private:
  Runtime(const Plan& plan, std::unique_ptr<Source> source, std::unique_ptr<Sink> output,
          std::unique_ptr<Sink> dead_letter, EngineProbe* probe);
  void WorkerLoop(int worker);
  //! Flushes sinks, commits the state and offsets of `tasks` (all when empty). Workers must be paused.
  base::Status CommitPaused(std::span<Task* const> tasks);
  //! Delivers what the sinks hold (the end of a run whose state is discarded). Workers paused.
  base::Status FlushSinks();
  //! A commit with the workers paused only while the state is staged (see the protocol above).
  base::Status Commit();
  //! The I/O of a commit whose tasks are staged and whose sinks hold (or, `marked`, marked their
  //! records so far): the changelog appends, the deliveries, the source's commit of `offsets`,
  //! releasing the sinks, the store writes.
  base::Status CommitStaged(std::span<Task* const> tasks, std::span<const PartitionOffset> offsets,
                            bool marked);
  //! After a commit refused by a rebalance (`why`): drops every task with its uncommitted work and
  //! takes the partitions still assigned again from their last commit. Control thread, workers not
  //! paused.
  base::Status Rewind(const base::Status& why);
  //! Drops the sinks' held records, what the source wrote since the last commit (AbortUncommitted)
  //! and the tasks of `partitions`, without committing. Under exactly-once, Aborted when another
  //! task remains: the aborted transaction held its outputs too. Workers paused.
  base::Status DropUncommitted(std::span<const int32_t> partitions);
  //! The partitions of the tasks (control thread).
  std::vector<int32_t> OwnedPartitions() const;
  //! Closes and removes `tasks`, adding their counts to the run's. Workers paused.
  void Retire(std::span<Task* const> tasks);
  void PublishMetrics();
  void Fail(base::Status status);
  void RebuildWorkerLists();

  const Plan& plan_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<Sink> output_;
  std::unique_ptr<Sink> dead_letter_;
  std::unique_ptr<Sink> side_output_;
  //! The sinks above that exist, with what an error calls them; every commit step goes over them all.
  struct NamedSink {
    Sink* sink;
    const char* what;
  };
  std::vector<NamedSink> sinks_;
  std::unique_ptr<Changelog> changelog_;  // null: stores are local only
  bool exactly_once_ = false;
  EngineProbe* probe_;
  std::unique_ptr<MemoryBudget> own_memory_;  //!< Without set_memory_budget; outlives the tasks.
  MemoryBudget* memory_ = nullptr;

  PauseGate gate_;
  std::mutex tasks_mu_;  // guards tasks_ changes and pins against Query (the control thread reads without it)
  //! Control thread; workers read while not paused. Query pins a task by copying its pointer (under
  //! tasks_mu_, dropped under it too): a revoked task is destroyed by the control thread once unpinned.
  std::map<int32_t, std::shared_ptr<Task>> tasks_;
  std::condition_variable unpinned_;  //!< A query dropped its pin.
  //! Waits for `task`'s pins other than the caller's to go. Holds `lock` (on tasks_mu_).
  void WaitUnpinned(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Task>& task);
  std::map<int32_t, std::unique_ptr<Task>> pending_tasks_;  // opened in PrepareAssign, awaiting a reader
  //! Background restores (control thread): a task restoring its store from the changelog is in
  //! tasks_, with restoring() set, until its thread is done.
  std::map<int32_t, std::thread> restores_;
  bool closing_ = false;           //!< Run is closing the source: no restore starts (main thread only).
  std::atomic<int> restoring_{0};  //!< Tasks whose restore has not finished.
  //! Restores `task` from the changelog on a thread of its own; the workers take it once done.
  void StartRestore(Task* task);
  //! Cancels the restore of `partition`, if any, and waits for its thread. Control thread.
  void StopRestore(int32_t partition);
  //! The tasks a commit covers: all but those still restoring (their committed offsets stay).
  std::vector<Task*> CommittableTasks() const;
  std::vector<std::vector<Task*>> worker_tasks_;  // modified only while paused
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> workers_stop_{false};
  std::atomic<bool> ready_{false};
  std::mutex error_mu_;
  base::Status error_;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> events_seen_{0};
  int64_t idle_exit_ms_ = 0;
  bool discard_state_ = false;
  int64_t progress_ms_ = 0;
  std::function<std::string()> progress_note_;
  //! Logs the progress line when progress_ms_ has passed since the last one. Control thread.
  void LogProgress(std::chrono::steady_clock::time_point now);
  std::chrono::steady_clock::time_point last_progress_log_{};
  uint64_t events_at_last_progress_ = 0;
  int64_t align_ms_ = -1;
  std::atomic<int> starting_{0};  //!< Partitions prepared and not yet assigned (pending_tasks_), for workers.
  //! With alignment: whether `task` is further ahead than align_ms_ of the slowest task with input.
  bool AheadOfOthers(const Task& task) const;
  //! Ends the workers' waits for events (PartitionReader::Wake). Control thread.
  void WakeReaders();
  RunSummary retired_;  // totals of tasks already closed
  uint64_t commits_ = 0;
};

}  // namespace vigil::engine
