// Hot swap under load: promotions while events flow through Kafka change the scoring model between
// batches, lose or duplicate no decision, and a corrupt model is refused while the old one serves.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("promotions under load swap models between batches and corrupt models are refused", "[integration]") {
  namespace fs = std::filesystem;
  const std::string dir = TempDir("vigil-swap");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  // A registry with two good versions and three bad ones.
  const std::string sim = VigilBinary() + " simulate --customers 1000 --terminals 2000 --days 60 --seed 9 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " replay " + pipeline + " --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);
  const std::string reg = dir + "/models";
  for (const char* start : {"2018-04-20", "2018-04-27"})
    REQUIRE(Shell(vigil + " train " + pipeline + " --table " + dir + "/table.csv --models-dir " + reg +
                  " --rounds 10 --train-start " + start + " > /dev/null") == 0);
  for (const char* bad : {"truncated", "features", "golden"}) fs::copy(reg + "/v2", reg + "/" + bad);
  const std::string model = ReadFile(reg + "/v2/model.json");
  std::ofstream(reg + "/truncated/model.json") << model.substr(0, model.size() / 2);
  std::string meta = ReadFile(reg + "/v2/metadata.json");
  std::string swapped = meta;
  ReplaceAll(&swapped, "\"TX_DURING_WEEKEND\", \"TX_DURING_NIGHT\"", "\"TX_DURING_NIGHT\", \"TX_DURING_WEEKEND\"");
  std::ofstream(reg + "/features/metadata.json") << swapped;
  std::string golden = meta;
  golden.replace(golden.find("\"score\": ", golden.find("\"golden_rows\"")) + 9, 1, "7");
  std::ofstream(reg + "/golden/metadata.json") << golden;

  const auto promote = [&](const std::string& v, std::string* out) {
    const int rc = Shell(vigil + " models --registry " + reg + " promote " + v + " > " + dir + "/promote.log 2>&1");
    *out = ReadFile(dir + "/promote.log");
    return rc;
  };
  std::string out;
  REQUIRE(promote("v1", &out) == 0);
  CHECK(promote("truncated", &out) != 0);
  CHECK(out.find("model truncated") != std::string::npos);
  CHECK(promote("features", &out) != 0);
  CHECK(out.find("feature names in metadata.json differ") != std::string::npos);
  CHECK(promote("golden", &out) != 0);
  CHECK(out.find("golden row") != std::string::npos);
  CHECK(ReadFile(reg + "/CHAMPION") == "v1\n");

  // The live pipeline: score after the features; one partition so versions can be read in order.
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"), decisions = UniqueTopic("decisions"),
                    dlq = UniqueTopic("dlq");
  for (const auto& t : {tx, labels, decisions, dlq}) CreateTopic(t, 1);
  std::string yaml = HandbookYaml({tx, labels, decisions, dlq});
  PrependOutputFields(&yaml, "SCORE, DECISION, MODEL_VERSION");
  AppendOperators(&yaml, "  - type: score\n    registry: " + reg + "\n    poll: 50ms\n");
  ReplaceRuntime(&yaml,
             "batch: {max_events: 200}\nruntime: {workers: 1, commit_interval: 500ms, state_dir: " + dir +
                 "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + tx + " --labels-topic " + labels) == 0);

  Child live({VigilBinary(), "run", dir + "/pipeline.yaml", "--idle-exit", "5s"}, dir + "/run.log");
  // Promote only once v1 has scored something: the pipeline's start-up time depends on the machine.
  REQUIRE(ConsumeAll(decisions, 1, std::chrono::seconds(60)).size() == 1);
  for (const char* v : {"v2", "v1", "v2"}) {
    REQUIRE(promote(v, &out) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
  // A bad model named by hand, past the CLI: the pipeline refuses it and keeps serving v2.
  std::ofstream(reg + "/CHAMPION") << "golden\n";
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(live.Wait(std::chrono::seconds(240)) == 0);
  CHECK(ReadFile(dir + "/run.log").find("refusing model golden") != std::string::npos);

  const auto records = ConsumeAll(decisions, 117'307, std::chrono::seconds(60));
  simdjson::dom::parser parser;
  std::set<int64_t> ids;
  std::vector<std::string> runs;  // the sequence of versions, one entry per change
  for (const Message& m : records) {
    simdjson::dom::element doc = parser.parse(m.value);
    ids.insert(doc["TRANSACTION_ID"].get_int64());
    const std::string version(std::string_view(doc["MODEL_VERSION"].get_string()));
    if (runs.empty() || runs.back() != version) runs.push_back(version);
  }
  CHECK(records.size() == ids.size());  // no duplicate decision
  CHECK(ids.size() == 117'307);          // no lost decision
  INFO("version runs: " << runs.size());
  REQUIRE(!runs.empty());
  CHECK(runs.front() == "v1");
  CHECK(runs.back() == "v2");
  const std::vector<std::string> order = {"v1", "v2", "v1", "v2"};
  CHECK(std::search(order.begin(), order.end(), runs.begin(), runs.end()) != order.end());  // promotion order
}

}  // namespace
}  // namespace vigil::testing
