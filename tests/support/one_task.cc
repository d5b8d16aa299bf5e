#include "tests/support/one_task.h"

#include <catch2/catch.hpp>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/process.h"

namespace vigil::testing {

OneTask::OneTask(const std::string& yaml, const std::string& name) {
  auto spec = config::LoadPipelineText(yaml, name + ".yaml");
  REQUIRE(spec.ok());
  spec->name = name;  // the probe's pipeline label
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto built = engine::Pipeline::Build({*spec}, registry, nullptr);
  REQUIRE(built.ok());
  pipeline = std::move(*built);
  plan = &pipeline->plan(0);
  probe = &pipeline->probe(0);
  auto opened =
      engine::Task::Open(*plan, 0, engine::TaskOptions{TempDir("vigil-" + name) + "/p0", "test"}, probe);
  REQUIRE(opened.ok());
  task = std::move(*opened);
}

}  // namespace vigil::testing
