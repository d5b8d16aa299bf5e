#pragma once
// LabelIndex: a task's labels, by event id. Labels (fraud verdicts, chargebacks) arrive on their own
// stream, days after the events they describe; operators ask "what was known about event `id` at
// time t?", so the answer never depends on when the label happened to be consumed.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/batch.h"
#include "engine/keyed_cache.h"

namespace vigil::engine {

//! The labels of one id: its latest value and the one it replaced, each with when it became known.
//! A second label record for an id (a corrected label: a reversed dispute) replaces the first from
//! its own time on; an event at time t sees the value known at t (At). Older values are forgotten:
//! an event older than both values sees none.
struct LabelRecord {
  static constexpr int64_t kNever = INT64_MAX;                       //!< Time of a value that does not exist.
  double label = std::numeric_limits<double>::quiet_NaN();           //!< Latest value (by label time).
  int64_t time_ms = kNever;                                          //!< When it became known, epoch ms.
  double previous_label = std::numeric_limits<double>::quiet_NaN();  //!< The value it replaced.
  int64_t previous_time_ms = kNever;                                 //!< When that one became known.

  //! The value known at `t` (the latest with time ≤ t), or NaN.
  double At(int64_t t) const {
    if (time_ms <= t) return label;
    return previous_time_ms <= t ? previous_label : std::numeric_limits<double>::quiet_NaN();
  }
  //! Adds a value known from `t`: the latest by time wins; equal times: the later record wins.
  void Add(double value, int64_t t);
};

//! The label records of 64 consecutive ids (id >> kBits), one stored record: a label stream brings
//! about one label per transaction, so a record per id made most of a task's store writes and
//! changelog records. Ids come about in order, so a chunk is written by one or two commits.
struct LabelChunk {
  static constexpr int kBits = 6;
  static constexpr int64_t kIds = int64_t{1} << kBits;
  uint64_t present = 0;              //!< Bit i: the id (chunk << kBits) + i has a record.
  std::vector<LabelRecord> records;  //!< Those records, by id.

  static int64_t Of(int64_t id) { return id >> kBits; }  // floor: negative ids too
  static int Slot(int64_t id) { return static_cast<int>(id & (kIds - 1)); }
  //! The record of slot `slot`, or nullptr.
  const LabelRecord* Find(int slot) const;
  //! The record of slot `slot`, made empty (time kNever) if there was none.
  LabelRecord* Insert(int slot);
  size_t HeapBytes() const { return records.capacity() * sizeof(LabelRecord); }
};

//! Per task; used by the task's worker only. Persisted in the task's store (table kLabelChunkTable).
class LabelIndex {
 public:
  //! Keyspace of an older vigil's label records, one per id: read once and rewritten as chunks.
  static constexpr TableId kLabelTable = 0xFFF0;
  //! Keyspace of the index's own bookkeeping: the largest id it ever ingested (below).
  static constexpr TableId kLabelMetaTable = 0xFFF1;
  //! Keyspace of the labels in a task's store, by chunk (LabelChunk); operators use ids from 1 up.
  static constexpr TableId kLabelChunkTable = 0xFFF2;

  //! `budget` (may be null) bounds the bytes of the index's cache with the process's other caches.
  LabelIndex(const config::LabelsSpec& spec, StateStore* store, size_t max_keys,
             CacheBudget* budget = nullptr);
  ~LabelIndex();

