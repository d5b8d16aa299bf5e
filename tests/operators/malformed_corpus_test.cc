// Replays the committed event corpus of fuzz_event (fuzz/corpus/event/) through the pipeline it is
// written for (fuzz/event_pipeline.yaml), with the normal build. A file is named
// `<expected>-<what>.json`: `valid-...` must be accepted, `<reason>-...` dead-lettered with that reason.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/operator_registry.h"
#include "engine/plan.h"
#include "engine/task.h"
#include "operators/register.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const std::string kCorpus = std::string(VIGIL_SOURCE_DIR) + "/fuzz/corpus/event";
const std::string kPipeline = std::string(VIGIL_SOURCE_DIR) + "/fuzz/event_pipeline.yaml";

//! The corpus files, sorted, each with the outcome its name expects.
std::vector<std::pair<std::filesystem::path, std::string>> Corpus() {
  std::vector<std::pair<std::filesystem::path, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    const std::string name = entry.path().filename().string();
    files.emplace_back(entry.path(), name.substr(0, name.find('-')));
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST_CASE("fuzz event corpus: valid events are accepted and malformed ones dead-lettered with their reason",
          "[operators]") {
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto spec = config::LoadPipelineFile(kPipeline);
  INFO(spec.status().ToString());
  REQUIRE(spec.ok());
  auto plan = engine::Plan::Build(*spec, registry);
  INFO(plan.status().ToString());
  REQUIRE(plan.ok());
  auto task = engine::Task::Open(**plan, 0, engine::TaskOptions{TempDir("malformed_corpus"), "corpus", 1000},
                                 nullptr);
  REQUIRE(task.ok());

  const auto files = Corpus();
  std::map<std::string, int> per_outcome;
  for (const auto& [path, expected] : files) {
    const std::string event = ReadFile(path.string());
    std::string outcome = "(not called)";
    const base::Status st =
        (*task)->Query(event, engine::BatchMode{true, 0}, [&](const engine::Batch& batch, size_t row) {
          outcome = batch.live(row) ? "valid" : std::string(engine::DlqReasonName(batch.meta(row).reason));
        });
    INFO(path.filename().string());
    REQUIRE(st.ok());
    CHECK(outcome == expected);
    ++per_outcome[expected];
  }
  // The corpus keeps examples of accepted events and of every reason parse gives.
  CHECK(files.size() >= 30);
  for (const char* outcome : {"valid", "invalid_json", "invalid_utf8", "missing_field", "wrong_type",
                              "out_of_range", "invalid_enum", "too_large", "future"}) {
    INFO(outcome);
    CHECK(per_outcome[outcome] > 0);
  }
  REQUIRE((*task)->Close().ok());
}

}  // namespace
}  // namespace vigil::testing
