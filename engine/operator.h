#pragma once
// The operator contract. Anyone writing an operator reads only this header.
//
// Rules:
//  1. An Operator is built once per pipeline by its factory (registered by name, see
//     OperatorRegistry) and is immutable afterwards: every member function is const, and one Operator
//     object serves every task concurrently.
//  2. Binding happens in the factory: it resolves the columns it reads in the Schema and adds the
//     columns it writes. A missing column or a bad parameter is reported as a located config error
//     (spec.loc) from the factory, never later.
//  3. Mutable data lives in an OperatorState, one per (operator, task), made by MakeState when a task
//     starts (partition assigned). Durable state lives in the task's StateStore under the operator's
//     TableId, usually behind a KeyedCache. A state is used by one thread at a time.
//  4. Process(batch, state) is called once per micro-batch, in offset order, by the worker thread
//     that runs the task. It reads and writes cells of live rows only, and may Drop() a row with a
//     DlqReason: dropped rows go to the dead-letter sink and later operators skip them. Expected
//     problems with events are drops, never errors. A non-OK Status is fatal for the task: the
//     runtime stops without committing, so nothing is lost (events are re-read after restart).
//  5. Process must not allocate per event in steady state, block on I/O other than its store, or
//     keep references into the batch after returning.
//     When no event came but the task's labels moved on (a quiet event stream, labels arriving
//     later), LabelsAdvanced(state, event_time) is called instead, on the same thread and between
//     batches as Process is: an operator whose outputs wait for labels (the score's delayed outcomes)
//     releases those now due, to the side output as Process would. `event_time` is the task's, the
//     latest it processed; labels known beyond it are not due yet.
//  6. Flush() on the state is called at every commit, between batches, on the task's worker or on
//     the commit coordinator while the task's worker is paused: it stages the state's changes into
//     the store, which then commits them atomically with the input offset.
//     Before Flush, Expire(event_time) gets the task's event time (the latest it processed) and may
//     stage the deletion of state that no event within the operator's lateness of that time can
//     read any more, in a bounded step (a sweep: PiecedCache::Sweep, KeyedCache::Sweep), so that state
//     shrinks whether or not its keys are seen again. The step's reading of the store may come first:
//     ScanExpired(event_time) is called on the committing thread after the store wrote the last commit,
//     while the worker goes on, so it touches the store (reads) and its own sweep bookkeeping only;
//     the next Expire then checks what it found instead of reading the store, and the workers'
//     pause at a commit does not include the reads.
//     After the store wrote what Flush staged, Trim() may be called, between batches as Process is,
//     to drop clean cached entries beyond the state's memory bounds (TaskContext: cache_max_keys and
//     the CacheBudget shared by every cache of the process); pointers into the cache end there too.
//  7. A state is destroyed when its partition is revoked or the pipeline stops, after a final
//     Flush and commit. Destruction must not fail; it releases memory only.
//  8. When batch.mode().read_only is set (a synchronous scoring request), Process computes every
//     output as it would for the next event of the stream, but leaves the state as it found it: no
//     insert, no eviction, nothing marked dirty. It runs on a thread other than the task's worker,
//     with the worker held off by the task's lock, so the state is never used by two threads at once.
//     It may also run while a commit writes the staged changes to the changelog and the store (after
//     every Flush returned), so it touches the store through Get only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "engine/batch.h"
#include "engine/io.h"
#include "engine/keyed_cache.h"
#include "engine/label_index.h"
#include "engine/state_store.h"

namespace prometheus {
class Registry;
}

namespace vigil::engine {

//! What a task hands its operators' states.
struct TaskContext {
  int32_t partition = -1;          //!< The input partition the task owns.
  StateStore* store = nullptr;     //!< The task's store; valid for the state's whole life.
  std::size_t cache_max_keys = 0;  //!< Budget for each KeyedCache, in keys.
  LabelIndex* labels = nullptr;    //!< The task's labels; null when the pipeline has none.
  //! The byte budget of every write-back cache of the process (runtime.memory); null: keys only.
  CacheBudget* cache_budget = nullptr;
  //! Where the state's Process appends records for the stage's side output (the topic its operator
  //! named in BindContext::side_output): cleared by the task before each batch, written after it with
  //! the batch's outputs, so they commit together (in one transaction under exactly-once). Each record
  //! needs key, value and timestamp_ms.
  OutBatch* side_output = nullptr;
};

//! Per-task mutable data of one operator (rule 3). Owned by the task.
class OperatorState {
 public:
  virtual ~OperatorState() = default;
  //! Stages pending changes into the store (rule 6).
  virtual void Flush() {}
  //! Drops clean cached entries beyond the state's memory bounds, after the store wrote them (rule 6).
  virtual void Trim() {}
  //! Stages the deletion of a bounded step of expired state, given the task's event time (rule 6).
  virtual base::Status Expire(int64_t event_time) { return base::Status::OK(); }
  //! Reads the store for the next Expire, beside the worker (rule 6).
  virtual base::Status ScanExpired(int64_t event_time) { return base::Status::OK(); }
  //! Keys held in memory, for the state-keys metric.
  virtual std::size_t cached_keys() const { return 0; }
  //! Cache hit/miss counters, for the hit-ratio metric.
  virtual CacheStats cache_stats() const { return {}; }
  //! Keys Expire deleted since the state was made, for the expired-keys metric.
  virtual uint64_t expired_keys() const { return 0; }
};

//! A stage of the pipeline (rules 1–5).
class Operator {
 public:
  explicit Operator(std::string name) : name_(std::move(name)) {}
  virtual ~Operator() = default;
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  //! The operator's unique name in the pipeline.
  const std::string& name() const { return name_; }
  //! Creates the per-task state; nullptr for stateless operators.
  virtual base::Result<std::unique_ptr<OperatorState>> MakeState(const TaskContext& ctx) const {
    return std::unique_ptr<OperatorState>();
  }
  //! Processes the live rows of `batch` in place (rule 4).
  virtual base::Status Process(Batch& batch, OperatorState* state) const = 0;
  //! The task's labels moved on while no event came (rule 5); `state` may be null (stateless).
  virtual base::Status LabelsAdvanced(OperatorState* state, int64_t event_time) const {
    return base::Status::OK();
  }

 private:
  std::string name_;
};

//! What a factory receives to bind itself (rule 2).
struct BindContext {
  const config::PipelineSpec& pipeline;  //!< The whole file, for shared settings.
  const config::OperatorSpec& spec;      //!< This operator's entry (parse gets a synthetic one).
  Schema& schema;                        //!< Columns so far; the factory adds its outputs.
  TableId table;                         //!< This operator's keyspace in each task's store.
  std::shared_ptr<prometheus::Registry>
      metrics;  //!< Where to register the operator's own metrics; may be null.
  //! An operator that emits side records (TaskContext::side_output) names their Kafka topic here; one
  //! topic per stage (a second, different one is a located config error).
  std::string side_output = {};
};

using OperatorFactory = std::function<base::Result<std::unique_ptr<Operator>>(BindContext&)>;

}  // namespace vigil::engine
