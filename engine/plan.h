#pragma once
// Plan: a pipeline file bound into an immutable operator chain. `parse` always comes first (it turns
// the schema into columns); the configured operators follow in file order.

#include <memory>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/operator.h"
#include "engine/operator_registry.h"
#include "engine/row_encoder.h"

namespace vigil::engine {

//! Immutable after Build; shared by every task and thread.
class Plan {
 public:
  //! Binds every operator; the first error (located in the file) is returned. Operators that export
  //! metrics of their own register them in `metrics` (none when null: replays, tests).
  static base::Result<std::unique_ptr<const Plan>> Build(
      const config::PipelineSpec& spec, const OperatorRegistry& registry,
      std::shared_ptr<prometheus::Registry> metrics = nullptr);

  const config::PipelineSpec& spec() const { return spec_; }
  const Schema& schema() const { return schema_; }
  const std::vector<std::unique_ptr<Operator>>& operators() const { return operators_; }
  const RowEncoder& output_encoder() const { return encoder_; }
  //! The Kafka topic of the stage's side output (BindContext::side_output), or empty: none.
  const std::string& side_output() const { return side_output_; }

 private:
  explicit Plan(const config::PipelineSpec& spec) : spec_(spec) {}

  config::PipelineSpec spec_;
  Schema schema_;
  std::vector<std::unique_ptr<Operator>> operators_;
  RowEncoder encoder_;
  std::string side_output_;
};

}  // namespace vigil::engine
