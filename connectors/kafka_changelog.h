#pragma once
// KafkaChangelog: the tasks' store changes on a compacted topic, one partition per input partition,
// written through the pipeline's KafkaProducer (inside its transactions under exactly-once) and
// read back, committed records only, to restore a store.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kafka_producer.h"
#include "engine/io.h"

namespace vigil::connectors {

//! Creates `topic` with `partitions` partitions (cleanup.policy=compact if `compacted`) if it does not
//! exist, and checks an existing one has that many. Errors name the topic.
base::Status EnsureTopic(const config::KafkaSpec& kafka, const std::string& topic, int partitions,
                         bool compacted);
//! The number of partitions of `topic`; NotFound when it does not exist.
base::Result<int> PartitionCount(const config::KafkaSpec& kafka, const std::string& topic);

class KafkaChangelog final : public engine::Changelog {
 public:
  KafkaChangelog(const config::KafkaSpec& kafka, std::shared_ptr<KafkaProducer> producer, std::string topic);

  base::Status Append(int32_t partition, std::string_view key, const std::string_view* value) override;
  base::Status Flush(int timeout_ms) override;
  int64_t NextOffset(int32_t partition) const override;
  base::Result<int64_t> Restore(
      int32_t partition, int64_t from,
      const std::function<base::Status(std::string_view key, const std::string_view* value)>& fn) override;
  const std::string& topic() const { return topic_; }

 private:
  config::KafkaSpec kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  std::string topic_;
  rd_kafka_topic_t* rkt_;
  //! Takes an idle restore consumer (read_committed, assign-only), or makes one.
  base::Result<KafkaHandle> TakeRestorer();
  std::mutex restore_mu_;
  //! Restore consumers not in use: partitions restore in parallel, each with a consumer of its own.
  std::vector<KafkaHandle> restorers_;
};

}  // namespace vigil::connectors
