#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "app/commands.h"
#include "app/config_reference_command.h"
#include "app/evaluate_command.h"
#include "app/logging.h"
#include "app/models_command.h"
#include "app/replay_command.h"
#include "app/reset_command.h"
#include "app/runs_command.h"
#include "app/simulate_command.h"
#include "app/train_command.h"
#include "config/pipeline_config.h"

namespace vigil::app {
namespace {

//! The allocator that serves this process's malloc: "jemalloc 5.3.0" when jemalloc's `mallctl` is
//! linked in (the release build), else "glibc malloc". Asked at run time: what the loader bound wins.
std::string AllocatorName() {
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  const auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "glibc malloc";
  const char* version = nullptr;
  size_t size = sizeof version;
  if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) != 0 || version == nullptr)
    return "jemalloc";
  const std::string_view v = version;  // e.g. "5.3.0-0-g54eaed1d…": the release, then its commit
  return "jemalloc " + std::string(v.substr(0, v.find('-')));
}

//! The first word of `argv` that is not an option or an option's value, or "" (only global options).
std::string_view FirstCommandWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--log-level" || arg == "--log-format") {
      ++i;  // its value
      continue;
    }
    if (!arg.empty() && arg[0] == '-') continue;
    return arg;
  }
  return {};
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "vigil — streaming fraud detection: Kafka in, features in RocksDB, XGBoost scores, decisions out."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("vigil ") + VIGIL_VERSION + " (" + AllocatorName() + ")");
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (debug adds the Kafka client's lines)")
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text, or json: one JSON object a line (time, level, msg)")
      ->capture_default_str();

  RunOptions run;
  std::string idle_exit;
  CLI::App* run_cmd =
      app.add_subcommand("run", "Run a pipeline described by a YAML file until SIGINT/SIGTERM");
  run_cmd->add_option("config", run.config_path, "Pipeline YAML file")->required();
  run_cmd->add_option("--bootstrap", run.bootstrap, "Kafka bootstrap servers (overrides kafka.bootstrap)");
  run_cmd->add_option("--http-port", run.http_port, "HTTP port (overrides http.port; 0 = any free port)");
  run_cmd->add_option("--state-dir", run.state_dir, "State directory (overrides runtime.state_dir)");
  run_cmd->add_option("--instance-id", run.instance_id,
                      "This instance's name in its consumer group (overrides runtime.instance_id; default "
                      "<hostname>-<8 hex of a hash of the state directory>); a restart with the same id "
                      "fences the previous incarnation's transactions. An instance fenced by another "
                      "with its id exits 3");
  run_cmd->add_option("--idle-exit", idle_exit,
                      "Stop after this long without events, e.g. 10s (default: never)");
  std::string progress = "10s";
  run_cmd
      ->add_option("--progress", progress,
                   "Log one progress line (events/s, lag, champion) this often; 0 = never")
      ->capture_default_str();
  run_cmd->add_flag("--json-summary", run.json_summary, "Print the end-of-run summary as one JSON line");
  run_cmd->add_flag("--create-topics", run.create_topics,
                    "Create the missing topics the pipeline reads or writes, with the input's partitions "
                    "(default: name them and exit)");

  std::string check_path;
  CLI::App* check_cmd = app.add_subcommand("check-config", "Validate a pipeline file and bind its operators");
  check_cmd->add_option("config", check_path, "Pipeline YAML file")->required();
  ConfigReferenceOptions config_reference;
  AddConfigReferenceCommand(app, config_reference);

  SimulateOptions simulate;
  AddSimulateCommand(app, simulate);
  ReplayOptions replay;
  AddReplayCommand(app, replay);
  ModelsOptions models;
  AddModelsCommand(app, models);
  RunsOptions runs;
  AddRunsCommand(app, runs);
  TrainCommandOptions train;
  AddTrainCommand(app, train);
  EvaluateOptions evaluate;
  AddEvaluateCommand(app, evaluate);
  ResetOptions reset;
  AddResetCommand(app, reset);

  // CLI11 would say "The following arguments were not expected"; name the mistake and the way out.
  if (const std::string_view word = FirstCommandWord(argc, argv); !word.empty()) {
    std::string known;
    bool found = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      found = found || sub->get_name() == word;
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (!found) {
      fmt::print(stderr, "vigil: unknown command '{}'; the commands are {} (see vigil --help)\n", word,
                 known);
      return 2;
    }
  }
  CLI11_PARSE(app, argc, argv);
  if (base::Status st = ConfigureLogging(log_level, log_format); !st.ok()) {
    fmt::print(stderr, "vigil: {}\n", st.message());
    return 2;
  }

  if (*run_cmd) {
    if (!idle_exit.empty()) {
      auto ms = config::ParseDurationMs(idle_exit);
      if (!ms.ok()) {
        fmt::print(stderr, "--idle-exit: {}\n", ms.status().message());
        return 2;
      }
      run.idle_exit_ms = *ms;
    }
    auto progress_ms = config::ParseDurationMs(progress);
    if (!progress_ms.ok()) {
      fmt::print(stderr, "--progress: {}\n", progress_ms.status().message());
      return 2;
    }
    run.progress_ms = *progress_ms;
    return RunPipelineCommand(run);
  }
  if (*check_cmd) return CheckConfigCommand(check_path);
  if (config_reference.selected) return ConfigReferenceCommand();
  if (simulate.selected) return SimulateCommand(simulate);
  if (replay.selected) return ReplayCommand(replay);
  if (!models.action.empty()) return ModelsCommand(models);
  if (!runs.action.empty()) return RunsCommand(runs);
  if (train.selected) return TrainCommand(train);
  if (evaluate.selected) return EvaluateCommand(evaluate);
  if (reset.selected) return ResetCommand(reset);
  return 2;
}

}  // namespace vigil::app
