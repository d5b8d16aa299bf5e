#include "connectors/kafka_source.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace vigil::connectors {
namespace {

//! Reads one partition's queue in batches. Keeps the messages of the last batch alive until the
//! next Read, because the batch's RawEvents point into them.
class KafkaPartitionReader final : public engine::PartitionReader {
 public:
  KafkaPartitionReader(rd_kafka_t* rk, rd_kafka_queue_t* queue, std::string topic, int32_t partition)
      : rk_(rk), queue_(queue), topic_(std::move(topic)), partition_(partition) {}
  ~KafkaPartitionReader() override {
    Release();
    rd_kafka_queue_destroy(queue_);
  }

  base::Status Read(std::size_t max_events, int wait_ms, std::vector<engine::RawEvent>* out) override {
    Release();
    out->clear();
    if (messages_.size() < max_events) messages_.resize(max_events);
    const ssize_t n = rd_kafka_consume_batch_queue(queue_, wait_ms, messages_.data(), max_events);
    if (n < 0) return KafkaError(rd_kafka_last_error(), "consume " + topic_);
    held_ = static_cast<size_t>(n);
    for (size_t i = 0; i < held_; ++i) {
      rd_kafka_message_t* m = messages_[i];
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        spdlog::warn("{}[{}]: {}", topic_, partition_, rd_kafka_message_errstr(m));
        continue;
      }
      engine::RawEvent ev;
      ev.data = static_cast<const char*>(m->payload);
      ev.size = static_cast<uint32_t>(m->len);
      ev.key = static_cast<const char*>(m->key);
      ev.key_size = static_cast<uint32_t>(m->key_len);
      ev.offset = m->offset;
      if (ev.data == nullptr) ev.data = "";
      out->push_back(ev);
      next_ = m->offset + 1;
    }
    return base::Status::OK();
  }

  int64_t Lag() const override {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(rk_, topic_.c_str(), partition_, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return -1;
    if (high < 0) return -1;
    int64_t next = next_;
    if (next < 0) {  // nothing read yet: ask where the consumer stands
      rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(list, topic_.c_str(), partition_);
      if (rd_kafka_position(rk_, list) == RD_KAFKA_RESP_ERR_NO_ERROR) next = list->elems[0].offset;
      rd_kafka_topic_partition_list_destroy(list);
      if (next < 0) return -1;
    }
    return std::max<int64_t>(0, high - next);
  }

 private:
  void Release() {
    for (size_t i = 0; i < held_; ++i) rd_kafka_message_destroy(messages_[i]);
    held_ = 0;
  }

  rd_kafka_t* rk_;
  rd_kafka_queue_t* queue_;
  std::string topic_;
  int32_t partition_;
  std::vector<rd_kafka_message_t*> messages_;
  size_t held_ = 0;
  int64_t next_ = -1;
};

}  // namespace

base::Result<std::unique_ptr<KafkaSource>> KafkaSource::Make(const config::PipelineSpec& spec) {
  VIGIL_ASSIGN_OR_RETURN(rd_kafka_conf_t* conf,
                         MakeKafkaConf(spec.kafka, KafkaRole::kConsumer, {{"group.id", spec.source.group}}));
  const std::string labels = spec.labels.enabled ? spec.labels.source.topic : "";
  return std::unique_ptr<KafkaSource>(new KafkaSource(spec.source.topic, labels, conf));
}

KafkaSource::~KafkaSource() {
  (void)Close();
  if (conf_) rd_kafka_conf_destroy(conf_);
}

base::Status KafkaSource::Start(engine::SourceListener* listener) {
  listener_ = listener;
  rd_kafka_conf_set_opaque(conf_, this);
  rd_kafka_conf_set_rebalance_cb(conf_, &KafkaSource::RebalanceCallback);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf_, err, sizeof err);
  if (rk == nullptr) return base::InvalidArgument(std::string("kafka consumer: ") + err);
  conf_ = nullptr;  // owned by rk now
  rk_.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic_.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  return KafkaError(e, "subscribe to '" + topic_ + "'");
}

