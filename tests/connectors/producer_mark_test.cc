// Marking (at-least-once commits): DrainMarked waits for the records queued before Mark and not for
// later ones, which here cannot be delivered (librdkafka's mock cluster, a partition without a
// leader), while Flush waits for everything.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>
#include <string>

#include "connectors/kafka_producer.h"

namespace vigil::connectors {
namespace {

void ProduceN(KafkaProducer& producer, const std::string& topic, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string value = "{\"n\":" + std::to_string(i) + "}";
    REQUIRE(producer.Produce(producer.Topic(topic), 0, "", value, false, 0, nullptr).ok());
  }
  producer.Serve();
}

TEST_CASE("DrainMarked waits for the records queued before Mark, not for later ones") {
  config::KafkaSpec kafka;
  kafka.bootstrap = "";  // the mock cluster's
  kafka.properties["test.mock.num.brokers"] = "1";
  kafka.producer["linger.ms"] = "1";
  auto made = KafkaProducer::Make(kafka, "");
  REQUIRE(made.ok());
  KafkaProducer& producer = **made;
  rd_kafka_t* rk = producer.handle();
  rd_kafka_mock_cluster_t* mock = rd_kafka_handle_mock_cluster(rk);
  REQUIRE(mock != nullptr);
  REQUIRE(rd_kafka_mock_topic_create(mock, "before", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_mock_topic_create(mock, "after", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);

  // Several rounds: the two epochs take turns.
  for (int round = 1; round <= 3; ++round) {
    ProduceN(producer, "before", 100);
    producer.Mark();
    producer.Mark();  // idempotent until drained (sinks sharing the producer mark together)
    REQUIRE(producer.DrainMarked(60'000).ok());
    CHECK(producer.NextOffset("before", 0) == 100 * round);
  }
  CHECK(producer.DrainMarked(0).ok());  // nothing marked: returns at once

  // Records queued after the mark, to a partition that has no leader: the drain does not wait.
  REQUIRE(rd_kafka_mock_partition_set_leader(mock, "after", 0, -1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  ProduceN(producer, "before", 50);
  producer.Mark();
  ProduceN(producer, "after", 10);
  REQUIRE(producer.DrainMarked(60'000).ok());
  CHECK(producer.NextOffset("before", 0) == 350);
  CHECK(producer.NextOffset("after", 0) == -1);  // none delivered yet
  CHECK(rd_kafka_outq_len(rk) >= 10);
  const base::Status flushed = producer.Flush(200);  // waits for them: times out
  CHECK_FALSE(flushed.ok());
  CHECK_THAT(flushed.message(), Catch::Contains("flush"));

  // A mark that cannot drain in time says how many records are missing.
  producer.Mark();
  const base::Status drained = producer.DrainMarked(200);
  CHECK_FALSE(drained.ok());
  CHECK_THAT(drained.message(), Catch::Contains("10 records not delivered within 200 ms"));

  // The leader back: everything goes, and a full flush clears the mark.
  REQUIRE(rd_kafka_mock_partition_set_leader(mock, "after", 0, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(producer.Flush(60'000).ok());
  CHECK(producer.NextOffset("after", 0) == 10);
  CHECK(producer.DrainMarked(0).ok());
}

}  // namespace
}  // namespace vigil::connectors
