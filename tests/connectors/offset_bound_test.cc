#include <catch2/catch.hpp>

#include "connectors/kafka_source.h"

namespace vigil::connectors {
namespace {

using Kind = OffsetBound::Kind;

TEST_CASE("offset bounds parse every documented form", "[connectors]") {
  CHECK(ParseOffsetBound("earliest")->kind == Kind::kEarliest);
  CHECK(ParseOffsetBound("latest")->kind == Kind::kLatest);

  auto all = ParseOffsetBound("1200");
  REQUIRE(all.ok());
  CHECK(all->kind == Kind::kOffset);
  CHECK(all->offsets == std::map<int32_t, int64_t>{{-1, 1200}});

  auto listed = ParseOffsetBound("0:100,3:250");
  REQUIRE(listed.ok());
  CHECK(listed->kind == Kind::kOffset);
  CHECK(listed->offsets == std::map<int32_t, int64_t>{{0, 100}, {3, 250}});

  auto day = ParseOffsetBound("2018-05-01");
  REQUIRE(day.ok());
  CHECK(day->kind == Kind::kTime);
  CHECK(day->time_ms == 1525132800000);
  CHECK(ParseOffsetBound("2018-05-01T00:00:10Z")->time_ms == 1525132810000);
}

TEST_CASE("bad offset bounds name the text", "[connectors]") {
  for (const char* bad : {"", "soon", "-5", "0:", "0:x", "1:2,", "a:1"}) {
    auto r = ParseOffsetBound(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("offset"));
  }
  CHECK_THAT(ParseOffsetBound("0:x").status().message(), Catch::Contains("expected PARTITION:OFFSET"));
}

}  // namespace
}  // namespace vigil::connectors
