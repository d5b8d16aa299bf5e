// A commit stops the workers only while it stages the state: its deliveries and the source's commit
// run while the workers go on, their new records held back and queued once the commit is through
// (librdkafka's mock cluster as the broker). The source's commit below waits until the worker has
// read past the committed offsets: with the workers paused for the whole commit, that never happens
// and the wait gives up.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "config/pipeline_config.h"
#include "connectors/kafka_changelog.h"
#include "connectors/kafka_producer.h"
#include "connectors/kafka_sink.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/count_window.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const std::string kYaml = CountWindowYaml("{workers: 1, commit_interval: 20ms}");

constexpr int kEvents = 3000;

//! Gives one event per read, up to `allowed`, counting what it gave.
class TrickleReader final : public engine::PartitionReader {
 public:
  TrickleReader(std::atomic<int64_t>* given, std::atomic<int64_t>* allowed)
      : given_(given), allowed_(allowed) {}
  base::Status Read(std::size_t, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    const int64_t i = given_->load();
    if (i >= allowed_->load()) return base::Status::OK();
    line_ = "{\"ID\":" + std::to_string(i) + ",\"T\":" + std::to_string(10 * i) + ",\"K\":\"k\"}";
    out->push_back(engine::RawEvent{line_.data(), static_cast<uint32_t>(line_.size()), nullptr, 0, i});
    given_->store(i + 1);
    return base::Status::OK();
  }

 private:
  std::atomic<int64_t>* given_;
  std::atomic<int64_t>* allowed_;
  std::string line_;
};

//! Partition 0 of a trickle of 100 events. Its first commit with offsets to commit lets the rest come
//! and waits (up to 60 s) until the reader has given 20 events past them, then commits the
//! transaction (exactly-once) or nothing.
class GatedSource final : public engine::Source {
 public:
  explicit GatedSource(std::shared_ptr<connectors::KafkaProducer> producer)
      : producer_(std::move(producer)) {}
  base::Status Start(engine::SourceListener* listener) override {
    VIGIL_RETURN_IF_ERROR(listener->PrepareAssign(0).status());
    return listener->Assigned(0, std::make_unique<TrickleReader>(&given, &allowed), nullptr);
  }
  base::Status Poll(int) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override {
    if (!waited && !offsets.empty() && offsets[0].next_offset > 0) {
      waited = true;
      committed_at = offsets[0].next_offset;
      allowed.store(kEvents);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (given.load() < committed_at + 20 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      read_during_commit = given.load() - committed_at;
    }
    return producer_->transactional() ? producer_->CommitTransaction(nullptr, nullptr) : base::Status::OK();
  }
  //! Every event given: the run ends (no idle timeout, which a loaded machine could reach at the gate).
  bool Finished() const override { return given.load() >= kEvents; }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

  std::atomic<int64_t> given{0};
  std::atomic<int64_t> allowed{100};
  bool waited = false;
  int64_t committed_at = -1;
  int64_t read_during_commit = -1;

 private:
  std::shared_ptr<connectors::KafkaProducer> producer_;
  std::string name_ = "trickle";
};

//! Records in partition 0 of `topic`, read with read_committed (waits up to 60 s for `expected`,
//! and half a second beyond).
int64_t CountCommitted(const config::KafkaSpec& kafka, const std::string& topic, int64_t expected) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[256];
  rd_kafka_conf_set(conf, "bootstrap.servers", kafka.bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "count", err, sizeof err);
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
  connectors::KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err));
  REQUIRE(consumer != nullptr);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  REQUIRE(rd_kafka_assign(consumer.get(), parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  int64_t count = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Then half a second more, so that a duplicate would show.
  auto quiet_until = std::chrono::steady_clock::time_point::max();
  while (std::chrono::steady_clock::now() < std::min(deadline, quiet_until)) {
    if (count >= expected && quiet_until == std::chrono::steady_clock::time_point::max())
      quiet_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++count;
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return count;
}

//! A one-broker mock cluster with the topics "out" and "changelog".
struct MockCluster {
  MockCluster() {
    char err[256];
    host.reset(rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err));
    REQUIRE(host != nullptr);
    mock = rd_kafka_mock_cluster_new(host.get(), 1);
    REQUIRE(mock != nullptr);
    REQUIRE(rd_kafka_mock_topic_create(mock, "out", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_topic_create(mock, "changelog", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ~MockCluster() {
    if (mock != nullptr) rd_kafka_mock_cluster_destroy(mock);
  }
  connectors::KafkaHandle host;
  rd_kafka_mock_cluster_t* mock = nullptr;
};

void RunGated(bool exactly_once) {
  MockCluster cluster;
  config::KafkaSpec kafka;
  kafka.bootstrap = rd_kafka_mock_cluster_bootstraps(cluster.mock);
  kafka.producer["linger.ms"] = "1";
  {
    auto loaded = config::LoadPipelineText(kYaml, "commit_pipelined.yaml");
    REQUIRE(loaded.ok());
    config::PipelineSpec spec = std::move(*loaded);
    spec.runtime.state_dir = TempDir("vigil-commit-pipelined");
    engine::OperatorRegistry registry;
    REQUIRE(operators::RegisterOperators(&registry).ok());
    auto producer = connectors::KafkaProducer::Make(kafka, exactly_once ? "pipelined" : "");
    INFO(producer.status().ToString());
    REQUIRE(producer.ok());
    auto source = std::make_unique<GatedSource>(*producer);
    GatedSource* gated = source.get();
    auto pipeline = engine::Pipeline::Build({spec}, registry, [&](const auto&, const auto&) {
      return engine::StageIo(
          std::move(source), std::make_unique<connectors::KafkaSink>(*producer, "out"), nullptr,
          std::make_unique<connectors::KafkaChangelog>(kafka, *producer, "changelog"), exactly_once);
    });
    REQUIRE(pipeline.ok());
    const base::Status st = (*pipeline)->Run();
    INFO(st.ToString());
    REQUIRE(st.ok());
    INFO("committed at " << gated->committed_at);
    REQUIRE(gated->waited);
    CHECK(gated->read_during_commit >= 20);  // the worker read on while the commit ran
    CHECK(gated->given.load() == kEvents);
  }
  // Every decision reached the topic once: the ones made during a commit were held, then queued.
  CHECK(CountCommitted(kafka, "out", kEvents) == kEvents);
}

TEST_CASE("at-least-once: the workers go on while a commit delivers, and nothing they write is lost",
          "[engine]") {
  RunGated(false);
}

TEST_CASE("exactly-once: the workers go on while a transaction commits, their records join the next",
          "[engine]") {
  RunGated(true);
}

}  // namespace
}  // namespace vigil::testing
