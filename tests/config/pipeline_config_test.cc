#include "config/pipeline_config.h"

#include <catch2/catch.hpp>

namespace vigil::config {
namespace {

const char* kValid = R"(name: t
source: {kind: kafka, topic: tx}
schema:
  event_time: TS
  key: CARD
  fields:
    - {name: TS, type: timestamp, format: iso8601}
    - {name: CARD, type: string}
    - {name: AMOUNT, type: double, min: 0, max: 10000}
    - {name: CHANNEL, type: string, required: false, enum: [web, pos]}
operators:
  - type: window
    key: CARD
    lateness: 2h
    outputs:
      - {name: N1, agg: count, window: 1d}
      - {name: RISK, agg: ratio, field: AMOUNT, window: 7d, delay: 7d}
output: {kind: kafka, topic: out, fields: [CARD, {name: n, from: N1}]}
runtime: {commit_interval: 250ms, guarantee: exactly_once}
)";

TEST_CASE("a valid pipeline file becomes typed structs", "[config]") {
  auto spec = LoadPipelineText(kValid, "p.yaml");
  REQUIRE(spec.ok());
  CHECK(spec->source.group == "vigil-t");
  CHECK(spec->schema.fields.size() == 4);
  CHECK(spec->schema.fields[0].time_format == TimeFormat::kIso8601);
  CHECK(*spec->schema.fields[2].max == 10000);
  CHECK(spec->schema.fields[3].allowed == std::vector<std::string>{"web", "pos"});
  const auto& w = std::get<WindowSpec>(spec->operators[0].params);
  CHECK(w.lateness_ms == 2 * 3'600'000);
  CHECK(w.outputs[1].agg == Aggregate::kRatio);
  CHECK(w.outputs[1].delay_ms == 7 * 86'400'000LL);
  CHECK(spec->output.fields[1].name == "n");
  CHECK(spec->output.fields[1].from == "N1");
  CHECK(spec->runtime.commit_interval_ms == 250);
  CHECK(spec->runtime.guarantee == Guarantee::kExactlyOnce);
  CHECK(spec->http.bind == "127.0.0.1");
}

void ExpectError(const std::string& text, const std::string& where, const std::string& what) {
  auto spec = LoadPipelineText(text, "p.yaml");
  REQUIRE_FALSE(spec.ok());
  INFO(spec.status().message());
  CHECK(spec.status().message().rfind("p.yaml:" + where + ": ", 0) == 0);
  CHECK(spec.status().message().find(what) != std::string::npos);
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

TEST_CASE("config errors name file, line and column and what was expected", "[config]") {
  ExpectError(Replace(kValid, "agg: count", "agg: median"), "16:25", "unknown aggregate 'median'; expected count");
  ExpectError(Replace(kValid, "lateness: 2h", "lateness: 2 weeks"), "14:15", "unknown duration unit");
  ExpectError(Replace(kValid, "type: double", "type: float"), "9:28", "unknown field type 'float'");
  ExpectError(Replace(kValid, "    lateness", "    latenes"), "14:5", "unknown key 'latenes'");
  ExpectError(Replace(kValid, "event_time: TS", "event_time: CARD"), "4:15", "must be a required timestamp field");
  ExpectError(Replace(kValid, "{kind: kafka, topic: tx}", "{kind: kafka, topic: tx"), "3:7", "YAML syntax error");
  ExpectError(Replace(kValid, "{kind: kafka, topic: tx}", "{kind: pulsar, topic: tx}"), "2:16", "unknown source kind 'pulsar'");
  ExpectError(Replace(kValid, "commit_interval: 250ms", "commit_interval: [1]"), "19:28", "expected a duration");
}

TEST_CASE("durations", "[config]") {
  CHECK(*ParseDurationMs("250ms") == 250);
  CHECK(*ParseDurationMs("7d") == 7 * 86'400'000LL);
  CHECK(*ParseDurationMs("90") == 90);
  CHECK_FALSE(ParseDurationMs("7 days").ok());
  CHECK_FALSE(ParseDurationMs("-1s").ok());
}

}  // namespace
}  // namespace vigil::config
