#pragma once
// KafkaSource: a topic consumed in a consumer group. Each assigned partition gets its own librdkafka
// queue, read in batches by the partition's task, so partitions never wait on each other. Offsets are
// committed only when the runtime says so (never automatically).

#include <memory>
#include <string>

#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"
#include "engine/io.h"

namespace vigil::connectors {

//! Lifecycle: Make → Start → Poll* / Commit* → Close. Driven by the runtime's control thread;
//! its readers are used by worker threads.
class KafkaSource final : public engine::Source {
 public:
  static base::Result<std::unique_ptr<KafkaSource>> Make(const config::PipelineSpec& spec);
  ~KafkaSource() override;

  base::Status Start(engine::SourceListener* listener) override;
  base::Status Poll(int timeout_ms) override;
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override;
  base::Status Close() override;
  const std::string& name() const override { return topic_; }

 private:
  KafkaSource(std::string topic, std::string labels_topic, rd_kafka_conf_t* conf)
      : topic_(std::move(topic)), labels_topic_(std::move(labels_topic)), conf_(conf) {}
  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                                void* opaque);
  base::Status OnAssign(rd_kafka_topic_partition_list_t* parts);
  base::Status OnRevoke(rd_kafka_topic_partition_list_t* parts);

  std::string topic_;
  std::string labels_topic_;  // empty without labels; co-partitioned with topic_
  rd_kafka_conf_t* conf_;  // owned until Start hands it to librdkafka
  KafkaHandle rk_;
  engine::SourceListener* listener_ = nullptr;
  base::Status callback_error_;
  bool closed_ = false;
};

}  // namespace vigil::connectors
