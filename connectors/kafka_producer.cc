#include "connectors/kafka_producer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>

namespace vigil::connectors {
namespace {
constexpr int kTxnTimeoutMs = 60'000;
}  // namespace

base::Result<std::shared_ptr<KafkaProducer>> KafkaProducer::Make(const config::KafkaSpec& kafka,
                                                                 const std::string& transactional_id) {
  std::map<std::string, std::string> extra;
  if (!transactional_id.empty()) {
    extra["transactional.id"] = transactional_id;
    // Also the longest a record may wait for a broker (librdkafka caps message.timeout.ms by it), so
    // it is what a broker outage may last without failing the pipeline; a crashed instance's open
    // transaction blocks read_committed readers of its partitions that long (unless it restarts).
    if (!kafka.producer.contains("transaction.timeout.ms") &&
        !kafka.properties.contains("transaction.timeout.ms"))
      extra["transaction.timeout.ms"] = "60000";
  }
  VIGIL_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(kafka, KafkaRole::kProducer, extra));
  std::shared_ptr<KafkaProducer> p(new KafkaProducer());
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::DeliveryCallback);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return base::InvalidArgument(std::string("kafka producer: ") + err);
  }
  p->rk_.reset(rk);
  if (!transactional_id.empty()) {
    p->transactional_ = true;
    p->transactional_id_ = transactional_id;
    VIGIL_RETURN_IF_ERROR(p->TxnError(rd_kafka_init_transactions(rk, kTxnTimeoutMs), "init transactions"));
    VIGIL_RETURN_IF_ERROR(p->Begin());
    spdlog::info("exactly-once: transactional producer '{}' ready", transactional_id);
  }
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (!rk_) return;
  (void)Release(false);
  if (!transactional_) rd_kafka_flush(rk_.get(), 30'000);
  // An open transaction is left to the broker (aborted by the next incarnation or its timeout).
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  topics_.clear();
}

base::Status KafkaProducer::TxnError(rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return base::Status::OK();
  std::string msg = std::string(what) + ": " + rd_kafka_error_string(error);
  const bool fenced = IsFence(rd_kafka_error_code(error));
  const bool abortable = rd_kafka_error_txn_requires_abort(error);
  rd_kafka_error_destroy(error);
  if (fenced)
    return base::Fenced("another instance with transactional id '" + transactional_id_ + "' took over (" +
                        msg + ")");
  if (abortable) {
    // The transaction is aborted and the next one begun: the producer stays usable, and what the
    // aborted one held is for the pipeline to produce again.
    VIGIL_RETURN_IF_ERROR(Abort());
    return base::Aborted(msg + " (transaction aborted)");
  }
  return UnlessFenced(base::Unavailable(msg));
}

base::Status KafkaProducer::Begin() {
  VIGIL_RETURN_IF_ERROR(TxnError(rd_kafka_begin_transaction(rk_.get()), "begin transaction"));
  in_transaction_ = true;
  return base::Status::OK();
}

base::Status KafkaProducer::Abort() {
  if (in_transaction_) {
    in_transaction_ = false;
    if (rd_kafka_error_t* e = rd_kafka_abort_transaction(rk_.get(), kTxnTimeoutMs)) {
      std::string msg = std::string("abort transaction: ") + rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return UnlessFenced(base::Unavailable(std::move(msg)));
    }
  }
  rd_kafka_poll(rk_.get(), 0);  // the purged records' reports
  return Begin();
}

base::Status KafkaProducer::AbortTransaction() {
  (void)Release(false);
  if (!transactional_) return base::Status::OK();
  return Abort();
}

base::Status KafkaProducer::UnlessFenced(base::Status st) const {
  if (st.ok() || !transactional_) return st;
  // A fence is a fatal error of the client; the call that meets it first may only see its
  // consequences (a purged delivery, a refused produce).
  base::Status fatal = FatalError(rk_.get(), "transactional id '" + transactional_id_ + "'");
  return fatal.code() == base::StatusCode::kFenced ? fatal : st;
}

void KafkaProducer::DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  // Delivered or failed, it is no longer in flight (a failure is sticky below).
  self->in_flight_[reinterpret_cast<uintptr_t>(msg->_private) & 1].fetch_sub(1, std::memory_order_release);
  // Purged by an abort (AbortTransaction): dropped on purpose, produced again by the pipeline.
  if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) return;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::lock_guard lock(self->error_mu_);
    if (self->delivery_error_.ok())
      self->delivery_error_ =
          KafkaError(msg->err, std::string("delivery to '") + rd_kafka_topic_name(msg->rkt) + "'");
    self->failed_ = true;
    return;
  }
  (void)rk;
  std::lock_guard lock(self->offsets_mu_);
  int64_t& next = self->next_offsets_[{rd_kafka_topic_name(msg->rkt), msg->partition}];
  next = std::max(next, msg->offset + 1);
}

rd_kafka_topic_t* KafkaProducer::Topic(const std::string& name) {
  std::lock_guard lock(topics_mu_);
  auto [it, inserted] = topics_.try_emplace(name, nullptr);
  if (inserted) it->second = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
  return it->second;
}

base::Status KafkaProducer::Produce(rd_kafka_topic_t* topic, int32_t partition, std::string_view key,
                                    std::string_view value, bool tombstone, int64_t timestamp_ms,
                                    rd_kafka_headers_t* headers, bool through) {
  if (!through && holding_.load(std::memory_order_acquire)) {
    std::unique_lock lock(hold_mu_);
    released_.wait(lock, [&] { return !holding_ || held_bytes_.size() < kMaxHeldBytes; });
    if (holding_) {  // else Release ran meanwhile: queue it now, after the held ones
      HeldRecord r{topic,        partition, held_bytes_.size(), key.size(), 0,
                   value.size(), tombstone, timestamp_ms,       headers};
      held_bytes_.append(key);
      r.value_offset = held_bytes_.size();
      held_bytes_.append(value);
      held_.push_back(r);
      return base::Status::OK();
    }
  }
  return ProduceNow(topic, partition, key, value, tombstone, timestamp_ms, headers);
}

