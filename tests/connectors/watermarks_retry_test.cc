// QueryWatermarks rides through a partition whose leader is not known yet or moving (librdkafka's
// mock cluster answers ListOffsets with NOT_LEADER_FOR_PARTITION, as a broker does for a topic just
// created or while it restarts): it asks again and gets the watermarks; other errors end it at once.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>
#include <cstdint>

#include "connectors/kafka_client.h"

namespace vigil::connectors {
namespace {

constexpr int16_t kListOffsets = 2;  // the Kafka protocol's API key of ListOffsets

struct MockClient {
  MockClient() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[256];
    REQUIRE(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof err) == RD_KAFKA_CONF_OK);
    rk.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
    REQUIRE(rk != nullptr);
    mock = rd_kafka_handle_mock_cluster(rk.get());
    REQUIRE(mock != nullptr);
    REQUIRE(rd_kafka_mock_topic_create(mock, "t", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 3; ++i)
      REQUIRE(rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_VALUE(const_cast<char*>("x"), 1),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(rk.get(), 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void PushErrors(rd_kafka_resp_err_t err, int n) {
    for (int i = 0; i < n; ++i) rd_kafka_mock_push_request_errors(mock, kListOffsets, 1, err);
  }
  KafkaHandle rk;
  rd_kafka_mock_cluster_t* mock = nullptr;
};

TEST_CASE("watermarks are asked again while the partition's leader is not known, other errors end it") {
  MockClient c;
  int64_t low = -1, high = -1;
  SECTION("a leader not known yet, three times: asked again, then the watermarks") {
    c.PushErrors(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 3);
    REQUIRE(QueryWatermarks(c.rk.get(), "t", 0, &low, &high, 5'000, "watermarks of 't'").ok());
    CHECK(high == 3);
    CHECK(low <= high);
  }
  SECTION("without time to ask again, the same error is returned, in context") {
    c.PushErrors(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 3);
    const base::Status st = QueryWatermarks(c.rk.get(), "t", 0, &low, &high, 5'000, "watermarks of 't'", 0);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains("watermarks of 't'"));
  }
  SECTION("an error that does not pass is returned at once") {
    c.PushErrors(RD_KAFKA_RESP_ERR_INVALID_REQUEST, 2);
    const base::Status st = QueryWatermarks(c.rk.get(), "t", 0, &low, &high, 5'000, "watermarks of 't'");
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains("watermarks of 't'"));
    CHECK_THAT(st.message(), Catch::Contains("nvalid request"));
  }
}

}  // namespace
}  // namespace vigil::connectors
