#include "connectors/kafka_sink.h"

#include <charconv>
#include <string_view>

namespace vigil::connectors {

base::Result<std::unique_ptr<KafkaSink>> KafkaSink::Make(const config::KafkaSpec& kafka,
                                                         const std::string& topic) {
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<KafkaProducer> producer, KafkaProducer::Make(kafka, ""));
  return std::make_unique<KafkaSink>(std::move(producer), topic);
}

KafkaSink::KafkaSink(std::shared_ptr<KafkaProducer> producer, std::string topic)
    : producer_(std::move(producer)), topic_(std::move(topic)), rkt_(producer_->Topic(topic_)) {}

KafkaSink::~KafkaSink() { (void)Close(); }

namespace {

rd_kafka_headers_t* DeadLetterHeaders(const engine::OutBatch& batch, const engine::OutRecord& r) {
  rd_kafka_headers_t* h = rd_kafka_headers_new(5);
  const std::string_view reason = engine::DlqReasonName(r.reason);
  rd_kafka_header_add(h, "vigil.reason", -1, reason.data(), static_cast<ssize_t>(reason.size()));
  if (!r.detail.empty())
    rd_kafka_header_add(h, "vigil.field", -1, r.detail.data(), static_cast<ssize_t>(r.detail.size()));
  rd_kafka_header_add(h, "vigil.source.topic", -1, batch.source.data(),
                      static_cast<ssize_t>(batch.source.size()));
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, batch.source_partition).ptr;
  rd_kafka_header_add(h, "vigil.source.partition", -1, buf, end - buf);
  end = std::to_chars(buf, buf + sizeof buf, r.source_offset).ptr;
  rd_kafka_header_add(h, "vigil.source.offset", -1, buf, end - buf);
  return h;
}

}  // namespace

base::Status KafkaSink::Write(const engine::OutBatch& batch) {
  for (const engine::OutRecord& r : batch.records) {
    const std::string_view value(batch.buffer.data() + r.value_offset, r.value_size);
    const std::string_view key =
        r.key_size ? std::string_view(batch.buffer.data() + r.key_offset, r.key_size) : std::string_view();
    rd_kafka_headers_t* headers =
        r.reason != engine::DlqReason::kNone ? DeadLetterHeaders(batch, r) : nullptr;
    VIGIL_RETURN_IF_ERROR(
        producer_->Produce(rkt_, RD_KAFKA_PARTITION_UA, key, value, false, r.timestamp_ms, headers));
  }
  producer_->Serve();
  return base::Status::OK();
}

base::Status KafkaSink::Flush(int timeout_ms) {
  if (producer_->transactional()) return base::Status::OK();
  return producer_->Flush(timeout_ms).WithContext("'" + topic_ + "'");
}

base::Status KafkaSink::FlushMarked(int timeout_ms) {
  if (producer_->transactional()) return base::Status::OK();
  return producer_->DrainMarked(timeout_ms).WithContext("'" + topic_ + "'");
}

base::Status KafkaSink::Close() {
  if (!producer_ || producer_->transactional()) return base::Status::OK();
  return producer_->Flush(30'000);
}

}  // namespace vigil::connectors
