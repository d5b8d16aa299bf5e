// The registry's governance on versions made from a Python xgboost fixture: the champions' stack
// (promote, rollback), the verification a rollback shares with a promotion, and the run outcomes
// that must agree with CHAMPION.
#include "models/registry.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/forest.h"
#include "models/runs.h"
#include "models/xgb_model.h"
#include "tests/support/process.h"

namespace vigil::models {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

const std::vector<std::string> kFeatures = {"amount",
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

std::string Fixture() {
  return ReadFile(std::string(VIGIL_SOURCE_DIR) + "/tests/models/fixtures/xgb31_binary_learned.json");
}

//! Writes `<registry>/<version>` from `model` (JSON text) with one golden row its forest scores, and
//! a run record that registered it. `rename_first`: the first feature is called "amt" instead.
void AddVersion(const std::string& registry, const std::string& version, bool rename_first = false) {
  std::string model = Fixture();
  std::vector<std::string> features = kFeatures;
  if (rename_first) {
    model.replace(model.find("\"amount\""), 8, "\"amt\"");
    features[0] = "amt";
  }
  const fs::path dir = fs::path(registry) / version;
  fs::create_directories(dir);
  std::ofstream(dir / "model.json") << model;
  auto forest = Forest::FromModel(ParseXgbModel(model).value()).value();
  const std::vector<float> row(features.size(), 0.5f);
  std::string names;
  for (const auto& f : features) names += (names.empty() ? "\"" : ", \"") + f + "\"";
  std::ofstream(dir / "metadata.json")
      << "{\"features\": [" << names << "], \"golden_rows\": [{\"inputs\": ["
      << "0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5"
      << "], \"score\": " << fmt::format("{}", forest->PredictRow(row.data())) << "}]}\n";
  RunRecord run;
  run.id = "r20260101-000000-" + version;
  run.trigger = "manual";
  run.started_ms = 1;
  run.finished_ms = 2;
  run.outcome = std::string(kRunRegistered);
  run.model_version = version;
  REQUIRE(WriteRun(registry, run).ok());
}

std::string Outcome(const std::string& registry, const std::string& version) {
  auto run = FindRunOfVersion(registry, version);
  REQUIRE(run.ok());
  REQUIRE(run->has_value());
  return (*run)->outcome;
}

std::string Champion(const std::string& registry) { return ReadChampion(registry).value(); }

TEST_CASE("two rollbacks after three promotions land on the first champion, and the runs agree") {
  const std::string reg = TempDir("vigil-registry");
  for (const char* v : {"v1", "v2", "v3"}) {
    AddVersion(reg, v);
    REQUIRE(Promote(reg, v, kFeatures).ok());
    CHECK(Champion(reg) == v);
    CHECK(Outcome(reg, v) == "promoted");
  }
  // v2 proposed again while v3 serves: a rollback to it ends that trial, as a promotion would.
  REQUIRE(ProposeCandidate(reg, "v2", kFeatures).ok());
  auto back = Rollback(reg, kFeatures);
  REQUIRE(back.ok());
  CHECK(*back == "v2");
  CHECK(Champion(reg) == "v2");
  CHECK(!ReadCandidate(reg).ok());
  back = Rollback(reg, kFeatures);
  REQUIRE(back.ok());
  CHECK(*back == "v1");
  CHECK(Champion(reg) == "v1");
  CHECK(Outcome(reg, "v1") == "promoted");
  CHECK(Outcome(reg, "v2") == "rolled_back");
  CHECK(Outcome(reg, "v3") == "rolled_back");
  CHECK(ReadFile(reg + "/HISTORY") == "v1\nv2\nv3\nrollback v3\nrollback v2\n");
  auto none = Rollback(reg, kFeatures);
  CHECK(none.status().code() == base::StatusCode::kFailedPrecondition);
  CHECK(Champion(reg) == "v1");
}

TEST_CASE("promoting the champion again leaves the stack alone, so a rollback never restores itself") {
  const std::string reg = TempDir("vigil-registry");
  AddVersion(reg, "v1");
  AddVersion(reg, "v2");
  REQUIRE(Promote(reg, "v1", kFeatures).ok());
  REQUIRE(Promote(reg, "v2", kFeatures).ok());
  REQUIRE(Promote(reg, "v2", kFeatures).ok());
  CHECK(ReadFile(reg + "/HISTORY") == "v1\nv2\n");
  REQUIRE(Rollback(reg, kFeatures).value() == "v1");
  CHECK(Outcome(reg, "v2") == "rolled_back");
  CHECK(Outcome(reg, "v1") == "promoted");
}

TEST_CASE(
    "a rollback verifies the version it restores as a promotion does, and changes nothing if it fails") {
  const std::string reg = TempDir("vigil-registry");
  AddVersion(reg, "v1", /*rename_first=*/true);  // reads "amt": not the pipeline's features
  AddVersion(reg, "v2");
  REQUIRE(Promote(reg, "v1", {}).ok());
  REQUIRE(Promote(reg, "v2", kFeatures).ok());
  // Promote refuses v1 for the pipeline's features; so does a rollback to it.
  const base::Status promote = Promote(reg, "v1", kFeatures);
  CHECK(promote.code() == base::StatusCode::kInvalidArgument);
  auto rollback = Rollback(reg, kFeatures);
  REQUIRE(!rollback.ok());
  CHECK(rollback.status().code() == promote.code());
  CHECK_THAT(rollback.status().message(), Catch::Contains("do not match the pipeline's"));
  CHECK(Champion(reg) == "v2");
  CHECK(ReadFile(reg + "/HISTORY") == "v1\nv2\n");
  CHECK(Outcome(reg, "v2") == "promoted");

  // A restored version whose golden rows no longer reproduce is refused too.
  std::string meta = ReadFile(reg + "/v1/metadata.json");
  meta.replace(meta.find("\"score\": ") + 9, 1, "9");
  std::ofstream(reg + "/v1/metadata.json") << meta;
  rollback = Rollback(reg, {});
  REQUIRE(!rollback.ok());
  CHECK(rollback.status().code() == base::StatusCode::kCorruption);
  CHECK(Champion(reg) == "v2");
}

TEST_CASE("a rollback refuses when CHAMPION is not the last promotion") {
  const std::string reg = TempDir("vigil-registry");
  for (const char* v : {"v1", "v2", "v3"}) AddVersion(reg, v);
  REQUIRE(Promote(reg, "v1", kFeatures).ok());
  REQUIRE(Promote(reg, "v2", kFeatures).ok());
  std::ofstream(reg + "/CHAMPION") << "v3\n";  // written by hand: HISTORY does not know v3
  auto rollback = Rollback(reg, kFeatures);
  REQUIRE(!rollback.ok());
  CHECK(rollback.status().code() == base::StatusCode::kFailedPrecondition);
  CHECK_THAT(rollback.status().message(), Catch::Contains("CHAMPION names v3") && Catch::Contains("is v2"));
  CHECK(Champion(reg) == "v3");
  CHECK(Outcome(reg, "v2") == "promoted");
}

TEST_CASE("a candidate's trial ends with its verdict and figures in its run") {
  const std::string reg = TempDir("vigil-registry");
  AddVersion(reg, "v1");
  AddVersion(reg, "v2");
  REQUIRE(Promote(reg, "v1", kFeatures).ok());
  CHECK(ProposeCandidate(reg, "v1", kFeatures).code() == base::StatusCode::kFailedPrecondition);
  REQUIRE(ProposeCandidate(reg, "v2", kFeatures).ok());
  CHECK(ReadCandidate(reg).value() == "v2");
  CHECK(Outcome(reg, "v2") == "candidate");
  REQUIRE(EndCandidate(reg, "v2", kRunRolledBack, "card_precision 0.2 vs 0.3",
                       {{"ci_low", -0.2}, {"ci_high", -0.01}, {"frauds", 64}})
              .ok());
  CHECK(!ReadCandidate(reg).ok());
  CHECK(Champion(reg) == "v1");
  const RunRecord run = FindRunOfVersion(reg, "v2").value().value();
  CHECK(run.outcome == "rolled_back");
  CHECK(run.detail == "card_precision 0.2 vs 0.3");
  CHECK(run.rollout_metrics.at("ci_low") == -0.2);
  CHECK(run.rollout_metrics.at("frauds") == 64);
  // A later outcome without figures keeps them.
  REQUIRE(SetVersionRunOutcome(reg, "v2", kRunPromoted, "by hand").ok());
  CHECK(FindRunOfVersion(reg, "v2").value()->rollout_metrics.size() == 3);
}

}  // namespace
}  // namespace vigil::models
