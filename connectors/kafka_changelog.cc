#include "connectors/kafka_changelog.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <utility>

#include "connectors/kafka_admin.h"

namespace vigil::connectors {
namespace {

constexpr int kTimeoutMs = 10'000;

}  // namespace

//! The partitions of `topic` and how many of them have a leader; 0 partitions when it does not exist.
base::Result<std::pair<int, int>> Partitions(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, kTimeoutMs);
  rd_kafka_topic_destroy(rkt);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "metadata of '" + topic + "'"));
  std::pair<int, int> counts{0, 0};
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    counts.first = md->topics[0].partition_cnt;
    for (int i = 0; i < counts.first; ++i) counts.second += md->topics[0].partitions[i].leader >= 0 ? 1 : 0;
  }
  rd_kafka_metadata_destroy(md);
  return counts;
}

base::Result<int> PartitionCount(const config::KafkaSpec& kafka, const std::string& topic) {
  VIGIL_ASSIGN_OR_RETURN(KafkaHandle rk,
                         NewKafkaClient(kafka, RD_KAFKA_PRODUCER, {{"enable.idempotence", "false"}}));
  VIGIL_ASSIGN_OR_RETURN(const auto counts, Partitions(rk.get(), topic));
  if (counts.first == 0) return base::NotFound("topic '" + topic + "' does not exist");
  return counts.first;
}

TopicConfigs ChangelogTopicConfigs() {
  return {{"cleanup.policy", "compact"}, {"max.message.bytes", "1048588"}, {"segment.bytes", "16777216"}};
}

TopicConfigs RepartitionTopicConfigs() { return {{"retention.ms", "-1"}}; }

TopicConfigs SideOutputTopicConfigs() { return {{"retention.ms", "-1"}, {"retention.bytes", "1073741824"}}; }

