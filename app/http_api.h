#pragma once
// The HTTP API of a running pipeline, on its one HttpServer:
//   GET  /                                                 the live status page (app/status/)
//   GET  /metrics, /healthz, /readyz                       read-only
//   GET  /v1/pipeline         its name, stages, whether it scores, its rollout rule (for the page)
//   POST /v1/score            one transaction JSON -> score, decision, reasons, model version, features
//   GET  /v1/models                                        the registry's versions and champion
//   POST /v1/models/promote   {"version":"v3"}             bearer token
//   POST /v1/models/rollback                               bearer token
//   GET  /v1/runs[?limit=N], /v1/runs?id=RUN                training run records (experiment tracking)
//   POST /v1/retrain                                       bearer token; a retraining from the feature log
// /v1/score computes the features from the live state of the task that owns the event's key, without
// changing it (unless http.score_updates_state), through the same operators as the stream.

#include <memory>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/http_server.h"
#include "engine/plan.h"
#include "engine/runtime.h"

namespace prometheus {
class Registry;
}

namespace vigil::app {

//! One stage of the pipeline (engine/stages.h): its runtime and plan.
struct Stage {
  engine::Runtime* runtime;
  const engine::Plan* plan;
};

//! Registers every route above on `server`, for the stages of a pipeline in data order (one, unless it
//! repartitions): /v1/score runs the event through each. The stages and `metrics` must outlive the
//! server's handlers (stop the server first).
void RegisterRoutes(engine::HttpServer& server, std::vector<Stage> stages,
                    const std::shared_ptr<prometheus::Registry>& metrics);
//! The same for a pipeline of one stage.
void RegisterRoutes(engine::HttpServer& server, engine::Runtime* runtime, const engine::Plan& plan,
                    const std::shared_ptr<prometheus::Registry>& metrics);

}  // namespace vigil::app
