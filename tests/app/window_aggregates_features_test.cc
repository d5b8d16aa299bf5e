// The window aggregates beyond the Handbook's (stddev, zscore, distinct, ratio_to_*, time_since_last, last,
// `where`, delayed ones, a card × terminal key: tests/support/handbook.cc AggregateWindows), computed by
// `vigil replay` over the Handbook pipeline with those windows added, against an independent pandas
// implementation (tests/app/window_aggregates_reference.py) on simulated transactions.
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/handbook.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("the window aggregates beyond the Handbook's equal an independent pandas reference",
          "[app][handbook]") {
  const std::string dir = TempDir("vigil-aggregates");
  const std::string vigil = VigilBinary();
  const std::string src = VIGIL_SOURCE_DIR;
  REQUIRE(Shell(vigil + " simulate --customers 500 --terminals 1000 --days 45 --seed 11 --quiet --out " +
                dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  std::string yaml = ReadFile(src + "/deploy/examples/handbook.yaml");
  AppendOperators(&yaml, AggregateWindows());
  AppendOutputFields(&yaml, AggregateColumns());
  std::ofstream(dir + "/pipeline.yaml") << yaml;
  REQUIRE(Shell(vigil + " --log-level warn replay " + dir + "/pipeline.yaml --events " + dir +
                "/tx.jsonl --labels " + dir + "/labels.jsonl --out " + dir + "/table.csv > " + dir +
                "/replay.log 2>&1") == 0);
  const int rc = Shell("/usr/bin/python3 " + src + "/tests/app/window_aggregates_reference.py " + dir +
                       "/tx.jsonl " + dir + "/table.csv > " + dir + "/check.log 2>&1");
  const std::string check = ReadFile(dir + "/check.log");
  INFO(ReadFile(dir + "/replay.log") << check);
  CHECK(rc == 0);
  CHECK(check.find("x 22 features: 0 differences") != std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