base::Status EnsureTopic(const config::KafkaSpec& kafka, const std::string& topic, int partitions,
                         const TopicConfigs& configs) {
  if (auto existing = PartitionCount(kafka, topic); existing.ok()) {
    if (*existing != partitions)
      return base::FailedPrecondition("topic '" + topic + "' has " + std::to_string(*existing) +
                                      " partitions, the input has " + std::to_string(partitions));
    if (configs.empty()) return base::Status::OK();
    // A topic an older vigil (or an operator) created keeps its configs: say what differs.
    auto actual = DescribeTopicConfigs(kafka, topic);
    if (!actual.ok()) {
      spdlog::warn("cannot read the configs of topic '{}': {}", topic, actual.status().ToString());
      return base::Status::OK();
    }
    for (const auto& [name, value] : configs)
      if (auto it = actual->find(name); it == actual->end() || it->second != value)
        spdlog::warn(
            "topic '{}' has {}={}, vigil creates it with {}={} (kafka-configs.sh --alter to change it)",
            topic, name, it == actual->end() ? "?" : it->second, name, value);
    return base::Status::OK();
  }
  VIGIL_ASSIGN_OR_RETURN(KafkaHandle rk,
                         NewKafkaClient(kafka, RD_KAFKA_PRODUCER, {{"enable.idempotence", "false"}}));
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, err, sizeof err);
  if (nt == nullptr) return base::InvalidArgument("topic '" + topic + "': " + err);
  for (const auto& [name, value] : configs) {
    if (rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_NewTopic_destroy(nt);
      return base::InvalidArgument("topic '" + topic + "': config " + name + "=" + value);
    }
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
  rd_kafka_CreateTopics(rk.get(), &nt, 1, nullptr, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, kTimeoutMs * 3);
  base::Status st = base::Unavailable("creating topic '" + topic + "': no answer");
  if (ev != nullptr) {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** results = res ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
    const rd_kafka_resp_err_t e = rd_kafka_event_error(ev) ? rd_kafka_event_error(ev)
                                  : n == 1                 ? rd_kafka_topic_result_error(results[0])
                                                           : RD_KAFKA_RESP_ERR__FAIL;
    st = e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? base::Status::OK()
                                                     : KafkaError(e, "create topic '" + topic + "'");
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(nt);
  // A new topic's partitions get their leaders a moment later; until then reads fail with "not leader".
  for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs * 3);
       st.ok();) {
    VIGIL_ASSIGN_OR_RETURN(const auto counts, Partitions(rk.get(), topic));
    if (counts.first == partitions && counts.second == partitions) break;
    if (std::chrono::steady_clock::now() > deadline) {
      st = base::Unavailable("topic '" + topic + "': its partitions have no leader yet");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (st.ok()) {
    std::string shown;
    for (const auto& [name, value] : configs) shown += ", " + name + "=" + value;
    spdlog::info("topic '{}' ({} partitions{})", topic, partitions, shown);
  }
  return st;
}

KafkaChangelog::KafkaChangelog(const config::KafkaSpec& kafka, std::shared_ptr<KafkaProducer> producer,
                               std::string topic)
    : kafka_(kafka),
      producer_(std::move(producer)),
      topic_(std::move(topic)),
      rkt_(producer_->Topic(topic_)) {}

base::Status KafkaChangelog::Append(int32_t partition, std::string_view key, const std::string_view* value) {
  // Through a hold: the commit coordinator appends a commit's changes while the workers' records
  // wait for the next one.
  return producer_->Produce(rkt_, partition, key, value ? *value : std::string_view(), value == nullptr, 0,
                            nullptr, /*through=*/true);
}

base::Status KafkaChangelog::Flush(int timeout_ms) {
  if (producer_->transactional()) return base::Status::OK();
  return producer_->Flush(timeout_ms).WithContext("changelog '" + topic_ + "'");
}

base::Status KafkaChangelog::FlushAppended(int timeout_ms) {
  if (producer_->transactional()) return base::Status::OK();
  producer_->Mark();
  return producer_->DrainMarked(timeout_ms).WithContext("changelog '" + topic_ + "'");
}

int64_t KafkaChangelog::NextOffset(int32_t partition) const {
  return producer_->NextOffset(topic_, partition);
}

base::Result<KafkaHandle> KafkaChangelog::TakeRestorer() {
  {
    std::lock_guard lock(restore_mu_);
    if (!restorers_.empty()) {
      KafkaHandle h = std::move(restorers_.back());
      restorers_.pop_back();
      return h;
    }
  }
  const std::string group = "vigil-restore-" + std::to_string(::getpid());
  VIGIL_ASSIGN_OR_RETURN(KafkaHandle h, NewKafkaClient(kafka_, RD_KAFKA_CONSUMER,
                                                       {{"group.id", group},
                                                        {"enable.partition.eof", "true"},
                                                        {"isolation.level", "read_committed"},
                                                        {"auto.offset.reset", "earliest"},
                                                        // The end is found by one more fetch: do not wait
                                                        // long for data that will not come.
                                                        {"fetch.wait.max.ms", "10"}}));
  rd_kafka_poll_set_consumer(h.get());
  return h;
}

base::Result<int64_t> KafkaChangelog::Restore(
    int32_t partition, int64_t from,
    const std::function<base::Status(std::string_view key, const std::string_view* value)>& fn) {
  VIGIL_ASSIGN_OR_RETURN(KafkaHandle restorer, TakeRestorer());
  rd_kafka_t* rk = restorer.get();
  // Back to the idle ones when done (unassigned below), whatever the outcome.
  struct GiveBack {
    KafkaChangelog* self;
    KafkaHandle* handle;
    ~GiveBack() {
      std::lock_guard lock(self->restore_mu_);
      self->restorers_.push_back(std::move(*handle));
    }
  } give_back{this, &restorer};
  int64_t low = 0, high = 0;
  VIGIL_RETURN_IF_ERROR(QueryWatermarks(rk, topic_, partition, &low, &high, kTimeoutMs,
                                        "watermarks of changelog '" + topic_ + "'"));
  if (high <= std::max(from, low)) return std::max<int64_t>(from, high);  // nothing to read
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic_.c_str(), partition)->offset =
      from >= 0 ? from : RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  VIGIL_RETURN_IF_ERROR(KafkaError(err, "assign changelog '" + topic_ + "'"));
  int64_t end = std::max<int64_t>(from, 0);
  auto last_progress = std::chrono::steady_clock::now();
  base::Status st;
  for (;;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) {
      if (std::chrono::steady_clock::now() - last_progress > std::chrono::milliseconds(kTimeoutMs * 6)) {
        st = base::Unavailable("restoring from '" + topic_ + "': no progress for 60 s");
        break;
      }
      continue;
    }
    last_progress = std::chrono::steady_clock::now();
    if (m->partition != partition || std::string_view(rd_kafka_topic_name(m->rkt)) != topic_) {
      rd_kafka_message_destroy(m);  // left over from an earlier restore
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      end = std::max(end, m->offset);  // the EOF's offset: where the next read would start
      rd_kafka_message_destroy(m);
      break;
    }
    if (m->err) {
      st = base::Unavailable("restoring from '" + topic_ + "': " + rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      break;
    }
    const std::string_view key(static_cast<const char*>(m->key), m->key_len);
    const std::string_view value(static_cast<const char*>(m->payload), m->len);
    st = fn(key, m->payload == nullptr ? nullptr : &value);
    end = m->offset + 1;
    rd_kafka_message_destroy(m);
    if (!st.ok()) break;
  }
  rd_kafka_assign(rk, nullptr);
  if (!st.ok()) return st;
  return end;
}

}  // namespace vigil::connectors
