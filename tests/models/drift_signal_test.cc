// Drift signals: the registry's DRIFT keeps every signal, and readers see the newest complete one.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/registry.h"
#include "tests/support/process.h"

namespace vigil::models {
namespace {

TEST_CASE("drift signals are appended and the newest complete one is read", "[models]") {
  const std::string dir = testing::TempDir("vigil-drift-signal");
  const Registry registry(dir);
  auto none = registry.ReadDriftSignal();
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == base::StatusCode::kNotFound);

  REQUIRE(registry.WriteDriftSignal({1000, "v1", "card precision dropped (change detector)"}).ok());
  REQUIRE(registry.WriteDriftSignal({2000, "v1", "TX_AMOUNT PSI 0.412 >=\n0.25", 1527000000000}).ok());
  auto newest = registry.ReadDriftSignal();
  REQUIRE(newest.ok());
  CHECK(newest->time_ms == 2000);
  CHECK(newest->version == "v1");
  CHECK(newest->reason == "TX_AMOUNT PSI 0.412 >= 0.25");  // a newline in a reason cannot split the line
  CHECK(newest->event_time_ms == 1527000000000);

  // Both signals stay in the file, oldest first.
  std::ifstream in(std::filesystem::path(dir) / "DRIFT");
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(all ==
        "1000\tv1\tcard precision dropped (change detector)\t0\n"
        "2000\tv1\tTX_AMOUNT PSI 0.412 >= 0.25\t1527000000000\n");

  // A line of an older registry, without the event time, reads as an unknown event time.
  std::ofstream(std::filesystem::path(dir) / "DRIFT", std::ios::app) << "2500\tv1\tscore PSI 0.3 >= 0.25\n";
  newest = registry.ReadDriftSignal();
  REQUIRE(newest.ok());
  CHECK(newest->time_ms == 2500);
  CHECK(newest->reason == "score PSI 0.3 >= 0.25");
  CHECK(newest->event_time_ms == 0);

  // A line still being appended (no newline yet) is not read.
  std::ofstream(std::filesystem::path(dir) / "DRIFT", std::ios::app) << "3000\tv2\tscore P";
  newest = registry.ReadDriftSignal();
  REQUIRE(newest.ok());
  CHECK(newest->time_ms == 2500);

  // A malformed newest line is refused with the registry named.
  std::ofstream(std::filesystem::path(dir) / "DRIFT", std::ios::app) << "SI 0.3\nnot a signal\n";
  auto bad = registry.ReadDriftSignal();
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == base::StatusCode::kCorruption);
  CHECK_THAT(bad.status().message(), Catch::Contains(dir));
}

}  // namespace
}  // namespace vigil::models
