// `vigil replay` of a pipeline with a score operator before its registry has a champion: the first
// training table of a new registry. Without --no-score the error says what to do; with it, the table
// holds every column, the features among them.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("replay of a scoring pipeline with no champion yet: --no-score writes the features", "[app]") {
  const std::string dir = TempDir("vigil-replay-first");
  std::string yaml = ReadFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/fraud.yaml");
  ReplaceAll(&yaml, "/tmp/vigil/models", dir + "/models");
  std::ofstream(dir + "/fraud.yaml") << yaml;
  REQUIRE(Shell(VigilBinary() + " simulate --quiet --customers 50 --terminals 100 --days 3 --out " + dir +
                "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  const std::string replay = VigilBinary() + " replay " + dir + "/fraud.yaml --events " + dir +
                             "/tx.jsonl --labels " + dir + "/labels.jsonl --out " + dir + "/table.csv";

  CHECK(Shell(replay + " > " + dir + "/missing.log 2>&1") == 2);
  const std::string missing = ReadFile(dir + "/missing.log");
  CHECK_THAT(missing, Catch::Contains(dir + "/fraud.yaml:") &&
                          Catch::Contains("the model registry '" + dir + "/models' does not exist") &&
                          Catch::Contains("--no-score"));
  std::filesystem::create_directories(dir + "/models");
  CHECK(Shell(replay + " > " + dir + "/empty.log 2>&1") == 2);
  CHECK_THAT(ReadFile(dir + "/empty.log"),
             Catch::Contains("has no champion yet") && Catch::Contains("--no-score"));

  REQUIRE(Shell(replay + " --no-score > " + dir + "/ok.log 2>&1") == 0);
  std::ifstream table(dir + "/table.csv");
  std::string header;
  std::getline(table, header);
  for (const char* column : {"TRANSACTION_ID", "TX_TIME_MS", "CUSTOMER_ID", "TX_AMOUNT",
                             "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW", "LABEL"})
    CHECK_THAT(header, Catch::Contains(column));
  CHECK_THAT(header, !Catch::Contains("SCORE"));
  size_t rows = 0;
  for (std::string line; std::getline(table, line);) ++rows;
  std::ifstream events(dir + "/tx.jsonl");
  size_t transactions = 0;
  for (std::string line; std::getline(events, line);) ++transactions;
  CHECK(rows == transactions);
}

}  // namespace
}  // namespace vigil::testing
