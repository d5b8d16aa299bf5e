// KafkaSource against the real broker: a reader at the end of a transactionally written topic
// reports lag 0 (the commit markers are offsets, never messages), and a labels topic partitioned
// differently from the events is refused at start-up.
#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.h"
#include "connectors/kafka_source.h"
#include "tests/support/kafka_env.h"

namespace vigil::testing {
namespace {

using Clock = std::chrono::steady_clock;

//! A pipeline reading `events` with labels from `labels`, in a group of its own.
config::PipelineSpec Spec(const std::string& events, const std::string& labels) {
  const std::string yaml = "name: source-itest\nsource: {kind: kafka, topic: " + events +
                           ", group: " + UniqueTopic("source-itest") + "}\nkafka: {bootstrap: '" +
                           Bootstrap() +
                           "'}\nschema:\n  event_time: T\n  fields:\n    - {name: ID, type: int64}\n"
                           "    - {name: T, type: timestamp}\nlabels:\n  source: {kind: kafka, topic: " +
                           labels + "}\n  id: ID\noutput: {kind: none}\n";
  auto spec = config::LoadPipelineText(yaml, "source-itest.yaml");
  REQUIRE(spec.ok());
  return *spec;
}

//! Keeps the readers the source hands over.
class Listener final : public engine::SourceListener {
 public:
  base::Result<engine::StartOffsets> PrepareAssign(int32_t) override { return engine::StartOffsets{}; }
  base::Status Assigned(int32_t partition, std::unique_ptr<engine::PartitionReader> reader,
                        std::unique_ptr<engine::PartitionReader> labels) override {
    events[partition] = std::move(reader);
    this->labels[partition] = std::move(labels);
    return base::Status::OK();
  }
  base::Status Revoked(std::span<const int32_t> partitions) override {
    for (int32_t p : partitions) {
      events.erase(p);
      labels.erase(p);
    }
    return base::Status::OK();
  }
  std::map<int32_t, std::unique_ptr<engine::PartitionReader>> events, labels;
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};

void Check(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return;
  std::string text = rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  FAIL(what << ": " << text);
}

//! Produces `count` label records to partition 0 of `topic` in `transactions` transactions.
void ProduceTransactionally(const std::string& topic, int count, int transactions) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"bootstrap.servers", Bootstrap()}, {"transactional.id", UniqueTopic("labels-txn")}})
    REQUIRE(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK);
  std::unique_ptr<rd_kafka_t, KafkaDeleter> producer(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  REQUIRE(producer);
  Check(rd_kafka_init_transactions(producer.get(), 60000), "init_transactions");
  for (int t = 0; t < transactions; ++t) {
    Check(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
    for (int i = 0; i < count / transactions; ++i) {
      const std::string value =
          "{\"ID\":" + std::to_string(t * 1000 + i) + ",\"TX_FRAUD\":0,\"LABEL_TIME_MS\":1}";
      REQUIRE(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    Check(rd_kafka_commit_transaction(producer.get(), 30000), "commit_transaction");
  }
}

TEST_CASE("kafka source: a reader at the end of a transactional labels topic has lag 0",
          "[integration][connectors]") {
  const std::string events = UniqueTopic("src-events"), labels = UniqueTopic("src-labels");
  CreateTopic(events, 1);
  CreateTopic(labels, 1);
  ProduceTransactionally(labels, 20, 2);  // 20 records and 2 commit markers: the end is offset 22

  auto source = connectors::KafkaSource::Make(Spec(events, labels));
  REQUIRE(source.ok());
  Listener listener;
  REQUIRE((*source)->Start(&listener).ok());
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (listener.labels.empty() && Clock::now() < deadline) REQUIRE((*source)->Poll(100).ok());
  REQUIRE(listener.labels.count(0) == 1);
  engine::PartitionReader& reader = *listener.labels.at(0);

  std::vector<engine::RawEvent> batch;
  int read = 0;
  int64_t last = -1;
  while (read < 20 && Clock::now() < deadline) {
    REQUIRE(reader.Read(100, 100, &batch).ok());
    read += static_cast<int>(batch.size());
    if (!batch.empty()) last = batch.back().offset;
  }
  REQUIRE(read == 20);
  CHECK(last == 20);  // offsets 0..9, marker 10, 11..20, marker 21
  // Every label is read: the lag reaches 0 (polled: the end is known once the next fetch answers).
  int64_t lag = reader.Lag();
  while (lag != 0 && Clock::now() < deadline) {
    REQUIRE(reader.Read(100, 100, &batch).ok());
    REQUIRE(batch.empty());
    lag = reader.Lag();
  }
  CHECK(lag == 0);
  REQUIRE((*source)->Close().ok());
}

TEST_CASE("kafka source: labels partitioned unlike the events are refused at start-up, naming both",
          "[integration][connectors]") {
  const std::string events = UniqueTopic("src-events"), labels = UniqueTopic("src-labels");
  CreateTopic(events, 3);
  CreateTopic(labels, 2);
  auto source = connectors::KafkaSource::Make(Spec(events, labels));
  REQUIRE(source.ok());
  Listener listener;
  const base::Status st = (*source)->Start(&listener);
  REQUIRE_FALSE(st.ok());
  INFO(st.message());
  CHECK(st.message().find("labels topic '" + labels + "' has 2 partitions but events topic '" + events +
                          "' has 3") != std::string::npos);
  CHECK(st.message().find("give '" + labels + "' 3 partitions") != std::string::npos);
  CHECK(st.message().find('\n') == std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
