// The CLI as a user meets it: help text, config errors with file:line:col and a non-zero exit, and
// `vigil runs` errors.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/handbook.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("vigil --help lists the subcommands", "[app]") {
  std::string out;
  CHECK(RunVigil({"--help"}, &out) == 0);
  for (const char* cmd : {"run", "check-config", "simulate", "train", "models", "runs"})
    CHECK(out.find(cmd) != std::string::npos);
  CHECK(RunVigil({}, &out) != 0);
  CHECK(out.find("A subcommand is required") != std::string::npos);
}

TEST_CASE("vigil --version prints the version and an unknown command is named with the known ones", "[app]") {
  std::string out;
  CHECK(RunVigil({"--version"}, &out) == 0);
  CHECK(out.rfind("vigil 0.", 0) == 0);
  // The allocator that the loader bound: jemalloc in a build with it (not glibc's, by link order).
#ifdef VIGIL_JEMALLOC
  CHECK(out.find(" (jemalloc 5.") != std::string::npos);
#else
  CHECK(out.find(" (glibc malloc)") != std::string::npos);
#endif
  CHECK(RunVigil({"--log-level", "warn", "frobnicate", "x.yaml"}, &out) == 2);
  CHECK(
      out ==
      "vigil: unknown command 'frobnicate'; the commands are run, check-config, config-reference, simulate, "
      "replay, models, runs, train, evaluate, reset (see vigil --help)\n");
}

TEST_CASE("a missing model registry is named as missing, not as a registry without champion", "[app]") {
  const std::string dir = TempDir("vigil-cli");
  std::string yaml = HandbookYaml({"tx", "labels", "decisions", "dlq"});
  AppendOperators(&yaml, "  - type: score\n    registry: " + dir + "/modelz\n");
  std::ofstream(dir + "/p.yaml") << yaml;
  std::string out;
  CHECK(RunVigil({"check-config", dir + "/p.yaml"}, &out) != 0);
  CHECK(out.find("the model registry '" + dir + "/modelz' does not exist") != std::string::npos);
  std::filesystem::create_directories(dir + "/modelz");
  CHECK(RunVigil({"check-config", dir + "/p.yaml"}, &out) != 0);
  CHECK(out.find("no champion in '" + dir + "/modelz'; promote a version first: vigil models --registry " +
                 dir + "/modelz promote vN") != std::string::npos);
}

TEST_CASE("an unreachable broker fails the run at once with one line and no client log lines", "[app]") {
  const std::string dir = TempDir("vigil-cli");
  std::string yaml = HandbookYaml({"tx", "labels", "decisions", "dlq"});
  ReplaceRuntime(&yaml, "runtime: {state_dir: " + dir + "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/p.yaml") << yaml;
  std::string out;
  // Port 1 on loopback: nothing listens, every connection is refused.
  CHECK(RunVigil({"run", dir + "/p.yaml", "--bootstrap", "127.0.0.1:1"}, &out) == 2);
  CHECK(out == "error: cannot reach Kafka at 127.0.0.1:1 (is it running?)\n");
}

TEST_CASE("the json log format writes one JSON object a line with a timezone in each timestamp", "[app]") {
  const std::string dir = TempDir("vigil-cli");
  std::ofstream(dir + "/events.jsonl") << "{\"ID\":1,\"T\":1000,\"K\":\"a \\\"quoted\\\" key\"}\n";
  std::ofstream(dir + "/p.yaml")
      << "name: logs\nsource: {kind: file, path: events.jsonl}\nschema:\n  event_time: T\n"
         "  fields:\n    - {name: ID, type: int64}\n    - {name: T, type: timestamp}\n"
         "    - {name: K, type: string}\noperators: []\noutput: {kind: file, path: out.jsonl}\n"
         "runtime: {state_dir: state}\nhttp: {enabled: false}\n";
  std::string out;
  REQUIRE(RunVigil({"--log-format", "json", "run", dir + "/p.yaml", "--idle-exit", "1s"}, &out) == 0);
  INFO(out);
  size_t objects = 0;
  simdjson::dom::parser parser;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("vigil: ", 0) == 0) continue;  // the run's summary, on stdout
    simdjson::dom::element doc;
    REQUIRE(parser.parse(line).get(doc) == simdjson::SUCCESS);
    const std::string_view time = doc["time"].get_string().value();
    CHECK(std::regex_match(std::string(time),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)")));
    CHECK(!doc["level"].get_string().value().empty());
    CHECK(!doc["msg"].get_string().value().empty());
    ++objects;
  }
  CHECK(objects > 0);
  CHECK(RunVigil({"--log-format", "xml", "check-config", dir + "/p.yaml"}, &out) == 2);
  CHECK(out == "vigil: --log-format 'xml': expected text or json\n");
}

