// At-least-once offset commits ride through a moving group coordinator (librdkafka's mock cluster
// answers six commits in a row with NOT_COORDINATOR, as a broker fenced by its controller under load
// does; librdkafka itself gives up after fewer): the commit is tried again and lands; a rebalance's
// error is not tried again, and says the group rebalanced (Aborted). After such a refusal the source
// hands its partitions to the listener again, read from their committed offsets (Reassign).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"
#include "connectors/kafka_source.h"

namespace vigil::connectors {
namespace {

constexpr int16_t kOffsetCommit = 8;  // the Kafka protocol's API key of OffsetCommit

constexpr char kYaml[] = R"(name: retry
source: {kind: kafka, topic: tx, group: retry-group}
kafka: {bootstrap: "", properties: {test.mock.num.brokers: "1"}}
schema:
  event_time: T
  fields:
    - {name: T, type: timestamp, format: epoch_ms}
output: {kind: none}
runtime: {guarantee: at_least_once}
)";

//! Takes whatever is assigned and keeps its readers.
class Listener final : public engine::SourceListener {
 public:
  base::Result<engine::StartOffsets> PrepareAssign(int32_t) override { return engine::StartOffsets{}; }
  base::Status Assigned(int32_t partition, std::unique_ptr<engine::PartitionReader> reader,
                        std::unique_ptr<engine::PartitionReader> labels) override {
    (void)labels;
    assigned.push_back(partition);
    readers.push_back(std::move(reader));
    return base::Status::OK();
  }
  base::Status Revoked(std::span<const int32_t>) override {
    readers.clear();
    return base::Status::OK();
  }
  std::vector<int32_t> assigned;
  std::vector<std::unique_ptr<engine::PartitionReader>> readers;
};

//! A source of kYaml on a mock cluster of its own, started, with the topic "tx" (one partition).
struct MockSource {
  std::unique_ptr<KafkaSource> source;
  Listener listener;
  rd_kafka_mock_cluster_t* mock = nullptr;

  static std::unique_ptr<MockSource> Start() {
    auto m = std::make_unique<MockSource>();
    auto spec = config::LoadPipelineText(kYaml, "mock.yaml");
    REQUIRE(spec.ok());
    auto source = KafkaSource::Make(*spec);
    REQUIRE(source.ok());
    m->source = std::move(source).value();
    // The mock cluster belongs to the consumer; its topic must exist before the group assigns it.
    REQUIRE(m->source->Start(&m->listener).ok());
    m->mock = rd_kafka_handle_mock_cluster(m->source->handle());
    REQUIRE(m->mock != nullptr);
    REQUIRE(rd_kafka_mock_topic_create(m->mock, "tx", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    return m;
  }
  //! Serves the group until it assigns partition 0 (at most a minute).
  void WaitAssigned() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (listener.assigned.empty() && std::chrono::steady_clock::now() < deadline)
      REQUIRE(source->Poll(100).ok());
    REQUIRE(listener.assigned == std::vector<int32_t>{0});
  }
};

TEST_CASE("an at-least-once offset commit is tried again while the coordinator moves") {
  auto m = MockSource::Start();
  m->WaitAssigned();
  rd_kafka_mock_cluster_t* mock = m->mock;
  KafkaSource* source = m->source.get();

  rd_kafka_mock_push_request_errors(mock, kOffsetCommit, 6, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  const engine::PartitionOffset offsets[] = {{0, 42, -1}};
  const base::Status committed = source->Commit(offsets);
  CHECK(committed.ok());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, "tx", 0);
  REQUIRE(rd_kafka_committed(source->handle(), list, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(list->elems[0].offset == 42);
  rd_kafka_topic_partition_list_destroy(list);

  // A rebalance's error is the pipeline's to handle: not tried again.
  rd_kafka_mock_push_request_errors(mock, kOffsetCommit, 1, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
  const engine::PartitionOffset later[] = {{0, 50, -1}};
  const base::Status refused = source->Commit(later);
  CHECK(refused.code() == base::StatusCode::kAborted);
  CHECK_THAT(refused.message(), Catch::Contains("commit offsets of 'tx'"));
  CHECK_THAT(refused.message(), Catch::Contains("the group rebalanced"));
  CHECK(source->Close().ok());
}

TEST_CASE("a reassigned partition is read again from its committed offset") {
  auto m = MockSource::Start();
  rd_kafka_mock_cluster_t* mock = m->mock;
  KafkaSource* source = m->source.get();
  Listener& listener = m->listener;
  {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[256];
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mock), err,
                              sizeof err) == RD_KAFKA_CONF_OK);
    KafkaHandle producer(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
    REQUIRE(producer != nullptr);
    for (int i = 0; i < 100; ++i) {
      const std::string value = "{\"T\":" + std::to_string(i) + "}";
      REQUIRE(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC("tx"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    REQUIRE(rd_kafka_flush(producer.get(), 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  m->WaitAssigned();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Read past what is then committed.
  std::vector<engine::RawEvent> events;
  int64_t read_to = -1;
  while (read_to < 80 && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(listener.readers.back()->Read(100, 100, &events).ok());
    if (!events.empty()) read_to = events.back().offset;
  }
  REQUIRE(read_to >= 80);
  const engine::PartitionOffset offsets[] = {{0, 42, -1}};
  REQUIRE(source->Commit(offsets).ok());

  // The task is dropped (its reader with it), and the partition handed over again.
  listener.readers.clear();
  REQUIRE(source->Reassign().ok());
  REQUIRE(listener.assigned == std::vector<int32_t>{0, 0});
  int64_t first = -1;
  while (first < 0 && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(listener.readers.back()->Read(100, 100, &events).ok());
    if (!events.empty()) first = events.front().offset;
  }
  CHECK(first == 42);
  listener.readers.clear();
  CHECK(source->Close().ok());
}

}  // namespace
}  // namespace vigil::connectors
