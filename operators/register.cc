#include "operators/register.h"

#include "operators/derive.h"
#include "operators/parse.h"
#include "operators/score.h"
#include "operators/window.h"

namespace vigil::operators {

base::Status RegisterOperators(engine::OperatorRegistry* registry, ScoreLifecycle* lifecycle) {
  VIGIL_RETURN_IF_ERROR(registry->Register("parse", &MakeParse));
  VIGIL_RETURN_IF_ERROR(registry->Register("derive", &MakeDerive));
  VIGIL_RETURN_IF_ERROR(registry->Register("window", &MakeWindow));
  VIGIL_RETURN_IF_ERROR(registry->Register(
      "score", [lifecycle](engine::BindContext& ctx) { return MakeScore(ctx, lifecycle); }));
  return base::Status::OK();
}

}  // namespace vigil::operators
