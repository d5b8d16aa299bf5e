#pragma once
// KafkaChangelog: the tasks' store changes on a compacted topic, one partition per input partition,
// written through the pipeline's KafkaProducer (inside its transactions under exactly-once) and
// read back, committed records only, to restore a store.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kafka_producer.h"
#include "engine/io.h"

namespace vigil::connectors {

//! Topic-level configs (name → value), as given to CreateTopics and read back by DescribeConfigs.
using TopicConfigs = std::map<std::string, std::string>;

//! The changelog's configs: cleanup.policy=compact (a key's latest record is its state; a deletion's
//! tombstone removes it) and max.message.bytes=1048588, written out rather than left to the broker's
//! default: a store record is at most kPieceBytes (60 KiB) plus its key (engine/pieced_cache.h), and
//! the producer's batches are at most its message.max.bytes (librdkafka's default 1,000,000), so
//! every batch fits, on a cluster whose default is lower too. segment.bytes=16777216 (16 MiB, not the
//! broker's 1 GiB): compaction cleans closed segments only, so the changelog's disk stays near its
//! live bytes plus one 16 MiB segment a partition, however many times each key was rewritten.
TopicConfigs ChangelogTopicConfigs();
//! A repartition topic's configs: retention.ms=-1, so that a catch-up over old event times loses no
//! record to time retention (its stage deletes what it consumed and committed: DeleteRecords).
TopicConfigs RepartitionTopicConfigs();
//! A side-output topic's (the score operator's outcomes): records carry event times, which may be far
//! in the past, so nothing is deleted by time (retention.ms=-1); each partition keeps its newest
//! 1 GiB (retention.bytes), a training window's worth at any realistic rate.
TopicConfigs SideOutputTopicConfigs();

//! Creates `topic` with `partitions` partitions and `configs` if it does not exist, and checks an
//! existing one has that many (an existing topic whose configs differ is logged with a warning,
//! and left as it is). Errors name the topic.
base::Status EnsureTopic(const config::KafkaSpec& kafka, const std::string& topic, int partitions,
                         const TopicConfigs& configs = {});
//! The number of partitions of `topic`; NotFound when it does not exist.
base::Result<int> PartitionCount(const config::KafkaSpec& kafka, const std::string& topic);

class KafkaChangelog final : public engine::Changelog {
 public:
  KafkaChangelog(const config::KafkaSpec& kafka, std::shared_ptr<KafkaProducer> producer, std::string topic);

  base::Status Append(int32_t partition, std::string_view key, const std::string_view* value) override;
  base::Status Flush(int timeout_ms) override;
  //! Marks the shared producer after this thread's appends and drains the mark.
  base::Status FlushAppended(int timeout_ms) override;
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
