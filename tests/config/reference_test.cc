// The reference of the pipeline file against the parser: every section's documented keys are exactly
// the keys the parser accepts there, and each of them is read (a value of the wrong shape is a located
// error), so a key can neither be added without documentation nor documented without effect.
#include "config/reference.h"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "config/pipeline_config.h"

namespace vigil::config {
namespace {

// Every section present, every value valid.
const char* kFull = R"(name: t
source: {kind: kafka, topic: tx, key: CARD}
kafka: {bootstrap: "127.0.0.1:9092", properties: {client.id: t}}
schema:
  event_time: TS
  key: CARD
  fields:
    - {name: TS, type: timestamp}
    - {name: ID, type: int64}
    - {name: CARD, type: int64}
    - {name: AMOUNT, type: double, min: 0}
    - {name: CHANNEL, type: string, enum: [web, pos]}
labels:
  source: {kind: kafka, topic: labels}
  id: ID
operators:
  - type: derive
    outputs:
      - {name: HOUR, fn: hour_of_day, args: [TS]}
  - type: window
    key: CARD
    outputs:
      - {name: N, agg: count, window: 1d}
  - type: score
    registry: models
    feature_log: log.csv
    monitor:
      drift: {events: 100}
      performance: {top_k: 10, segments: {columns: [CHANNEL]}}
    retrain: {every: 7d}
    rollout: {mode: shadow}
features: [AMOUNT, N]
output: {kind: kafka, topic: out, fields: [{name: n, from: N}]}
dead_letter: {kind: kafka, topic: dlq}
batch: {max_events: 10}
runtime: {workers: 1}
http: {enabled: false}
train:
  params: {max_depth: "4"}
  search:
    trials: 2
    space:
      max_depth: {int: [2, 6]}
)";

//! The mapping of `root` (kFull) that `section` documents.
YAML::Node At(YAML::Node root, Section section) {
  switch (section) {
    case Section::kPipeline:
      return root;
    case Section::kSource:
      return root["source"];
    case Section::kKafka:
      return root["kafka"];
    case Section::kSchema:
      return root["schema"];
    case Section::kSchemaField:
      return root["schema"]["fields"][0];
    case Section::kLabels:
      return root["labels"];
    case Section::kDeriveOperator:
      return root["operators"][0];
    case Section::kDeriveOutput:
      return root["operators"][0]["outputs"][0];
    case Section::kWindowOperator:
      return root["operators"][1];
    case Section::kWindowOutput:
      return root["operators"][1]["outputs"][0];
    case Section::kScoreOperator:
      return root["operators"][2];
    case Section::kMonitor:
      return root["operators"][2]["monitor"];
    case Section::kMonitorDrift:
      return root["operators"][2]["monitor"]["drift"];
    case Section::kMonitorPerformance:
      return root["operators"][2]["monitor"]["performance"];
    case Section::kMonitorSegments:
      return root["operators"][2]["monitor"]["performance"]["segments"];
    case Section::kRetrain:
      return root["operators"][2]["retrain"];
    case Section::kRollout:
      return root["operators"][2]["rollout"];
    case Section::kTrain:
      return root["train"];
    case Section::kTrainSearch:
      return root["train"]["search"];
    case Section::kSearchDimension:
      return root["train"]["search"]["space"]["max_depth"];
    case Section::kSink:
      return root["output"];
    case Section::kOutputField:
      return root["output"]["fields"][0];
    case Section::kBatch:
      return root["batch"];
    case Section::kRuntime:
      return root["runtime"];
    case Section::kHttp:
      return root["http"];
  }
  FAIL("no mapping of the full pipeline for section " << static_cast<int>(section));
  return root;
}

std::string Located(const YAML::Mark& mark) {
  return "p.yaml:" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

const KeyDoc& Key(Section section, std::string_view key) {
  for (const KeyDoc& k : SectionOf(section).keys)
    if (k.key == key) return k;
  FAIL("no key '" << key << "' in section " << SectionOf(section).title);
  static const KeyDoc kNone;
  return kNone;
}

TEST_CASE("config reference: one section per mapping, unique keys, every column filled", "[config]") {
  std::set<Section> ids;
  for (const SectionDoc& s : Reference()) {
    INFO(s.title);
    CHECK(ids.insert(s.id).second);
    CHECK(!s.intro.empty());
    std::set<std::string> keys;
    for (const KeyDoc& k : s.keys) {
      INFO(k.key);
      CHECK(keys.insert(k.key).second);
      CHECK(!k.type.empty());
      CHECK(!k.default_value.empty());
      CHECK(!k.meaning.empty());
    }
  }
  for (int i = 0; i <= static_cast<int>(Section::kHttp); ++i) CHECK(ids.count(static_cast<Section>(i)) == 1);
  REQUIRE(LoadPipelineText(kFull, "p.yaml").ok());
}

TEST_CASE("config reference defaults are the default-constructed specs' values", "[config]") {
  CHECK(Key(Section::kRuntime, "commit_interval").default_value == "`1s`");
  CHECK(Key(Section::kRuntime, "guarantee").default_value == "`exactly_once`");
  CHECK(Key(Section::kRuntime, "cache_max_keys").default_value == "`200000`");
  CHECK(Key(Section::kLabels, "max_wait").default_value == "`200ms`");
  CHECK(Key(Section::kSchema, "max_future").default_value == "`1d`");
  CHECK(Key(Section::kSchema, "max_event_bytes").default_value == "`1048576`");
  CHECK(Key(Section::kSchema, "key").default_value == "none");
  CHECK(Key(Section::kSchemaField, "type").default_value == "`double`");
  CHECK(Key(Section::kSchemaField, "format").default_value == "`epoch_ms`");
  CHECK(Key(Section::kSource, "partitioner").default_value == "`murmur2_random`");
  CHECK(Key(Section::kSink, "kind").default_value == "`kafka`");
  CHECK(Key(Section::kPipeline, "dead_letter").default_value == "`kind: none`");
  CHECK(Key(Section::kHttp, "port").default_value == "`9464`");
  CHECK(Key(Section::kScoreOperator, "threshold").default_value == "`0.5`");
  CHECK(Key(Section::kMonitorPerformance, "ph_delta").default_value == "`0.01`");
  CHECK(Key(Section::kRollout, "margin").default_value == "`0`");
  CHECK(Key(Section::kRollout, "min_frauds").default_value == "`30`");
  CHECK(Key(Section::kRollout, "confidence").default_value == "`0.95`");
  CHECK(Key(Section::kMonitorSegments, "amount_bands").default_value == "`[20, 100, 500]`");
  CHECK(Key(Section::kMonitorSegments, "underserved_ratio").default_value == "`0.5`");
  CHECK(Key(Section::kRetrain, "every").default_value == "`7d`");
  CHECK(Key(Section::kRetrain, "rounds").default_value == "from `train.rounds`, else `100`");
  CHECK(Key(Section::kRetrain, "search_budget").default_value == "from `train.search.budget`, else `0`");
  CHECK(Key(Section::kTrain, "rounds").default_value == "`100`");
  CHECK(Key(Section::kTrain, "early_stopping_metric").default_value == "`aucpr`");
  CHECK(Key(Section::kTrainSearch, "metric").default_value == "`average_precision`");
  // The default space is the one the search uses: DefaultSearchSpace(), as a file would write it.
  CHECK(Key(Section::kTrainSearch, "space").default_value.find("`max_depth: {int: [2, 8]}`") !=
        std::string::npos);
  CHECK(Key(Section::kTrainSearch, "space").default_value.find("`eta: {log_uniform: [0.03, 0.3]}`") !=
        std::string::npos);
  CHECK(Key(Section::kWindowOperator, "lateness").default_value == "`0`");
  // A duration default reads back as the value it was written from.
  for (const SectionDoc& s : Reference()) {
    for (const KeyDoc& k : s.keys) {
      if (k.type != "duration" || k.default_value.front() != '`') continue;
      INFO(s.title << " " << k.key);
      CHECK(ParseDurationMs(k.default_value.substr(1, k.default_value.size() - 2)).ok());
    }
  }
}

TEST_CASE("the config parser accepts exactly the documented keys in every section", "[config]") {
  for (const SectionDoc& s : Reference()) {
    YAML::Node root = YAML::Load(kFull);
    At(root, s.id)["zzz_unknown"] = 7;
    const std::string text = YAML::Dump(root);
    auto spec = LoadPipelineText(text, "p.yaml");
    INFO(s.title << "\n" << text);
    REQUIRE_FALSE(spec.ok());
    std::string keys;
    for (const KeyDoc& k : s.keys) keys += (keys.empty() ? "" : ", ") + k.key;
    const std::string& message = spec.status().message();
    YAML::Mark mark;
    for (const auto& kv : At(YAML::Load(text), s.id))
      if (kv.first.Scalar() == "zzz_unknown") mark = kv.first.Mark();
    CHECK(message.rfind(Located(mark) + "unknown key 'zzz_unknown' in ", 0) == 0);
    CHECK_THAT(message, Catch::EndsWith("; expected one of: " + keys));
  }
}

TEST_CASE("every documented config key is read: a value of the wrong shape there is a located error",
          "[config]") {
  for (const SectionDoc& s : Reference()) {
    for (const KeyDoc& k : s.keys) {
      // A list or a mapping where the reference says so is refused as a scalar, any other as a list.
      const bool nested = k.type.rfind("list", 0) == 0 || k.type.rfind("map", 0) == 0;
      YAML::Node root = YAML::Load(kFull);
      At(root, s.id)[k.key] = nested ? YAML::Node(7) : YAML::Load("[7]");
      const std::string text = YAML::Dump(root);
      auto spec = LoadPipelineText(text, "p.yaml");
      INFO(s.title << " " << k.key << "\n" << text);
      REQUIRE_FALSE(spec.ok());
      const YAML::Mark mark = At(YAML::Load(text), s.id)[k.key].Mark();
      INFO(spec.status().message());
      CHECK(spec.status().message().rfind(Located(mark), 0) == 0);
    }
  }
}

TEST_CASE("a mistyped config key is answered with the documented key it most likely meant", "[config]") {
  for (const SectionDoc& s : Reference()) {
    for (const KeyDoc& k : s.keys) {
      if (k.key.size() < 4) continue;  // one letter off a short key is as close to others
      YAML::Node root = YAML::Load(kFull);
      At(root, s.id)[k.key.substr(0, k.key.size() - 1)] = YAML::Load("x");
      auto spec = LoadPipelineText(YAML::Dump(root), "p.yaml");
      INFO(s.title << " " << k.key);
      REQUIRE_FALSE(spec.ok());
      CHECK_THAT(spec.status().message(), Catch::Contains("did you mean '" + k.key + "'?"));
    }
  }
}

TEST_CASE("the config reference renders as Markdown tables, one per section", "[config]") {
  const std::string md = ReferenceMarkdown();
  CHECK(md.rfind("<!-- Generated by `vigil config-reference`: do not edit by hand. -->\n", 0) == 0);
  size_t headings = 0, rows = 0, keys = 0;
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("## ", 0) == 0) ++headings;
    if (line.rfind("| `", 0) != 0) continue;
    ++rows;
    size_t cells = 0;
    for (size_t i = 0; i < line.size(); ++i) cells += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    INFO(line);
    CHECK(cells == 5);
  }
  for (const SectionDoc& s : Reference()) keys += s.keys.size();
  CHECK(headings == Reference().size());
  CHECK(rows == keys);
  CHECK(md.find("| `runtime.commit_interval` | duration | `1s` |") != std::string::npos);
  CHECK(md.find("| `operators[].monitor.drift.span` | duration | `0` |") != std::string::npos);
}

}  // namespace
}  // namespace vigil::config
