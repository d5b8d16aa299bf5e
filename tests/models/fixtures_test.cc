// Models written by real Python xgboost 2.1 and 3.1 (tests/models/fixtures/make_fixtures.py), with the
// predictions Python computed: Forest must reproduce them, and refuse what it cannot evaluate.

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "models/forest.h"
#include "models/xgb_model.h"

namespace vigil::models {
namespace {

constexpr double kTolerance = 1e-6;

std::filesystem::path FixtureDir() {
  return std::filesystem::path(VIGIL_SOURCE_DIR) / "tests/models/fixtures";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

//! rows.csv: a header, then one row of floats per line, "nan" for missing.
std::vector<float> ReadRows(const std::filesystem::path& path, size_t* num_cols) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);
  *num_cols = static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
  std::vector<float> values;
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) {
      float v = std::numeric_limits<float>::quiet_NaN();
      if (cell != "nan") {
        auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
        REQUIRE(ec == std::errc());
      }
      values.push_back(v);
    }
  }
  REQUIRE(values.size() % *num_cols == 0);
  return values;
}

std::vector<float> Floats(simdjson::dom::element array) {
  std::vector<float> out;
  for (double v : array.get_array()) out.push_back(static_cast<float>(v));
  return out;
}

//! The one value in base_score as Python's save_config reports it: "5E-1" or "[5E-1]".
float ParseBaseScore(std::string_view text) {
  if (!text.empty() && text.front() == '[') text = text.substr(1, text.size() - 2);
  float v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

void CheckExpectations(const std::string& expected_file) {
  INFO("fixture set " << expected_file);
  const std::filesystem::path dir = FixtureDir();
  simdjson::dom::parser parser;
  simdjson::padded_string json(ReadFile(dir / expected_file));
  simdjson::dom::element doc = parser.parse(json);
  size_t num_cols = 0;
  std::vector<float> rows = ReadRows(dir / std::string(doc["rows"].get_string().value()), &num_cols);
  const size_t num_rows = rows.size() / num_cols;

  size_t checked = 0;
  for (simdjson::dom::element m : doc["models"].get_array()) {
    const std::string file(m["file"].get_string().value());
    INFO("model " << file << " from xgboost " << std::string(m["xgboost_version"].get_string().value()));
    auto model = ParseXgbModel(ReadFile(dir / file));
    INFO(model.status().ToString());
    REQUIRE(model.ok());
    CHECK(model->base_score == ParseBaseScore(m["base_score"].get_string().value()));
    CHECK(ObjectiveName(model->objective) == m["objective"].get_string().value());
    CHECK(model->version[0] == (file.rfind("xgb3", 0) == 0 ? 3 : 2));

    auto forest = Forest::LoadFile((dir / file).string());
    REQUIRE(forest.ok());
    CHECK((*forest)->num_trees() == static_cast<size_t>(m["num_trees"].get_int64().value()));
    CHECK((*forest)->num_features() == num_cols);
    std::vector<std::string> names;
    for (std::string_view name : m["feature_names"].get_array()) names.emplace_back(name);
    CHECK((*forest)->feature_names() == names);

    std::vector<float> expected = Floats(m["predictions"]);
    std::vector<float> expected_margin = Floats(m["margins"]);
    REQUIRE(expected.size() == num_rows);
    std::vector<float> got(num_rows);
    std::vector<float> got_margin(num_rows);
    (*forest)->PredictBatch(rows.data(), num_rows, num_cols, got.data());
    (*forest)->PredictMarginBatch(rows.data(), num_rows, num_cols, got_margin.data());
    double worst = 0;
    double worst_margin = 0;
    for (size_t i = 0; i < num_rows; ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(got[i]) - expected[i]));
      worst_margin =
          std::max(worst_margin, std::abs(static_cast<double>(got_margin[i]) - expected_margin[i]));
    }
    CHECK(worst <= kTolerance);
    CHECK(worst_margin <= kTolerance);
    ++checked;
  }
  CHECK(checked >= 3);

  for (simdjson::dom::element r : doc["refusals"].get_array()) {
    const std::string file(r["file"].get_string().value());
    INFO("refusal fixture " << file);
    auto forest = Forest::LoadFile((dir / file).string());
    REQUIRE_FALSE(forest.ok());
    CHECK(forest.status().code() == base::StatusCode::kInvalidArgument);
    CHECK_THAT(forest.status().message(), Catch::Contains(std::string(r["message"].get_string().value())));
  }
}

TEST_CASE("Forest reproduces Python xgboost 2.1 predictions", "[models][fixtures]") {
  CheckExpectations("expected_xgb21.json");
}

TEST_CASE("Forest reproduces Python xgboost 3.1 predictions with array base_score", "[models][fixtures]") {
  CheckExpectations("expected_xgb31.json");
  // The 3.1 files store base_score as an array string; make sure the fixtures exercise that.
  const std::string raw = ReadFile(FixtureDir() / "xgb31_binary_base03.json");
  CHECK(raw.find(R"("base_score":"[3E-1]")") != std::string::npos);
}

}  // namespace
}  // namespace vigil::models
