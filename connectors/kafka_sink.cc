#include "connectors/kafka_sink.h"

#include <charconv>
#include <string_view>

namespace vigil::connectors {

base::Result<std::unique_ptr<KafkaSink>> KafkaSink::Make(const config::KafkaSpec& kafka, const std::string& topic) {
  VIGIL_ASSIGN_OR_RETURN(rd_kafka_conf_t* conf, MakeKafkaConf(kafka, KafkaRole::kProducer, {}));
  std::unique_ptr<KafkaSink> sink(new KafkaSink(topic));
  rd_kafka_conf_set_opaque(conf, sink.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::DeliveryCallback);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return base::InvalidArgument(std::string("kafka producer: ") + err);
  }
  sink->rk_.reset(rk);
  sink->rkt_ = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  return sink;
}

KafkaSink::~KafkaSink() { (void)Close(); }

void KafkaSink::DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<KafkaSink*>(opaque);
  std::lock_guard lock(self->error_mu_);
  if (self->delivery_error_.ok()) self->delivery_error_ = KafkaError(msg->err, "delivery to '" + self->topic_ + "'");
  self->failed_ = true;
}

namespace {

rd_kafka_headers_t* DeadLetterHeaders(const engine::OutBatch& batch, const engine::OutRecord& r) {
  rd_kafka_headers_t* h = rd_kafka_headers_new(5);
  const std::string_view reason = engine::DlqReasonName(r.reason);
  rd_kafka_header_add(h, "vigil.reason", -1, reason.data(), static_cast<ssize_t>(reason.size()));
  if (!r.detail.empty()) rd_kafka_header_add(h, "vigil.field", -1, r.detail.data(), static_cast<ssize_t>(r.detail.size()));
  rd_kafka_header_add(h, "vigil.source.topic", -1, batch.source.data(), static_cast<ssize_t>(batch.source.size()));
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, batch.source_partition).ptr;
  rd_kafka_header_add(h, "vigil.source.partition", -1, buf, end - buf);
  end = std::to_chars(buf, buf + sizeof buf, r.source_offset).ptr;
  rd_kafka_header_add(h, "vigil.source.offset", -1, buf, end - buf);
  return h;
}

}  // namespace

base::Status KafkaSink::Write(const engine::OutBatch& batch) {
  if (failed_) {
    std::lock_guard lock(error_mu_);
    return delivery_error_;
  }
  for (const engine::OutRecord& r : batch.records) {
    char* value = const_cast<char*>(batch.buffer.data()) + r.value_offset;
    char* key = r.key_size ? const_cast<char*>(batch.buffer.data()) + r.key_offset : nullptr;
    rd_kafka_headers_t* headers = r.reason != engine::DlqReason::kNone ? DeadLetterHeaders(batch, r) : nullptr;
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(value, r.value_size), RD_KAFKA_V_KEY(key, r.key_size),
          RD_KAFKA_V_TIMESTAMP(r.timestamp_ms > 0 ? r.timestamp_ms : 0), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {  // backpressure: wait for deliveries
        rd_kafka_poll(rk_.get(), 50);
        continue;
      }
      if (headers) rd_kafka_headers_destroy(headers);
      return KafkaError(err, "produce to '" + topic_ + "'");
    }
  }
  rd_kafka_poll(rk_.get(), 0);
  return base::Status::OK();
}

base::Status KafkaSink::Flush(int timeout_ms) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), timeout_ms);
  {
    std::lock_guard lock(error_mu_);
    if (!delivery_error_.ok()) return delivery_error_;
  }
  return KafkaError(err, "flush to '" + topic_ + "'");
}

base::Status KafkaSink::Close() {
  if (!rk_) return base::Status::OK();
  base::Status st = Flush(30'000);
  if (rkt_) rd_kafka_topic_destroy(rkt_);
  rkt_ = nullptr;
  rk_.reset();
  return st;
}

}  // namespace vigil::connectors
