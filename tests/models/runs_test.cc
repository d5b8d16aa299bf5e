// The run store (models::Registry's run records): records round-trip through their JSON files, replace
// atomically, list in id order, name the file they fail to parse, and are read back by another process.
#include "models/runs.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/time.h"
#include "models/registry.h"
#include "tests/support/process.h"

namespace vigil::models {
namespace {

namespace fs = std::filesystem;

//! 2026-04-12T10:15:00Z.
const int64_t kNow = *base::ParseIso8601Ms("2026-04-12T10:15:00Z");

RunRecord FullRecord(const std::string& id) {
  RunRecord r;
  r.id = id;
  r.trigger = "manual";
  r.started_ms = kNow;
  r.finished_ms = kNow + 12'345;
  r.input = "/data/table \"may\".csv";
  r.train_window = {*base::ParseIso8601Ms("2018-04-11"), *base::ParseIso8601Ms("2018-04-18")};
  r.validation_window = {*base::ParseIso8601Ms("2018-04-18"), *base::ParseIso8601Ms("2018-04-25")};
  r.offsets = {{"transactions", 0, 120, 5400}, {"transactions", 1, 0, 5333}};
  r.params = {{"eta", "0.3"}, {"max_depth", "6"}, {"rounds", "20"}};
  r.train_metrics = {{"auc_roc", 0.987654321}, {"average_precision", 0.8125}};
  r.validation_metrics = {{"auc_roc", 0.91}, {"average_precision", 1.0 / 3.0}};
  r.model_version = "v3";
  r.model_sha256 = std::string(64, 'a');
  r.parent = "v2";
  r.outcome = "registered";
  r.detail = "line one\nline two\t\\";
  r.search = {id, 3, 10};
  r.rollout_metrics = {{"candidate", 0.71}, {"champion", 0.65}, {"ci_low", 0.021}, {"ci_high", 0.097}};
  return r;
}

TEST_CASE("A run record round-trips through its JSON", "[models]") {
  const RunRecord r = FullRecord("r20260412-101500-0001");
  const std::string json = RunToJson(r);
  CHECK(json.find("\"format\": \"vigil-run/1\"") != std::string::npos);
  CHECK(json.find("\"started\": \"2026-04-12T10:15:00Z\"") != std::string::npos);
  CHECK(json.find("\"duration_ms\": 12345") != std::string::npos);
  CHECK(json.find(
            "\"train_window\": {\"start\": \"2018-04-11T00:00:00Z\", \"end\": \"2018-04-18T00:00:00Z\"") !=
        std::string::npos);
  CHECK(json.find("{\"topic\": \"transactions\", \"partition\": 1, \"first\": 0, \"end\": 5333}") !=
        std::string::npos);
  CHECK(json.find("\"search\": {\"id\": \"r20260412-101500-0001\", \"trial\": 3, \"trials\": 10}") !=
        std::string::npos);
  CHECK(json.find("\"rollout_metrics\": {\"candidate\": 0.71, \"champion\": 0.65, \"ci_high\": 0.097, "
                  "\"ci_low\": 0.021}") != std::string::npos);
  auto back = RunFromJson(json, "test");
  REQUIRE(back.ok());
  CHECK(*back == r);
  CHECK(back->validation_metrics.at("average_precision") == 1.0 / 3.0);  // shortest round-trip text
  CHECK(back->duration_ms() == 12'345);

  // A record just started: no end, no version, no windows; non-finite metrics come back as NaN.
  RunRecord bare;
  bare.id = "r1";
  bare.started_ms = kNow;
  bare.outcome = "running";
  bare.train_metrics = {{"auc_roc", NAN}};
  const std::string bare_json = RunToJson(bare);
  CHECK(bare_json.find("\"model_version\": null") != std::string::npos);
  CHECK(bare_json.find("\"validation_window\": null") != std::string::npos);
  CHECK(bare_json.find("\"search\": null") != std::string::npos);
  CHECK(bare_json.find("\"auc_roc\": null") != std::string::npos);
  auto bare_back = RunFromJson(bare_json, "test");
  REQUIRE(bare_back.ok());
  CHECK(bare_back->finished_ms == 0);
  CHECK(bare_back->duration_ms() == 0);
  CHECK(bare_back->train_window.empty());
  CHECK(bare_back->model_version.empty());
  CHECK(std::isnan(bare_back->train_metrics.at("auc_roc")));
}

TEST_CASE("Malformed run JSON is refused with the file and the member named", "[models]") {
  CHECK(RunFromJson("{", "runs/a.json").status().message().find("runs/a.json: not valid JSON") == 0);
  CHECK(RunFromJson("[]", "f").status().message() == "f: not a JSON object");
  CHECK(RunFromJson(R"({"id":"a","started_ms":1})", "f").status().message() == "f: no 'outcome'");
  CHECK(RunFromJson(R"({"id":"a","started_ms":"x","outcome":"o"})", "f").status().message() ==
        "f: 'started_ms' is not an integer");
  CHECK(RunFromJson(R"({"id":"a","started_ms":1,"outcome":"o","train_window":{"start_ms":"x"}})", "f")
            .status()
            .message() == "f: train_window: 'start_ms' is not an integer");
  CHECK(RunFromJson(R"({"id":"a","started_ms":1,"outcome":"o","params":{"eta":0.3}})", "f")
            .status()
            .message() == "f: 'params' is not an object of strings");
  CHECK(RunFromJson(R"({"format":"vigil-run/9","id":"a","started_ms":1,"outcome":"o"})", "f")
            .status()
            .message() == "f: format 'vigil-run/9', expected 'vigil-run/1'");
  CHECK(RunFromJson(R"({"id":"a","started_ms":1,"outcome":"o","future_key":[1]})", "f").ok());
}

TEST_CASE("Offset ranges parse from TOPIC:PARTITION:FIRST-END", "[models]") {
  auto r = ParseOffsetRange("tx.v1-eu:3:100-250");
  REQUIRE(r.ok());
  CHECK(*r == OffsetRange{"tx.v1-eu", 3, 100, 250});
  CHECK(ParseOffsetRange("t:0:5-5").ok());
  for (const char* bad : {"t:0:9-5", "t:0:5", "t:x:1-2", ":0:1-2", "t:0:-1-2", "t:0:1-2x", "0:1-2", "t"}) {
    INFO(bad);
    CHECK(ParseOffsetRange(bad).status().code() == base::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("NewRunId reserves sortable ids and writes a running record", "[models]") {
  const std::string dir = testing::TempDir("vigil-runs");
  const Registry registry(dir);
  auto a = registry.NewRunId("schedule", kNow);
  auto b = registry.NewRunId("manual", kNow);
  auto c = registry.NewRunId("manual", kNow + 1000);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(*a == "r20260412-101500-0001");
  CHECK(*b == "r20260412-101500-0002");
  CHECK(*c == "r20260412-101501-0001");
  auto first = registry.ReadRun(*a);
  REQUIRE(first.ok());
  CHECK(first->trigger == "schedule");
  CHECK(first->started_ms == kNow);
  CHECK(first->outcome == kRunRunning);
  CHECK(first->finished_ms == 0);
  // Only the three records: the private files behind the exclusive creation are gone.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(registry.runs_dir())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"r20260412-101500-0001.json", "r20260412-101500-0002.json",
                                          "r20260412-101501-0001.json"});
}

TEST_CASE("WriteRun replaces a record atomically and ListRuns sorts by id", "[models]") {
  const std::string dir = testing::TempDir("vigil-runs");
  const Registry registry(dir);
  auto listed = registry.ListRuns();
  REQUIRE(listed.ok());
  CHECK(listed->empty());  // no runs/ directory yet

  RunRecord late = FullRecord("r20260412-101502-0001");
  RunRecord early = FullRecord("r20260412-101500-0001");
  early.model_version = "v1";
  REQUIRE(registry.WriteRun(late).ok());
  REQUIRE(registry.WriteRun(early).ok());
  late.outcome = "failed: out of memory";
  late.model_version.clear();
  REQUIRE(registry.WriteRun(late).ok());

  listed = registry.ListRuns();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0] == early);
  CHECK((*listed)[1] == late);
  CHECK(!fs::exists(registry.runs_dir() + "/r20260412-101502-0001.json.tmp"));
  // A leftover temporary file of an interrupted write is not a record.
  std::ofstream(registry.runs_dir() + "/r20260412-101503-0001.json.tmp") << "{ half";
  listed = registry.ListRuns();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 2);

