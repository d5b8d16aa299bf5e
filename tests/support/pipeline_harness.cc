#include "tests/support/pipeline_harness.h"

#include <catch2/catch.hpp>

#include "config/pipeline_config.h"
#include "connectors/file_io.h"
#include "engine/pipeline.h"
#include "operators/register.h"

namespace vigil::testing {

base::Status CapturingSink::Write(const engine::OutBatch& batch) {
  for (const engine::OutRecord& r : batch.records) {
    Captured c;
    c.key.assign(batch.buffer.data() + r.key_offset, r.key_size);
    c.value.assign(batch.buffer.data() + r.value_offset, r.value_size);
    if (r.reason != engine::DlqReason::kNone) c.reason = engine::DlqReasonName(r.reason);
    c.field = r.detail;
    c.offset = r.source_offset;
    into_->push_back(std::move(c));
  }
  return base::Status::OK();
}

HarnessResult RunOnText(const std::string& yaml, const std::string& jsonl, const std::string& state_dir) {
  HarnessResult result;
  auto spec = config::LoadPipelineText(yaml, "test.yaml");
  INFO(spec.status().message());
  REQUIRE(spec.ok());
  spec->runtime.state_dir = state_dir;
  spec->runtime.workers = 1;
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto pipeline = engine::Pipeline::Build({*spec}, registry, [&](const auto&, const auto&) {
    return engine::StageIo{connectors::FileSource::FromText(jsonl, "input"),
                           std::make_unique<CapturingSink>(&result.outputs),
                           std::make_unique<CapturingSink>(&result.dead_letters)};
  });
  INFO(pipeline.status().message());
  REQUIRE(pipeline.ok());
  result.status = (*pipeline)->Run();
  return result;
}

}  // namespace vigil::testing
