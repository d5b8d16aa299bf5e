// Delayed outcomes on a quiet event stream: the score operator's outcomes wait for their labels, and
// labels that arrive while no event does still release them (Operator::LabelsAdvanced), so a pause in
// the traffic does not hold back the feature log, the monitor or a rollout's judge.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/time.h"
#include "engine/task.h"
#include "tests/support/one_task.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"
#include "tests/support/queue_reader.h"
#include "tests/support/registry_fixture.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDay = base::kMsPerDay;

//! A pipeline that scores the fixture model's features and logs each outcome once its label is due
//! (the default label delay, 7 days).
std::string Yaml(const std::string& registry, const std::string& log) {
  std::string fields, features;
  for (const std::string& f : kFixtureFeatures) {
    fields += "    - {name: " + f + ", type: double}\n";
    features += (features.empty() ? "" : ", ") + f;
  }
  return "source: {kind: file, path: unused}\n"
         "schema:\n  event_time: T\n  fields:\n"
         "    - {name: ID, type: int64}\n    - {name: T, type: timestamp}\n"
         "    - {name: CUSTOMER_ID, type: int64}\n" +
         fields +
         "labels:\n  source: {kind: file, path: unused}\n  id: ID\n  max_wait: 10ms\n"
         "operators:\n  - type: score\n    registry: " +
         registry + "\n    feature_log: " + log + "\nfeatures: [" + features +
         "]\noutput: {kind: none, fields: [ID, SCORE]}\n";
}

std::string Event(int64_t id, int64_t t) {
  std::string e = "{\"ID\":" + std::to_string(id) + ",\"T\":" + std::to_string(t) +
                  ",\"CUSTOMER_ID\":" + std::to_string(100 + id);
  for (const std::string& f : kFixtureFeatures) e += ",\"" + f + "\":1.5";
  return e + "}";
}

std::string Label(int64_t id, int fraud, int64_t t) {
  return "{\"ID\":" + std::to_string(id) + ",\"TX_FRAUD\":" + std::to_string(fraud) +
         ",\"LABEL_TIME_MS\":" + std::to_string(t) + "}";
}

//! The feature log's rows (header left out) as (id, label): the first field and the third from last.
std::vector<std::pair<int64_t, int>> LogRows(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::pair<int64_t, int>> rows;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream cells_in(line);
    for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() >= 4);
    rows.emplace_back(std::stoll(cells[0]), std::stoi(cells[cells.size() - 3]));
  }
  return rows;
}

TEST_CASE("task labels: labels that arrive while no event does release the outcomes now due",
          "[engine][labels]") {
  const std::string dir = TempDir("vigil-idle-labels");
  const models::Registry registry(dir + "/models");
  AddFixtureVersion(registry, "v1");
  REQUIRE(registry.Promote("v1", kFixtureFeatures).ok());
  const std::string log = dir + "/log.csv";
  OneTask t(Yaml(registry.dir(), log), "idle-labels");
  auto e = std::make_unique<QueueReader>();
  auto l = std::make_unique<QueueReader>();
  QueueReader* events = e.get();
  QueueReader* labels = l.get();
  t.task->SetReaders(std::move(e), std::move(l));
  std::vector<Captured> out, dead;
  CapturingSink output(&out), dead_letter(&dead);

  // Three events, days 0, 1 and 9; no label yet, so no outcome is due.
  events->Push(Event(1, 0));
  events->Push(Event(2, kDay));
  events->Push(Event(3, 9 * kDay));
  auto n = t.task->RunOnce(100, 0, &output, &dead_letter);
  REQUIRE(n.ok());
  REQUIRE(*n == 3);
  REQUIRE(t.task->CommitState().ok());
  CHECK(LogRows(log).empty());

  // The labels of events 1 and 2 arrive (known on day 8.5); no event follows them.
  labels->Push(Label(1, 1, 8 * kDay));
  labels->Push(Label(2, 0, 8 * kDay + kDay / 2));
  n = t.task->RunOnce(100, 0, &output, &dead_letter);
  REQUIRE(n.ok());
  CHECK(*n == 0);
  REQUIRE(t.task->CommitState().ok());
  // Due at day 7 and 8, both within the labels known (8.5) and the task's event time (9); event 3's
  // outcome is due on day 16: it waits.
  CHECK(LogRows(log) == std::vector<std::pair<int64_t, int>>{{1, 1}, {2, 0}});
  CHECK(t.task->label_next_offset() == 2);
  CHECK(out.size() == 3);  // decisions only for the events
  CHECK(dead.empty());
}

}  // namespace
}  // namespace vigil::testing
