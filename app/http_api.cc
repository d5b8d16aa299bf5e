#include "app/http_api.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <span>

#include "app/status/status_page.h"
#include "engine/engine_probe.h"
#include "engine/row_encoder.h"
#include "lifecycle/retrainer.h"
#include "models/registry.h"
#include "models/runs.h"

namespace vigil::app {
namespace {

using engine::HttpRequest;
using engine::HttpResponse;
using engine::JsonError;

//! One stage of the pipeline (engine/stages.h): its runtime and plan.
struct Stage {
  engine::Runtime* runtime;
  const engine::Plan* plan;
};

//! HTTP status for a Status from the engine or the registry.
int HttpStatus(const base::Status& st) {
  switch (st.code()) {
    case base::StatusCode::kInvalidArgument:
      return 400;
    case base::StatusCode::kNotFound:
      return 404;
    case base::StatusCode::kFailedPrecondition:
      return 409;
    case base::StatusCode::kCorruption:
      return 422;
    case base::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

//! Where /v1/score finds things in the plan's schema.
struct ScoreColumns {
  int score = -1, decision = -1, version = -1, reasons = -1;
  std::vector<std::pair<std::string, int>> features;
};

//! The record key of an event: `?key=`, else the source's key field (integers as decimal text).
base::Result<std::string> EventKey(const HttpRequest& req, const config::SourceSpec& source) {
  if (auto key = req.QueryParam("key")) return *key;
  if (source.key.empty()) return std::string();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(req.body).get(doc)) return base::InvalidArgument("the body is not valid JSON");
  simdjson::dom::element value;
  if (doc[source.key].get(value))
    return base::InvalidArgument("the event has no key field '" + source.key + "'");
  if (int64_t i = 0; !value.get_int64().get(i)) return std::to_string(i);
  if (std::string_view s; !value.get_string().get(s)) return std::string(s);
  return base::InvalidArgument("key field '" + source.key + "' must be an integer or a string");
}

//! Appends REASONS text ("F:+0.1;G:-0.2") as [{"feature":"F","contribution":0.1},...].
void AppendReasons(std::string_view text, std::string* out) {
  out->push_back('[');
  bool first = true;
  while (!text.empty()) {
    const size_t semi = std::min(text.find(';'), text.size());
    const std::string_view item = text.substr(0, semi);
    text.remove_prefix(std::min(semi + 1, text.size()));
    const size_t colon = item.rfind(':');
    if (colon == std::string_view::npos) continue;
    double value = 0;
    const char* begin = item.data() + colon + 1 + (item[colon + 1] == '+' ? 1 : 0);
    std::from_chars(begin, item.data() + item.size(), value);
    if (!first) out->push_back(',');
    first = false;
    *out += "{\"feature\":";
    engine::AppendJsonString(item.substr(0, colon), out);
    *out += ",\"contribution\":";
    engine::AppendJsonDouble(value, out);
    out->push_back('}');
  }
  out->push_back(']');
}

//! The 422 answer for a row a stage rejected (dead-lettered).
HttpResponse Rejected(const engine::Batch& batch, size_t row) {
  const engine::RowMeta& m = batch.meta(row);
  std::string body = "{\"error\":\"event rejected\",\"reason\":";
  engine::AppendJsonString(engine::DlqReasonName(m.reason), &body);
  if (m.detail_column >= 0) {
    body += ",\"field\":";
    engine::AppendJsonString(batch.schema().column(m.detail_column).name, &body);
  }
  body.push_back('}');
  return engine::JsonResponse(422, std::move(body));
}

HttpResponse Score(const HttpRequest& req, std::span<const Stage> stages, const ScoreColumns& cols) {
  const config::PipelineSpec& first = stages.front().plan->spec();
  engine::BatchMode mode;
  mode.read_only = !first.http.score_updates_state;
  if (auto reasons = req.QueryParam("reasons")) {
    if (*reasons == "exact")
      mode.explain = 2;
    else if (*reasons == "approximate")
      mode.explain = 1;
    else if (*reasons != "auto")
      return JsonError(400, "reasons: expected exact, approximate or auto");
  }
  auto key = EventKey(req, first.source);
  if (!key.ok()) return JsonError(400, key.status().message());
  // A pipeline of several stages (engine/stages.h): each stage's row, every column, is the next
  // stage's event, found in the task of its key as the repartition topic would deliver it.
  std::string event = req.body;
  for (size_t s = 0; s + 1 < stages.size(); ++s) {
    auto partition = stages[s].runtime->PartitionFor(*key);
    if (!partition.ok()) return JsonError(HttpStatus(partition.status()), partition.status().message());
    std::optional<HttpResponse> rejected;
    std::string next, next_key;
    const engine::RowEncoder& encoder = stages[s].plan->output_encoder();
    const base::Status st =
        stages[s].runtime->Query(*partition, event, mode, [&](const engine::Batch& batch, size_t row) {
          if (!batch.live(row)) {
            rejected = Rejected(batch, row);
            return;
          }
          encoder.EncodeRow(batch, row, &next);
          encoder.EncodeKey(batch, row, &next_key);
        });
    if (!st.ok()) return JsonError(HttpStatus(st), st.message());
    if (rejected) return *std::move(rejected);
    event = std::move(next);
    *key = std::move(next_key);
  }
  engine::Runtime* runtime = stages.back().runtime;
  auto partition = runtime->PartitionFor(*key);
  if (!partition.ok()) return JsonError(HttpStatus(partition.status()), partition.status().message());
  HttpResponse response;
  const base::Status st =
      runtime->Query(*partition, event, mode, [&](const engine::Batch& batch, size_t row) {
        if (!batch.live(row)) {
          response = Rejected(batch, row);
          return;
        }
        std::string body = "{\"score\":";
        engine::AppendJsonDouble(batch.f64(row, cols.score), &body);
        body += ",\"decision\":";
        engine::AppendJsonDouble(batch.f64(row, cols.decision), &body);
        body += ",\"model_version\":";
        engine::AppendJsonString(batch.str(row, cols.version), &body);
        body += ",\"reasons\":";
        AppendReasons(batch.str(row, cols.reasons), &body);
        body += ",\"features\":{";
        for (size_t i = 0; i < cols.features.size(); ++i) {
          if (i > 0) body.push_back(',');
          engine::AppendJsonString(cols.features[i].first, &body);
          body.push_back(':');
          engine::AppendJsonDouble(batch.AsDouble(row, cols.features[i].second), &body);
        }
        body += "},\"partition\":" + std::to_string(*partition) + ",\"state_updated\":";
        body += mode.read_only ? "false}" : "true}";
        response = engine::JsonResponse(200, std::move(body));
      });
  if (!st.ok()) return JsonError(HttpStatus(st), st.message());
  return response;
}

//! The pipeline's first score operator, or null.
const config::ScoreSpec* FirstScore(const config::PipelineSpec& spec) {
  for (const auto& op : spec.operators)
    if (const auto* s = std::get_if<config::ScoreSpec>(&op.params)) return s;
  return nullptr;
}

//! The registry of the pipeline's first score operator, or empty.
std::string ScoreRegistry(const config::PipelineSpec& spec) {
  const config::ScoreSpec* score = FirstScore(spec);
  return score ? score->registry : "";
}

//! GET /v1/pipeline: what the status page cannot read from /metrics, fixed for the run. The stages'
//! names are the `pipeline` label of their metrics, in data order (engine/stages.h: the last one
//! bears the pipeline's own name); the rollout rule is the score operator's, or null.
std::string PipelineJson(std::span<const Stage> stages) {
  const config::PipelineSpec& last = stages.back().plan->spec();
  std::string body = "{\"name\":";
  engine::AppendJsonString(last.name, &body);
  body += ",\"stages\":[";
  for (size_t i = 0; i < stages.size(); ++i) {
    if (i > 0) body.push_back(',');
    engine::AppendJsonString(stages[i].plan->spec().name, &body);
  }
  const config::ScoreSpec* score = FirstScore(last);
  body += "],\"score\":";
  body += score ? "true" : "false";
  body += ",\"rollout\":";
  if (score == nullptr || !score->rollout.enabled) {
    body += "null}";
    return body;
  }
  const config::RolloutSpec& r = score->rollout;
  body += "{\"mode\":";
  engine::AppendJsonString(r.mode, &body);
  body += ",\"canary_percent\":";
  engine::AppendJsonDouble(r.canary_percent, &body);
  body += ",\"metric\":";
  engine::AppendJsonString(r.metric, &body);
  body += ",\"margin\":";
  engine::AppendJsonDouble(r.margin, &body);
  body += ",\"days\":" + std::to_string(r.days);
  body += ",\"min_frauds\":" + std::to_string(r.min_frauds);
  body += ",\"confidence\":";
  engine::AppendJsonDouble(r.confidence, &body);
  body += "}}";
  return body;
}

HttpResponse ListModels(const models::Registry& registry) {
  auto versions = registry.ListVersions();
  if (!versions.ok()) return JsonError(HttpStatus(versions.status()), versions.status().message());
  auto champion = registry.ReadChampion();
  std::string body = "{\"champion\":";
  if (champion.ok())
    engine::AppendJsonString(*champion, &body);
  else
    body += "null";
  body += ",\"candidate\":";
  if (auto candidate = registry.ReadCandidate(); candidate.ok())
    engine::AppendJsonString(*candidate, &body);
  else
    body += "null";
  body += ",\"versions\":[";
  for (size_t i = 0; i < versions->size(); ++i) {
    if (i > 0) body.push_back(',');
    engine::AppendJsonString((*versions)[i], &body);
  }
  body += "]}";
  return engine::JsonResponse(200, std::move(body));
}

//! GET /v1/runs: {"runs":[...]}, newest first, at most ?limit=N (default 50); ?id=X: that run's record.
HttpResponse GetRuns(const HttpRequest& req, const models::Registry& registry) {
  constexpr size_t kDefaultLimit = 50;
  if (auto id = req.QueryParam("id")) {
    auto run = registry.ReadRun(*id);
    if (!run.ok()) return JsonError(HttpStatus(run.status()), run.status().message());
    return engine::JsonResponse(200, models::RunToJson(*run));
  }
  size_t limit = kDefaultLimit;
  if (auto text = req.QueryParam("limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size() || limit == 0)
      return JsonError(400, "limit: expected a positive integer");
  }
  auto runs = registry.ListRuns();
  if (!runs.ok()) return JsonError(HttpStatus(runs.status()), runs.status().message());
  std::string body = "{\"runs\":[";
  for (size_t i = 0; i < runs->size() && i < limit; ++i) {
    if (i > 0) body.push_back(',');
    body += models::RunToJson((*runs)[runs->size() - 1 - i]);
  }
  body += "]}";
  return engine::JsonResponse(200, std::move(body));
}

//! POST /v1/models/promote ("champion") or /v1/models/candidate ("candidate"): body {"version": "..."}.
HttpResponse SetModel(const HttpRequest& req, const models::Registry& registry,
                      const std::vector<std::string>& features, const std::string& role) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view version;
  if (parser.parse(req.body).get(doc) || doc["version"].get_string().get(version) || version.empty())
    return JsonError(400, "expected a JSON body {\"version\":\"...\"}");
  if (version.find('/') != std::string_view::npos || version.find("..") != std::string_view::npos)
    return JsonError(400, "bad version name");
  const std::string name(version);
  const bool champion = role == "champion";
  base::Status st = champion ? registry.Promote(name, features) : registry.ProposeCandidate(name, features);
  if (!st.ok()) {
    spdlog::warn("{} of {} refused: {}", champion ? "promotion" : "proposal", name, st.message());
    return JsonError(HttpStatus(st), st.message());
  }
  spdlog::info("model {} {} through the API", name, champion ? "promoted" : "proposed as the candidate");
  std::string body = "{\"" + role + "\":";
  engine::AppendJsonString(name, &body);
  body.push_back('}');
  return engine::JsonResponse(200, std::move(body));
}

HttpResponse RollbackModel(const models::Registry& registry, const std::vector<std::string>& features) {
  auto previous = registry.Rollback(features);
  if (!previous.ok()) return JsonError(HttpStatus(previous.status()), previous.status().message());
  spdlog::info("model {} is the champion again (rollback through the API)", *previous);
  std::string body = "{\"champion\":";
  engine::AppendJsonString(*previous, &body);
  body.push_back('}');
  return engine::JsonResponse(200, std::move(body));
}

}  // namespace

void RegisterRoutes(engine::HttpServer& server, engine::Pipeline& pipeline) {
  using engine::RouteKind;
  std::vector<Stage> stages;
  for (size_t s = 0; s < pipeline.size(); ++s) stages.push_back({&pipeline.runtime(s), &pipeline.plan(s)});
  const std::shared_ptr<prometheus::Registry> metrics = pipeline.metrics();
  server.Route(
      "GET", "/",
      [](const HttpRequest&) {
        return engine::TextResponse(200, std::string(status::Page()), "text/html; charset=utf-8");
      },
      RouteKind::kReadOnly);
  server.Route(
      "GET", "/v1/pipeline",
      [body = PipelineJson(stages)](const HttpRequest&) { return engine::JsonResponse(200, body); },
      RouteKind::kReadOnly);
  server.Route(
      "GET", "/metrics",
      [metrics](const HttpRequest&) {
        return engine::TextResponse(200, engine::SerializeMetrics(*metrics),
                                    "text/plain; version=0.0.4; charset=utf-8");
      },
      RouteKind::kReadOnly);
  server.Route(
      "GET", "/healthz", [](const HttpRequest&) { return engine::JsonResponse(200, R"({"status":"ok"})"); },
      RouteKind::kReadOnly);
  server.Route(
      "GET", "/readyz",
      [stages](const HttpRequest&) {
        for (const Stage& s : stages)
          if (!s.runtime->ready()) return engine::JsonResponse(503, R"({"status":"not ready"})");
        return engine::JsonResponse(200, R"({"status":"ready"})");
      },
      RouteKind::kReadOnly);

  // The score operator and the model's features are in the last stage (engine/stages.h).
  const engine::Plan& plan = *stages.back().plan;
  const std::string registry_dir = ScoreRegistry(plan.spec());
  if (registry_dir.empty()) return;  // no score operator: nothing to score or promote
  const models::Registry registry(registry_dir);
  ScoreColumns cols;
  const engine::Schema& schema = plan.schema();
  cols.score = schema.Find("SCORE");
  cols.decision = schema.Find("DECISION");
  cols.version = schema.Find("MODEL_VERSION");
  cols.reasons = schema.Find("REASONS");
  for (const auto& f : plan.spec().features) cols.features.emplace_back(f, schema.Find(f));
  server.Route(
      "POST", "/v1/score", [stages, cols](const HttpRequest& req) { return Score(req, stages, cols); },
      plan.spec().http.score_updates_state ? RouteKind::kMutating : RouteKind::kReadOnly);
  server.Route(
      "GET", "/v1/models", [registry](const HttpRequest&) { return ListModels(registry); },
      RouteKind::kReadOnly);
  server.Route(
      "GET", "/v1/runs", [registry](const HttpRequest& req) { return GetRuns(req, registry); },
      RouteKind::kReadOnly);
  server.Route(
      "POST", "/v1/models/promote",
      [registry, features = plan.spec().features](const HttpRequest& req) {
        return SetModel(req, registry, features, "champion");
      },
      RouteKind::kMutating);
  server.Route(
      "POST", "/v1/models/candidate",
      [registry, features = plan.spec().features](const HttpRequest& req) {
        return SetModel(req, registry, features, "candidate");
      },
      RouteKind::kMutating);
  server.Route(
      "POST", "/v1/models/rollback",
      [registry, features = plan.spec().features](const HttpRequest&) {
        return RollbackModel(registry, features);
      },
      RouteKind::kMutating);
}

void RegisterRetrainRoute(engine::HttpServer& server, lifecycle::Retrainer* retrainer) {
  server.Route(
      "POST", "/v1/retrain",
      [retrainer](const HttpRequest&) {
        auto id = retrainer->RequestRetrain();
        if (!id.ok()) return JsonError(HttpStatus(id.status()), id.status().message());
        std::string body = "{\"run_id\":";
        engine::AppendJsonString(*id, &body);
        body.push_back('}');
        return engine::JsonResponse(202, std::move(body));
      },
      engine::RouteKind::kMutating);
}

}  // namespace vigil::app
