#include "connectors/topic_tail.h"

#include <spdlog/spdlog.h>

#include "connectors/kafka_changelog.h"

namespace vigil::connectors {
namespace {

constexpr int kCommittedTimeoutMs = 10'000;

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

PartitionList AllPartitions(const std::string& topic, int partitions) {
  PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  return list;
}

}  // namespace

base::Result<std::unique_ptr<TopicTail>> TopicTail::Make(const config::KafkaSpec& kafka,
                                                         const std::string& topic, const std::string& group) {
  VIGIL_ASSIGN_OR_RETURN(const int partitions, PartitionCount(kafka, topic));
  std::unique_ptr<TopicTail> tail(new TopicTail());
  tail->topic_ = topic;
  tail->partitions_ = partitions;
  VIGIL_ASSIGN_OR_RETURN(tail->rk_, NewKafkaClient(kafka, RD_KAFKA_CONSUMER,
                                                   {{"group.id", group},
                                                    {"enable.auto.commit", "false"},
                                                    {"enable.auto.offset.store", "false"},
                                                    {"isolation.level", "read_committed"}}));
  rd_kafka_poll_set_consumer(tail->rk_.get());
  PartitionList list = AllPartitions(topic, partitions);
  VIGIL_RETURN_IF_ERROR(KafkaError(rd_kafka_committed(tail->rk_.get(), list.get(), kCommittedTimeoutMs),
                                   "committed offsets of '" + group + "' on '" + topic + "'"));
  for (int i = 0; i < list->cnt; ++i)
    if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
  VIGIL_RETURN_IF_ERROR(KafkaError(rd_kafka_assign(tail->rk_.get(), list.get()), "read '" + topic + "'"));
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

base::Status TopicTail::Commit() {
  PartitionList list = AllPartitions(topic_, partitions_);
  VIGIL_RETURN_IF_ERROR(KafkaError(rd_kafka_position(rk_.get(), list.get()), "position on '" + topic_ + "'"));
  PartitionList known(rd_kafka_topic_partition_list_new(partitions_));
  for (int i = 0; i < list->cnt; ++i)
    if (list->elems[i].offset >= 0)
      rd_kafka_topic_partition_list_add(known.get(), topic_.c_str(), list->elems[i].partition)->offset =
          list->elems[i].offset;
  if (known->cnt == 0) return base::Status::OK();
  return KafkaError(rd_kafka_commit(rk_.get(), known.get(), /*async=*/0), "commit on '" + topic_ + "'");
}

}  // namespace vigil::connectors
