#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "app/commands.h"
#include "app/http_api.h"
#include "connectors/factory.h"
#include "connectors/topic_check.h"
#include "engine/engine_probe.h"
#include "engine/http_server.h"
#include "engine/pipeline.h"
#include "engine/plan.h"
#include "engine/stages.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/retrainer.h"
#include "models/registry.h"
#include "operators/register.h"

namespace vigil::app {
namespace {

//! The running pipeline, for the signal handler (set before it is installed).
std::atomic<engine::Pipeline*> g_pipeline{nullptr};

extern "C" void OnSignal(int) {
  if (auto* pipeline = g_pipeline.load()) pipeline->RequestStop();
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = &OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

base::Result<std::unique_ptr<engine::HttpServer>> StartHttp(const config::HttpSpec& http,
                                                            engine::Pipeline& pipeline,
                                                            lifecycle::Retrainer* retrainer) {
  engine::HttpServerOptions options;
  options.bind_address = http.bind;
  options.port = static_cast<uint16_t>(http.port);
  options.threads = http.threads;
  options.max_connections = static_cast<std::size_t>(http.max_connections);
  if (const char* token = std::getenv(http.token_env.c_str())) options.token = token;
  VIGIL_ASSIGN_OR_RETURN(auto server, engine::HttpServer::Start(options));
  RegisterRoutes(*server, pipeline);
  if (retrainer != nullptr) RegisterRetrainRoute(*server, retrainer);
  spdlog::info("http server on {}:{}", http.bind, server->port());
  return server;
}

//! "champion vN" of the stage's first score operator (its registry's CHAMPION), or "" without one.
std::function<std::string()> ChampionNote(const config::PipelineSpec& stage) {
  for (const auto& op : stage.operators)
    if (const auto* score = std::get_if<config::ScoreSpec>(&op.params))
      return [registry = models::Registry(score->registry)] {
        auto champion = registry.ReadChampion();
        return champion.ok() ? "champion " + *champion : std::string("no champion");
      };
  return {};
}

}  // namespace

int RunPipelineCommand(const RunOptions& options) {
  auto loaded = config::LoadPipelineFile(options.config_path);
  if (!loaded.ok()) {
    fmt::print(stderr, "error: {}\n", loaded.status().message());
    return 2;
  }
  config::PipelineSpec spec = std::move(loaded).value();
  if (!options.bootstrap.empty()) spec.kafka.bootstrap = options.bootstrap;
  if (options.http_port >= 0) spec.http.port = options.http_port;
  if (!options.state_dir.empty()) spec.runtime.state_dir = options.state_dir;
  if (!options.instance_id.empty()) spec.runtime.instance_id = options.instance_id;
  connectors::TopicCheckOptions topic_check;
  topic_check.create = options.create_topics;
  topic_check.create_command = "vigil run " + options.config_path + " --create-topics";
  if (base::Status st = connectors::CheckTopics(spec.kafka, connectors::PipelineTopics(spec), topic_check);
      !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 2;
  }

  // The model lifecycle: every score operator bound below is attached to it (hot swaps, rollouts,
  // monitor exports and drift signals); it stops after the pipeline's run.
  lifecycle::Lifecycle lifecycle;
  engine::OperatorRegistry registry;
  if (base::Status st = operators::RegisterOperators(&registry, &lifecycle); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.ToString());
    return 1;
  }
  auto stage_specs = connectors::PipelineStages(spec, registry);
  if (!stage_specs.ok()) {
    fmt::print(stderr, "error: {}\n", stage_specs.status().message());
    return 2;
  }
  // One plan, probe and runtime per stage (engine/stages.h); a pipeline that is not re-keyed has one.
  engine::PipelineOptions pipeline_options;
  pipeline_options.metrics = engine::NewMetricsRegistry();
  pipeline_options.operator_metrics = true;
  pipeline_options.idle_exit_ms = options.idle_exit_ms;
  pipeline_options.progress_ms = options.progress_ms;
  pipeline_options.progress_note = ChampionNote(stage_specs->back());
  pipeline_options.log_stages = true;
  auto pipeline = engine::Pipeline::Build(std::move(stage_specs).value(), registry, &connectors::MakeStageIo,
                                          std::move(pipeline_options));
  if (!pipeline.ok()) {
    fmt::print(stderr, "error: {}\n", pipeline.status().message());
    return 2;
  }
  const auto& metrics = (*pipeline)->metrics();
  // Declared after the runtimes and before the server: destroyed after the server, before the runtimes.
  auto retrainer = lifecycle::Retrainer::Start(spec, metrics, [&lifecycle] { return lifecycle.Leads(); });
  if (!retrainer.ok()) {
    fmt::print(stderr, "error: {}\n", retrainer.status().message());
    return 2;
  }
  std::unique_ptr<engine::HttpServer> http;
  if (spec.http.enabled) {
    auto server = StartHttp(spec.http, **pipeline, retrainer->get());
    if (!server.ok()) {
      fmt::print(stderr, "error: http: {}\n", server.status().message());
      return 2;
    }
    http = std::move(server).value();
  }
  g_pipeline = pipeline->get();
  InstallSignalHandlers();
  const base::Status st = (*pipeline)->Run();
  const engine::RunSummary s = (*pipeline)->summary();
  if (options.json_summary) {
    fmt::print("{{\"events_in\":{},\"events_out\":{},\"dead_letters\":{},\"commits\":{},\"ok\":{}}}\n",
               s.events_in, s.events_out, s.dead_letters, s.commits, st.ok());
  } else {
    fmt::print("vigil: {} events in, {} out, {} dead-lettered, {} commits\n", s.events_in, s.events_out,
               s.dead_letters, s.commits);
  }
  if (http) http->Stop();
  if (*retrainer) (*retrainer)->Stop();
  lifecycle.Stop();
  g_pipeline = nullptr;
  if (st.code() == base::StatusCode::kFenced) {
    fmt::print(stderr, "fenced: {}; give each instance its own --instance-id\n", st.message());
    return kExitFenced;
  }
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.ToString());
    return 1;
  }
  return 0;
}

int CheckConfigCommand(const std::string& path) {
  auto spec = config::LoadPipelineFile(path);
  if (!spec.ok()) {
    fmt::print(stderr, "error: {}\n", spec.status().message());
    return 2;
  }
  engine::OperatorRegistry registry;
  (void)operators::RegisterOperators(&registry);
  auto plan = engine::Plan::Build(*spec, registry);
  if (!plan.ok()) {
    fmt::print(stderr, "error: {}\n", plan.status().message());
    return 2;
  }
  fmt::print("{}: ok ({} operators, {} columns)\n", path, (*plan)->operators().size(),
             (*plan)->schema().size());
  // What `vigil run` does over an input topic of several partitions (engine/stages.h).
  auto stages = engine::SplitStages(*spec, registry);
  if (!stages.ok()) {
    fmt::print(stderr, "warning: over an input topic of several partitions: {}\n", stages.status().message());
  } else if (stages->size() > 1) {
    fmt::print("over an input topic of several partitions, {} stages:\n", stages->size());
    for (const config::PipelineSpec& stage : *stages) {
      std::string ops;
      for (const auto& op : stage.operators) ops += (ops.empty() ? "" : ", ") + op.name;
      fmt::print("  {}: {} by {} -> [{}] -> {}{}\n", stage.name, stage.source.topic, stage.source.key, ops,
                 stage.output.topic.empty() ? stage.output.path : stage.output.topic,
                 stage.labels.enabled ? " (reads the labels)" : "");
    }
  }
  return 0;
}

}  // namespace vigil::app
