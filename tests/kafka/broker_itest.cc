// Checks that Debian's librdkafka (2.0.2) works against the real broker (Kafka 3.9.1, scripts/kafka)
// for every feature the engine relies on: plain and idempotent produce, consume, transactions with
// consumer offsets, read_committed isolation, and consumer groups under both rebalance protocols.
// The C API is used directly so that a failure here points at the client/broker pair, not at our
// wrappers.

#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/kafka_env.h"

namespace vigil::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Settings = std::map<std::string, std::string>;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// Creates a client; `customize` may install callbacks on the conf before the client takes it.
KafkaPtr MakeClient(rd_kafka_type_t type, const Settings& settings,
                    const std::function<void(rd_kafka_conf_t*)>& customize = {}) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  Settings all = {{"bootstrap.servers", Bootstrap()}};
  all.insert(settings.begin(), settings.end());
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      FAIL(name << "=" << value << ": " << err);
    }
  }
  if (customize) customize(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << err);
  }
  return KafkaPtr(rk);
}

// Fails the test with `what` and the error's text when `error` is set; takes ownership of it.
void Check(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return;
  std::string text = rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  FAIL(what << ": " << text);
}

void ProduceValue(rd_kafka_t* producer, const std::string& topic, int32_t partition, const std::string& key,
                  const std::string& value) {
  rd_kafka_resp_err_t err =
      rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
  REQUIRE(std::string(rd_kafka_err2str(err)) == rd_kafka_err2str(RD_KAFKA_RESP_ERR_NO_ERROR));
}

// A record to produce, or as read by a group member.
Message Record(std::optional<std::string> key, std::string value, int32_t partition = -1,
               int64_t offset = -1) {
  Message message;
  message.key = std::move(key);
  message.value = std::move(value);
  message.partition = partition;
  message.offset = offset;
  return message;
}

std::vector<std::string> Values(const std::vector<Message>& messages) {
  std::vector<std::string> values;
  for (const Message& m : messages) values.push_back(m.value);
  return values;
}

