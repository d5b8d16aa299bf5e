#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "app/commands.h"
#include "app/http_api.h"
#include "app/retrainer.h"
#include "connectors/factory.h"
#include "engine/engine_probe.h"
#include "engine/http_server.h"
#include "engine/plan.h"
#include "engine/runtime.h"
#include "operators/register.h"

namespace vigil::app {
namespace {

std::atomic<engine::Runtime*> g_runtime{nullptr};

extern "C" void OnSignal(int) {
  if (engine::Runtime* rt = g_runtime.load()) rt->RequestStop();
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = &OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

base::Result<std::unique_ptr<engine::HttpServer>> StartHttp(const config::HttpSpec& http, engine::Runtime* runtime,
                                                            const engine::Plan& plan,
                                                            const std::shared_ptr<prometheus::Registry>& registry,
                                                            Retrainer* retrainer) {
  engine::HttpServerOptions options;
  options.bind_address = http.bind;
  options.port = static_cast<uint16_t>(http.port);
  options.threads = http.threads;
  if (const char* token = std::getenv(http.token_env.c_str())) options.token = token;
  VIGIL_ASSIGN_OR_RETURN(auto server, engine::HttpServer::Start(options));
  RegisterRoutes(*server, runtime, plan, registry);
  if (retrainer != nullptr) RegisterRetrainRoute(*server, retrainer);
  spdlog::info("http server on {}:{}", http.bind, server->port());
  return server;
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

  engine::OperatorRegistry registry;
  if (base::Status st = operators::RegisterOperators(&registry); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.ToString());
    return 1;
  }
  auto metrics = engine::NewMetricsRegistry();
  auto plan = engine::Plan::Build(spec, registry, metrics);
  if (!plan.ok()) {
    fmt::print(stderr, "error: {}\n", plan.status().message());
    return 2;
  }
  engine::EngineProbe probe(metrics, spec.name);
  auto io = connectors::MakePipelineIo(spec, (*plan)->output_encoder().csv_header());
  if (!io.ok()) {
    fmt::print(stderr, "error: {}\n", io.status().message());
    return 2;
  }
  auto runtime = engine::Runtime::Make(**plan, std::move(io->source), std::move(io->output),
                                       std::move(io->dead_letter), &probe);
  if (!runtime.ok()) {
    fmt::print(stderr, "error: {}\n", runtime.status().ToString());
    return 1;
  }
  (*runtime)->set_changelog(std::move(io->changelog), io->exactly_once);
  spdlog::info("{}{}", io->exactly_once ? "exactly-once" : "at-least-once",
               (*runtime)->has_changelog() ? ", state backed by a changelog topic" : "");
  (*runtime)->set_idle_exit_ms(options.idle_exit_ms);
  // Declared after the runtime and before the server: destroyed after the server, before the runtime.
  auto retrainer = Retrainer::Start(spec, metrics);
  if (!retrainer.ok()) {
    fmt::print(stderr, "error: {}\n", retrainer.status().message());
    return 2;
  }
  std::unique_ptr<engine::HttpServer> http;
  if (spec.http.enabled) {
    auto server = StartHttp(spec.http, runtime->get(), **plan, metrics, retrainer->get());
    if (!server.ok()) {
      fmt::print(stderr, "error: http: {}\n", server.status().message());
      return 2;
    }
    http = std::move(server).value();
  }
  g_runtime = runtime->get();
  InstallSignalHandlers();
  const base::Status st = (*runtime)->Run();
  g_runtime = nullptr;
  const engine::RunSummary s = (*runtime)->summary();
  if (options.json_summary) {
    fmt::print("{{\"events_in\":{},\"events_out\":{},\"dead_letters\":{},\"commits\":{},\"ok\":{}}}\n", s.events_in,
               s.events_out, s.dead_letters, s.commits, st.ok());
  } else {
    fmt::print("vigil: {} events in, {} out, {} dead-lettered, {} commits\n", s.events_in, s.events_out,
               s.dead_letters, s.commits);
  }
  if (http) http->Stop();
  if (*retrainer) (*retrainer)->Stop();
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
  fmt::print("{}: ok ({} operators, {} columns)\n", path, (*plan)->operators().size(), (*plan)->schema().size());
  return 0;
}

}  // namespace vigil::app
