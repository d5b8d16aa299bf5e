#pragma once
// KafkaSink: writes encoded records to a topic with an idempotent producer. Dead-letter records carry
// their reason and source position as headers and their original bytes as the value.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"
#include "engine/io.h"

namespace vigil::connectors {

//! Thread-safe: Write may run on several workers at once. Delivery failures are sticky: once one
//! record fails, Flush returns the error, so the runtime never commits past lost outputs.
class KafkaSink final : public engine::Sink {
 public:
  static base::Result<std::unique_ptr<KafkaSink>> Make(const config::KafkaSpec& kafka, const std::string& topic);
  ~KafkaSink() override;

  base::Status Write(const engine::OutBatch& batch) override;
  base::Status Flush(int timeout_ms) override;
  base::Status Close() override;

 private:
  explicit KafkaSink(std::string topic) : topic_(std::move(topic)) {}
  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  std::string topic_;
  KafkaHandle rk_;
  rd_kafka_topic_t* rkt_ = nullptr;
  std::mutex error_mu_;
  base::Status delivery_error_;
  std::atomic<bool> failed_{false};
};

}  // namespace vigil::connectors
