#include "tests/support/runs.h"

#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "models/registry.h"
#include "tests/support/process.h"

namespace vigil::testing {

std::vector<Run> ListRuns(const std::string& dir, const std::string& reg) {
  if (Shell(VigilBinary() + " runs --registry " + reg + " list --json > " + dir + "/runs.json 2>/dev/null") !=
      0)
    return {};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(ReadFile(dir + "/runs.json")).get(doc)) return {};
  simdjson::dom::array array;
  if (doc.get_array().get(array) && doc["runs"].get_array().get(array)) return {};
  std::vector<Run> runs;
  for (simdjson::dom::element r : array) {
    Run run;
    std::string_view s;
    if (!r["id"].get_string().get(s)) run.id = s;
    if (!r["trigger"].get_string().get(s)) run.trigger = s;
    if (!r["outcome"].get_string().get(s)) run.outcome = s;
    if (!r["detail"].get_string().get(s)) run.detail = s;
    if (!r["parent"].get_string().get(s)) run.parent = s;
    if (!r["model_version"].get_string().get(s)) run.version = s;
    if (r["train_window"]["start_ms"].get_int64().get(run.train_start)) run.train_start = -1;
    if (r["train_window"]["end_ms"].get_int64().get(run.train_end)) run.train_end = -1;
    if (r["validation_window"]["end_ms"].get_int64().get(run.valid_end)) run.valid_end = -1;
    runs.push_back(run);
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.id < b.id; });
  return runs;
}

std::vector<Run> WithTrigger(const std::vector<Run>& runs, const std::string& trigger) {
  std::vector<Run> out;
  for (const Run& r : runs)
    if (r.trigger == trigger && r.outcome != "running") out.push_back(r);
  return out;
}

models::RunRecord RunOf(const std::string& registry, const std::string& version) {
  auto run = models::Registry(registry).FindRunOfVersion(version);
  REQUIRE(run.ok());
  REQUIRE(run->has_value());
  return **run;
}

}  // namespace vigil::testing
