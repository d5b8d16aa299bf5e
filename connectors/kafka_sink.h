#pragma once
// KafkaSink: writes encoded records to a topic through the pipeline's shared KafkaProducer
// (idempotent; transactional under exactly-once). Dead-letter records carry their reason and source
// position as headers and their original bytes as the value.

#include <memory>
#include <string>

#include "connectors/kafka_producer.h"
#include "engine/io.h"

namespace vigil::connectors {

//! Thread-safe: Write may run on several workers at once. Delivery failures are sticky: once one
//! record fails, Flush returns the error, so the runtime never commits past lost outputs.
class KafkaSink final : public engine::Sink {
 public:
  //! A sink with a producer of its own (idempotent, not transactional).
  static base::Result<std::unique_ptr<KafkaSink>> Make(const config::KafkaSpec& kafka,
                                                       const std::string& topic);
  //! A sink writing through `producer`.
  KafkaSink(std::shared_ptr<KafkaProducer> producer, std::string topic);
  ~KafkaSink() override;

  base::Status Write(const engine::OutBatch& batch) override;
  //! At-least-once: waits for delivery. Transactional: a no-op (the transaction's commit delivers).
  base::Status Flush(int timeout_ms) override;
  //! Holds the shared producer (KafkaProducer::Hold): the output and dead-letter sinks hold together.
  bool Hold() override {
    producer_->Hold();
    return true;
  }
  base::Status Release(bool deliver = true) override { return producer_->Release(deliver); }
  //! At-least-once only (a transaction's records are delivered by its commit): marks the shared
  //! producer (KafkaProducer::Mark).
  bool Mark() override {
    if (producer_->transactional()) return false;
    producer_->Mark();
    return true;
  }
  base::Status FlushMarked(int timeout_ms) override;
  base::Status Close() override;

 private:
  std::shared_ptr<KafkaProducer> producer_;
  std::string topic_;
  rd_kafka_topic_t* rkt_;
};

}  // namespace vigil::connectors
