#include "tests/support/one_task.h"

#include <catch2/catch.hpp>

#include "config/pipeline_config.h"
#include "operators/register.h"
#include "tests/support/process.h"

namespace vigil::testing {

OneTask::OneTask(const std::string& yaml, const std::string& name)
    : probe(engine::NewMetricsRegistry(), name) {
  auto spec = config::LoadPipelineText(yaml, name + ".yaml");
  REQUIRE(spec.ok());
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto built = engine::Plan::Build(*spec, registry);
  REQUIRE(built.ok());
  plan = std::move(*built);
  auto opened =
      engine::Task::Open(*plan, 0, engine::TaskOptions{TempDir("vigil-" + name) + "/p0", "test"}, &probe);
  REQUIRE(opened.ok());
  task = std::move(*opened);
}

}  // namespace vigil::testing
