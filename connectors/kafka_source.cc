#include "connectors/kafka_source.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "connectors/kafka_producer.h"

namespace vigil::connectors {

//! Resolved bounds of a bounded read, and how many partitions have not reached their end yet.
struct KafkaSource::Range {
  OffsetBound start, end;
  std::map<int32_t, std::pair<int64_t, int64_t>> offsets;  //!< partition -> [first, end)
  std::atomic<int> open{0};
};

namespace {

//! Reads one partition's queue in batches. Keeps the messages of the last batch alive until the
//! next Read, because the batch's RawEvents point into them.
class KafkaPartitionReader final : public engine::PartitionReader {
 public:
  //! `range` set: the reader stops at `end` (exclusive) and counts itself out of range->open then.
  KafkaPartitionReader(rd_kafka_t* rk, rd_kafka_queue_t* queue, std::string topic, int32_t partition,
                       std::shared_ptr<KafkaSource::Range> range = nullptr, int64_t first = 0,
                       int64_t end = 0)
      : rk_(rk),
        queue_(queue),
        topic_(std::move(topic)),
        partition_(partition),
        range_(std::move(range)),
        end_(end) {
    at_end_ = range_ != nullptr && first >= end;
  }
  ~KafkaPartitionReader() override {
    Release();
    rd_kafka_queue_destroy(queue_);
  }

  base::Status Read(std::size_t max_events, int wait_ms, std::vector<engine::RawEvent>* out) override {
    Release();
    out->clear();
    if (at_end_) {
      // Reported only now, when the batch that reached the end has been processed.
      if (!reported_end_) {
        reported_end_ = true;
        range_->open.fetch_sub(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 50)));
      return base::Status::OK();
    }
    if (messages_.size() < max_events) messages_.resize(max_events);
    // What has been fetched, at once; only an empty queue waits, and for its first record (a batched
    // consume waits until its batch is full or the time is up): a quiet stream's events go on
    // without waiting for others, a busy one's come in full batches.
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, messages_.data(), max_events);
    if (n == 0 && wait_ms > 0) {
      n = rd_kafka_consume_batch_queue(queue_, wait_ms, messages_.data(), 1);
      if (n == 1 && max_events > 1) {
        const ssize_t more = rd_kafka_consume_batch_queue(queue_, 0, messages_.data() + 1, max_events - 1);
        if (more > 0) n += more;  // an error shows at the next read
      }
    }
    if (n < 0) return KafkaError(rd_kafka_last_error(), "consume " + topic_);
    held_ = static_cast<size_t>(n);
    for (size_t i = 0; i < held_; ++i) {
      rd_kafka_message_t* m = messages_[i];
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          if (range_) at_end_ = true;  // the end is never past the log's end when the read began
          // The fetch position at the end: past a transaction's commit marker, which is an offset
          // of the log but never a message, so the last message's offset + 1 would fall short of
          // the end by one marker per transaction.
          next_ = std::max(next_, m->offset);
          continue;
        }
        spdlog::warn("{}[{}]: {}", topic_, partition_, rd_kafka_message_errstr(m));
        continue;
      }
      if (range_ && (at_end_ || m->offset >= end_)) {
        at_end_ = true;
        continue;
      }
      if (range_ && m->offset + 1 >= end_) at_end_ = true;
      engine::RawEvent ev;
      ev.data = static_cast<const char*>(m->payload);
      ev.size = static_cast<uint32_t>(m->len);
      ev.key = static_cast<const char*>(m->key);
      ev.key_size = static_cast<uint32_t>(m->key_len);
      ev.offset = m->offset;
      ev.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      if (ev.data == nullptr) ev.data = "";
      out->push_back(ev);
      next_ = m->offset + 1;
    }
    return base::Status::OK();
  }

  void Wake() override { rd_kafka_queue_yield(queue_); }

  int64_t Lag() const override {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(rk_, topic_.c_str(), partition_, &low, &high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
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
  std::shared_ptr<KafkaSource::Range> range_;  // null: unbounded
  int64_t end_ = 0;
  bool at_end_ = false;
  bool reported_end_ = false;
};

}  // namespace