TEST_CASE("check-config accepts the example and names file:line:col for a broken one", "[app]") {
  std::string out;
  CHECK(RunVigil({"check-config", std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/windows.yaml"}, &out) ==
        0);
  CHECK(out.find("ok") != std::string::npos);
  CHECK(out.find("stages") == std::string::npos);  // every window is keyed by the source's key
  // The Handbook's per-terminal window: the stages `vigil run` makes over several partitions.
  CHECK(RunVigil({"check-config", std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml"}, &out) ==
        0);
  CHECK(out.find(
            "over an input topic of several partitions, 2 stages:\n"
            "  handbook.by_CUSTOMER_ID: transactions by CUSTOMER_ID -> [derive-0, customer] -> "
            "vigil-handbook.transactions.repartition.TERMINAL_ID\n"
            "  handbook: vigil-handbook.transactions.repartition.TERMINAL_ID by TERMINAL_ID -> [terminal] -> "
            "features (reads the labels)\n") != std::string::npos);
  // handbook-plus: the same input, its extra windows in the stages they belong to, a train: section.
  CHECK(RunVigil({"check-config", std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook-plus.yaml"},
                 &out) == 0);
  CHECK(out.find("[derive-0, customer, customer_past, card_fraud_look]") != std::string::npos);
  CHECK(out.find("by TERMINAL_ID -> [terminal] -> features (reads the labels)") != std::string::npos);

  const std::string path = TempDir("vigil-cli") + "/broken.yaml";
  std::ofstream(path) << "name: x\nsource: {kind: kafka, topic: t}\nschema:\n  event_time: TS\n  fields:\n"
                         "    - {name: TS, type: timestamp}\noperators:\n  - type: window\n    key: NOPE\n"
                         "    outputs: [{name: C, agg: count, window: 1d}]\noutput: {kind: none}\n";
  CHECK(RunVigil({"check-config", path}, &out) == 2);
  CHECK(out.find(path + ":8:5: window key 'NOPE' is not a column") != std::string::npos);

  std::ofstream(path) << "name: x\nsource: {kind: kafka, topic: t}\nschema: [\n";
  CHECK(RunVigil({"run", path}, &out) == 2);
  CHECK(out.find(path + ":4:1: YAML syntax error") != std::string::npos);
}

//! Where `a` and `b` part: the first line that differs, or the one only one of them has.
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::istringstream in_a(a), in_b(b);
  std::string line_a, line_b;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(in_a, line_a));
    const bool more_b = static_cast<bool>(std::getline(in_b, line_b));
    if (!more_a && !more_b) return "they differ only in the final newline";
    if (more_a != more_b || line_a != line_b)
      return "line " + std::to_string(line) + "\n  committed: " + (more_a ? line_a : "(end of file)") +
             "\n  printed:   " + (more_b ? line_b : "(end of output)");
  }
}

TEST_CASE("docs/config.md is exactly what vigil config-reference prints", "[app]") {
  std::string printed;
  REQUIRE(RunVigil({"config-reference"}, &printed) == 0);
  const std::string committed = ReadFile(std::string(VIGIL_SOURCE_DIR) + "/docs/config.md");
  if (printed != committed)
    FAIL("docs/config.md is not what `vigil config-reference` prints now; it differs at "
         << FirstDifference(committed, printed)
         << "\nRegenerate it: build/release/app/vigil config-reference > docs/config.md");
  std::string help;
  CHECK(RunVigil({"config-reference", "--help"}, &help) == 0);
  CHECK(help.find("every key, its type, default and meaning") != std::string::npos);
  CHECK(help.find("build/release/app/vigil config-reference > docs/config.md") != std::string::npos);
}

TEST_CASE("vigil runs names the registry and the run it cannot find", "[app]") {
  std::string out;
  const std::string registry = TempDir("vigil-cli");
  CHECK(RunVigil({"runs", "--registry", registry, "list"}, &out) == 0);
  CHECK(out == "no runs in '" + registry + "'\n");
  CHECK(RunVigil({"runs", "--registry", registry, "list", "--json"}, &out) == 0);
  CHECK(out == "{\"runs\": []}\n");
  CHECK(RunVigil({"runs", "--registry", registry, "show", "r1"}, &out) == 2);
  CHECK(out == "error: no run 'r1' in '" + registry + "'\n");
  CHECK(RunVigil({"runs", "--registry", registry + "/none", "list"}, &out) == 2);
  CHECK(out.find("no registry directory '" + registry + "/none'") != std::string::npos);
  std::filesystem::create_directories(registry + "/runs");
  std::ofstream(registry + "/runs/r2.json") << "{\"id\": ";
  CHECK(RunVigil({"runs", "--registry", registry, "list"}, &out) == 1);
  CHECK(out.find("error: " + registry + "/runs/r2.json: not valid JSON") == 0);
  CHECK(RunVigil({"runs", "--registry", registry}, &out) != 0);
}

}  // namespace
}  // namespace vigil::testing
