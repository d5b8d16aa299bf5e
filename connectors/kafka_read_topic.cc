// ReadTopic (kafka_source.h): a whole topic read once, outside any consumer group, as `vigil replay`
// reads its labels topic.
#include <unistd.h>

#include <chrono>

#include "connectors/kafka_client.h"
#include "connectors/kafka_source.h"

namespace vigil::connectors {

base::Status ReadTopic(const config::KafkaSpec& kafka, const std::string& topic,
                       const std::function<void(std::string_view value)>& fn) {
  constexpr int kTimeoutMs = 10'000;
  const std::string group = "vigil-read-" + std::to_string(::getpid());
  VIGIL_ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      MakeKafkaConf(kafka, KafkaRole::kConsumer, {{"group.id", group}, {"enable.partition.eof", "true"}}));
  char errstr[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return base::InvalidArgument(std::string("kafka consumer: ") + errstr);
  }
  rd_kafka_poll_set_consumer(rk.get());
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt, &md, kTimeoutMs);
  rd_kafka_topic_destroy(rkt);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "metadata of '" + topic + "'"));
  const int partitions =
      md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  if (partitions == 0) return base::NotFound("topic '" + topic + "' does not exist");
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  int open = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (base::Status st = QueryWatermarks(rk.get(), topic, p, &low, &high, kTimeoutMs,
                                          "watermarks of " + topic + "[" + std::to_string(p) + "]");
        !st.ok()) {
      rd_kafka_topic_partition_list_destroy(list);
      return st;
    }
    if (high <= low) continue;
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = low;
    ++open;
  }
  err = open > 0 ? rd_kafka_assign(rk.get(), list) : RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_topic_partition_list_destroy(list);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "assign '" + topic + "'"));
  auto last_message = std::chrono::steady_clock::now();
  while (open > 0) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) {
      if (std::chrono::steady_clock::now() - last_message > std::chrono::milliseconds(kTimeoutMs * 3))
        return base::Unavailable("reading '" + topic + "': no progress for 30 s");
      continue;
    }
    last_message = std::chrono::steady_clock::now();
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      --open;
    } else if (m->err) {
      base::Status st = base::Unavailable("reading '" + topic + "': " + rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      return st;
    } else {
      fn(std::string_view(static_cast<const char*>(m->payload), m->len));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  return base::Status::OK();
}

}  // namespace vigil::connectors
