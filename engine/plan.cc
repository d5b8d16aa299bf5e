#include "engine/plan.h"

namespace vigil::engine {

base::Result<std::unique_ptr<const Plan>> Plan::Build(const config::PipelineSpec& spec,
                                                      const OperatorRegistry& registry,
                                                      std::shared_ptr<prometheus::Registry> metrics) {
  std::unique_ptr<Plan> plan(new Plan(spec));
  config::OperatorSpec parse_spec;
  parse_spec.type = "parse";
  parse_spec.name = "parse";
  parse_spec.loc = spec.schema.loc;
  std::vector<const config::OperatorSpec*> chain = {&parse_spec};
  for (const auto& op : spec.operators) chain.push_back(&op);
  TableId table = 1;
  for (const config::OperatorSpec* op : chain) {
    const OperatorFactory* factory = registry.Find(op->type);
    if (factory == nullptr)
      return config::ConfigError(op->loc, "no operator named '" + op->type + "' is registered");
    BindContext ctx{plan->spec_, *op, plan->schema_, table++, metrics};
    VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Operator> bound, (*factory)(ctx));
    if (!ctx.side_output.empty()) {
      if (!plan->side_output_.empty() && plan->side_output_ != ctx.side_output)
        return config::ConfigError(op->loc, "'" + op->name + "' writes side records to '" + ctx.side_output +
                                                "', but this stage already writes them to '" +
                                                plan->side_output_ + "': one topic per stage");
      plan->side_output_ = ctx.side_output;
    }
    plan->operators_.push_back(std::move(bound));
  }
  for (const std::string& f : spec.features) {
    const int c = plan->schema_.Find(f);
    if (c < 0) return config::ConfigError(spec.features_loc, "feature '" + f + "' is not a column");
    if (plan->schema_.column(c).type == config::FieldType::kString)
      return config::ConfigError(spec.features_loc,
                                 "feature '" + f + "' is a string column; features are numbers");
  }
  VIGIL_ASSIGN_OR_RETURN(plan->encoder_,
                         RowEncoder::Make(plan->schema_, spec.output.fields, spec.schema.key));
  return std::unique_ptr<const Plan>(std::move(plan));
}

}  // namespace vigil::engine
