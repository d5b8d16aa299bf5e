#pragma once
// KafkaProducer: the one producer of a pipeline process, shared by its output sink, its dead-letter
// sink and its changelog. Idempotent always; transactional under exactly-once, where one transaction
// per commit interval holds everything produced in it and the consumed offsets (KIP-447: the
// consumer's group metadata fences zombies across rebalances, the transactional id fences a
// previous incarnation of the same instance).
//
// Thread-safety: Produce may be called from several workers at once. The transaction calls
// (CommitTransaction) come from the commit coordinator.
// Holding: between Hold and Release, records are kept back in memory instead of queued, so a commit
// can deliver (and, under exactly-once, commit the transaction of) what came before while the
// workers go on: their records go to librdkafka, into the next transaction, at Release. The
// coordinator's own records (the changelog's) pass through. A worker waits when the held bytes reach
// kMaxHeldBytes.
// Marking (at-least-once commits): instead of holding, Mark notes the records queued so far and
// DrainMarked waits for those only, while the workers' newer records go out at once. Each record
// counts in one of two epochs (its delivery report gives it back); Mark starts the other epoch, and
// DrainMarked waits until the marked one has nothing in flight.
// Aborting (AbortTransaction, or an abortable error of a commit): the transaction's queued records
// are purged; their failed deliveries are expected, not a sticky delivery error, and the next
// transaction begins at once.
// Backpressure: a full local queue (queue.buffering.max.messages / .kbytes) makes Produce wait for
// deliveries, so memory stays bounded when the broker is slow.

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"

namespace vigil::connectors {

class KafkaProducer {
 public:
  //! A producer; `transactional_id` non-empty makes it transactional: it initialises transactions
  //! (fencing an earlier producer with the same id, whose open transaction is aborted) and begins
  //! the first one.
  static base::Result<std::shared_ptr<KafkaProducer>> Make(const config::KafkaSpec& kafka,
                                                           const std::string& transactional_id);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  //! A topic handle, made once per name and kept until the producer goes.
  rd_kafka_topic_t* Topic(const std::string& name);
  //! Queues one record (copied). `partition` -1 lets the partitioner choose from the key. Waits while
  //! the local queue is full. Takes ownership of `headers` (may be null). While held (Hold), keeps
  //! the record back unless `through` (the commit coordinator's own records).
  base::Status Produce(rd_kafka_topic_t* topic, int32_t partition, std::string_view key,
                       std::string_view value, bool tombstone, int64_t timestamp_ms,
                       rd_kafka_headers_t* headers, bool through = false);
  //! Keeps the records produced from now on back (see the top of this file). Idempotent.
  void Hold();
  //! Queues the held records, in the order they came, and stops holding; with `deliver` false drops
  //! them instead (a failed commit: the pipeline stops and their events are read again). Idempotent.
  base::Status Release(bool deliver = true);
  //! Held records are at most this many bytes (keys and values); then Produce waits for Release.
  static constexpr size_t kMaxHeldBytes = 64 << 20;
  //! Serves delivery reports without waiting (call after queuing a batch).
  void Serve() { rd_kafka_poll(rk_.get(), 0); }
  //! Waits for every queued record; returns the first delivery error since Make (sticky).
  base::Status Flush(int timeout_ms);
  //! Notes the records queued so far: DrainMarked waits for them, not for later ones. Idempotent
  //! until DrainMarked (sinks that share the producer mark together). Call with no other thread
  //! inside Produce (the commit coordinator, workers paused), or for the caller's own records only.
  void Mark();
  //! Waits until every record queued before Mark is delivered; the first delivery error since Make
  //! (sticky); Unavailable when `timeout_ms` passes first. Without a Mark since the last drain,
  //! returns at once.
  base::Status DrainMarked(int timeout_ms);
  //! Commits the open transaction with `offsets` (topic, partition, next offset) as the consumer group
  //! of `consumer` consumed them, then begins the next one. Fenced or fatal errors: Fenced /
  //! Unavailable, and the producer is unusable; an abortable error aborts the transaction and fails
  //! (Aborted). Every call here reports a fence as kFenced, whichever call meets it first.
  base::Status CommitTransaction(rd_kafka_t* consumer, rd_kafka_topic_partition_list_t* offsets);
  //! Drops everything produced since the last commit: the held records, and under exactly-once the
  //! open transaction (aborted, its queued records purged), then begins the next one. For a pipeline
  //! that lost its partitions before it could commit them. Not transactional: drops the held records
  //! only. Fenced or fatal errors as CommitTransaction.
  base::Status AbortTransaction();
  bool transactional() const { return transactional_; }
  //! The librdkafka handle (fault injection in tests: the mock cluster, queue length).
  rd_kafka_t* handle() const { return rk_.get(); }
  //! Offset after the last delivered record of (topic, partition), or -1.
  int64_t NextOffset(const std::string& topic, int32_t partition) const;

 private:
  KafkaProducer() = default;
  //! Queues one record with librdkafka (Produce without the hold).
  base::Status ProduceNow(rd_kafka_topic_t* topic, int32_t partition, std::string_view key,
                          std::string_view value, bool tombstone, int64_t timestamp_ms,
                          rd_kafka_headers_t* headers);
  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  base::Status TxnError(rd_kafka_error_t* error, std::string_view what);
  //! Begins a transaction.
  base::Status Begin();
  //! Aborts the open transaction, if any, and begins the next.
  base::Status Abort();
  //! `st` unless the producer has been fenced, then the Fenced status that says so.
  base::Status UnlessFenced(base::Status st) const;

  //! Frees a consumer group metadata (std::unique_ptr's deleter).
  struct GroupMetadataFree {
    void operator()(rd_kafka_consumer_group_metadata_t* g) const {
      rd_kafka_consumer_group_metadata_destroy(g);
    }
  };
  KafkaHandle rk_;
  //! The consumer group metadata of the last commit that had one: librdkafka gives none while the
  //! consumer closes, when the final commit of its revoked partitions still needs it.
  std::unique_ptr<rd_kafka_consumer_group_metadata_t, GroupMetadataFree> group_;
  bool transactional_ = false;
  bool in_transaction_ = false;  //!< Begun and neither committed nor aborted (commit coordinator only).
  std::string transactional_id_;
  std::mutex topics_mu_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  mutable std::mutex error_mu_;
  base::Status delivery_error_;
  std::atomic<bool> failed_{false};
  //! A record kept back by Hold: slices of held_bytes_.
  struct HeldRecord {
    rd_kafka_topic_t* topic;
    int32_t partition;
    size_t key_offset, key_size, value_offset, value_size;
    bool tombstone;
    int64_t timestamp_ms;
    rd_kafka_headers_t* headers;
  };
  std::atomic<bool> holding_{false};
  std::mutex hold_mu_;
  std::condition_variable released_;
  std::string held_bytes_;  // reused: no allocation per record once it has grown
  std::vector<HeldRecord> held_;
  // Marking: records in flight per epoch (the low bit of epoch_ when they were queued).
  std::atomic<uint32_t> epoch_{0};
  std::atomic<int64_t> in_flight_[2] = {0, 0};
  std::mutex mark_mu_;
  bool marked_ = false;  // a Mark waits for its DrainMarked
  uint32_t marked_epoch_ = 0;
  mutable std::mutex offsets_mu_;
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets_;  // delivered, per (topic, partition)
};

}  // namespace vigil::connectors
