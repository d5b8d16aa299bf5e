// At-least-once offset commits ride through a moving group coordinator (librdkafka's mock cluster
// answers six commits in a row with NOT_COORDINATOR, as a broker fenced by its controller under load
// does; librdkafka itself gives up after fewer): the commit is tried again and lands; a rebalance's
// error is not tried again.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "config/pipeline_config.h"
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

TEST_CASE("an at-least-once offset commit is tried again while the coordinator moves") {
  auto spec = config::LoadPipelineText(kYaml, "retry.yaml");
  REQUIRE(spec.ok());
  auto source = KafkaSource::Make(*spec);
  REQUIRE(source.ok());
  Listener listener;
  // The mock cluster belongs to the consumer; its topic must exist before the group assigns it.
  REQUIRE((*source)->Start(&listener).ok());
  rd_kafka_mock_cluster_t* mock = rd_kafka_handle_mock_cluster((*source)->handle());
  REQUIRE(mock != nullptr);
  REQUIRE(rd_kafka_mock_topic_create(mock, "tx", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (listener.assigned.empty() && std::chrono::steady_clock::now() < deadline)
    REQUIRE((*source)->Poll(100).ok());
  REQUIRE(listener.assigned == std::vector<int32_t>{0});

  rd_kafka_mock_push_request_errors(mock, kOffsetCommit, 6, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  const engine::PartitionOffset offsets[] = {{0, 42, -1}};
  const base::Status committed = (*source)->Commit(offsets);
  CHECK(committed.ok());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, "tx", 0);
  REQUIRE(rd_kafka_committed((*source)->handle(), list, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(list->elems[0].offset == 42);
  rd_kafka_topic_partition_list_destroy(list);

  // A rebalance's error is the pipeline's to handle: not tried again.
  rd_kafka_mock_push_request_errors(mock, kOffsetCommit, 1, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
  const engine::PartitionOffset later[] = {{0, 50, -1}};
  const base::Status refused = (*source)->Commit(later);
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.message(), Catch::Contains("commit offsets of 'tx'"));
  CHECK((*source)->Close().ok());
}

}  // namespace
}  // namespace vigil::connectors
