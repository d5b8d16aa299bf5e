#include "monitor/reference.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tests/support/process.h"

namespace vigil::monitor {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

ReferenceHistogram Histogram(const std::vector<float>& values, int bins = kDefaultBins) {
  auto h = ReferenceHistogram::FromValues(values, bins);
  REQUIRE(h.ok());
  return *h;
}

std::vector<float> OneToHundred() {
  std::vector<float> v;
  for (int i = 1; i <= 100; ++i) v.push_back(static_cast<float>(i));
  return v;
}

TEST_CASE("Decile edges of 1..100 are 10, 20, .., 90 with a tenth in each bin", "[monitor][reference]") {
  const ReferenceHistogram h = Histogram(OneToHundred());
  CHECK(std::vector<float>(h.edges().begin(), h.edges().end()) ==
        std::vector<float>{10, 20, 30, 40, 50, 60, 70, 80, 90});
  REQUIRE(h.num_bins() == 11);
  for (size_t b = 0; b < 10; ++b) CHECK(h.fractions()[b] == Approx(0.1));
  CHECK(h.missing_fraction() == 0);
  CHECK(h.count() == 100);
  // Bins are closed on the right; NaN has the last bin.
  CHECK(h.BinOf(10) == 0);
  CHECK(h.BinOf(10.5f) == 1);
  CHECK(h.BinOf(-1e30f) == 0);
  CHECK(h.BinOf(-std::numeric_limits<float>::infinity()) == 0);
  CHECK(h.BinOf(1000) == 9);
  CHECK(h.BinOf(kNaN) == 10);
  CHECK(h.missing_bin() == 10);
}

TEST_CASE("Ties merge bins and missing values get their own bin", "[monitor][reference]") {
  // 7 zeros, 3 ones: one edge (0), no empty bin above the maximum.
  const ReferenceHistogram binary = Histogram({0, 0, 0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(std::vector<float>(binary.edges().begin(), binary.edges().end()) == std::vector<float>{0});
  CHECK(std::vector<double>(binary.fractions().begin(), binary.fractions().end()) ==
        std::vector<double>{0.7, 0.3, 0});

  const ReferenceHistogram with_missing = Histogram({1, 2, kNaN, 3, kNaN}, 4);
  CHECK(with_missing.missing_fraction() == Approx(0.4));
  CHECK(with_missing.count() == 5);
  double sum = 0;
  for (const double f : with_missing.fractions()) sum += f;
  CHECK(sum == Approx(1));
}

TEST_CASE("A constant column gets below, equal and above bins", "[monitor][reference]") {
  const ReferenceHistogram h = Histogram({5, 5, 5, kNaN});
  REQUIRE(h.edges().size() == 2);
  CHECK(h.edges()[1] == 5);
  CHECK(h.edges()[0] < 5);
  CHECK(std::vector<double>(h.fractions().begin(), h.fractions().end()) ==
        std::vector<double>{0, 0.75, 0, 0.25});
  CHECK(h.BinOf(4.999f) == 0);
  CHECK(h.BinOf(5) == 1);
  CHECK(h.BinOf(5.001f) == 2);

  const ReferenceHistogram all_missing = Histogram({kNaN, kNaN});
  CHECK(all_missing.edges().empty());
  CHECK(std::vector<double>(all_missing.fractions().begin(), all_missing.fractions().end()) ==
        std::vector<double>{0, 1});
}

TEST_CASE("Histogram factories refuse bad input", "[monitor][reference]") {
  CHECK(ReferenceHistogram::FromValues({}, 10).status().code() == base::StatusCode::kInvalidArgument);
  const std::vector<float> values = {1, 2, 3};
  CHECK(ReferenceHistogram::FromValues(values, 1).status().message().find("bins must be in [2, 17]") !=
        std::string::npos);
  CHECK(!ReferenceHistogram::FromValues(values, 18).ok());
  CHECK(ReferenceHistogram::FromValues(values, 17).ok());

  CHECK(ReferenceHistogram::Make({2, 1}, {0.5, 0, 0.5, 0}, 4).status().message() ==
        "edges[1] = 1 is not greater than edges[0] = 2");
  CHECK(ReferenceHistogram::Make({1}, {0.5, 0.5}, 4).status().message() ==
        "2 fractions for 1 edges, expected 3 (value bins and missing)");
  CHECK(ReferenceHistogram::Make({1}, {0.5, 0.4, 0}, 4).status().message() ==
        "fractions sum to 0.9, expected 1");
  CHECK(ReferenceHistogram::Make({1}, {1.5, -0.5, 0}, 4).status().message().find("outside [0, 1]") !=
        std::string::npos);
  CHECK(ReferenceHistogram::Make({1}, {0.5, 0.5, 0}, 0).status().message() ==
        "count is 0, expected at least 1");
  CHECK(!ReferenceHistogram::Make(std::vector<float>(17, 0), std::vector<double>(19, 0), 1).ok());
  CHECK(ReferenceHistogram::Make({1}, {0.5, 0.5, 0}, 4).ok());
}

//! Two features and a score over 6 rows, column-major.
ReferenceSet SmallSet() {
  const std::vector<std::string> names = {"TX_AMOUNT", "odd \"name\"\\"};
  const std::vector<float> features = {0.1f, 0.2f, 0.3f, 0.7f, 12.25f, kNaN,  // TX_AMOUNT
                                       1,    0,    1,    0,    1,      1};    // the other
  const std::vector<float> scores = {0.01f, 0.02f, 0.5f, 0.9f, 0.33f, 0.04f};
  auto set = ReferenceSet::Build(names, features, 6, scores, 4);
  REQUIRE(set.ok());
  return *set;
}

TEST_CASE("ReferenceSet builds one histogram per column-major feature plus the score",
          "[monitor][reference]") {
  const ReferenceSet set = SmallSet();
  REQUIRE(set.num_features() == 2);
  CHECK(set.feature_names()[0] == "TX_AMOUNT");
  CHECK(set.feature(0).missing_fraction() == Approx(1.0 / 6));
  CHECK(set.feature(0).count() == 6);
  CHECK(std::vector<float>(set.feature(1).edges().begin(), set.feature(1).edges().end()) ==
        std::vector<float>{0});
  CHECK(set.feature(1).fractions()[1] == Approx(4.0 / 6));
  CHECK(set.Find("odd \"name\"\\") == &set.feature(1));
  CHECK(set.Find("nope") == nullptr);
  CHECK(set.score().count() == 6);

  const std::vector<std::string> names = {"A", "A"};
  const std::vector<float> two = {1, 2, 3, 4};
  const std::vector<float> scores = {0.1f, 0.2f};
  CHECK(ReferenceSet::Build(names, two, 2, scores).status().message() == "feature 'A' appears twice");
  CHECK(ReferenceSet::Build(names, two, 3, scores).status().message() ==
        "4 feature values for 2 features of 3 rows");
  const std::vector<std::string> one = {"A"};
  CHECK(ReferenceSet::Build(one, std::span<const float>(two).first(2), 2,
                            std::span<const float>(scores).first(1))
            .status()
            .message() == "1 scores for 2 rows");
  CHECK(ReferenceSet::Build(one, {}, 0, {}).status().message() == "a reference set needs at least one row");
}

TEST_CASE("ReferenceSet JSON round-trips exactly", "[monitor][reference]") {
  const ReferenceSet set = SmallSet();
  const std::string json = set.ToJson();
  INFO(json);
  CHECK(json.find("\"format\": \"vigil-reference/1\"") != std::string::npos);
  CHECK(json.find("\"name\": \"odd \\\"name\\\"\\\\\"") != std::string::npos);
  auto parsed = ReferenceSet::FromJson(json);
  REQUIRE(parsed.ok());
  CHECK(*parsed == set);
  // Nested with an indent, the text is still the same object.
  auto nested = ReferenceSet::FromJson(set.ToJson("    "));
  REQUIRE(nested.ok());
  CHECK(*nested == set);

  auto empty = ReferenceSet::Make({}, {}, set.score());
  REQUIRE(empty.ok());
  auto parsed_empty = ReferenceSet::FromJson(empty->ToJson());
  REQUIRE(parsed_empty.ok());
  CHECK(*parsed_empty == *empty);
}

std::string ParseError(const std::string& json) {
  auto parsed = ReferenceSet::FromJson(json);
  REQUIRE(!parsed.ok());
  CHECK(parsed.status().code() == base::StatusCode::kInvalidArgument);
  return parsed.status().message();
}

TEST_CASE("ReferenceSet parse errors name the member at fault", "[monitor][reference]") {
  const std::string score = R"("score": {"count": 2, "edges": [0.5], "fractions": [0.5, 0.5], "missing": 0})";
  const std::string good =
      R"({"name": "A", "count": 2, "edges": [1], "fractions": [0.5, 0.5], "missing": 0})";
  CHECK(ParseError("{").find("reference: not valid JSON") == 0);
  CHECK(ParseError("[1]") == "reference: is not a JSON object");
  CHECK(ParseError(R"({"features": [], )" + score + "}") == "reference: 'format' is missing or not a string");
  CHECK(ParseError(R"({"format": "vigil-reference/9", "features": [], )" + score + "}") ==
        "reference: format 'vigil-reference/9' is not 'vigil-reference/1'");
  const std::string head = R"({"format": "vigil-reference/1", )";
  CHECK(ParseError(head + score + "}") == "reference: 'features' is missing or not an array");
  CHECK(ParseError(head + R"("features": [])" + "}") == "reference: 'score' is missing");
  CHECK(ParseError(head + R"("features": [)" + good +
                   R"(, {"name": "B", "count": 2, "edges": [1], "fractions": [1], "missing": 0}], )" + score +
                   "}") ==
        "reference.features[1] 'B': 'fractions' has 1 values, expected 2 (one more than 'edges')");
  CHECK(ParseError(head + R"("features": [{"count": 2}], )" + score + "}") ==
        "reference.features[0]: 'name' is missing or not a string");
  CHECK(
      ParseError(
          head +
          R"("features": [{"name": "A", "count": 2, "edges": [2, 1], "fractions": [0.5, 0.5, 0], "missing": 0}], )" +
          score + "}") == "reference.features[0] 'A': edges[1] = 1 is not greater than edges[0] = 2");
  CHECK(
      ParseError(
          head +
          R"("features": [{"name": "A", "count": 2, "edges": ["x"], "fractions": [1, 0], "missing": 0}], )" +
          score + "}") == "reference.features[0] 'A': edges[0] is not a number");
  CHECK(
      ParseError(
          head +
          R"("features": [{"name": "A", "count": 2, "edges": [1e300], "fractions": [1, 0], "missing": 0}], )" +
          score + "}") == "reference.features[0] 'A': edges[0] = 1e+300 is not a finite float");
  CHECK(ParseError(
            head +
            R"("features": [{"name": "A", "count": 1.5, "edges": [], "fractions": [1], "missing": 0}], )" +
            score + "}") == "reference.features[0] 'A': 'count' is missing or not an integer");
  CHECK(ParseError(head + R"("features": [{"name": "A", "count": 2, "edges": [], "fractions": [0.5]}], )" +
                   score + "}") == "reference.features[0] 'A': 'missing' is missing or not a number");
  CHECK(ParseError(
            head +
            R"("features": [], "score": {"count": 2, "edges": [], "fractions": [0.5], "missing": 0}})") ==
        "reference.score: fractions sum to 0.5, expected 1");
  CHECK(ParseError(head + R"("features": [)" + good + ", " + good + "], " + score + "}") ==
        "reference: feature 'A' appears twice");
}

TEST_CASE("LoadReference reads a version's metadata.json and checks its features", "[monitor][reference]") {
  const std::string registry = testing::TempDir("vigil-monitor");
  const std::string dir = registry + "/v1";
  std::filesystem::create_directories(dir);
  const ReferenceSet set = SmallSet();
  const std::string path = dir + "/metadata.json";
  std::ofstream(path)
      << "{\"version\": \"v1\", \"features\": [\"TX_AMOUNT\", \"odd \\\"name\\\"\\\\\"], \"reference\": "
      << set.ToJson("  ") << "}\n";
  auto loaded = LoadReference(path);
  REQUIRE(loaded.ok());
  CHECK(*loaded == set);
  auto by_version = LoadVersionReference(models::Registry(registry), "v1");
  REQUIRE(by_version.ok());
  CHECK(*by_version == set);

  std::ofstream(path) << "{\"features\": [\"TX_AMOUNT\", \"OTHER\"], \"reference\": " << set.ToJson() << "}";
  CHECK(LoadReference(path).status().code() == base::StatusCode::kCorruption);
  CHECK(LoadReference(path).status().message().find(
            "the reference's features [TX_AMOUNT,odd \"name\"\\] differ from "
            "\"features\" [TX_AMOUNT,OTHER]") != std::string::npos);
  std::ofstream(path) << "{\"features\": [\"TX_AMOUNT\"]}";
  CHECK(LoadReference(path).status().code() == base::StatusCode::kNotFound);
  CHECK(LoadReference(path).status().message().find("has no \"reference\"") != std::string::npos);
  std::ofstream(path) << "{\"reference\": {\"format\": 3}}";
  CHECK(LoadReference(path).status().code() == base::StatusCode::kCorruption);
  CHECK(LoadReference(path).status().message() ==
        "'" + path + "': reference: 'format' is missing or not a string");
  std::ofstream(path) << "not json";
  CHECK(LoadReference(path).status().code() == base::StatusCode::kCorruption);
  CHECK(LoadVersionReference(models::Registry(registry), "v2").status().code() ==
        base::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::monitor
