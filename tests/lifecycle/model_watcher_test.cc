// The model watcher on a registry of fixture versions, one Tick at a time: what it publishes in the
// score operator's link (hot swaps, refusals, trials) and what it writes back to the registry.
#include "lifecycle/model_watcher.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "models/runs.h"
#include "operators/serving.h"
#include "tests/support/process.h"
#include "tests/support/registry_fixture.h"

namespace vigil::lifecycle {
namespace {

using testing::AddFixtureVersion;
using testing::kFixtureFeatures;

//! A registry with `versions` and v1 as its champion.
models::Registry MakeRegistry(std::initializer_list<const char*> versions) {
  const models::Registry registry(testing::TempDir("vigil-watcher"));
  for (const char* v : versions) AddFixtureVersion(registry, v);
  REQUIRE(registry.Promote("v1", kFixtureFeatures).ok());
  return registry;
}

//! A link serving the registry's champion, as the score factory makes it.
std::shared_ptr<operators::ServingLink> MakeLink(const models::Registry& registry) {
  auto champion = registry.LoadVersion(registry.ReadChampion().value(), kFixtureFeatures);
  REQUIRE(champion.ok());
  return std::make_shared<operators::ServingLink>(*champion, nullptr, true);
}

std::unique_ptr<ModelWatcher> MakeWatcher(const config::ScoreSpec& spec,
                                          const std::shared_ptr<operators::ServingLink>& link) {
  static const config::Location loc;
  static const std::string pipeline = "test";
  auto watcher = ModelWatcher::Make({spec, loc, kFixtureFeatures, pipeline, nullptr}, link);
  REQUIRE(watcher.ok());
  return std::move(watcher).value();
}

TEST_CASE("model watcher: a promoted champion is published, and one that does not load is refused") {
  const models::Registry registry = MakeRegistry({"v1", "v2"});
  AddFixtureVersion(registry, "v3", /*rename_first=*/true);  // other features than the pipeline's
  config::ScoreSpec spec;
  spec.registry = registry.dir();
  const auto link = MakeLink(registry);
  const auto watcher = MakeWatcher(spec, link);

  watcher->Tick();
  CHECK(link->Load()->champion->version == "v1");
  REQUIRE(registry.Promote("v2", kFixtureFeatures).ok());
  const auto before = link->Load();
  watcher->Tick();
  CHECK(link->Load()->champion->version == "v2");
  CHECK(before->champion->version == "v1");  // a snapshot already read stays as it was
  CHECK(link->Load()->trial == nullptr);

  std::ofstream(registry.dir() + "/CHAMPION") << "v3\n";  // by hand: v3 does not verify
  watcher->Tick();
  watcher->Tick();
  CHECK(link->Load()->champion->version == "v2");
}

TEST_CASE("model watcher: a candidate is tried in shadow, withdrawn, refused, and promoted elsewhere") {
  const models::Registry registry = MakeRegistry({"v1", "v2", "v4"});
  AddFixtureVersion(registry, "v3", /*rename_first=*/true);
  config::ScoreSpec spec;
  spec.registry = registry.dir();
  spec.rollout.enabled = true;
  const auto link = MakeLink(registry);
  const auto watcher = MakeWatcher(spec, link);

  REQUIRE(registry.ProposeCandidate("v2", kFixtureFeatures).ok());
  watcher->Tick();
  auto serving = link->Load();
  REQUIRE(serving->trial != nullptr);
  CHECK(serving->trial->model->version == "v2");
  const uint32_t first_epoch = serving->trial->epoch;  // a hash of the candidate and the champion
  CHECK(first_epoch != 0);
  CHECK_FALSE(serving->trial->canary);
  CHECK(serving->champion->version == "v1");

  // Withdrawn by hand: the trial ends, the champion keeps serving.
  REQUIRE(registry.EndCandidate("v2", models::kRunRejected, "withdrawn by hand").ok());
  watcher->Tick();
  CHECK(link->Load()->trial == nullptr);
  CHECK(link->Load()->champion->version == "v1");

  // A candidate that does not load is rejected in the registry, and no trial starts.
  std::ofstream(registry.dir() + "/CANDIDATE") << "v3\n";
  watcher->Tick();
  CHECK(link->Load()->trial == nullptr);
  CHECK_FALSE(registry.ReadCandidate().ok());
  CHECK(registry.FindRunOfVersion("v3").value()->outcome == models::kRunRejected);

  // Promoted elsewhere while on trial: the new champion serves and the trial ends.
  REQUIRE(registry.ProposeCandidate("v4", kFixtureFeatures).ok());
  watcher->Tick();
  REQUIRE(link->Load()->trial != nullptr);
  CHECK(link->Load()->trial->epoch != 0);
  CHECK(link->Load()->trial->epoch != first_epoch);
  REQUIRE(registry.Promote("v4", kFixtureFeatures).ok());
  watcher->Tick();
  CHECK(link->Load()->champion->version == "v4");
  CHECK(link->Load()->trial == nullptr);
}

TEST_CASE("model watcher: a canary trial carries its share, and the judge takes the queued outcomes") {
  const models::Registry registry = MakeRegistry({"v1", "v2"});
  config::ScoreSpec spec;
  spec.registry = registry.dir();
  spec.rollout.enabled = true;
  spec.rollout.mode = "canary";
  spec.rollout.canary_percent = 25;
  const auto link = MakeLink(registry);
  const auto watcher = MakeWatcher(spec, link);
  REQUIRE(registry.ProposeCandidate("v2", kFixtureFeatures).ok());
  watcher->Tick();
  const auto trial = link->Load()->trial;
  REQUIRE(trial != nullptr);
  CHECK(trial->canary);
  CHECK(trial->percent == 25);

  // Events of no trial are not queued; the trial's are, until the next Tick takes them.
  operators::ScoredEvent none, tried;
  tried.epoch = trial->epoch;
  link->AddTrialOutcomes(std::vector<operators::ScoredEvent>{none, tried, tried});
  std::vector<operators::ScoredEvent> queued;
  link->TakeTrialOutcomes(&queued);
  CHECK(queued.size() == 2);
  link->AddTrialOutcomes(std::vector<operators::ScoredEvent>{tried});
  watcher->Tick();  // too few days and frauds for a verdict: the trial goes on
  link->TakeTrialOutcomes(&queued);
  CHECK(queued.empty());
  CHECK(link->Load()->trial == trial);
}

}  // namespace
}  // namespace vigil::lifecycle