  CHECK(registry.WriteRun(FullRecord("../escape")).code() == base::StatusCode::kInvalidArgument);
  CHECK(registry.ReadRun("../v1/metadata").status().code() == base::StatusCode::kInvalidArgument);
  CHECK(Registry(dir + "/missing").ListRuns().status().code() == base::StatusCode::kNotFound);
}

TEST_CASE("Reading a missing or corrupt run names the id or the file", "[models]") {
  const std::string dir = testing::TempDir("vigil-runs");
  const Registry registry(dir);
  auto missing = registry.ReadRun("r42");
  CHECK(missing.status().code() == base::StatusCode::kNotFound);
  CHECK(missing.status().message() == "no run 'r42' in '" + dir + "'");

  REQUIRE(registry.WriteRun(FullRecord("r1")).ok());
  const std::string path = registry.runs_dir() + "/r2.json";
  std::ofstream(path) << "{\"id\": \"r2\", \"started_ms\": ";
  auto corrupt = registry.ReadRun("r2");
  CHECK(corrupt.status().code() == base::StatusCode::kCorruption);
  CHECK(corrupt.status().message().find(path + ": not valid JSON") == 0);
  auto listed = registry.ListRuns();
  CHECK(listed.status().code() == base::StatusCode::kCorruption);
  CHECK(listed.status().message().find(path) == 0);

  std::ofstream(path, std::ios::trunc) << RunToJson(FullRecord("r3"));
  CHECK(registry.ReadRun("r2").status().message() == path + ": holds run 'r3'");
}

TEST_CASE("Outcomes change by run id and by the version a run registered", "[models]") {
  const std::string dir = testing::TempDir("vigil-runs");
  const Registry registry(dir);
  RunRecord older = FullRecord("r1");
  RunRecord newer = FullRecord("r2");
  RunRecord other = FullRecord("r3");
  other.model_version = "v4";
  for (const RunRecord* r : {&older, &newer, &other}) REQUIRE(registry.WriteRun(*r).ok());

  REQUIRE(registry.SetRunOutcome("r1", kRunRejected, "validation AP below the champion's").ok());
  auto r1 = registry.ReadRun("r1");
  REQUIRE(r1.ok());
  CHECK(r1->outcome == "rejected");
  CHECK(r1->detail == "validation AP below the champion's");
  RunRecord expected = older;
  expected.outcome = "rejected";
  expected.detail = "validation AP below the champion's";
  CHECK(*r1 == expected);  // nothing else changed
  CHECK(registry.SetRunOutcome("r9", kRunPromoted, "").code() == base::StatusCode::kNotFound);

  // v3 was registered by r1 and r2 (a re-registration): the latest run is the one that counts.
  auto found = registry.FindRunOfVersion("v3");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->id == "r2");
  REQUIRE(registry.SetVersionRunOutcome("v3", kRunPromoted, "").ok());
  CHECK(registry.ReadRun("r2")->outcome == "promoted");
  CHECK(registry.ReadRun("r1")->outcome == "rejected");
  CHECK(registry.ReadRun("r3")->outcome == "registered");
  // A version no run registered: nothing to update, not an error.
  REQUIRE(registry.SetVersionRunOutcome("v9", kRunPromoted, "").ok());
  CHECK(!registry.FindRunOfVersion("v9")->has_value());
}

TEST_CASE("Run records survive the process that wrote them", "[models]") {
  const std::string dir = testing::TempDir("vigil-runs");
  const Registry registry(dir);
  const RunRecord record = FullRecord("r20260412-101500-0001");
  // A child process writes the record and exits; this process, which never held it, reads it back.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const bool ok =
        registry.WriteRun(record).ok() && registry.SetRunOutcome(record.id, kRunPromoted, "").ok();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto listed = registry.ListRuns();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  RunRecord expected = record;
  expected.outcome = "promoted";
  expected.detail = "";
  CHECK(listed->front() == expected);
}

}  // namespace
}  // namespace vigil::models
