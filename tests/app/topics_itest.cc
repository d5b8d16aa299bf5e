// Start-up checks of the topics a pipeline uses, against the real broker: a missing topic is named
// with the commands that create it and nothing runs; `--create-topics` creates the missing ones with
// the input's partitions and the pipeline then runs.
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("vigil run names a missing topic with the commands that create it, and --create-topics creates it",
          "[integration]") {
  const std::string dir = TempDir("vigil-topics");
  const HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                              UniqueTopic("dlq")};
  CreateTopic(topics.transactions, 3);
  CreateTopic(topics.labels, 3);
  std::string yaml = HandbookYaml(topics);
  ReplaceRuntime(&yaml, "runtime: {state_dir: " + dir + "/state}\nhttp: {enabled: false}");
  const std::string pipeline = dir + "/pipeline.yaml";
  std::ofstream(pipeline) << yaml;

  const std::string run = VigilBinary() + " run " + pipeline + " --idle-exit 2s";
  REQUIRE(Shell(run + " > " + dir + "/missing.log 2>&1") == 2);
  const std::string missing = ReadFile(dir + "/missing.log");
  INFO(missing);
  CHECK(missing.find("error: topic '" + topics.output + "' (output) does not exist on " + Bootstrap() +
                     "; create it with: kafka-topics.sh --bootstrap-server " + Bootstrap() +
                     " --create --topic " + topics.output + " --partitions 3\n") != std::string::npos);
  CHECK(missing.find("topic '" + topics.dead_letter + "' (dead letters) does not exist") !=
        std::string::npos);
  CHECK(missing.find("or create every missing topic with: vigil run " + pipeline + " --create-topics") !=
        std::string::npos);
  CHECK(missing.find(topics.transactions) == std::string::npos);  // it exists
  CHECK(TopicPartitions(topics.output) == -1);                    // nothing was created

  REQUIRE(Shell(run + " --create-topics > " + dir + "/create.log 2>&1") == 0);
  INFO(ReadFile(dir + "/create.log"));
  CHECK(TopicPartitions(topics.output) == 3);
  CHECK(TopicPartitions(topics.dead_letter) == 3);
}

}  // namespace
}  // namespace vigil::testing
