#pragma once
// KafkaSource: a topic consumed in a consumer group. Each assigned partition gets its own librdkafka
// queue, read in batches by the partition's task, so partitions never wait on each other. Offsets are
// committed only when the runtime says so (never automatically).

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"
#include "engine/io.h"

namespace vigil::connectors {

//! One end of a bounded read (see KafkaSource::MakeRange).
struct OffsetBound {
  enum class Kind {
    kEarliest,  //!< The partition's first offset.
    kLatest,    //!< The partition's end when the read starts (its high watermark then).
    kOffset,    //!< `offsets[p]` for each listed partition; unlisted ones take the side's default.
    kTime,      //!< The first offset whose timestamp is >= `time_ms`.
  };
  Kind kind = Kind::kEarliest;
  std::map<int32_t, int64_t> offsets;  //!< kOffset: partition -> offset (key -1: every partition).
  int64_t time_ms = 0;                 //!< kTime: milliseconds since the Unix epoch, UTC.
};

//! Parses "earliest", "latest", "1200" (every partition), "0:100,3:250" (those partitions; the others
//! default to earliest at the start and latest at the end), or an ISO-8601 time such as
//! "2018-05-01T00:00:00Z" / "2018-05-01". Errors name the text.
base::Result<OffsetBound> ParseOffsetBound(std::string_view text);

//! Calls `fn` with the value of every record of `topic` that exists when the call starts (each
//! partition from its first offset to its high watermark), then returns. Commits nothing.
base::Status ReadTopic(const config::KafkaSpec& kafka, const std::string& topic,
                       const std::function<void(std::string_view value)>& fn);

//! Lifecycle: Make → Start → Poll* / Commit* → Close. Driven by the runtime's control thread;
//! its readers are used by worker threads.
class KafkaSource final : public engine::Source {
 public:
  static base::Result<std::unique_ptr<KafkaSource>> Make(const config::PipelineSpec& spec);
  //! A bounded read for replays: every partition of the topic from `start` (inclusive) to `end`
  //! (exclusive, and never past the partition's end when Start runs). Partitions are assigned
  //! directly, outside any consumer group; nothing is committed; Finished() once every partition
  //! reached its end. The label stream, if any, is read from its beginning.
  static base::Result<std::unique_ptr<KafkaSource>> MakeRange(const config::PipelineSpec& spec,
                                                              OffsetBound start, OffsetBound end);
  ~KafkaSource() override;

  base::Status Start(engine::SourceListener* listener) override;
  base::Status Poll(int timeout_ms) override;
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override;
  //! Exactly-once: aborts the producer's open transaction and begins the next.
  base::Status AbortUncommitted() override;
  //! The current assignment of the input topic, handed to the listener again from the committed
  //! offsets (the labels' partitions with them).
  base::Status Reassign() override;
  bool Finished() const override;
  //! The configured partitioner over the topic's partition count (fetched once, then cached).
  base::Result<int32_t> PartitionFor(std::string_view key) const override;
  //! CheckCheckpointInTopic, for a state restored in the background (a replay reads its range: OK).
  base::Status CheckResume(int32_t partition, int64_t offset) override {
    return range_ ? base::Status::OK() : CheckCheckpointInTopic(partition, offset);
  }
  base::Status Close() override;
  const std::string& name() const override { return topic_; }
  //! Exactly-once: Commit sends the offsets into `producer`'s open transaction and commits it
  //! (with this consumer's group metadata, so a zombie of an older generation is fenced).
  void set_transactions(std::shared_ptr<class KafkaProducer> producer) { producer_ = std::move(producer); }
  //! After a commit, at most every `interval_ms`, deletes the topic's records before the committed
  //! offsets (DeleteRecords), as a repartition topic that only this group reads wants.
  void set_purge_committed(int interval_ms) { purge_interval_ms_ = interval_ms; }

  //! The consumer's librdkafka handle (tests: the mock cluster, committed offsets).
  rd_kafka_t* handle() const { return rk_.get(); }

  //! Bounded-read bookkeeping, shared with the readers.
  struct Range;

 private:
  KafkaSource(std::string topic, std::string labels_topic, rd_kafka_conf_t* conf)
      : topic_(std::move(topic)), labels_topic_(std::move(labels_topic)), conf_(conf) {}
  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts, void* opaque);
  base::Status OnAssign(rd_kafka_topic_partition_list_t* parts);
  //! At-least-once: commits `list` synchronously, trying again (up to a minute, with a warning each
  //! time) while the group's coordinator is moving or loading.
  base::Status CommitOffsets(rd_kafka_topic_partition_list_t* list);
  //! `lost`: taken away without a chance to commit (rd_kafka_assignment_lost).
  base::Status OnRevoke(rd_kafka_topic_partition_list_t* parts, bool lost);
  //! MakeRange's Start: resolves the bounds to offsets and assigns every partition.
  base::Status StartRange();
  //! Start: fails when the labels topic and the events topic both exist with different partition
  //! counts (labels are read partition by partition alongside the events).
  base::Status CheckCoPartitioned();
  //! FailedPrecondition when a task's checkpoint lies past its partition's end: the topic was
  //! recreated (or truncated) since the state was written, and resuming would skip its records.
  base::Status CheckCheckpointInTopic(int32_t partition, int64_t checkpoint);

  std::string topic_;
  std::string labels_topic_;  // empty without labels; co-partitioned with topic_
  rd_kafka_conf_t* conf_;     // owned until Start hands it to librdkafka
  KafkaHandle rk_;
  engine::SourceListener* listener_ = nullptr;
  base::Status callback_error_;
  bool closed_ = false;
  std::shared_ptr<Range> range_;  // null for a group subscription
  bool murmur2_ = false;          // partitioner: murmur2_random instead of consistent_random
  std::string member_;            // "group.instance.id 'X'" of a static member, for a fence's message
  mutable std::atomic<int32_t> partition_count_{0};  // 0 = not fetched yet
  std::shared_ptr<class KafkaProducer> producer_;    // exactly-once: the transactional producer
  int purge_interval_ms_ = -1;                       // < 0: never delete records
  int64_t last_purge_ms_ = 0;                        // steady clock
  struct PurgeQueue;
  std::shared_ptr<PurgeQueue> purge_;  // DeleteRecords answers, read at the next purge

  //! Deletes `offsets`' records before each committed offset; errors are logged, never fatal.
  void Purge(std::span<const engine::PartitionOffset> offsets);
};

}  // namespace vigil::connectors
