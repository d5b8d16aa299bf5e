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
#include "tests/support/registry_fixture.h"

namespace vigil::models {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

using testing::AddFixtureVersion;
const std::vector<std::string>& kFeatures = testing::kFixtureFeatures;

std::string Outcome(const Registry& registry, const std::string& version) {
  auto run = registry.FindRunOfVersion(version);
  REQUIRE(run.ok());
  REQUIRE(run->has_value());
  return (*run)->outcome;
}

std::string Champion(const Registry& registry) { return registry.ReadChampion().value(); }

TEST_CASE("two rollbacks after three promotions land on the first champion, and the runs agree") {
  const std::string dir = TempDir("vigil-registry");
  const Registry reg(dir);
  for (const char* v : {"v1", "v2", "v3"}) {
    AddFixtureVersion(reg, v);
    REQUIRE(reg.Promote(v, kFeatures).ok());
    CHECK(Champion(reg) == v);
    CHECK(Outcome(reg, v) == "promoted");
  }
  // v2 proposed again while v3 serves: a rollback to it ends that trial, as a promotion would.
  REQUIRE(reg.ProposeCandidate("v2", kFeatures).ok());
  auto back = reg.Rollback(kFeatures);
  REQUIRE(back.ok());
  CHECK(*back == "v2");
  CHECK(Champion(reg) == "v2");
  CHECK(!reg.ReadCandidate().ok());
  back = reg.Rollback(kFeatures);
  REQUIRE(back.ok());
  CHECK(*back == "v1");
  CHECK(Champion(reg) == "v1");
  CHECK(Outcome(reg, "v1") == "promoted");
  CHECK(Outcome(reg, "v2") == "rolled_back");
  CHECK(Outcome(reg, "v3") == "rolled_back");
  CHECK(ReadFile(dir + "/HISTORY") == "v1\nv2\nv3\nrollback v3\nrollback v2\n");
  auto none = reg.Rollback(kFeatures);
  CHECK(none.status().code() == base::StatusCode::kFailedPrecondition);
  CHECK(Champion(reg) == "v1");
}

TEST_CASE("promoting the champion again leaves the stack alone, so a rollback never restores itself") {
  const std::string dir = TempDir("vigil-registry");
  const Registry reg(dir);
  AddFixtureVersion(reg, "v1");
  AddFixtureVersion(reg, "v2");
  REQUIRE(reg.Promote("v1", kFeatures).ok());
  REQUIRE(reg.Promote("v2", kFeatures).ok());
  REQUIRE(reg.Promote("v2", kFeatures).ok());
  CHECK(ReadFile(dir + "/HISTORY") == "v1\nv2\n");
  REQUIRE(reg.Rollback(kFeatures).value() == "v1");
  CHECK(Outcome(reg, "v2") == "rolled_back");
  CHECK(Outcome(reg, "v1") == "promoted");
}

TEST_CASE(
    "a rollback verifies the version it restores as a promotion does, and changes nothing if it fails") {
  const std::string dir = TempDir("vigil-registry");
  const Registry reg(dir);
  AddFixtureVersion(reg, "v1", /*rename_first=*/true);  // reads "amt": not the pipeline's features
  AddFixtureVersion(reg, "v2");
  REQUIRE(reg.Promote("v1", {}).ok());
  REQUIRE(reg.Promote("v2", kFeatures).ok());
  // Promote refuses v1 for the pipeline's features; so does a rollback to it.
  const base::Status promote = reg.Promote("v1", kFeatures);
  CHECK(promote.code() == base::StatusCode::kInvalidArgument);
  auto rollback = reg.Rollback(kFeatures);
  REQUIRE(!rollback.ok());
  CHECK(rollback.status().code() == promote.code());
  CHECK_THAT(rollback.status().message(), Catch::Contains("do not match the pipeline's"));
  CHECK(Champion(reg) == "v2");
  CHECK(ReadFile(dir + "/HISTORY") == "v1\nv2\n");
  CHECK(Outcome(reg, "v2") == "promoted");

  // A restored version whose golden rows no longer reproduce is refused too.
  std::string meta = ReadFile(dir + "/v1/metadata.json");
  meta.replace(meta.find("\"score\": ") + 9, 1, "9");
  std::ofstream(dir + "/v1/metadata.json") << meta;
  rollback = reg.Rollback({});
  REQUIRE(!rollback.ok());
  CHECK(rollback.status().code() == base::StatusCode::kCorruption);
  CHECK(Champion(reg) == "v2");
}

TEST_CASE("a rollback refuses when CHAMPION is not the last promotion") {
  const std::string dir = TempDir("vigil-registry");
  const Registry reg(dir);
  for (const char* v : {"v1", "v2", "v3"}) AddFixtureVersion(reg, v);
  REQUIRE(reg.Promote("v1", kFeatures).ok());
  REQUIRE(reg.Promote("v2", kFeatures).ok());
  std::ofstream(dir + "/CHAMPION") << "v3\n";  // written by hand: HISTORY does not know v3
  auto rollback = reg.Rollback(kFeatures);
  REQUIRE(!rollback.ok());
  CHECK(rollback.status().code() == base::StatusCode::kFailedPrecondition);
  CHECK_THAT(rollback.status().message(), Catch::Contains("CHAMPION names v3") && Catch::Contains("is v2"));
  CHECK(Champion(reg) == "v3");
  CHECK(Outcome(reg, "v2") == "promoted");
}

TEST_CASE("a candidate's trial ends with its verdict and figures in its run") {
  const std::string dir = TempDir("vigil-registry");
  const Registry reg(dir);
  AddFixtureVersion(reg, "v1");
  AddFixtureVersion(reg, "v2");
  REQUIRE(reg.Promote("v1", kFeatures).ok());
  CHECK(reg.ProposeCandidate("v1", kFeatures).code() == base::StatusCode::kFailedPrecondition);
  REQUIRE(reg.ProposeCandidate("v2", kFeatures).ok());
  CHECK(reg.ReadCandidate().value() == "v2");
  CHECK(Outcome(reg, "v2") == "candidate");
  REQUIRE(reg.EndCandidate("v2", kRunRolledBack, "card_precision 0.2 vs 0.3",
                           {{"ci_low", -0.2}, {"ci_high", -0.01}, {"frauds", 64}})
              .ok());
  CHECK(!reg.ReadCandidate().ok());
  CHECK(Champion(reg) == "v1");
  const RunRecord run = reg.FindRunOfVersion("v2").value().value();
  CHECK(run.outcome == "rolled_back");
  CHECK(run.detail == "card_precision 0.2 vs 0.3");
  CHECK(run.rollout_metrics.at("ci_low") == -0.2);
  CHECK(run.rollout_metrics.at("frauds") == 64);
  // A later outcome without figures keeps them.
  REQUIRE(reg.SetVersionRunOutcome("v2", kRunPromoted, "by hand").ok());
  CHECK(reg.FindRunOfVersion("v2").value()->rollout_metrics.size() == 3);
}

TEST_CASE("the registry stores a new version whole under the next free name, and lists it") {
  const std::string dir = TempDir("vigil-registry");
  const Registry reg(dir + "/models");  // created by the first version
  CHECK(reg.NextVersionName() == "v1");
  CHECK(reg.ListVersions().status().code() == base::StatusCode::kNotFound);
  AddFixtureVersion(Registry(dir + "/models"), "v2");
  fs::create_directories(dir + "/models/v10-draft");
  CHECK(reg.NextVersionName() == "v3");
  const Registry copy = reg;  // the same directory: interchangeable
  const std::string metadata = ReadFile(reg.MetadataPath("v2"));
  REQUIRE(copy.AddVersion("v3", "model.json", testing::FixtureModel(), metadata).ok());
  CHECK(ReadFile(dir + "/models/v3/metadata.json") == metadata);
  CHECK(ReadFile(dir + "/models/v3/model.json") == testing::FixtureModel());
  REQUIRE(reg.LoadVersion("v3", kFeatures).ok());
  CHECK(reg.NextVersionName() == "v4");
  const base::Status again = reg.AddVersion("v3", "model.json", "{}", "{}");
  CHECK(again.code() == base::StatusCode::kAlreadyExists);
  CHECK(again.message() == (fs::path(dir + "/models") / "v3").string() + " exists already");
  CHECK(reg.CheckVersionFree("v3").code() == base::StatusCode::kAlreadyExists);
  CHECK(reg.CheckVersionFree("v4").ok());
  CHECK(ReadFile(dir + "/models/v3/model.json") == testing::FixtureModel());  // untouched
  // A model copied in without metadata.json is not a version.
  fs::create_directories(dir + "/models/copied");
  std::ofstream(dir + "/models/copied/model.ubj") << "x";
  CHECK(reg.ListVersions().value() == std::vector<std::string>{"v2", "v3"});
  CHECK(reg.ListUnregistered() == std::vector<std::string>{"copied"});
  // No staging folder is left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir + "/models")) ++entries;
  CHECK(entries == 5);  // v2, v3, v10-draft, copied and runs
}

}  // namespace
}  // namespace vigil::models