void KafkaSource::RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  base::Status st;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    st = self->OnAssign(parts);
  } else {
    st = self->OnRevoke(parts);
    rd_kafka_assign(rk, nullptr);
  }
  if (!st.ok() && self->callback_error_.ok()) self->callback_error_ = st;
}

base::Status KafkaSource::OnAssign(rd_kafka_topic_partition_list_t* parts) {
  struct Pending {
    int32_t partition;
    rd_kafka_queue_t* queue;
    rd_kafka_queue_t* labels;
  };
  // Detaches a partition's queue before assigning, so no message reaches the group queue.
  auto detach = [&](const std::string& topic, int32_t partition) {
    rd_kafka_queue_t* q = rd_kafka_queue_get_partition(rk_.get(), topic.c_str(), partition);
    rd_kafka_queue_forward(q, nullptr);
    return q;
  };
  std::vector<Pending> pending;
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_copy(parts);
  for (int i = 0; i < parts->cnt; ++i) {
    const int32_t partition = parts->elems[i].partition;
    auto start = listener_->PrepareAssign(partition);
    if (!start.ok()) {
      rd_kafka_topic_partition_list_destroy(assignment);
      return start.status();
    }
    if (start->events >= 0) assignment->elems[i].offset = start->events;
    Pending p{partition, detach(topic_, partition), nullptr};
    if (!labels_topic_.empty()) {
      // The label stream is co-partitioned: partition p of the labels belongs to the task of p.
      rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(assignment, labels_topic_.c_str(), partition);
      tp->offset = start->labels >= 0 ? start->labels : RD_KAFKA_OFFSET_INVALID;
      p.labels = detach(labels_topic_, partition);
    }
    pending.push_back(p);
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "assign"));
  for (const Pending& p : pending) {
    std::unique_ptr<engine::PartitionReader> labels;
    if (p.labels != nullptr)
      labels = std::make_unique<KafkaPartitionReader>(rk_.get(), p.labels, labels_topic_, p.partition);
    VIGIL_RETURN_IF_ERROR(listener_->Assigned(
        p.partition, std::make_unique<KafkaPartitionReader>(rk_.get(), p.queue, topic_, p.partition), std::move(labels)));
  }
  return base::Status::OK();
}

base::Status KafkaSource::OnRevoke(rd_kafka_topic_partition_list_t* parts) {
  std::vector<int32_t> partitions;
  for (int i = 0; i < parts->cnt; ++i) partitions.push_back(parts->elems[i].partition);
  return listener_->Revoked(partitions);
}

base::Status KafkaSource::Poll(int timeout_ms) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
  if (m != nullptr) {
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
      spdlog::warn("kafka consumer: {}", rd_kafka_message_errstr(m));
      if (fatal) {
        rd_kafka_message_destroy(m);
        return base::Unavailable("kafka consumer fatal error");
      }
    } else if (!m->err) {
      spdlog::error("message for {}[{}] reached the group queue", topic_, m->partition);
      rd_kafka_message_destroy(m);
      return base::Internal("a partition queue was not detached");
    }
    rd_kafka_message_destroy(m);
  }
  base::Status st = std::move(callback_error_);
  callback_error_ = base::Status::OK();
  return st;
}

base::Status KafkaSource::Commit(std::span<const engine::PartitionOffset> offsets) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets) {
    if (o.next_offset >= 0) rd_kafka_topic_partition_list_add(list, topic_.c_str(), o.partition)->offset = o.next_offset;
    if (o.label_next_offset >= 0 && !labels_topic_.empty())
      rd_kafka_topic_partition_list_add(list, labels_topic_.c_str(), o.partition)->offset = o.label_next_offset;
  }
  if (list->cnt == 0) {
    rd_kafka_topic_partition_list_destroy(list);
    return base::Status::OK();
  }
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list, 0);
  rd_kafka_topic_partition_list_destroy(list);
  return KafkaError(err, "commit offsets of '" + topic_ + "'");
}

base::Status KafkaSource::Close() {
  if (closed_ || !rk_) return base::Status::OK();
  closed_ = true;
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  base::Status st = std::move(callback_error_);
  rk_.reset();
  if (!st.ok()) return st;
  return KafkaError(err, "close consumer");
}

}  // namespace vigil::connectors
