#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "app/http_api.h"
#include "app/retrainer.h"
#include "connectors/factory.h"
#include "connectors/topic_check.h"
#include "engine/engine_probe.h"
#include "engine/http_server.h"
#include "engine/plan.h"
#include "engine/runtime.h"
#include "engine/stages.h"
#include "models/registry.h"
#include "operators/register.h"

namespace vigil::app {
namespace {

//! The running stages' runtimes, for the signal handler (set before it is installed, never resized).
std::atomic<std::vector<std::unique_ptr<engine::Runtime>>*> g_runtimes{nullptr};

extern "C" void OnSignal(int) {
  if (auto* runtimes = g_runtimes.load())
    for (auto& rt : *runtimes) rt->RequestStop();
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = &OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

base::Result<std::unique_ptr<engine::HttpServer>> StartHttp(
    const config::HttpSpec& http, std::vector<Stage> stages,
    const std::shared_ptr<prometheus::Registry>& registry, Retrainer* retrainer) {
  engine::HttpServerOptions options;
  options.bind_address = http.bind;
  options.port = static_cast<uint16_t>(http.port);
  options.threads = http.threads;
  options.max_connections = static_cast<std::size_t>(http.max_connections);
  if (const char* token = std::getenv(http.token_env.c_str())) options.token = token;
  VIGIL_ASSIGN_OR_RETURN(auto server, engine::HttpServer::Start(options));
  RegisterRoutes(*server, std::move(stages), registry);
  if (retrainer != nullptr) RegisterRetrainRoute(*server, retrainer);
  spdlog::info("http server on {}:{}", http.bind, server->port());
  return server;
}

//! Runs every stage's runtime on a thread of its own until all have returned; the first error stops
//! the others. Returns that error, or OK.
base::Status RunStages(std::vector<std::unique_ptr<engine::Runtime>>& runtimes) {
  if (runtimes.size() == 1) return runtimes.front()->Run();
  std::mutex mu;
  base::Status first_error;
  std::vector<std::thread> threads;
  for (auto& rt : runtimes) {
    threads.emplace_back([&, runtime = rt.get()] {
      base::Status st = runtime->Run();
      if (st.ok()) return;
      std::lock_guard lock(mu);
      if (first_error.ok()) first_error = std::move(st);
      for (auto& other : runtimes) other->RequestStop();
    });
  }
  for (auto& t : threads) t.join();
  return first_error;
}

//! "champion vN" of the stage's first score operator (its registry's CHAMPION), or "" without one.
std::function<std::string()> ChampionNote(const config::PipelineSpec& stage) {
  for (const auto& op : stage.operators)
    if (const auto* score = std::get_if<config::ScoreSpec>(&op.params))
      return [registry = score->registry] {
        auto champion = models::ReadChampion(registry);
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

  engine::OperatorRegistry registry;
  if (base::Status st = operators::RegisterOperators(&registry); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.ToString());
    return 1;
  }
  auto stage_specs = connectors::PipelineStages(spec, registry);
  if (!stage_specs.ok()) {
    fmt::print(stderr, "error: {}\n", stage_specs.status().message());
    return 2;
  }
  auto metrics = engine::NewMetricsRegistry();
  // One memory budget for the state of every stage's tasks (runtime.memory); declared before the
  // runtimes, so it outlives them.
  auto memory = engine::MemoryBudget::Make(spec.runtime.memory_bytes);
  if (!memory.ok()) {
    fmt::print(stderr, "error: {}\n", memory.status().message());
    return 2;
  }
  // One plan, probe and runtime per stage (engine/stages.h); a pipeline that is not re-keyed has one.
  std::vector<std::unique_ptr<const engine::Plan>> plans;
  std::vector<std::unique_ptr<engine::EngineProbe>> probes;
  auto runtimes = std::make_unique<std::vector<std::unique_ptr<engine::Runtime>>>();
  std::vector<Stage> stages;
  for (const config::PipelineSpec& stage : *stage_specs) {
    auto plan = engine::Plan::Build(stage, registry, metrics);
    if (!plan.ok()) {
      fmt::print(stderr, "error: {}\n", plan.status().message());
      return 2;
    }
    probes.push_back(std::make_unique<engine::EngineProbe>(metrics, stage.name));
    auto io = connectors::MakePipelineIo(stage, (*plan)->output_encoder().csv_header());
    if (!io.ok()) {
      fmt::print(stderr, "error: {}\n", io.status().message());
      return 2;
    }
    auto runtime = engine::Runtime::Make(**plan, std::move(io->source), std::move(io->output),
                                         std::move(io->dead_letter), probes.back().get());
    if (!runtime.ok()) {
      fmt::print(stderr, "error: {}\n", runtime.status().ToString());
      return 1;
    }
    (*runtime)->set_changelog(std::move(io->changelog), io->exactly_once);
    (*runtime)->set_memory_budget(memory->get());
    spdlog::info("{}: {}{}", stage.name, io->exactly_once ? "exactly-once" : "at-least-once",
                 (*runtime)->has_changelog() ? ", state backed by a changelog topic" : "");
    (*runtime)->set_idle_exit_ms(options.idle_exit_ms);
    if (stages.size() + 1 == stage_specs->size())
      (*runtime)->set_progress(options.progress_ms, ChampionNote(stage));
    if (const int64_t align = engine::StageAlignmentMs(*stage_specs, stages.size()); align >= 0) {
      (*runtime)->set_event_time_alignment(align);
      spdlog::info("{}: partitions kept within {} ms of event time of each other", stage.name, align);
    }
    stages.push_back({runtime->get(), plan->get()});
    plans.push_back(std::move(plan).value());
    runtimes->push_back(std::move(runtime).value());
  }
  // Declared after the runtimes and before the server: destroyed after the server, before the runtimes.
  auto retrainer = Retrainer::Start(spec, metrics);
  if (!retrainer.ok()) {
    fmt::print(stderr, "error: {}\n", retrainer.status().message());
    return 2;
  }
  std::unique_ptr<engine::HttpServer> http;
  if (spec.http.enabled) {
    auto server = StartHttp(spec.http, stages, metrics, retrainer->get());
    if (!server.ok()) {
      fmt::print(stderr, "error: http: {}\n", server.status().message());
      return 2;
    }
    http = std::move(server).value();
  }
  g_runtimes = runtimes.get();
  InstallSignalHandlers();
  const base::Status st = RunStages(*runtimes);
  // The counts of the pipeline: events read by the first stage, written by the last; dead letters
  // and commits of every stage.
  engine::RunSummary s;
  s.events_in = runtimes->front()->summary().events_in;
  s.events_out = runtimes->back()->summary().events_out;
  for (const auto& rt : *runtimes) {
    s.dead_letters += rt->summary().dead_letters;
    s.commits += rt->summary().commits;
  }
  if (options.json_summary) {
    fmt::print("{{\"events_in\":{},\"events_out\":{},\"dead_letters\":{},\"commits\":{},\"ok\":{}}}\n",
               s.events_in, s.events_out, s.dead_letters, s.commits, st.ok());
  } else {
    fmt::print("vigil: {} events in, {} out, {} dead-lettered, {} commits\n", s.events_in, s.events_out,
               s.dead_letters, s.commits);
  }
  if (http) http->Stop();
  if (*retrainer) (*retrainer)->Stop();
  g_runtimes = nullptr;
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
