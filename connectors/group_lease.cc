#include "connectors/group_lease.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "connectors/kafka_changelog.h"

namespace vigil::connectors {

base::Result<std::unique_ptr<GroupLease>> GroupLease::Make(const config::KafkaSpec& kafka,
                                                           const std::string& topic,
                                                           const std::string& group) {
  VIGIL_RETURN_IF_ERROR(EnsureTopic(kafka, topic, 1, {}));
  std::unique_ptr<GroupLease> lease(new GroupLease());
  lease->topic_ = topic;
  VIGIL_ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      MakeKafkaConf(kafka, KafkaRole::kConsumer,
                    {{"group.id", group},
                     {"enable.auto.commit", "false"},
                     // sticky: a member that joins or leaves moves no lease it does not hold
                     {"partition.assignment.strategy", "cooperative-sticky"}}));
  rd_kafka_conf_set_rebalance_cb(conf, &GroupLease::Rebalance);
  rd_kafka_conf_set_opaque(conf, lease.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return base::InvalidArgument(std::string("lease consumer: ") + err);
  }
  lease->rk_.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  VIGIL_RETURN_IF_ERROR(KafkaError(e, "lease: subscribe to '" + topic + "'"));
  return lease;
}

GroupLease::~GroupLease() { Close(); }

void GroupLease::Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* lease = static_cast<GroupLease*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, partitions);
    }
    if (partitions->cnt > 0) {
      lease->held_.store(true, std::memory_order_release);
      spdlog::info("lease '{}': held by this instance", lease->topic_);
    }
  } else {
    if (lease->held_.exchange(false, std::memory_order_acq_rel))
      spdlog::info("lease '{}': handed over", lease->topic_);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

base::Status GroupLease::Poll(int timeout_ms) {
  if (closed_) return base::Status::OK();
  // The topic is never written: a message here is an event (an error) or nothing.
  if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout_ms)) {
    const rd_kafka_resp_err_t err = m->err;
    rd_kafka_message_destroy(m);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (base::Status fatal = FatalError(rk_.get(), "lease '" + topic_ + "'"); !fatal.ok()) {
        held_.store(false, std::memory_order_release);
        return fatal;
      }
      spdlog::debug("lease '{}': {}", topic_, rd_kafka_err2str(err));
    }
  }
  return base::Status::OK();
}

void GroupLease::Close() {
  if (closed_ || !rk_) return;
  closed_ = true;
  (void)rd_kafka_consumer_close(rk_.get());
  held_.store(false, std::memory_order_release);
}

}  // namespace vigil::connectors