base::Result<std::unique_ptr<KafkaSource>> KafkaSource::MakeRange(const config::PipelineSpec& spec,
                                                                  OffsetBound start, OffsetBound end) {
  const std::string group = "vigil-replay-" + std::to_string(::getpid()) + "-" +
                            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  VIGIL_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                         MakeKafkaConf(spec.kafka, KafkaRole::kConsumer,
                                       {{"group.id", group}, {"enable.partition.eof", "true"}}));
  const std::string labels = spec.labels.enabled ? spec.labels.source.topic : "";
  auto source = std::unique_ptr<KafkaSource>(new KafkaSource(spec.source.topic, labels, conf));
  source->range_ = std::make_shared<Range>();
  source->range_->start = std::move(start);
  source->range_->end = std::move(end);
  return source;
}

bool KafkaSource::Finished() const { return range_ != nullptr && range_->open.load() == 0; }

base::Status KafkaSource::StartRange() {
  constexpr int kTimeoutMs = 10'000;
  rd_kafka_t* rk = rk_.get();
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic_.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, kTimeoutMs);
  rd_kafka_topic_destroy(rkt);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "metadata of '" + topic_ + "'"));
  const int partitions =
      md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  if (partitions == 0) return base::NotFound("topic '" + topic_ + "' does not exist");

  // Resolves one bound to an offset of partition p, within [low, high].
  auto resolve = [&](const OffsetBound& b, int32_t p, int64_t low, int64_t high, bool is_end) -> int64_t {
    switch (b.kind) {
      case OffsetBound::Kind::kEarliest:
        return low;
      case OffsetBound::Kind::kLatest:
        return high;
      case OffsetBound::Kind::kOffset: {
        auto it = b.offsets.find(p);
        if (it == b.offsets.end()) it = b.offsets.find(-1);
        if (it == b.offsets.end()) return is_end ? high : low;
        return std::clamp(it->second, low, high);
      }
      case OffsetBound::Kind::kTime: {
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = b.time_ms;
        int64_t offset = high;
        if (rd_kafka_offsets_for_times(rk, list, kTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0)
          offset = list->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(list);
        return std::clamp(offset, low, high);
      }
    }
    return low;
  };
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (base::Status st = QueryWatermarks(rk, topic_, p, &low, &high, kTimeoutMs,
                                          "watermarks of " + topic_ + "[" + std::to_string(p) + "]");
        !st.ok()) {
      rd_kafka_topic_partition_list_destroy(list);
      return st;
    }
    const int64_t first = resolve(range_->start, p, low, high, false);
    const int64_t end = std::max(first, resolve(range_->end, p, low, high, true));
    range_->offsets[p] = {first, end};
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = first;
    spdlog::info("replaying {}[{}] offsets [{}, {})", topic_, p, first, end);
  }
  range_->open = partitions;
  base::Status st = OnAssign(list);
  rd_kafka_topic_partition_list_destroy(list);
  return st;
}

namespace {
//! The group, and static membership for a named instance: restarted with the same instance id, it
//! gets its partitions back at once instead of after the session timeout of its previous incarnation.
std::map<std::string, std::string> ConsumerExtras(const config::PipelineSpec& spec) {
  // Partition EOF events tell a reader where the end is (KafkaPartitionReader::Lag).
  std::map<std::string, std::string> extra{{"group.id", spec.source.group}, {"enable.partition.eof", "true"}};
  if (!spec.runtime.instance_id.empty() && !spec.kafka.consumer.contains("group.instance.id") &&
      !spec.kafka.properties.contains("group.instance.id"))
    extra["group.instance.id"] = spec.source.group + "." + spec.runtime.instance_id;
  return extra;
}
}  // namespace