  //! Parses and stores label records (JSON objects with the id, label and time fields). Malformed
  //! records are counted and skipped.
  base::Status Ingest(std::span<const RawEvent> records);
  //! The label of `id` known at `time_ms` (the latest value with label time ≤ time_ms), else NaN.
  base::Result<double> KnownAt(int64_t id, int64_t time_ms);
  //! The label record of `id`, or nullptr; valid until the next Flush, Trim or Ingest.
  base::Result<const LabelRecord*> Lookup(int64_t id);
  //! Stages new labels into the store, with the largest id ingested.
  void Flush();
  //! Evicts clean cached records beyond the cache's bounds, once the store wrote the last Flush.
  void Trim() { cache_.Trim(); }
  //! A reader (a window over "$label", the score's outcomes) reads the record of a transaction at
  //! most `ms` after the transaction's time, in the task's event time. Records are kept for the
  //! longest span any reader asked for; until one asks, they are kept for ever.
  void Retain(int64_t ms) { retention_ms_ = std::max(retention_ms_, ms); }
  //! Stages the deletion of records no reader can ask for: label time older than min(`event_time`,
  //! watermark()) − the retention. A label's time is at least its transaction's, so such a record's
  //! transaction is older still. A chunk is deleted, unread, once the first label times of all its
  //! records passed that cutoff: an expiry queue of the records created here, and of those stored
  //! before (read once by the first ScanExpired), at most 4 x `max_keys` records of 16 bytes, charged
  //! to the cache's bytes, with a count of the queued records per chunk. A chunk with a record beyond
  //! the queue is left to a bounded step of a sweep over the store (SweepBudget chunks,
  //! engine/keyed_cache.h), which deletes it once all its labels are older than the cutoff; the sweep
  //! runs only once a record was left out of the queue. Call before Flush.
  base::Status Expire(int64_t event_time);
  //! Reads the store for the next Expire, beside the worker (operator.h rule 6); the first one also
  //! reads the times of the records stored before the index was made, for its expiry queue.
  base::Status ScanExpired(int64_t event_time);
  //! Chunks deleted by Expire since the index was made (one both deleted from the queue and found by
  //! the sweep in the same commit counts twice).
  uint64_t expired() const { return cache_.swept(); }
  //! Steps of the sweep run so far: none while every record is in the expiry queue.
  uint64_t sweeps() const { return sweeps_; }
  //! Chunks with a count of queued records (or pinned for the sweep), kept beside the cache.
  size_t counted_chunks() const { return pending_.size(); }
  //! Latest label time ingested; -inf before the first.
  int64_t watermark() const { return watermark_; }
  uint64_t malformed() const { return malformed_; }
  //! The cache's lookups: a miss is a read of the store.
  const CacheStats& cache_stats() const { return cache_.stats(); }
  //! Counts label records that changed an id's existing record (corrections): a reader that cached
  //! a record re-reads it when this moved.
  uint64_t revision() const { return revision_; }

 private:
  //! A chunk: its `present` bits, then its records (32 bytes each), in id order.
  struct Codec {
    static void Encode(const LabelChunk& c, std::string* out);
    static bool Decode(std::string_view in, LabelChunk* c);
  };
  struct Parser;

  //! Once, at the first Ingest or Expire (the worker's, or the commit's with the workers paused):
  //! the largest id, and the records an older vigil stored one per id rewritten as chunks
  //! (staged for the next commit, and queued for expiry). A Lookup before it reads those directly.
  base::Status Load();
  //! Records of an older vigil's layout (one per id), rewritten as chunks.
  base::Status Migrate();

  //! The largest id ever ingested, read from the store at the first Ingest. A record of an id above
  //! it has never been stored, so its first label is written without asking the store for a
  //! previous one: labels arrive about in their transactions' order, so most ids are new, and each
  //! such read was a lookup of an absent key through every level of the store.
  base::Status LoadMaxId();
  //! Queues a record created with a label of time `time` for Expire, while the queue has room; a
  //! record left out keeps its chunk from the queue's deletions for good (the sweep's then).
  void Track(int64_t time, int64_t id);
  //! Counts the queued records of id's chunk.
  void Count(int64_t id) { ++pending_[LabelChunk::Of(id)]; }
  //! The (first label time, id) of the records in the store, into stored_ by time (ScanExpired's
  //! thread, once).
  base::Status ScanStoredTimes();
  //! Merges stored_ into the expiry queue, but for the records queued already (Expire's thread).
  void MergeStored();

  config::LabelsSpec spec_;
  StateStore* store_;
  std::optional<int64_t> max_id_;
  bool max_id_changed_ = false;  // since the last Flush
  bool loaded_ = false;
  LabelRecord legacy_;  // what a Lookup before Load read of an older vigil's record
  KeyedCache<LabelChunk, Codec> cache_;
  std::unique_ptr<Parser> parser_;
  int64_t watermark_ = INT64_MIN;
  uint64_t malformed_ = 0;
  uint64_t revision_ = 0;
  int64_t retention_ms_ = -1;
  std::deque<std::pair<int64_t, int64_t>> expiry_;  // (first label time, id), about by time
  //! Per chunk, its records in expiry_ (kPinned added once one was left out: never deleted by it).
  std::unordered_map<int64_t, uint32_t> pending_;
  static constexpr uint32_t kPinned = uint32_t{1} << 30;
  size_t expiry_capacity_;
  std::vector<std::pair<int64_t, int64_t>> stored_;  // the stored records' (ScanStoredTimes), to merge
  bool stored_scanned_ = false;
  //! Every record is in the queue: none was left out for room, every stored one was read. Until it
  //! stops holding, the sweep is not needed.
  bool queue_complete_ = true;
  uint64_t sweeps_ = 0;
};

}  // namespace vigil::engine
