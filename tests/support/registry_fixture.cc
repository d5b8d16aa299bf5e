#include "tests/support/registry_fixture.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "models/forest.h"
#include "models/runs.h"
#include "models/xgb_model.h"
#include "tests/support/process.h"

namespace vigil::testing {

namespace fs = std::filesystem;

const std::vector<std::string> kFixtureFeatures = {"amount",
                                                   "hour",
                                                   "tx_count_1h",
                                                   "tx_count_24h",
                                                   "amount_avg_7d",
                                                   "terminal_risk",
                                                   "merchant_age_days",
                                                   "distance_km",
                                                   "card_age_days",
                                                   "velocity",
                                                   "ratio",
                                                   "score_prev"};

std::string FixtureModel() {
  return ReadFile(std::string(VIGIL_SOURCE_DIR) + "/tests/models/fixtures/xgb31_binary_learned.json");
}

void AddFixtureVersion(const models::Registry& registry, const std::string& version, bool rename_first) {
  std::string model = FixtureModel();
  std::vector<std::string> features = kFixtureFeatures;
  if (rename_first) {
    const size_t at = model.find("\"amount\"");
    if (at != std::string::npos) model = model.substr(0, at) + "\"amt\"" + model.substr(at + 8);
    features[0] = "amt";
  }
  const fs::path dir = fs::path(registry.dir()) / version;
  fs::create_directories(dir);
  std::ofstream(dir / "model.json") << model;
  auto forest = models::Forest::FromModel(models::ParseXgbModel(model).value()).value();
  const std::vector<float> row(features.size(), 0.5f);
  std::string names;
  for (const auto& f : features) names += (names.empty() ? "\"" : ", \"") + f + "\"";
  std::ofstream(dir / "metadata.json")
      << "{\"features\": [" << names << "], \"golden_rows\": [{\"inputs\": ["
      << "0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5"
      << "], \"score\": " << fmt::format("{}", forest->PredictRow(row.data())) << "}]}\n";
  models::RunRecord run;
  run.id = "r20260101-000000-" + version;
  run.trigger = "manual";
  run.started_ms = 1;
  run.finished_ms = 2;
  run.outcome = std::string(models::kRunRegistered);
  run.model_version = version;
  REQUIRE(registry.WriteRun(run).ok());
}

}  // namespace vigil::testing
