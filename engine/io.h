#pragma once
// The interfaces connectors implement: where raw events come from (Source, PartitionReader) and
// where encoded records go (Sink). Calls are per batch, never per event.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/batch.h"

namespace vigil::engine {

//! Reads one input partition in offset order. Owned by the task of that partition; used by one
//! thread at a time.
class PartitionReader {
 public:
  virtual ~PartitionReader() = default;
  //! Clears `out` and reads up to `max_events`, waiting at most `wait_ms` for data. The events'
  //! bytes stay valid until the next Read on this reader (or its destruction).
  virtual base::Status Read(std::size_t max_events, int wait_ms, std::vector<RawEvent>* out) = 0;
  //! Events behind the partition's end, or -1 when unknown.
  virtual int64_t Lag() const { return -1; }
  //! From any thread: a Read waiting for data returns now with what it has (or the next Read does,
  //! when none is waiting). A commit wakes its workers' reads so that it need not wait for them.
  virtual void Wake() {}
};

//! Where a partition's task resumes: the first event offset and label offset to read (-1: the
//! source's committed offset).
struct StartOffsets {
  int64_t events = -1;
  int64_t labels = -1;
};

//! Receives partition assignment changes. Called on the control thread, inside Source::Poll.
class SourceListener {
 public:
  virtual ~SourceListener() = default;
  //! A partition is about to be assigned. Returns where to start. The listener opens the
  //! partition's task here.
  virtual base::Result<StartOffsets> PrepareAssign(int32_t partition) = 0;
  //! The partition is assigned and readable through `reader`; `labels` reads the same partition of
  //! the label stream (null without labels).
  virtual base::Status Assigned(int32_t partition, std::unique_ptr<PartitionReader> reader,
                                std::unique_ptr<PartitionReader> labels) = 0;
  //! The partitions are being taken away: flush and commit them now, then drop their tasks.
  virtual base::Status Revoked(std::span<const int32_t> partitions) = 0;
  //! The partitions were taken away before they could be committed (the group's session expired:
  //! the process stalled, or the broker did not hear from it): drop their tasks with their
  //! uncommitted work, which their next owner reads again. Default: as Revoked.
  virtual base::Status Lost(std::span<const int32_t> partitions) { return Revoked(partitions); }
};

//! The next offset to read, for one partition.
struct PartitionOffset {
  int32_t partition;
  int64_t next_offset;
  int64_t label_next_offset = -1;  //!< Same partition of the label stream; -1 = nothing to commit.
};

//! An input: a Kafka topic in a consumer group, or a file. Driven by the control thread.
class Source {
 public:
  virtual ~Source() = default;
  //! Connects and subscribes; assignments arrive later through `listener`.
  virtual base::Status Start(SourceListener* listener) = 0;
  //! Serves group events (rebalances) for up to `timeout_ms`.
  virtual base::Status Poll(int timeout_ms) = 0;
  //! Synchronously commits the given positions. Aborted: the commit was refused because the group
  //! rebalanced meanwhile (under exactly-once, the transaction was aborted and the next one begun);
  //! what was processed since the last commit is to be dropped and read again (Rewind).
  virtual base::Status Commit(std::span<const PartitionOffset> offsets) = 0;
  //! Drops what was written since the last commit: under exactly-once, aborts the open transaction
  //! and begins the next. Default: nothing to drop.
  virtual base::Status AbortUncommitted() { return base::Status::OK(); }
  //! Hands the partitions still assigned to the listener again (PrepareAssign, Assigned), each read
  //! from its last commit, after the listener dropped their tasks. Default: Unimplemented (a source
  //! without a group has nothing to rewind).
  virtual base::Status Reassign() { return base::FailedPrecondition("this source cannot reassign"); }
  //! True when a finite source (a file) has been read to its end by every reader.
  virtual bool Finished() const { return false; }
  //! Leaves the group (revoking every partition through the listener) and disconnects. Idempotent.
  virtual base::Status Close() = 0;
  //! The topic (or file path), for dead-letter headers.
  virtual const std::string& name() const = 0;
  //! OK when a task whose state resumes at `offset` of `partition` may read on; FailedPrecondition,
  //! saying why, when the partition no longer holds that offset (the topic was recreated or
  //! truncated since the state was written). Thread-safe. Default: OK.
  virtual base::Status CheckResume(int32_t partition, int64_t offset) {
    (void)partition;
    (void)offset;
    return base::Status::OK();
  }
  //! The partition a producer puts a record with key `key` in, i.e. the task that holds its state.
  //! Thread-safe. Default: 0 (single-partition sources).
  virtual base::Result<int32_t> PartitionFor(std::string_view key) const { return 0; }
};

//! One output record of an OutBatch: slices of OutBatch::buffer.
struct OutRecord {
  uint32_t key_offset = 0, key_size = 0;
  uint32_t value_offset = 0, value_size = 0;
  int64_t source_offset = 0;            //!< Offset of the input event.
  int64_t timestamp_ms = 0;             //!< Event time; the Kafka record timestamp.
  DlqReason reason = DlqReason::kNone;  //!< Dead-letter records: why.
  std::string_view detail;              //!< Dead-letter records: the field concerned, may be empty.
};

//! Records encoded from one batch. Reused across batches by its task.
struct OutBatch {
  std::string buffer;
  std::vector<OutRecord> records;
  std::string_view source;  //!< Input topic or file.
  int32_t source_partition = -1;
  void Clear() {
    buffer.clear();
    records.clear();
  }
};

//! An output. Write may be called from several worker threads at once (implementations are
//! thread-safe); Flush is called by the commit coordinator, while workers are paused or, between Hold
//! and Release, while they go on.
class Sink {
 public:
  virtual ~Sink() = default;
  //! Queues the records for delivery. Records are copied; `batch` may be reused on return.
  virtual base::Status Write(const OutBatch& batch) = 0;
  //! Returns once every queued record is delivered; a failed delivery is returned as an error.
  //! Records held back (Hold) are not queued yet: Flush does not wait for them.
  virtual base::Status Flush(int timeout_ms) = 0;
  //! Keeps the records written from now on back, in memory, until Release, so that a commit can
  //! deliver and commit what came before while the workers go on writing. Sinks that share one
  //! producer hold together. Returns false when the sink cannot (the commit then keeps the workers
  //! paused throughout). Commit coordinator, workers paused.
  virtual bool Hold() { return false; }
  //! Queues the held records (in the next transaction, under exactly-once), or drops them when
  //! `deliver` is false (a failed commit). Idempotent.
  virtual base::Status Release(bool deliver = true) {
    (void)deliver;
    return base::Status::OK();
  }
  //! At-least-once commits, instead of Hold: notes the records written so far, so that FlushMarked
  //! waits for them only while the workers' newer records go out at once. Sinks that share one
  //! producer mark together. Returns false when the sink cannot (the commit then holds). Commit
  //! coordinator, workers paused.
  virtual bool Mark() { return false; }
  //! Returns once every record written before the last Mark is delivered; a failed delivery is
  //! returned as an error.
  virtual base::Status FlushMarked(int timeout_ms) { return Flush(timeout_ms); }
  //! Flushes and releases resources. Idempotent.
  virtual base::Status Close() = 0;
};

//! The changelog of the tasks' stores: every committed state change, keyed like the store, in the
//! partition of its task. A task whose local store is missing or behind restores from it.
//! Append and NextOffset are called by the commit coordinator; Restore by the
//! control thread when a partition is assigned.
class Changelog {
 public:
  virtual ~Changelog() = default;
  //! Queues one change of `partition`'s store: `value` null is a deletion.
  virtual base::Status Append(int32_t partition, std::string_view key, const std::string_view* value) = 0;
  //! Returns once every appended change is delivered (at-least-once commits; a transactional
  //! changelog is delivered by the source's commit instead).
  virtual base::Status Flush(int timeout_ms) = 0;
  //! Returns once every change appended so far is delivered, without waiting for what other writers
  //! of a shared producer queue meanwhile (at-least-once commits whose workers go on).
  virtual base::Status FlushAppended(int timeout_ms) { return Flush(timeout_ms); }
  //! The offset after the last delivered change of `partition`, or -1 when none was appended.
  virtual int64_t NextOffset(int32_t partition) const = 0;
  //! Reads `partition`'s committed changes from `from` (-1: its beginning) to its current end, in
  //! order, calling `fn` for each (value null: deletion); returns the offset after the last read.
  virtual base::Result<int64_t> Restore(
      int32_t partition, int64_t from,
      const std::function<base::Status(std::string_view key, const std::string_view* value)>& fn) = 0;
};

}  // namespace vigil::engine
