// Training/serving skew: the features `vigil run` computes live from Kafka equal, bit for bit, the
// ones `vigil replay` writes for the same transactions and labels.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("live features from Kafka equal vigil replay bit for bit", "[integration]") {
  const std::string dir = TempDir("vigil-skew");
  const std::string vigil = VigilBinary();
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"), out = UniqueTopic("features"),
                    dlq = UniqueTopic("dlq");
  for (const auto& t : {tx, labels, out, dlq}) CreateTopic(t, 1);
  const std::string sim = vigil + " simulate --customers 500 --terminals 1000 --days 40 --seed 5 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + tx + " --labels-topic " + labels) == 0);

  std::string yaml = HandbookYaml({tx, labels, out, dlq});
  ReplaceRuntime(&yaml,
             "runtime: {workers: 2, commit_interval: 1s, state_dir: " + dir + "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;

  Child live({vigil, "run", dir + "/pipeline.yaml", "--idle-exit", "5s"}, dir + "/run.log");
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(live.Wait(std::chrono::seconds(240)) == 0);
  REQUIRE(Shell(vigil + " --log-level warn replay " + dir + "/pipeline.yaml --events " + dir + "/tx.jsonl --labels " +
                dir + "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);

  // Replay table: id -> the output fields as written.
  std::ifstream table(dir + "/table.csv");
  std::string line;
  std::getline(table, line);
  std::vector<std::string> columns;
  for (std::stringstream header(line); std::getline(header, line, ',');) columns.push_back(line);
  std::map<int64_t, std::vector<double>> replayed;
  while (std::getline(table, line)) {
    std::vector<double> row;
    for (std::stringstream cells(line); std::getline(cells, line, ',');) row.push_back(line.empty() ? NAN : std::strtod(line.c_str(), nullptr));
    replayed[static_cast<int64_t>(row[0])] = row;
  }
  const auto records = ConsumeAll(out, replayed.size(), std::chrono::seconds(60));
  REQUIRE(records.size() == replayed.size());
  REQUIRE(replayed.size() > 30'000);
  simdjson::dom::parser parser;
  size_t compared = 0, differences = 0;
  for (const Message& m : records) {
    simdjson::dom::element doc = parser.parse(m.value);
    const auto& row = replayed.at(doc["TRANSACTION_ID"].get_int64());
    for (size_t c = 0; c + 1 < columns.size(); ++c) {  // the last column is the replay's LABEL
      const double live_value = doc[columns[c]].get_double();
      ++compared;
      if (std::memcmp(&live_value, &row[c], sizeof live_value) != 0 && ++differences <= 5)
        UNSCOPED_INFO(columns[c] << " of " << row[0] << ": live " << live_value << " replay " << row[c]);
    }
  }
  INFO("compared " << compared << " values");
  CHECK(differences == 0);
}

}  // namespace
}  // namespace vigil::testing