base::Result<std::unique_ptr<KafkaSource>> KafkaSource::Make(const config::PipelineSpec& spec) {
  const std::map<std::string, std::string> extra = ConsumerExtras(spec);
  VIGIL_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(spec.kafka, KafkaRole::kConsumer, extra));
  const std::string labels = spec.labels.enabled ? spec.labels.source.topic : "";
  auto source = std::unique_ptr<KafkaSource>(new KafkaSource(spec.source.topic, labels, conf));
  source->murmur2_ = spec.source.partitioner == "murmur2_random";
  if (auto it = extra.find("group.instance.id"); it != extra.end())
    source->member_ = "group.instance.id '" + it->second + "'";
  return source;
}

namespace {
//! Partitions of `topic`; 0 when it does not exist.
base::Result<int> TopicPartitions(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "metadata of '" + topic + "'"));
  const int partitions =
      md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  return partitions;
}
}  // namespace

base::Status KafkaSource::CheckCoPartitioned() {
  if (labels_topic_.empty()) return base::Status::OK();
  constexpr int kTimeoutMs = 10'000;
  VIGIL_ASSIGN_OR_RETURN(const int events, TopicPartitions(rk_.get(), topic_, kTimeoutMs));
  VIGIL_ASSIGN_OR_RETURN(const int labels, TopicPartitions(rk_.get(), labels_topic_, kTimeoutMs));
  if (events == 0 || labels == 0) return base::Status::OK();  // not created yet: nothing to compare
  if (events == labels) return base::Status::OK();
  return base::FailedPrecondition(
      "labels topic '" + labels_topic_ + "' has " + std::to_string(labels) +
      " partitions but events topic '" + topic_ + "' has " + std::to_string(events) +
      ": labels are joined partition by partition, so give '" + labels_topic_ + "' " +
      std::to_string(events) + " partitions (and produce both with the same key and partitioner)");
}

base::Result<int32_t> KafkaSource::PartitionFor(std::string_view key) const {
  int32_t count = partition_count_.load();
  if (count == 0) {
    if (!rk_) return base::Unavailable("the source is not started");
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), topic_.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, rkt, &md, 5000);
    rd_kafka_topic_destroy(rkt);
    VIGIL_RETURN_IF_ERROR(KafkaError(err, "metadata of '" + topic_ + "'"));
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      count = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (count <= 0) return base::NotFound("topic '" + topic_ + "' does not exist");
    partition_count_.store(count);
  }
  // The producers' own functions; with a key they never look at the topic handle.
  return murmur2_
             ? rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), count, nullptr, nullptr)
             : rd_kafka_msg_partitioner_consistent(nullptr, key.data(), key.size(), count, nullptr, nullptr);
}

//! The queue DeleteRecords answers on; destroyed before the client.
struct KafkaSource::PurgeQueue {
  rd_kafka_queue_t* queue;
  explicit PurgeQueue(rd_kafka_t* rk) : queue(rd_kafka_queue_new(rk)) {}
  ~PurgeQueue() {
    while (rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 0)) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
  }
  PurgeQueue(const PurgeQueue&) = delete;
  PurgeQueue& operator=(const PurgeQueue&) = delete;
};

void KafkaSource::Purge(std::span<const engine::PartitionOffset> offsets) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (now - last_purge_ms_ < purge_interval_ms_) return;
  last_purge_ms_ = now;
  if (!purge_) purge_ = std::make_shared<PurgeQueue>(rk_.get());
  // The answers to earlier requests: a failure only delays the deletion to the next one.
  while (rd_kafka_event_t* ev = rd_kafka_queue_poll(purge_->queue, 0)) {
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
      spdlog::warn("'{}': deleting committed records: {}", topic_, rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_topic_partition_list_t* before =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets)
    if (o.next_offset > 0)
      rd_kafka_topic_partition_list_add(before, topic_.c_str(), o.partition)->offset = o.next_offset;
  if (before->cnt > 0) {
    rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(before);
    rd_kafka_DeleteRecords(rk_.get(), &del, 1, nullptr, purge_->queue);
    rd_kafka_DeleteRecords_destroy(del);
  }
  rd_kafka_topic_partition_list_destroy(before);
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
  VIGIL_RETURN_IF_ERROR(CheckCoPartitioned());
  if (range_) return StartRange();
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
    st = self->OnRevoke(parts, rd_kafka_assignment_lost(rk) != 0);
    rd_kafka_assign(rk, nullptr);
  }
  if (!st.ok() && self->callback_error_.ok()) self->callback_error_ = st;
}

