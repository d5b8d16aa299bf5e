// `vigil reset` against the real broker: it asks before deleting; with --yes it deletes the group's
// committed offsets, its changelog and its local state, so the next run starts over from the
// beginning of the input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "connectors/kafka_admin.h"
#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/private_broker.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("vigil reset asks first, then forgets the group's offsets, changelog and state", "[integration]") {
  const std::string dir = TempDir("vigil-reset");
  const HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                              UniqueTopic("dlq")};
  for (const auto& t : {topics.transactions, topics.labels, topics.output, topics.dead_letter})
    CreateTopic(t, 1);
  const std::string group = UniqueTopic("vigil-reset-group");
  std::string yaml = HandbookYaml(topics);
  SetGroup(&yaml, group);
  ReplaceRuntime(&yaml,
                 "runtime: {state_dir: " + dir + "/state, commit_interval: 200ms}\nhttp: {enabled: false}");
  const std::string pipeline = dir + "/pipeline.yaml";
  std::ofstream(pipeline) << yaml;
  REQUIRE(Shell(VigilBinary() + " simulate --quiet --customers 50 --terminals 100 --days 3 --kafka " +
                Bootstrap() + " --topic " + topics.transactions + " --labels-topic " + topics.labels) == 0);
  const size_t transactions = ConsumeAll(topics.transactions, 0).size();
  REQUIRE(transactions > 0);

  const std::string run = VigilBinary() + " run " + pipeline + " --idle-exit 3s > " + dir + "/run.log 2>&1";
  REQUIRE(Shell(run) == 0);
  REQUIRE(ConsumeAll(topics.output, transactions).size() == transactions);
  const std::string changelog = group + "." + topics.transactions + ".changelog";
  REQUIRE(TopicPartitions(changelog) == 1);
  REQUIRE(CommittedOffset(group, topics.transactions, 0) == static_cast<int64_t>(transactions));
  REQUIRE(std::filesystem::exists(dir + "/state/" + group));

  // Declined: nothing is deleted.
  const std::string reset = VigilBinary() + " reset " + pipeline;
  CHECK(Shell("echo no | " + reset + " > " + dir + "/declined.log 2>&1") == 1);
  const std::string declined = ReadFile(dir + "/declined.log");
  INFO(declined);
  CHECK(declined.find("consumer groups (their committed offsets): " + group) != std::string::npos);
  CHECK(declined.find("internal topics: " + changelog) != std::string::npos);
  CHECK(declined.find("nothing deleted") != std::string::npos);
  CHECK(TopicPartitions(changelog) == 1);
  CHECK(std::filesystem::exists(dir + "/state/" + group));

  REQUIRE(Shell(reset + " --yes > " + dir + "/reset.log 2>&1") == 0);
  INFO(ReadFile(dir + "/reset.log"));
  CHECK(TopicPartitions(changelog) == -1);
  CHECK(CommittedOffset(group, topics.transactions, 0) == -1);
  CHECK_FALSE(std::filesystem::exists(dir + "/state/" + group));
  // The next run decides every transaction again, from the beginning.
  REQUIRE(Shell(run) == 0);
  CHECK(ConsumeAll(topics.output, 2 * transactions).size() == 2 * transactions);
}

// An input topic deleted and created again under the same group: the state's checkpoint lies past the
// new partition's end. The run refuses to resume (it would skip the new records) and names the fix.
TEST_CASE("a run over a recreated input topic stops with one line that names vigil reset", "[integration]") {
  const std::string dir = TempDir("vigil-recreated");
  const HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                              UniqueTopic("dlq")};
  for (const auto& t : {topics.transactions, topics.labels, topics.output, topics.dead_letter})
    CreateTopic(t, 1);
  std::string yaml = HandbookYaml(topics);
  SetGroup(&yaml, UniqueTopic("vigil-recreated-group"));
  ReplaceRuntime(&yaml,
                 "runtime: {state_dir: " + dir + "/state, commit_interval: 200ms}\nhttp: {enabled: false}");
  const std::string pipeline = dir + "/pipeline.yaml";
  std::ofstream(pipeline) << yaml;
  const std::string simulate = VigilBinary() + " simulate --quiet --customers 50 --terminals 100 --kafka " +
                               Bootstrap() + " --topic " + topics.transactions + " --labels-topic " +
                               topics.labels;
  REQUIRE(Shell(simulate + " --days 4") == 0);
  const size_t first = ConsumeAll(topics.transactions, 0).size();
  const std::string run = VigilBinary() + " run " + pipeline + " --idle-exit 3s > " + dir + "/run.log 2>&1";
  REQUIRE(Shell(run) == 0);
  REQUIRE(ConsumeAll(topics.output, first).size() == first);

  // The input topics again, with a shorter stream.
  config::KafkaSpec kafka;
  kafka.bootstrap = Bootstrap();
  REQUIRE(connectors::DeleteTopics(kafka, {topics.transactions, topics.labels}).ok());
  REQUIRE(WaitFor(std::chrono::seconds(60), [&] {
    return TopicPartitions(topics.transactions) == -1 && TopicPartitions(topics.labels) == -1;
  }));
  CreateTopic(topics.transactions, 1);
  CreateTopic(topics.labels, 1);
  REQUIRE(Shell(simulate + " --days 1") == 0);
  const size_t second = ConsumeAll(topics.transactions, 0).size();
  REQUIRE(second < first);

  CHECK(Shell(run) != 0);
  const std::string log = ReadFile(dir + "/run.log");
  INFO(log);
  CHECK_THAT(
      log, Catch::Contains(topics.transactions + "[0]: the state resumes at offset " + std::to_string(first) +
                           ", past the partition's end (" + std::to_string(second) + ")") &&
               Catch::Contains("vigil reset"));
  CHECK(ConsumeAll(topics.output, 0).size() == first);  // nothing skipped, nothing written

  REQUIRE(Shell(VigilBinary() + " reset " + pipeline + " --yes > " + dir + "/reset.log 2>&1") == 0);
  REQUIRE(Shell(run) == 0);
  CHECK(ConsumeAll(topics.output, first + second).size() == first + second);
}

// A fresh broker has no group coordinator until its offsets topic exists: the first group request is
// answered NOT_COORDINATOR for a while. The reset of a pipeline that never ran there succeeds.
TEST_CASE("vigil reset on a fresh broker that has never had a consumer group", "[integration]") {
  const std::string dir = TempDir("vigil-reset-fresh");
  auto broker = PrivateBroker::Start();
  const HandbookTopics topics{UniqueTopic("tx"), UniqueTopic("labels"), UniqueTopic("decisions"),
                              UniqueTopic("dlq")};
  std::string yaml = HandbookYaml(topics);
  SetGroup(&yaml, UniqueTopic("vigil-reset-fresh-group"));
  ReplaceRuntime(&yaml, "runtime: {state_dir: " + dir + "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;
  const int rc = Shell(VigilBinary() + " reset " + dir + "/pipeline.yaml --yes --bootstrap " +
                       broker->bootstrap() + " > " + dir + "/reset.log 2>&1");
  INFO(ReadFile(dir + "/reset.log"));
  CHECK(rc == 0);
  CHECK(ReadFile(dir + "/reset.log").find("error") == std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
