// Hot swap under load: promotions while events flow through Kafka change the scoring model between
// batches, lose or duplicate no decision, and a corrupt model is refused while the old one serves.
#include <signal.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "tests/support/chunk_producer.h"
#include "tests/support/handbook.h"
#include "tests/support/handbook_stream.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("promotions under load swap models between batches and corrupt models are refused",
          "[integration]") {
  namespace fs = std::filesystem;
  const std::string dir = TempDir("vigil-swap");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  // A registry with two good versions and three bad ones.
  const std::string sim =
      VigilBinary() + " simulate --customers 1000 --terminals 2000 --days 60 --seed 9 --quiet";
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
  ReplaceAll(&swapped, "\"TX_DURING_WEEKEND\", \"TX_DURING_NIGHT\"",
             "\"TX_DURING_NIGHT\", \"TX_DURING_WEEKEND\"");
  std::ofstream(reg + "/features/metadata.json") << swapped;
  std::string golden = meta;
  golden.replace(golden.find("\"score\": ", golden.find("\"golden_rows\"")) + 9, 1, "7");
  std::ofstream(reg + "/golden/metadata.json") << golden;

  const auto promote = [&](const std::string& v, std::string* out) {
    const int rc =
        Shell(vigil + " models --registry " + reg + " promote " + v + " > " + dir + "/promote.log 2>&1");
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
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"),
                    decisions = UniqueTopic("decisions"), dlq = UniqueTopic("dlq");
  for (const auto& t : {tx, labels, decisions, dlq}) CreateTopic(t, 1);
  std::string yaml = HandbookYaml({tx, labels, decisions, dlq});
  PrependOutputFields(&yaml, "SCORE, DECISION, MODEL_VERSION");
  AppendOperators(&yaml, "  - type: score\n    registry: " + reg + "\n    poll: 50ms\n");
  ReplaceRuntime(&yaml,
                 "batch: {max_events: 200}\nruntime: {workers: 1, commit_interval: 500ms, state_dir: " + dir +
                     "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;

  // The transactions go in five chunks, each produced only once the version it must be scored with
  // serves (its "model X replaces Y" line is logged after the swap), so every step waits on a
  // condition, never on the machine's speed: chunk 0 is scored by v1, then v2, v1, v2 after each
  // promotion, and chunk 4 by v2 again after the corrupt model was refused.
  std::vector<std::string> lines;
  std::unordered_map<int64_t, int64_t> customer_of;
  {
    std::ifstream in(dir + "/tx.jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) {
        customer_of[JsonInt(line, "TRANSACTION_ID")] = JsonInt(line, "CUSTOMER_ID");
        lines.push_back(std::move(line));
      }
  }
  REQUIRE(lines.size() > 100'000);
  constexpr int kChunks = 5;
  WriteChunkFiles(dir, lines, kChunks);
  {
    std::ifstream in(dir + "/labels.jsonl");
    std::ofstream out(dir + "/labels.tsv");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out << customer_of[JsonInt(line, "TRANSACTION_ID")] << '\t' << line << '\n';
  }
  {
    ChunkProducer producer(labels, {dir + "/labels.tsv"}, std::chrono::milliseconds(0),
                           dir + "/producer.log");
    REQUIRE(producer.Wait(std::chrono::seconds(120)) == "");
  }
  std::vector<std::string> chunk_files;
  std::vector<size_t> chunk_end;  // transactions produced up to and including each chunk
  for (int c = 0; c < kChunks; ++c) {
    char name[64];
    std::snprintf(name, sizeof name, "/chunks/chunk-%05d.tsv", c);
    chunk_files.push_back(dir + name);
  }
  std::unordered_map<int64_t, int> chunk_of;  // transaction id -> its chunk
  {
    const size_t per_chunk = (lines.size() + kChunks - 1) / kChunks;
    for (size_t i = 0; i < lines.size(); ++i)
      chunk_of[JsonInt(lines[i], "TRANSACTION_ID")] = int(i / per_chunk);
    for (int c = 0; c < kChunks; ++c) chunk_end.push_back(std::min(lines.size(), per_chunk * (c + 1)));
  }
  const auto produce_chunk = [&](int c) {
    ChunkProducer producer(tx, {chunk_files[c]}, std::chrono::milliseconds(0), dir + "/producer.log");
    REQUIRE(producer.Wait(std::chrono::seconds(120)) == "");
  };
  // Waits until every transaction of chunks 0..c is decided (read_committed).
  const auto wait_decided = [&](int c) {
    INFO("waiting for the decisions of chunk " << c << "; run.log:\n" << ReadFile(dir + "/run.log"));
    REQUIRE(ConsumeAll(decisions, chunk_end[c], std::chrono::seconds(180)).size() == chunk_end[c]);
  };
  // Waits until run.log holds `line` at least `times` times.
  const auto wait_logged = [&](const std::string& line, int times) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    int seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = ReadFile(dir + "/run.log");
      seen = 0;
      for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++seen;
      if (seen >= times) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(ReadFile(dir + "/run.log"));
    FAIL("run.log has '" << line << "' " << seen << " times, not " << times);
  };

  produce_chunk(0);
  Child live({VigilBinary(), "run", dir + "/pipeline.yaml"}, dir + "/run.log");
  wait_decided(0);
  const std::vector<std::string> served = {"v1", "v2", "v1", "v2", "v2"};  // by chunk
  std::map<std::string, int> swaps;  // "model X replaces Y" -> times expected so far
  for (int c = 1; c <= 3; ++c) {
    REQUIRE(promote(served[c], &out) == 0);
    wait_logged("model " + served[c] + " replaces " + served[c - 1], ++swaps[served[c] + served[c - 1]]);
    produce_chunk(c);
    wait_decided(c);
  }
  // A bad model named by hand, past the CLI: the pipeline refuses it and keeps serving v2.
  std::ofstream(reg + "/CHAMPION") << "golden\n";
  wait_logged("refusing model golden", 1);
  produce_chunk(4);
  wait_decided(4);
  live.Signal(SIGTERM);
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(live.Wait(std::chrono::seconds(120)) == 0);

  const auto records = ConsumeAll(decisions, lines.size(), std::chrono::seconds(60));
  simdjson::dom::parser parser;
  std::set<int64_t> ids;
  std::map<std::string, size_t>
      wrong;  // "chunk C scored by V" -> count, for decisions off their chunk's version
  for (const Message& m : records) {
    simdjson::dom::element doc = parser.parse(m.value);
    const int64_t id = doc["TRANSACTION_ID"].get_int64();
    ids.insert(id);
    const std::string version(std::string_view(doc["MODEL_VERSION"].get_string()));
    const int c = chunk_of.at(id);
    if (version != served[c]) ++wrong["chunk " + std::to_string(c) + " scored by " + version];
  }
  CHECK(records.size() == ids.size());  // no duplicate decision
  CHECK(ids.size() == lines.size());    // no lost decision
  std::string wrong_list;
  for (const auto& [what, n] : wrong) wrong_list += what + ": " + std::to_string(n) + "\n";
  INFO(wrong_list);
  CHECK(wrong.empty());  // every decision carries the version serving when its chunk arrived
}

}  // namespace
}  // namespace vigil::testing
