#pragma once
// KafkaProducer: the one producer of a pipeline process, shared by its output sink, its dead-letter
// sink and its changelog. Idempotent always; transactional under exactly-once, where one transaction
// per commit interval holds everything produced in it and the consumed offsets (KIP-447: the
// consumer's group metadata fences zombies across rebalances, the transactional id fences a
// previous incarnation of the same instance).
//
// Thread-safety: Produce may be called from several workers at once. The transaction calls
// (CommitTransaction) come from the commit coordinator while the workers are paused.
// Backpressure: a full local queue (queue.buffering.max.messages / .kbytes) makes Produce wait for
// deliveries, so memory stays bounded when the broker is slow.

#include <atomic>
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
  //! the local queue is full. Takes ownership of `headers` (may be null).
  base::Status Produce(rd_kafka_topic_t* topic, int32_t partition, std::string_view key,
                       std::string_view value, bool tombstone, int64_t timestamp_ms,
                       rd_kafka_headers_t* headers);
  //! Serves delivery reports without waiting (call after queuing a batch).
  void Serve() { rd_kafka_poll(rk_.get(), 0); }
  //! Waits for every queued record; returns the first delivery error since Make (sticky).
  base::Status Flush(int timeout_ms);
  //! Commits the open transaction with `offsets` (topic, partition, next offset) as the consumer group
  //! of `consumer` consumed them, then begins the next one. Fenced or fatal errors: Fenced /
  //! Unavailable, and the producer is unusable; an abortable error aborts the transaction and fails
  //! (Aborted). Every call here reports a fence as kFenced, whichever call meets it first.
  base::Status CommitTransaction(rd_kafka_t* consumer, rd_kafka_topic_partition_list_t* offsets);
  bool transactional() const { return transactional_; }
  //! The librdkafka handle (fault injection in tests: the mock cluster, queue length).
  rd_kafka_t* handle() const { return rk_.get(); }
  //! Offset after the last delivered record of (topic, partition), or -1.
  int64_t NextOffset(const std::string& topic, int32_t partition) const;

 private:
  KafkaProducer() = default;
  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  base::Status TxnError(rd_kafka_error_t* error, std::string_view what);
  //! `st` unless the producer has been fenced, then the Fenced status that says so.
  base::Status UnlessFenced(base::Status st) const;

  KafkaHandle rk_;
  bool transactional_ = false;
  std::string transactional_id_;
  std::mutex topics_mu_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  mutable std::mutex error_mu_;
  base::Status delivery_error_;
  std::atomic<bool> failed_{false};
  mutable std::mutex offsets_mu_;
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets_;  // delivered, per (topic, partition)
};

}  // namespace vigil::connectors
