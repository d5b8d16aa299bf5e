// At-least-once commit order under a failing output (librdkafka's mock cluster): the output topic's
// broker refuses every produce while the changelog's broker works. The commit must fail before the
// changelog gets a checkpoint past the undelivered decisions, so a restart processes them again.
//
// The refusals come back after a round trip of 2 s, so the commit has started by then: with the
// changelog records queued before the output flush (the order this replaced), the changelog was
// delivered during that flush and the restore below resumed after the lost events.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>
#include <string>

#include "config/pipeline_config.h"
#include "connectors/file_io.h"
#include "connectors/kafka_changelog.h"
#include "connectors/kafka_producer.h"
#include "connectors/kafka_sink.h"
#include "engine/pipeline.h"
#include "engine/task.h"
#include "operators/register.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
    - {name: V, type: double}
operators:
  - type: window
    key: K
    lateness: 10
    outputs:
      - {name: C, agg: count, window: 100}
output: {kind: none, fields: [ID, C]}
runtime: {workers: 1, commit_interval: 10m, guarantee: at_least_once}
)";

//! Events 0..n-1, one per line, offset i at time 10 * i.
std::string Events(int n) {
  std::string text;
  for (int i = 0; i < n; ++i)
    text += "{\"ID\":" + std::to_string(i) + ",\"T\":" + std::to_string(10 * i) + ",\"K\":\"k\",\"V\":1}\n";
  return text;
}

//! A two-broker mock cluster: "out" led by broker 1, "changelog" by broker 2.
struct MockCluster {
  MockCluster() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[256];
    host.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
    REQUIRE(host != nullptr);
    mock = rd_kafka_mock_cluster_new(host.get(), 2);
    REQUIRE(mock != nullptr);
    REQUIRE(rd_kafka_mock_topic_create(mock, "out", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_topic_create(mock, "changelog", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(mock, "out", 0, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(mock, "changelog", 0, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    kafka.bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
    kafka.producer["linger.ms"] = "1";
  }
  ~MockCluster() { rd_kafka_mock_cluster_destroy(mock); }
  connectors::KafkaHandle host;
  rd_kafka_mock_cluster_t* mock = nullptr;
  config::KafkaSpec kafka;
};

struct Pipeline {
  Pipeline() {
    auto loaded = config::LoadPipelineText(kYaml, "commit_order.yaml");
    INFO(loaded.status().ToString());
    REQUIRE(loaded.ok());
    spec = std::move(*loaded);
    REQUIRE(operators::RegisterOperators(&registry).ok());
    auto built = engine::Pipeline::Build({spec}, registry, nullptr);
    REQUIRE(built.ok());
    bound = std::move(*built);
  }
  //! Runs `n` events from where the changelog's checkpoint says, on a fresh state directory (so the
  //! store is restored from the changelog), through `output`, to the end of the events (the file
  //! source finishes; no idle timeout, which a loaded machine could reach before the first event).
  base::Status Run(int n, std::unique_ptr<engine::Sink> output,
                   std::unique_ptr<engine::Changelog> changelog) {
    spec.runtime.state_dir = TempDir("vigil-commit-order");
    auto pipeline = engine::Pipeline::Build({spec}, registry, [&](const auto&, const auto&) {
      return engine::StageIo(connectors::FileSource::FromText(Events(n), "input"), std::move(output), nullptr,
                             std::move(changelog));
    });
    REQUIRE(pipeline.ok());
    return (*pipeline)->Run();
  }
  //! The checkpoint a store restored from `changelog` holds.
  int64_t RestoredCheckpoint(engine::Changelog* changelog) {
    auto task = engine::Task::Open(bound->plan(0), 0,
                                   engine::TaskOptions{TempDir("vigil-commit-order") + "/p0", "input"},
                                   &bound->probe(0));
    REQUIRE(task.ok());
    REQUIRE((*task)->Restore(changelog).ok());
    return (*task)->checkpoint_offset();
  }
  config::PipelineSpec spec;
  engine::OperatorRegistry registry;
  std::unique_ptr<engine::Pipeline> bound;  //!< Without I/O: the plan of RestoredCheckpoint's task.
};

TEST_CASE("at-least-once: a failed output delivery leaves the changelog checkpoint behind", "[engine]") {
  MockCluster cluster;
  Pipeline pipeline;
  const auto changelog = [&](const std::shared_ptr<connectors::KafkaProducer>& producer) {
    return std::make_unique<connectors::KafkaChangelog>(cluster.kafka, producer, "changelog");
  };

  // Events 0..9, every output delivered: the changelog's checkpoint is 10.
  {
    auto producer = connectors::KafkaProducer::Make(cluster.kafka, "");
    REQUIRE(producer.ok());
    const base::Status st =
        pipeline.Run(10, std::make_unique<connectors::KafkaSink>(*producer, "out"), changelog(*producer));
    INFO(st.ToString());
    REQUIRE(st.ok());
    CHECK((*producer)->NextOffset("out", 0) == 10);
    auto reader = connectors::KafkaProducer::Make(cluster.kafka, "");
    REQUIRE(reader.ok());
    CHECK(pipeline.RestoredCheckpoint(changelog(*reader).get()) == 10);
  }

  // Events 10..19 are processed, but the output's broker refuses them (after 2 s each time).
  constexpr int16_t kProduce = 0;  // the Produce API key
  for (int i = 0; i < 20; ++i)
    REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(cluster.mock, 1, kProduce, 1,
                                                         RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                                         2000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  {
    auto producer = connectors::KafkaProducer::Make(cluster.kafka, "");
    REQUIRE(producer.ok());
    const base::Status st =
        pipeline.Run(20, std::make_unique<connectors::KafkaSink>(*producer, "out"), changelog(*producer));
    INFO(st.ToString());
    CHECK_FALSE(st.ok());                          // the commit failed
    CHECK((*producer)->NextOffset("out", 0) < 0);  // nothing of 10..19 reached the output topic
  }
  auto reader = connectors::KafkaProducer::Make(cluster.kafka, "");
  REQUIRE(reader.ok());
  CHECK(pipeline.RestoredCheckpoint(changelog(*reader).get()) == 10);

  // A restart resumes at 10: the undelivered decisions are made again.
  std::vector<Captured> out;
  const base::Status st = pipeline.Run(20, std::make_unique<CapturingSink>(&out), changelog(*reader));
  INFO(st.ToString());
  REQUIRE(st.ok());
  REQUIRE(out.size() == 10);
  CHECK(out.front().offset == 10);
  CHECK(out.back().offset == 19);
}

}  // namespace
}  // namespace vigil::testing
