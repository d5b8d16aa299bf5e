// `vigil reset` against the real broker: it asks before deleting; with --yes it deletes the group's
// committed offsets, its changelog and its local state, so the next run starts over from the
// beginning of the input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

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
