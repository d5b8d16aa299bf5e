// engine::Pipeline: stages bound, given their I/O and run together, as `vigil run` assembles them.
#include "engine/pipeline.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "config/pipeline_config.h"
#include "connectors/factory.h"
#include "connectors/file_io.h"
#include "operators/register.h"
#include "tests/support/count_window.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! A file pipeline named `name`: the count window of tests/support/count_window.h over
//! `dir`/`name`.jsonl into `dir`/`name`.out.jsonl ([ID, C]), dead letters into `dir`/`name`.dlq.jsonl.
config::PipelineSpec FileStage(const std::string& dir, const std::string& name) {
  auto loaded = config::LoadPipelineText(CountWindowYaml("{workers: 1}"), name + ".yaml");
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  config::PipelineSpec spec = std::move(loaded).value();
  const std::string path = dir + "/" + name;
  spec.name = name;
  spec.source.path = path + ".jsonl";
  spec.output.kind = config::SinkSpec::Kind::kFile;
  spec.output.path = path + ".out.jsonl";
  spec.dead_letter.kind = config::SinkSpec::Kind::kFile;
  spec.dead_letter.path = path + ".dlq.jsonl";
  spec.runtime.state_dir = path + ".state";
  return spec;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

engine::OperatorRegistry Operators() {
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  return registry;
}

TEST_CASE("pipeline: one file stage runs to the end of its input, outputs and dead letters in files",
          "[engine]") {
  const std::string dir = TempDir("vigil-pipeline-one");
  WriteLines(dir + "/one.jsonl", {R"({"ID":1,"T":10,"K":"a"})", R"({"ID":2,"T":20,"K":"a"})", "{not json",
                                  R"({"ID":3,"T":30,"K":"b"})", R"({"ID":4,"T":200,"K":"a"})"});
  auto pipeline = engine::Pipeline::Build({FileStage(dir, "one")}, Operators(), &connectors::MakeStageIo);
  INFO(pipeline.status().message());
  REQUIRE(pipeline.ok());
  REQUIRE((*pipeline)->size() == 1);
  CHECK((*pipeline)->plan(0).spec().name == "one");
  REQUIRE((*pipeline)->Run().ok());

  CHECK(ReadLines(dir + "/one.out.jsonl") ==
        std::vector<std::string>{R"({"ID":1,"C":1})", R"({"ID":2,"C":2})", R"({"ID":3,"C":1})",
                                 R"({"ID":4,"C":1})"});
  const std::vector<std::string> dead = ReadLines(dir + "/one.dlq.jsonl");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].find(R"("reason":"invalid_json")") != std::string::npos);
  CHECK(dead[0].find(R"("offset":2)") != std::string::npos);
  const engine::RunSummary s = (*pipeline)->summary();
  CHECK(s.events_in == 5);
  CHECK(s.events_out == 4);
  CHECK(s.dead_letters == 1);
  CHECK(s.commits >= 1);
}

TEST_CASE("pipeline: two stages run together, the summary counts the first's input and the last's output",
          "[engine]") {
  const std::string dir = TempDir("vigil-pipeline-two");
  WriteLines(dir + "/first.jsonl", {R"({"ID":1,"T":10,"K":"a"})", "{not json", R"({"ID":2,"T":20,"K":"a"})"});
  WriteLines(dir + "/second.jsonl", {R"({"ID":7,"T":10,"K":"x"})", "[1]", "[2]"});
  std::vector<std::string> made;  // the stages whose I/O was made, in order
  auto pipeline = engine::Pipeline::Build({FileStage(dir, "first"), FileStage(dir, "second")}, Operators(),
                                          [&](const config::PipelineSpec& stage, const engine::Plan& plan) {
                                            made.push_back(stage.name + ":" + plan.spec().name);
                                            return connectors::MakeStageIo(stage, plan);
                                          });
  INFO(pipeline.status().message());
  REQUIRE(pipeline.ok());
  CHECK(made == std::vector<std::string>{"first:first", "second:second"});
  REQUIRE((*pipeline)->size() == 2);
  CHECK((*pipeline)->last_plan().spec().name == "second");
  REQUIRE((*pipeline)->Run().ok());

  CHECK(ReadLines(dir + "/first.out.jsonl") ==
        std::vector<std::string>{R"({"ID":1,"C":1})", R"({"ID":2,"C":2})"});
  CHECK(ReadLines(dir + "/second.out.jsonl") == std::vector<std::string>{R"({"ID":7,"C":1})"});
  const engine::RunSummary s = (*pipeline)->summary();
  CHECK(s.events_in == 3);     // the first stage's
  CHECK(s.events_out == 1);    // the last stage's
  CHECK(s.dead_letters == 3);  // every stage's
  CHECK(s.commits >= 2);
  // Both stages' probes report in the one registry, labelled with their stage's name.
  const std::string metrics = engine::SerializeMetrics(*(*pipeline)->metrics());
  CHECK(metrics.find("pipeline=\"first\"") != std::string::npos);
  CHECK(metrics.find("pipeline=\"second\"") != std::string::npos);
}

