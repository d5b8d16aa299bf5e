// `vigil replay` over a Kafka offset range: the same training table as a replay of the file the
// events came from, byte for byte; offset and time bounds select exactly the records they name.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! The CSV's data lines (header dropped).
std::vector<std::string> DataLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

//! The first `n` comma-separated cells of a line, as integers.
std::vector<int64_t> Cells(const std::string& line, size_t n) {
  std::vector<int64_t> out;
  std::stringstream cells(line);
  for (std::string cell; out.size() < n && std::getline(cells, cell, ',');) out.push_back(std::stoll(cell));
  return out;
}

TEST_CASE("vigil replay reads a Kafka offset range", "[integration]") {
  const std::string dir = TempDir("vigil-replay");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels");
  CreateTopic(tx, 1);
  CreateTopic(labels, 1);
  const std::string sim =
      VigilBinary() + " simulate --customers 300 --terminals 600 --days 30 --seed 3 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + tx + " --labels-topic " + labels +
                " 2>/dev/null") == 0);

  std::string yaml = HandbookYaml({tx, labels, "", ""});
  const std::string pipeline = dir + "/pipeline.yaml";
  std::ofstream(pipeline) << yaml;
  const std::string replay = vigil + " replay " + pipeline;

  REQUIRE(Shell(replay + " --events " + dir + "/tx.jsonl --labels " + dir + "/labels.jsonl --out " + dir +
                "/file.csv > /dev/null") == 0);
  const std::vector<std::string> file_rows = DataLines(dir + "/file.csv");
  REQUIRE(file_rows.size() > 15'000);

  {  // the whole topic gives the file's table, byte for byte
    REQUIRE(Shell(replay + " --out " + dir + "/kafka.csv > /dev/null") == 0);
    CHECK(ReadFile(dir + "/kafka.csv") == ReadFile(dir + "/file.csv"));
  }

  {  // offset bounds select exactly those records
    REQUIRE(Shell(replay + " --start 0:1000 --end 0:3000 --out " + dir + "/range.csv > /dev/null") == 0);
    const auto rows = DataLines(dir + "/range.csv");
    REQUIRE(rows.size() == 2000);
    for (size_t i = 0; i < rows.size(); ++i) {
      // Offsets are line numbers of the file; the simulator numbers transactions from 0 in the same order.
      REQUIRE(Cells(rows[i], 1)[0] == static_cast<int64_t>(1000 + i));
      // The label column is the final label, whatever the range.
      CHECK(rows[i].substr(rows[i].rfind(',')) == file_rows[1000 + i].substr(file_rows[1000 + i].rfind(',')));
    }
  }

  {  // time bounds select the records whose timestamp (event time) falls in the range
    REQUIRE(Shell(replay + " --start 2018-04-10 --end 2018-04-12T00:00:00Z --out " + dir +
                  "/days.csv > /dev/null") == 0);
    const int64_t from = 1523318400000, to = 1523491200000;  // 2018-04-10 and 2018-04-12, UTC
    std::vector<int64_t> expected;
    for (const auto& row : file_rows)
      if (auto c = Cells(row, 2); c[1] >= from && c[1] < to) expected.push_back(c[0]);
    std::vector<int64_t> got;
    for (const auto& row : DataLines(dir + "/days.csv")) got.push_back(Cells(row, 1)[0]);
    REQUIRE(expected.size() > 500);
    CHECK(got == expected);
  }

  {  // bad bounds and bad combinations are refused with a reason
    CHECK(Shell(replay + " --start yesterday --out " + dir + "/x.csv 2> " + dir + "/err1") == 2);
    CHECK_THAT(ReadFile(dir + "/err1"), Catch::Contains("bad offset bound 'yesterday'"));
    CHECK(Shell(replay + " --events " + dir + "/tx.jsonl --labels " + dir + "/labels.jsonl --start 5 --out " +
                dir + "/x.csv 2> " + dir + "/err2") == 2);
    CHECK_THAT(ReadFile(dir + "/err2"), Catch::Contains("--start and --end bound a Kafka replay"));
    std::string missing = yaml;
    ReplaceAll(&missing, "topic: " + tx + "}", "topic: " + UniqueTopic("absent") + "}");
    std::ofstream(dir + "/missing.yaml") << missing;
    CHECK(Shell(vigil + " replay " + dir + "/missing.yaml --out " + dir + "/x.csv 2> " + dir + "/err3") == 2);
    CHECK_THAT(ReadFile(dir + "/err3"), Catch::Contains("does not exist"));
  }
}

// Over several partitions, the terminal windows read every partition's events of a terminal: `vigil
// run` repartitions them by terminal (engine/stages.h), and so does the replay, stage after stage.
TEST_CASE("vigil replay of a partitioned topic computes re-keyed windows over every partition",
          "[integration]") {
  const std::string dir = TempDir("vigil-replay-stages");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels");
  CreateTopic(tx, 4);
  CreateTopic(labels, 4);
  const std::string sim =
      VigilBinary() + " simulate --customers 300 --terminals 600 --days 30 --seed 5 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + tx + " --labels-topic " + labels +
                " --labels-key TERMINAL_ID 2>/dev/null") == 0);
  std::ofstream(dir + "/pipeline.yaml") << HandbookYaml({tx, labels, "", ""});
  const std::string replay = vigil + " replay " + dir + "/pipeline.yaml";
  REQUIRE(Shell(replay + " --events " + dir + "/tx.jsonl --labels " + dir + "/labels.jsonl --out " + dir +
                "/file.csv > /dev/null") == 0);
  REQUIRE(Shell(replay + " --out " + dir + "/kafka.csv > /dev/null") == 0);
  // The rows come in another order (the last stage reads the first's output): compare them as sets.
  std::vector<std::string> file_rows = DataLines(dir + "/file.csv"),
                           kafka_rows = DataLines(dir + "/kafka.csv");
  REQUIRE(file_rows.size() > 15'000);
  std::sort(file_rows.begin(), file_rows.end());
  std::sort(kafka_rows.begin(), kafka_rows.end());
  CHECK(kafka_rows.size() == file_rows.size());
  size_t differ = 0;
  for (size_t i = 0; i < std::min(file_rows.size(), kafka_rows.size()); ++i)
    differ += file_rows[i] != kafka_rows[i];
  CHECK(differ == 0);
  std::ifstream file(dir + "/file.csv"), kafka(dir + "/kafka.csv");
  std::string file_header, kafka_header;
  std::getline(file, file_header);
  std::getline(kafka, kafka_header);
  CHECK(kafka_header == file_header);
}

}  // namespace
}  // namespace vigil::testing