void KafkaProducer::Hold() {
  std::lock_guard lock(hold_mu_);
  holding_.store(true, std::memory_order_release);
}

base::Status KafkaProducer::Release(bool deliver) {
  std::lock_guard lock(hold_mu_);
  base::Status st;
  for (const HeldRecord& r : held_) {
    if (!deliver || !st.ok()) {
      if (r.headers) rd_kafka_headers_destroy(r.headers);
      continue;
    }
    const std::string_view key(held_bytes_.data() + r.key_offset, r.key_size);
    const std::string_view value(held_bytes_.data() + r.value_offset, r.value_size);
    st = ProduceNow(r.topic, r.partition, key, value, r.tombstone, r.timestamp_ms, r.headers);
  }
  held_.clear();
  held_bytes_.clear();
  holding_.store(false, std::memory_order_release);
  released_.notify_all();
  if (deliver) Serve();
  return st;
}

base::Status KafkaProducer::ProduceNow(rd_kafka_topic_t* topic, int32_t partition, std::string_view key,
                                       std::string_view value, bool tombstone, int64_t timestamp_ms,
                                       rd_kafka_headers_t* headers) {
  if (failed_) {
    if (headers) rd_kafka_headers_destroy(headers);
    std::lock_guard lock(error_mu_);
    return UnlessFenced(delivery_error_);
  }
  void* v = tombstone ? nullptr : const_cast<char*>(value.data());
  const uintptr_t epoch = epoch_.load(std::memory_order_acquire) & 1;
  in_flight_[epoch].fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(v, tombstone ? 0 : value.size()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms > 0 ? timestamp_ms : 0), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(epoch)), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return base::Status::OK();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {  // backpressure: wait for deliveries
      rd_kafka_poll(rk_.get(), 50);
      continue;
    }
    if (headers) rd_kafka_headers_destroy(headers);
    in_flight_[epoch].fetch_sub(1, std::memory_order_relaxed);  // not queued
    return UnlessFenced(KafkaError(err, std::string("produce to '") + rd_kafka_topic_name(topic) + "'"));
  }
}

base::Status KafkaProducer::Flush(int timeout_ms) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), timeout_ms);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::lock_guard lock(mark_mu_);
    marked_ = false;  // everything queued is delivered, the marked records too
  }
  {
    std::lock_guard lock(error_mu_);
    if (!delivery_error_.ok()) return UnlessFenced(delivery_error_);
  }
  return UnlessFenced(KafkaError(err, "flush"));
}

void KafkaProducer::Mark() {
  std::lock_guard lock(mark_mu_);
  if (marked_) return;
  marked_epoch_ = epoch_.fetch_add(1, std::memory_order_acq_rel) & 1;
  marked_ = true;
}

base::Status KafkaProducer::DrainMarked(int timeout_ms) {
  uint32_t epoch = 0;
  {
    std::lock_guard lock(mark_mu_);
    if (!marked_) return base::Status::OK();
    epoch = marked_epoch_;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int64_t left = 0;
  while ((left = in_flight_[epoch].load(std::memory_order_acquire)) > 0 &&
         std::chrono::steady_clock::now() < deadline)
    rd_kafka_poll(rk_.get(), 5);  // serves delivery reports (the workers' too)
  {
    std::lock_guard lock(error_mu_);
    if (!delivery_error_.ok()) return UnlessFenced(delivery_error_);
  }
  if (left > 0)
    return base::Unavailable("flush: " + std::to_string(left) + " records not delivered within " +
                             std::to_string(timeout_ms) + " ms");
  std::lock_guard lock(mark_mu_);
  marked_ = false;
  return base::Status::OK();
}

base::Status KafkaProducer::CommitTransaction(rd_kafka_t* consumer,
                                              rd_kafka_topic_partition_list_t* offsets) {
  if (!transactional_) return base::FailedPrecondition("the producer is not transactional");
  // Deliver first, so the delivery reports (changelog positions) are in before the commit returns.
  VIGIL_RETURN_IF_ERROR(Flush(kTxnTimeoutMs));
  if (offsets != nullptr && offsets->cnt > 0) {
    // None while the consumer closes (the commit of its revoked partitions): the last one then, of
    // the same membership unless a rebalance came in between, which the coordinator would refuse.
    if (rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer))
      group_.reset(group);
    if (!group_)
      return base::Unavailable("send offsets to the transaction: the consumer has no group membership");
    VIGIL_RETURN_IF_ERROR(
        TxnError(rd_kafka_send_offsets_to_transaction(rk_.get(), offsets, group_.get(), kTxnTimeoutMs),
                 "send offsets to the transaction"));
  }
  VIGIL_RETURN_IF_ERROR(
      TxnError(rd_kafka_commit_transaction(rk_.get(), kTxnTimeoutMs), "commit transaction"));
  in_transaction_ = false;
  return Begin();
}

int64_t KafkaProducer::NextOffset(const std::string& topic, int32_t partition) const {
  std::lock_guard lock(offsets_mu_);
  auto it = next_offsets_.find({topic, partition});
  return it == next_offsets_.end() ? -1 : it->second;
}

}  // namespace vigil::connectors