//! A source of one partition that never ends and never has an event.
class EndlessSource final : public engine::Source {
 public:
  class Empty final : public engine::PartitionReader {
   public:
    base::Status Read(std::size_t, int wait_ms, std::vector<engine::RawEvent>* out) override {
      out->clear();
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 5)));
      return base::Status::OK();
    }
  };
  base::Status Start(engine::SourceListener* listener) override {
    listener_ = listener;
    return base::Status::OK();
  }
  base::Status Poll(int timeout_ms) override {
    if (assigned_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 5)));
      return base::Status::OK();
    }
    assigned_ = true;
    VIGIL_RETURN_IF_ERROR(listener_->PrepareAssign(0).status());
    return listener_->Assigned(0, std::make_unique<Empty>(), nullptr);
  }
  base::Status Commit(std::span<const engine::PartitionOffset>) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

 private:
  engine::SourceListener* listener_ = nullptr;
  bool assigned_ = false;
  std::string name_ = "endless";
};

//! A sink whose every write fails.
class FailingSink final : public engine::Sink {
 public:
  base::Status Write(const engine::OutBatch&) override { return base::IoError("the disk is full"); }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
};

TEST_CASE("pipeline: the first stage to fail stops the others, and Run returns its error", "[engine]") {
  const std::string dir = TempDir("vigil-pipeline-fail");
  std::vector<Captured> dead;
  auto pipeline = engine::Pipeline::Build(
      {FileStage(dir, "first"), FileStage(dir, "second")}, Operators(),
      [&](const config::PipelineSpec& stage, const engine::Plan&) {
        if (stage.name == "first")
          return engine::StageIo(connectors::FileSource::FromText(R"({"ID":1,"T":10,"K":"a"})"
                                                                  "\n",
                                                                  "input"),
                                 std::make_unique<FailingSink>(), nullptr);
        // Would run until stopped: only the first stage's failure ends it.
        return engine::StageIo(std::make_unique<EndlessSource>(), std::make_unique<CapturingSink>(&dead),
                               nullptr);
      });
  REQUIRE(pipeline.ok());
  const base::Status st = (*pipeline)->Run();
  CHECK(st.code() == base::StatusCode::kIoError);
  CHECK(st.message().find("the disk is full") != std::string::npos);
}

TEST_CASE("pipeline: a stage that does not bind, or whose I/O fails, fails the build with its error",
          "[engine]") {
  const std::string dir = TempDir("vigil-pipeline-errors");
  config::PipelineSpec bad = FileStage(dir, "bad");
  bad.operators.front().type = "nonesuch";
  int io_calls = 0;
  auto unbound =
      engine::Pipeline::Build({FileStage(dir, "good"), bad}, Operators(), [&](const auto&, const auto&) {
        ++io_calls;
        return base::Result<engine::StageIo>(base::Unavailable("no broker"));
      });
  REQUIRE_FALSE(unbound.ok());
  // The first stage's I/O failed before the second was bound.
  CHECK(io_calls == 1);
  CHECK(unbound.status().code() == base::StatusCode::kUnavailable);
  CHECK(unbound.status().message() == "no broker");

  auto plan_error = engine::Pipeline::Build({bad}, Operators(), &connectors::MakeStageIo);
  REQUIRE_FALSE(plan_error.ok());
  CHECK(plan_error.status().message().find("nonesuch") != std::string::npos);

  // Bound only: plans and probes, no runtime to run.
  auto bound = engine::Pipeline::Build({FileStage(dir, "good")}, Operators(), nullptr);
  REQUIRE(bound.ok());
  CHECK((*bound)->plan(0).schema().Find("C") >= 0);
  CHECK((*bound)->Run().code() == base::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vigil::testing
