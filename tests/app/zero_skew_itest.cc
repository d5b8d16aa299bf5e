// Training/serving skew: the features `vigil run` computes live from Kafka equal, bit for bit, the
// ones `vigil replay` writes for the same transactions and labels: the Handbook's features and a window
// of every other aggregate (tests/support/handbook.cc AggregateWindows: stddev, zscore, distinct,
// ratio_to_*, time_since_last, delayed ones, a card × terminal key).
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"
#include "tests/support/replay_table.h"

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
  AppendOperators(&yaml, AggregateWindows());
  AppendOutputFields(&yaml, AggregateColumns());
  ReplaceRuntime(&yaml, "runtime: {workers: 2, commit_interval: 1s, state_dir: " + dir +
                            "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;

  Child live({vigil, "run", dir + "/pipeline.yaml", "--idle-exit", "5s"}, dir + "/run.log");
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(live.Wait(std::chrono::seconds(240)) == 0);
  const ReplayTable table =
      ReplayFiles(dir, dir + "/pipeline.yaml", dir + "/tx.jsonl", dir + "/labels.jsonl");
  REQUIRE(table.rows.size() > 30'000);
  const auto records = ConsumeAll(out, table.rows.size(), std::chrono::seconds(60));
  REQUIRE(records.size() == table.rows.size());
  const ReplayComparison c = CompareWithReplay(records, table);
  INFO("compared " << c.compared << " values");
  CHECK(table.columns.size() == 19 + 22 + 1);  // the Handbook's output fields, the aggregates, LABEL
  CHECK(c.compared == table.rows.size() * (table.columns.size() - 1));
  CHECK(c.missing == 0);
  CHECK(c.mismatches == 0);
}

}  // namespace
}  // namespace vigil::testing