// Committed offsets of `group_consumer`'s group for partitions 0..partitions-1 of `topic`.
std::vector<int64_t> Committed(rd_kafka_t* group_consumer, const std::string& topic, int partitions) {
  PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  REQUIRE(rd_kafka_committed(group_consumer, list.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<int64_t> offsets;
  for (int i = 0; i < list->cnt; ++i) offsets.push_back(list->elems[i].offset);
  return offsets;
}

}  // namespace

TEST_CASE("librdkafka round-trips keys, values, headers and 1 MB payloads", "[integration][kafka]") {
  INFO("librdkafka " << rd_kafka_version_str() << ", broker " << Bootstrap());
  const std::string topic = UniqueTopic("roundtrip");
  CreateTopic(topic, 4);

  std::vector<Message> sent;
  for (int i = 0; i < 100; ++i) {
    sent.push_back(Record("card-" + std::to_string(i % 10), "event-" + std::to_string(i)));
    sent.back().headers = {{"trace", std::to_string(i)}, {"trace", "again"}};
  }
  sent.push_back(Record(std::nullopt, std::string(1 << 20, 'x'), 2));
  Produce(topic, sent);

  const std::vector<Message> got = ConsumeAll(topic, sent.size());
  REQUIRE(got.size() == sent.size());
  std::map<std::string, int32_t> partition_of_key;
  std::map<int32_t, int64_t> next_offset;
  for (const Message& m : got) {
    CHECK(m.offset == next_offset[m.partition]++);  // dense offsets: no gaps, no duplicates
    if (!m.key) {
      CHECK(m.partition == 2);
      CHECK(m.value == std::string(1 << 20, 'x'));
      continue;
    }
    auto [it, inserted] = partition_of_key.emplace(*m.key, m.partition);
    CHECK(it->second == m.partition);  // one key, one partition
    const std::string index = m.value.substr(std::string("event-").size());
    REQUIRE(m.headers.size() == 2);
    CHECK(m.headers[0] == std::make_pair(std::string("trace"), index));
    CHECK(m.headers[1] == std::make_pair(std::string("trace"), std::string("again")));
    CHECK(m.timestamp_ms > 0);
  }
  CHECK(partition_of_key.size() == 10);
  CHECK(ConsumeAll(topic, 0).size() == sent.size());  // expected_count 0 stops at the end
}

TEST_CASE("idempotent producer delivers every message once, in order per key", "[integration][kafka]") {
  const std::string topic = UniqueTopic("idempotent");
  CreateTopic(topic, 4);
  int delivered = 0;
  KafkaPtr producer = MakeClient(
      RD_KAFKA_PRODUCER, {{"enable.idempotence", "true"}, {"linger.ms", "5"}}, [&](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_opaque(conf, &delivered);
        rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
          if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++*static_cast<int*>(opaque);
        });
      });
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    ProduceValue(producer.get(), topic, RD_KAFKA_PARTITION_UA, "k" + std::to_string(i % 16),
                 std::to_string(i));
    rd_kafka_poll(producer.get(), 0);
  }
  REQUIRE(rd_kafka_flush(producer.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  char fatal[256];
  CHECK(rd_kafka_fatal_error(producer.get(), fatal, sizeof(fatal)) == RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(delivered == kCount);

  const std::vector<Message> got = ConsumeAll(topic, 0);
  REQUIRE(got.size() == static_cast<size_t>(kCount));
  std::map<std::string, int> last_of_key;
  for (const Message& m : got) {
    const int value = std::stoi(m.value);
    auto [it, inserted] = last_of_key.emplace(*m.key, value);
    if (!inserted) {
      CHECK(value > it->second);
      it->second = value;
    }
  }
}

TEST_CASE("transactions: read_committed sees committed records only", "[integration][kafka]") {
  const std::string topic = UniqueTopic("txn");
  CreateTopic(topic, 2);
  KafkaPtr producer = MakeClient(RD_KAFKA_PRODUCER, {{"transactional.id", UniqueTopic("txn-id")}});
  Check(rd_kafka_init_transactions(producer.get(), 60000), "init_transactions");

  auto produce_batch = [&](const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      ProduceValue(producer.get(), topic, i % 2, prefix, prefix + "-" + std::to_string(i));
    }
  };
  Check(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
  produce_batch("committed1", 10);
  Check(rd_kafka_commit_transaction(producer.get(), 30000), "commit_transaction");

  Check(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
  produce_batch("aborted", 10);
  REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);  // on the broker
  Check(rd_kafka_abort_transaction(producer.get(), 30000), "abort_transaction");

  Check(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
  produce_batch("committed2", 5);
  Check(rd_kafka_commit_transaction(producer.get(), 30000), "commit_transaction");

  // An open transaction stays invisible: read_committed stops at the last stable offset.
  Check(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
  produce_batch("open", 3);
  REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);

  std::vector<Message> committed = ConsumeAll(topic, 0, std::chrono::seconds(20));
  CHECK(committed.size() == 15);
  for (const std::string& value : Values(committed)) CHECK(value.rfind("committed", 0) == 0);
  CHECK(ConsumeAll(topic, 28, std::chrono::seconds(20), /*read_committed=*/false).size() == 28);

  Check(rd_kafka_commit_transaction(producer.get(), 30000), "commit_transaction");
  committed = ConsumeAll(topic, 0, std::chrono::seconds(20));
  CHECK(committed.size() == 18);
}

TEST_CASE("transactions: send_offsets_to_transaction commits the group's offsets atomically",
          "[integration][kafka]") {
  const std::string input = UniqueTopic("txn-in");
  const std::string output = UniqueTopic("txn-out");
  const std::string group = UniqueTopic("txn-group");
  CreateTopic(input, 2);
  CreateTopic(output, 2);

  KafkaPtr consumer = MakeClient(RD_KAFKA_CONSUMER, {{"group.id", group},
                                                     {"enable.auto.commit", "false"},
                                                     {"auto.offset.reset", "earliest"},
                                                     {"isolation.level", "read_committed"}});
  PartitionList subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), input.c_str(), RD_KAFKA_PARTITION_UA);
  REQUIRE(rd_kafka_subscribe(consumer.get(), subscription.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  KafkaPtr producer = MakeClient(RD_KAFKA_PRODUCER, {{"transactional.id", UniqueTopic("eos-id")}});
  Check(rd_kafka_init_transactions(producer.get(), 60000), "init_transactions");

  // One consume-transform-produce round over `count` fresh input records; commits or aborts.
  auto run_round = [&](int round, int count, bool commit) {
    std::vector<Message> batch;
    for (int i = 0; i < count; ++i) {
      batch.push_back(Record("k" + std::to_string(i), std::to_string(round * 1000 + i)));
    }
    Produce(input, batch);
    Check(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
    std::map<int32_t, int64_t> next_offsets;
    int consumed = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (consumed < count && Clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++consumed;
        next_offsets[m->partition] = m->offset + 1;
        const std::string value(static_cast<const char*>(m->payload), m->len);
        ProduceValue(producer.get(), output, m->partition, "out", "out-" + value);
      }
      rd_kafka_message_destroy(m);
    }
    REQUIRE(consumed == count);
    PartitionList offsets(rd_kafka_topic_partition_list_new(2));
    for (const auto& [partition, offset] : next_offsets) {
      rd_kafka_topic_partition_list_add(offsets.get(), input.c_str(), partition)->offset = offset;
    }
    rd_kafka_consumer_group_metadata_t* metadata = rd_kafka_consumer_group_metadata(consumer.get());
    rd_kafka_error_t* sent =
        rd_kafka_send_offsets_to_transaction(producer.get(), offsets.get(), metadata, 30000);
    rd_kafka_consumer_group_metadata_destroy(metadata);
    Check(sent, "send_offsets_to_transaction");
    if (commit) {
      Check(rd_kafka_commit_transaction(producer.get(), 30000), "commit_transaction");
    } else {
      // Abort purges what is still queued in the client: flush first, so that the aborted records
      // really are on the broker and the read_uncommitted check below means something.
      REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
      Check(rd_kafka_abort_transaction(producer.get(), 30000), "abort_transaction");
    }
  };

  run_round(1, 20, /*commit=*/true);
  std::vector<int64_t> committed = Committed(consumer.get(), input, 2);
  CHECK(committed[0] + committed[1] == 20);
  CHECK(ConsumeAll(output, 0, std::chrono::seconds(20)).size() == 20);

  run_round(2, 10, /*commit=*/false);
  CHECK(Committed(consumer.get(), input, 2) == committed);  // the aborted offsets were not committed
  CHECK(ConsumeAll(output, 0, std::chrono::seconds(20)).size() == 20);
  CHECK(ConsumeAll(output, 30, std::chrono::seconds(20), /*read_committed=*/false).size() == 30);

  rd_kafka_consumer_close(consumer.get());
}

namespace {

// A group member that records what its rebalance callback saw.
struct Member {
  KafkaPtr consumer;
  std::set<int32_t> assigned;
  int assign_events = 0;
  int revoke_events = 0;
  std::string protocol;  // "EAGER" or "COOPERATIVE", as reported inside the callback
  std::vector<Message> received;
};

void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                 void* opaque) {
  auto* member = static_cast<Member*>(opaque);
  member->protocol = rd_kafka_rebalance_protocol(rk);
  const bool cooperative = member->protocol == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    ++member->assign_events;
    for (int i = 0; i < parts->cnt; ++i) member->assigned.insert(parts->elems[i].partition);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
  } else {
    ++member->revoke_events;
    for (int i = 0; i < parts->cnt; ++i) member->assigned.erase(parts->elems[i].partition);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

std::unique_ptr<Member> Join(const std::string& group, const std::string& topic,
                             const std::string& strategy) {
  auto member = std::make_unique<Member>();
  member->consumer = MakeClient(RD_KAFKA_CONSUMER,
                                {{"group.id", group},
                                 {"partition.assignment.strategy", strategy},
                                 {"enable.auto.commit", "false"},
                                 {"auto.offset.reset", "earliest"},
                                 {"session.timeout.ms", "6000"},
                                 {"heartbeat.interval.ms", "500"}},
                                [&](rd_kafka_conf_t* conf) {
                                  rd_kafka_conf_set_opaque(conf, member.get());
                                  rd_kafka_conf_set_rebalance_cb(conf, OnRebalance);
                                });
  PartitionList subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  REQUIRE(rd_kafka_subscribe(member->consumer.get(), subscription.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  return member;
}

// Polls every member (which runs rebalance callbacks and collects records) until `done()`.
bool PollUntil(const std::vector<Member*>& members, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(45);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    for (Member* member : members) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(member->consumer.get(), 50);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        member->received.push_back(Record(std::nullopt,
                                          std::string(static_cast<const char*>(m->payload), m->len),
                                          m->partition, m->offset));
      }
      rd_kafka_message_destroy(m);
    }
  }
  return true;
}

}  // namespace

TEST_CASE("consumer group: join, rebalance callbacks, commit, hand-over", "[integration][kafka]") {
  const std::string strategy = GENERATE(as<std::string>{}, "range", "cooperative-sticky");
  INFO("partition.assignment.strategy=" << strategy);
  const std::string topic = UniqueTopic("group");
  const std::string group = UniqueTopic("group-id");
  CreateTopic(topic, 4);
  // The group starts from committed offsets 0. Without them the first member resets its positions
  // with offset queries, and librdkafka 2.0 may apply a query's late answer (offset 0) to a
  // partition revoked meanwhile and later assigned again at its committed offset.
  {
    KafkaPtr committer = MakeClient(RD_KAFKA_CONSUMER, {{"group.id", group}});
    PartitionList zero(rd_kafka_topic_partition_list_new(4));
    for (int p = 0; p < 4; ++p) rd_kafka_topic_partition_list_add(zero.get(), topic.c_str(), p)->offset = 0;
    REQUIRE(rd_kafka_commit(committer.get(), zero.get(), /*async=*/0) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(Committed(committer.get(), topic, 4) == std::vector<int64_t>{0, 0, 0, 0});
  }

  std::unique_ptr<Member> a = Join(group, topic, strategy);
  REQUIRE(PollUntil({a.get()}, [&] { return a->assigned.size() == 4; }));
  CHECK(a->protocol == (strategy == "range" ? "EAGER" : "COOPERATIVE"));

  std::unique_ptr<Member> b = Join(group, topic, strategy);
  REQUIRE(PollUntil({a.get(), b.get()}, [&] { return a->assigned.size() == 2 && b->assigned.size() == 2; }));
  CHECK(a->revoke_events >= 1);

  std::vector<Message> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(Record(std::nullopt, std::to_string(i), i % 4));
  Produce(topic, batch);
  REQUIRE(PollUntil({a.get(), b.get()}, [&] { return a->received.size() + b->received.size() == 40; }));
  for (Member* member : {a.get(), b.get()}) {
    for (const Message& m : member->received) CHECK(member->assigned.count(m.partition) == 1);
    REQUIRE(rd_kafka_commit(member->consumer.get(), nullptr, /*async=*/0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  CHECK(Committed(a->consumer.get(), topic, 4) == std::vector<int64_t>{10, 10, 10, 10});

  // b leaves: its partitions move to a, which resumes them at the committed offsets.
  rd_kafka_consumer_close(b->consumer.get());
  CHECK(b->assigned.empty());
  REQUIRE(PollUntil({a.get()}, [&] { return a->assigned.size() == 4; }));
  a->received.clear();
  batch.clear();
  for (int p = 0; p < 4; ++p) batch.push_back(Record(std::nullopt, "late", p));
  Produce(topic, batch);
  REQUIRE(PollUntil({a.get()}, [&] { return a->received.size() == 4; }));
  for (const Message& m : a->received) CHECK(m.offset == 10);
  rd_kafka_consumer_close(a->consumer.get());
}

}  // namespace vigil::testing