base::Status KafkaSource::CheckCheckpointInTopic(int32_t partition, int64_t checkpoint) {
  int64_t low = 0, high = 0;
  if (rd_kafka_query_watermark_offsets(rk_.get(), topic_.c_str(), partition, &low, &high, 10'000) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      checkpoint <= high)
    return base::Status::OK();
  return base::FailedPrecondition(fmt::format(
      "{}[{}]: the state resumes at offset {}, past the partition's end ({}): the topic was recreated or "
      "truncated since that state was written, and resuming would skip its records. Start over with "
      "`vigil reset PIPELINE.yaml` (its offsets, internal topics and local state), or give the pipeline "
      "another group",
      topic_, partition, checkpoint, high));
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
    if (range_) {
      assignment->elems[i].offset = range_->offsets.at(partition).first;  // a replay starts from scratch
    } else if (start->events >= 0) {
      if (base::Status st = CheckCheckpointInTopic(partition, start->events); !st.ok()) {
        rd_kafka_topic_partition_list_destroy(assignment);
        return st;
      }
      assignment->elems[i].offset = start->events;
    }
    Pending p{partition, detach(topic_, partition), nullptr};
    if (!labels_topic_.empty()) {
      // The label stream is co-partitioned: partition p of the labels belongs to the task of p.
      rd_kafka_topic_partition_t* tp =
          rd_kafka_topic_partition_list_add(assignment, labels_topic_.c_str(), partition);
      tp->offset = range_               ? RD_KAFKA_OFFSET_BEGINNING
                   : start->labels >= 0 ? start->labels
                                        : RD_KAFKA_OFFSET_INVALID;
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
    std::unique_ptr<engine::PartitionReader> reader;
    if (range_) {
      const auto [first, end] = range_->offsets.at(p.partition);
      reader =
          std::make_unique<KafkaPartitionReader>(rk_.get(), p.queue, topic_, p.partition, range_, first, end);
    } else {
      reader = std::make_unique<KafkaPartitionReader>(rk_.get(), p.queue, topic_, p.partition);
    }
    VIGIL_RETURN_IF_ERROR(listener_->Assigned(p.partition, std::move(reader), std::move(labels)));
  }
  return base::Status::OK();
}

base::Status KafkaSource::OnRevoke(rd_kafka_topic_partition_list_t* parts, bool lost) {
  std::vector<int32_t> partitions;
  for (int i = 0; i < parts->cnt; ++i)
    if (parts->elems[i].topic == topic_) partitions.push_back(parts->elems[i].partition);
  if (lost) {
    spdlog::warn("{}: partitions lost: the group's session expired before they could be committed", topic_);
    return listener_->Lost(partitions);
  }
  return listener_->Revoked(partitions);
}

base::Status KafkaSource::AbortUncommitted() {
  return producer_ ? producer_->AbortTransaction() : base::Status::OK();
}

base::Status KafkaSource::Reassign() {
  if (range_) return base::FailedPrecondition("a bounded read has no group to rewind in");
  rd_kafka_topic_partition_list_t* current = nullptr;
  VIGIL_RETURN_IF_ERROR(KafkaError(rd_kafka_assignment(rk_.get(), &current), "assignment"));
  rd_kafka_topic_partition_list_t* mine = rd_kafka_topic_partition_list_new(current->cnt);
  for (int i = 0; i < current->cnt; ++i)
    if (current->elems[i].topic == topic_)  // the labels' partitions come with their input's
      rd_kafka_topic_partition_list_add(mine, topic_.c_str(), current->elems[i].partition);
  rd_kafka_topic_partition_list_destroy(current);
  // Unassigned first: the fetched records past the last commit are dropped, and the partitions are
  // read again from their committed offsets.
  base::Status st = KafkaError(rd_kafka_assign(rk_.get(), nullptr), "unassign");
  if (st.ok()) st = OnAssign(mine);
  rd_kafka_topic_partition_list_destroy(mine);
  return st;
}

base::Status KafkaSource::Poll(int timeout_ms) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
  if (m != nullptr) {
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
      spdlog::warn("kafka consumer: {}", rd_kafka_message_errstr(m));
      if (fatal) {
        rd_kafka_message_destroy(m);
        base::Status st = FatalError(rk_.get(), member_.empty() ? "this group instance id" : member_);
        return st.ok() ? base::Unavailable("kafka consumer fatal error") : st;
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

namespace {

//! An offset commit that may succeed when tried again: the group's coordinator moved or is loading
//! (a broker restart, or a broker fenced by its controller for a while under load), or the request
//! timed out. A rebalance's errors (generation, member) are not: the partitions may be gone.
bool RetriableCommitError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
      return true;
    default:
      return TransientError(err);
  }
}

//! A commit refused because the group moved on to another generation without this member's
//! partitions settled: what they processed since the last commit is read again.
bool RebalanceError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
         err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
}

}  // namespace

base::Status KafkaSource::CommitOffsets(rd_kafka_topic_partition_list_t* list) {
  const std::string what = "commit offsets of '" + topic_ + "'";
  const rd_kafka_resp_err_t err =
      RetryWhile([&] { return rd_kafka_commit(rk_.get(), list, 0); }, RetriableCommitError, 60'000, what);
  if (RebalanceError(err))
    return base::Aborted(what + ": " + rd_kafka_err2str(err) + " (the group rebalanced meanwhile)");
  return KafkaError(err, what);
}

base::Status KafkaSource::Commit(std::span<const engine::PartitionOffset> offsets) {
  if (range_) return base::Status::OK();  // a replay leaves no trace in any group
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets) {
    if (o.next_offset >= 0)
      rd_kafka_topic_partition_list_add(list, topic_.c_str(), o.partition)->offset = o.next_offset;
    if (o.label_next_offset >= 0 && !labels_topic_.empty())
      rd_kafka_topic_partition_list_add(list, labels_topic_.c_str(), o.partition)->offset =
          o.label_next_offset;
  }
  base::Status st;
  if (producer_) {
    st = producer_->CommitTransaction(rk_.get(), list);
  } else if (list->cnt > 0) {
    st = CommitOffsets(list);
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (st.ok() && purge_interval_ms_ >= 0) Purge(offsets);
  return st;
}

base::Status KafkaSource::Close() {
  if (closed_ || !rk_) return base::Status::OK();
  closed_ = true;
  purge_.reset();
  if (range_ && listener_ != nullptr && !range_->offsets.empty()) {
    // No group revokes a direct assignment: hand the partitions back as a revocation would, so the
    // tasks release their readers (and their queues) before the client goes.
    std::vector<int32_t> partitions;
    for (const auto& [p, bounds] : range_->offsets) partitions.push_back(p);
    if (base::Status st = listener_->Revoked(partitions); !st.ok()) {
      rk_.reset();
      return st;
    }
  }
  // A consumer with a fatal error (a static member fenced by another with its group.instance.id)
  // cannot leave its group: librdkafka 2.0's close would wait for that forever. Its partitions
  // are already someone else's; drop the client without the close protocol.
  if (base::Status fatal = FatalError(rk_.get(), "its group.instance.id"); !fatal.ok()) {
    spdlog::warn("closing the consumer without leaving the group: {}", fatal.message());
    rd_kafka_destroy_flags(rk_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return callback_error_.ok() ? fatal : std::move(callback_error_);
  }
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  base::Status st = std::move(callback_error_);
  rk_.reset();
  if (!st.ok()) return st;
  return KafkaError(err, "close consumer");
}

}  // namespace vigil::connectors
