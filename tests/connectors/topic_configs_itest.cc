// The internal topics `vigil run` creates carry their configs explicitly, as the broker reports them
// (DescribeConfigs): the changelog compacted with a max.message.bytes that holds the producer's
// batches of pieces, the repartition topics without time retention.
#include <catch2/catch.hpp>
#include <string>

#include "config/pipeline_config.h"
#include "connectors/factory.h"
#include "connectors/kafka_admin.h"
#include "connectors/kafka_changelog.h"
#include "engine/operator_registry.h"
#include "operators/register.h"
#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"

namespace vigil::testing {
namespace {

TEST_CASE("the changelog and repartition topics are created with explicit configs", "[integration]") {
  const std::string tx = UniqueTopic("cfg-tx"), labels = UniqueTopic("cfg-labels");
  CreateTopic(tx, 2);
  CreateTopic(labels, 2);
  std::string yaml = HandbookYaml({tx, labels, UniqueTopic("cfg-out"), UniqueTopic("cfg-dlq")});
  SetGroup(&yaml, UniqueTopic("cfg-group"));
  auto spec = config::LoadPipelineText(yaml, "handbook.yaml");
  INFO(spec.status().ToString());
  REQUIRE(spec.ok());
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());

  // The stages of a two-partition input: the terminal window reads a repartition topic.
  auto stages = connectors::PipelineStages(*spec, registry);
  INFO(stages.status().ToString());
  REQUIRE(stages.ok());
  REQUIRE(stages->size() == 2);
  auto repartition = connectors::DescribeTopicConfigs(spec->kafka, (*stages)[1].source.topic);
  INFO(repartition.status().ToString());
  REQUIRE(repartition.ok());
  CHECK(repartition->at("retention.ms") == "-1");

  // The changelog, made with the pipeline's I/O.
  auto io = connectors::MakePipelineIo(*spec, "");
  INFO(io.status().ToString());
  REQUIRE(io.ok());
  REQUIRE(io->changelog != nullptr);
  auto changelog = connectors::DescribeTopicConfigs(spec->kafka, connectors::ChangelogTopic(*spec));
  INFO(changelog.status().ToString());
  REQUIRE(changelog.ok());
  CHECK(changelog->at("cleanup.policy") == "compact");
  CHECK(changelog->at("max.message.bytes") == "1048588");
  CHECK(changelog->at("segment.bytes") == "16777216");

  // A topic that exists is left as it is: asking again succeeds.
  CHECK(connectors::EnsureTopic(spec->kafka, connectors::ChangelogTopic(*spec), 2,
                                connectors::ChangelogTopicConfigs())
            .ok());
}

}  // namespace
}  // namespace vigil::testing
