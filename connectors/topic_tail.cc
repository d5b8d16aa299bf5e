#include "connectors/topic_tail.h"

#include <spdlog/spdlog.h>

#include "connectors/kafka_changelog.h"

namespace vigil::connectors {

base::Result<std::unique_ptr<TopicTail>> TopicTail::Make(const config::KafkaSpec& kafka, const std::string& topic) {
  VIGIL_ASSIGN_OR_RETURN(const int partitions, PartitionCount(kafka, topic));
  std::unique_ptr<TopicTail> tail(new TopicTail());
  tail->topic_ = topic;
  VIGIL_ASSIGN_OR_RETURN(tail->rk_, NewKafkaClient(kafka, RD_KAFKA_CONSUMER,
                                                   {{"group.id", topic + ".tail"},
                                                    {"enable.auto.commit", "false"},
                                                    {"enable.auto.offset.store", "false"},
                                                    {"isolation.level", "read_committed"}}));
  rd_kafka_poll_set_consumer(tail->rk_.get());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  const rd_kafka_resp_err_t err = rd_kafka_assign(tail->rk_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "read '" + topic + "'"));
  return tail;
}

TopicTail::~TopicTail() {
  if (rk_) (void)rd_kafka_consumer_close(rk_.get());
}

base::Result<size_t> TopicTail::Poll(int timeout_ms, size_t max,
                                     const std::function<void(std::string_view, int32_t)>& fn) {
  size_t read = 0;
  while (read < max) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), read == 0 ? timeout_ms : 0);
    if (m == nullptr) break;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      fn(std::string_view(static_cast<const char*>(m->payload), m->len), m->partition);
      ++read;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const std::string what = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      VIGIL_RETURN_IF_ERROR(FatalError(rk_.get(), "reader of '" + topic_ + "'"));
      spdlog::debug("'{}': {}", topic_, what);
      continue;
    }
    rd_kafka_message_destroy(m);
  }
  return read;
}

}  // namespace vigil::connectors
