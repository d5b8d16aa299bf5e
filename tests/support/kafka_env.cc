#include "tests/support/kafka_env.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <tuple>

namespace vigil::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

// Large enough for the 1 MB payloads the broker accepts (scripts/kafka sets message.max.bytes=10 MiB).
constexpr const char* kMaxMessageBytes = "10485760";
constexpr int kMetadataTimeoutMs = 5000;

std::string Unreachable() {
  return "Kafka broker not reachable at " + Bootstrap() + "; start it with scripts/kafka start";
}

void Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    FAIL("librdkafka config " << name << "=" << value << ": " << err);
  }
}

KafkaPtr NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", Bootstrap());
  Set(conf, "message.max.bytes", kMaxMessageBytes);
  for (const auto& [name, value] : settings) Set(conf, name, value);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));  // takes `conf` on success
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << err);
  }
  return KafkaPtr(rk);
}

// Number of partitions of `topic` with a leader, or -1 if the topic is unknown. Fails the test when
// the broker does not answer for kBrokerWait: a loaded broker may drop its connections for a few
// seconds (a heartbeat starved, its controller fencing it), and the next request finds it again.
int LedPartitions(rd_kafka_t* rk, const std::string& topic) {
  constexpr auto kBrokerWait = std::chrono::seconds(30);
  const auto deadline = std::chrono::steady_clock::now() + kBrokerWait;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (true) {
    err = rd_kafka_metadata(rk, 0, rkt, &md, kMetadataTimeoutMs);
    const bool transient = err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                           err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
    if (!transient || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) FAIL(Unreachable() << " (" << rd_kafka_err2str(err) << ")");
  int led = -1;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    led = 0;
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) led += md->topics[0].partitions[i].leader >= 0;
  }
  rd_kafka_metadata_destroy(md);
  return led;
}

rd_kafka_headers_t* ToHeaders(const Message& message) {
  if (message.headers.empty()) return nullptr;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(message.headers.size());
  for (const auto& [name, value] : message.headers) {
    rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(), value.size());
  }
  return headers;
}

Message FromRecord(const rd_kafka_message_t* record) {
  Message message;
  if (record->key != nullptr) message.key.emplace(static_cast<const char*>(record->key), record->key_len);
  if (record->payload != nullptr)
    message.value.assign(static_cast<const char*>(record->payload), record->len);
  message.partition = record->partition;
  message.offset = record->offset;
  message.timestamp_ms = rd_kafka_message_timestamp(record, nullptr);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(record, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      message.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
    }
  }
  return message;
}

}  // namespace

std::string Bootstrap() {
  const char* env = std::getenv("VIGIL_TEST_BOOTSTRAP");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:19092";
}

std::string UniqueTopic(std::string_view prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(salt % 100000);
}

