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
#include "engine/pipeline.h"
#include "lifecycle/retrainer.h"

namespace vigil::app {

//! Registers every route above on `server`, for the stages of `pipeline` in data order (one, unless it
//! repartitions; built with runtimes): /v1/score runs the event through each, /metrics serves the
//! pipeline's metrics registry. The pipeline must outlive the server's handlers (stop the server
//! first).
void RegisterRoutes(engine::HttpServer& server, engine::Pipeline& pipeline);
//! Registers POST /v1/retrain on `server` (a mutating route: bearer token): 202 {"run_id": "..."},
//! or 409 when a training is running. `retrainer` must outlive the server's handlers.
void RegisterRetrainRoute(engine::HttpServer& server, lifecycle::Retrainer* retrainer);

}  // namespace vigil::app
