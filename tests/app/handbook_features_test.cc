// vigil's 15 Handbook features, computed by `vigil replay` over the example pipeline, against an
// independent pandas implementation (tests/app/handbook_reference.py) on ~117k simulated transactions.
#include <catch2/catch.hpp>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("the 15 Handbook features equal an independent pandas reference", "[app][handbook]") {
  const std::string dir = TempDir("vigil-handbook");
  const std::string vigil = VigilBinary();
  const std::string src = VIGIL_SOURCE_DIR;
  REQUIRE(Shell(vigil + " simulate --customers 1000 --terminals 2000 --days 60 --seed 3 --quiet --out " + dir +
                "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " --log-level warn replay " + src + "/deploy/examples/handbook.yaml --events " + dir +
                "/tx.jsonl --labels " + dir + "/labels.jsonl --out " + dir + "/table.csv > " + dir + "/replay.log") == 0);
  const std::string log = ReadFile(dir + "/replay.log");
  INFO(log);
  CHECK(log.find("replay: 117307 events, 117307 rows") != std::string::npos);
  const int rc = Shell("/usr/bin/python3 " + src + "/tests/app/handbook_reference.py " + dir + "/tx.jsonl " + dir +
                       "/table.csv > " + dir + "/check.log 2>&1");
  INFO(ReadFile(dir + "/check.log"));
  CHECK(rc == 0);
  CHECK(ReadFile(dir + "/check.log").find("compared 117307 transactions x 15 features: 0 differences") != std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