void CreateTopic(const std::string& name, int partitions, const std::map<std::string, std::string>& configs) {
  KafkaPtr admin = NewClient(RD_KAFKA_PRODUCER, {});
  LedPartitions(admin.get(), name);  // a clear failure when no broker is listening

  char err[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), partitions, 1, err, sizeof(err));
  if (topic == nullptr) FAIL("CreateTopic " << name << ": " << err);
  for (const auto& [key, value] : configs) {
    rd_kafka_resp_err_t set_err = rd_kafka_NewTopic_set_config(topic, key.c_str(), value.c_str());
    if (set_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_NewTopic_destroy(topic);
      FAIL("CreateTopic " << name << " config " << key << ": " << rd_kafka_err2str(set_err));
    }
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(admin.get());
  rd_kafka_CreateTopics(admin.get(), &topic, 1, nullptr, queue);
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  rd_kafka_queue_destroy(queue);
  std::string failure;
  if (event == nullptr) {
    failure = "no answer within 30 s";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    if (count != 1) {
      failure = "expected one topic result, got " + std::to_string(count);
    } else if (rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure = rd_kafka_topic_result_error_string(results[0]);
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  if (!failure.empty()) FAIL("CreateTopic " << name << " on " << Bootstrap() << ": " << failure);

  // The controller has committed the topic; the broker's metadata may lag a little behind.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (LedPartitions(admin.get(), name) != partitions) {
    if (Clock::now() > deadline) FAIL("CreateTopic " << name << ": partitions have no leader after 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Produce(const std::string& topic, const std::vector<Message>& messages) {
  // Delivery reports are counted through the opaque pointer: {delivered, first error}.
  struct Reports {
    size_t delivered = 0;
    std::string first_error;
  } reports;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_opaque(conf, &reports);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* record, void* opaque) {
    auto* r = static_cast<Reports*>(opaque);
    if (record->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++r->delivered;
    } else if (r->first_error.empty()) {
      r->first_error = rd_kafka_err2str(record->err);
    }
  });
  Set(conf, "bootstrap.servers", Bootstrap());
  Set(conf, "message.max.bytes", kMaxMessageBytes);
  Set(conf, "acks", "all");
  // A loaded broker may take minutes for a large batch: a record gives up after 5 minutes only.
  Set(conf, "message.timeout.ms", "300000");
  Set(conf, "partitioner", "murmur2_random");  // the Java clients' and vigil's default
  char err[512];
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (raw == nullptr) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << err);
  }
  KafkaPtr producer(raw);

  for (const Message& message : messages) {
    rd_kafka_headers_t* headers = ToHeaders(message);
    const char* key = message.key ? message.key->data() : nullptr;
    const size_t key_len = message.key ? message.key->size() : 0;
    rd_kafka_resp_err_t produce_err;
    while (true) {
      produce_err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_PARTITION(message.partition < 0 ? RD_KAFKA_PARTITION_UA : message.partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
          RD_KAFKA_V_VALUE(const_cast<char*>(message.value.data()), message.value.size()),
          RD_KAFKA_V_TIMESTAMP(message.timestamp_ms), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (produce_err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      rd_kafka_poll(producer.get(), 100);
    }
    if (produce_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (headers != nullptr) rd_kafka_headers_destroy(headers);  // owned by us unless enqueued
      FAIL("Produce to " << topic << ": " << rd_kafka_err2str(produce_err));
    }
    rd_kafka_poll(producer.get(), 0);
  }
  rd_kafka_resp_err_t flush_err = rd_kafka_flush(producer.get(), 310'000);
  if (flush_err != RD_KAFKA_RESP_ERR_NO_ERROR || reports.delivered != messages.size()) {
    FAIL("Produce to " << topic << " on " << Bootstrap() << ": " << reports.delivered << " of "
                       << messages.size() << " delivered; "
                       << (reports.first_error.empty() ? rd_kafka_err2str(flush_err) : reports.first_error)
                       << " (is the broker running? scripts/kafka start)");
  }
}

int TopicPartitions(const std::string& topic) {
  KafkaPtr client = NewClient(RD_KAFKA_PRODUCER, {});
  return LedPartitions(client.get(), topic);
}

int64_t CommittedOffset(const std::string& group, const std::string& topic, int32_t partition,
                        std::chrono::milliseconds timeout) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [name, value] : std::map<std::string, std::string>{{"bootstrap.servers", Bootstrap()},
                                                                      {"group.id", group},
                                                                      {"isolation.level", "read_committed"},
                                                                      {"enable.auto.commit", "false"}}) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return -1;
    }
  }
  KafkaPtr consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)));
  if (!consumer) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  int64_t offset = -1;
  if (rd_kafka_committed(consumer.get(), list, static_cast<int>(timeout.count())) ==
          RD_KAFKA_RESP_ERR_NO_ERROR &&
      list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0) {
    offset = list->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(consumer.get());
  return offset;
}

int GroupMembers(const std::string& group, std::chrono::milliseconds timeout) {
  KafkaPtr admin = NewClient(RD_KAFKA_PRODUCER, {});
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(admin.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
  char err[512];
  rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(admin.get());
  const char* groups[] = {group.c_str()};
  rd_kafka_DescribeConsumerGroups(admin.get(), groups, 1, options, queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  rd_kafka_queue_destroy(queue);
  int members = -1;
  if (event != nullptr && rd_kafka_event_error(event) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** described = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(event), &count);
    if (count == 1 && rd_kafka_ConsumerGroupDescription_error(described[0]) == nullptr)
      members = static_cast<int>(rd_kafka_ConsumerGroupDescription_member_count(described[0]));
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  return members;
}

std::vector<Message> ConsumeAll(const std::string& topic, size_t expected_count,
                                std::chrono::milliseconds timeout, bool read_committed) {
  // librdkafka 2.0 refuses assign() without a group.id; this group never joins and never commits.
  KafkaPtr consumer = NewClient(RD_KAFKA_CONSUMER,
                                {{"group.id", UniqueTopic("vigil-consume-all")},
                                 {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"},
                                 {"enable.partition.eof", "true"},
                                 {"enable.auto.commit", "false"},
                                 {"fetch.wait.max.ms", "100"}});
  const int partitions = LedPartitions(consumer.get(), topic);
  if (partitions <= 0) FAIL("ConsumeAll: topic " << topic << " does not exist on " << Bootstrap());

  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t assign_err = rd_kafka_assign(consumer.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (assign_err != RD_KAFKA_RESP_ERR_NO_ERROR) FAIL("ConsumeAll assign: " << rd_kafka_err2str(assign_err));

  std::vector<Message> messages;
  std::vector<bool> at_end(partitions, false);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (expected_count > 0 && messages.size() >= expected_count) break;
    if (expected_count == 0 && std::all_of(at_end.begin(), at_end.end(), [](bool e) { return e; })) break;
    rd_kafka_message_t* record = rd_kafka_consumer_poll(consumer.get(), 100);
    if (record == nullptr) continue;
    if (record->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      messages.push_back(FromRecord(record));
      at_end[record->partition] = false;
    } else if (record->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end[record->partition] = true;
    } else {
      std::string what = rd_kafka_message_errstr(record);
      rd_kafka_message_destroy(record);
      FAIL("ConsumeAll " << topic << ": " << what);
    }
    rd_kafka_message_destroy(record);
  }
  rd_kafka_consumer_close(consumer.get());
  std::sort(messages.begin(), messages.end(), [](const Message& a, const Message& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return messages;
}

}  // namespace vigil::testing
