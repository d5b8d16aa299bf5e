// Backpressure against a slow broker (librdkafka's mock cluster, with a long round trip): the
// producer's queue stays within its bound while writers wait, and every record is delivered once.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "connectors/kafka_producer.h"
#include "connectors/kafka_sink.h"

namespace vigil::connectors {
namespace {

TEST_CASE("a slow broker makes writers wait with a bounded producer queue and loses nothing") {
  config::KafkaSpec kafka;
  kafka.bootstrap = "";  // the mock cluster's
  kafka.properties["test.mock.num.brokers"] = "1";
  kafka.producer["queue.buffering.max.messages"] = "200";
  kafka.producer["linger.ms"] = "1";
  kafka.producer["batch.num.messages"] = "50";
  auto producer = KafkaProducer::Make(kafka, "");
  REQUIRE(producer.ok());
  rd_kafka_t* rk = (*producer)->handle();
  rd_kafka_mock_cluster_t* mock = rd_kafka_handle_mock_cluster(rk);
  REQUIRE(mock != nullptr);
  REQUIRE(rd_kafka_mock_topic_create(mock, "out", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_mock_broker_set_rtt(mock, 1, 20);  // every request takes 20 ms: a slow broker

  KafkaSink sink(*producer, "out");
  std::atomic<bool> done{false};
  std::atomic<int> max_queued{0};
  std::thread sampler([&] {
    while (!done) {
      max_queued = std::max(max_queued.load(), rd_kafka_outq_len(rk));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  constexpr int kBatches = 20, kPerBatch = 100;
  engine::OutBatch batch;
  for (int b = 0; b < kBatches; ++b) {
    batch.Clear();
    for (int i = 0; i < kPerBatch; ++i) {
      const std::string value = "{\"n\":" + std::to_string(b * kPerBatch + i) + "}";
      engine::OutRecord r;
      r.value_offset = static_cast<uint32_t>(batch.buffer.size());
      r.value_size = static_cast<uint32_t>(value.size());
      batch.buffer += value;
      batch.records.push_back(r);
    }
    REQUIRE(sink.Write(batch).ok());  // waits while the queue is full
  }
  REQUIRE(sink.Flush(60'000).ok());
  done = true;
  sampler.join();
  // The queue never held much more than its bound (delivery reports in flight count too).
  CHECK(max_queued.load() <= 200 + kPerBatch);
  CHECK(max_queued.load() >= 100);  // the writers did fill it: the bound was what held them
  CHECK((*producer)->NextOffset("out", 0) == kBatches * kPerBatch);  // each record delivered once
}

}  // namespace
}  // namespace vigil::connectors
