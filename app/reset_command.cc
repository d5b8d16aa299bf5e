#include "app/reset_command.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "config/pipeline_config.h"
#include "connectors/factory.h"
#include "connectors/kafka_admin.h"
#include "engine/operator_registry.h"
#include "engine/stages.h"
#include "operators/register.h"

namespace vigil::app {
namespace {

//! What a reset deletes.
struct Footprint {
  std::vector<std::string> groups;
  std::vector<std::string> topics;
  std::vector<std::string> state_dirs;
};

Footprint FootprintOf(const std::vector<config::PipelineSpec>& stages) {
  Footprint f;
  for (size_t s = 0; s < stages.size(); ++s) {
    const config::PipelineSpec& stage = stages[s];
    f.groups.push_back(stage.source.group);
    if (s > 0) f.topics.push_back(stage.source.topic);  // a repartition topic the previous stage wrote
    if (stage.runtime.changelog) f.topics.push_back(connectors::ChangelogTopic(stage));
    for (const config::OperatorSpec& op : stage.operators) {  // the outcomes and the lifecycle's lease
      const auto* score = std::get_if<config::ScoreSpec>(&op.params);
      if (score == nullptr || score->outcomes.empty()) continue;
      f.topics.insert(f.topics.end(), {score->outcomes, score->outcomes + ".lease"});
      f.groups.insert(f.groups.end(), {score->outcomes + ".lifecycle", score->outcomes + ".reader"});
    }
    f.state_dirs.push_back((std::filesystem::path(stage.runtime.state_dir) / stage.source.group).string());
  }
  return f;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

int ResetCommand(const ResetOptions& o) {
  auto loaded = config::LoadPipelineFile(o.config_path);
  if (!loaded.ok()) {
    fmt::print(stderr, "error: {}\n", loaded.status().message());
    return 2;
  }
  config::PipelineSpec spec = std::move(loaded).value();
  if (spec.source.kind != config::SourceSpec::Kind::kKafka) {
    fmt::print(stderr, "error: {} reads a file: there is no consumer group or internal topic to reset\n",
               o.config_path);
    return 2;
  }
  if (!o.bootstrap.empty()) spec.kafka.bootstrap = o.bootstrap;
  if (!o.state_dir.empty()) spec.runtime.state_dir = o.state_dir;
  engine::OperatorRegistry registry;
  (void)operators::RegisterOperators(&registry);
  auto stages = engine::SplitStages(spec, registry);
  if (!stages.ok()) {
    fmt::print(stderr, "error: {}\n", stages.status().message());
    return 2;
  }
  // Over one partition a pipeline runs as one stage, over several as the stages: reset both shapes
  // (what does not exist is skipped).
  Footprint f = FootprintOf(*stages);
  const Footprint whole = FootprintOf({spec});
  const auto add = [](std::vector<std::string>* to, const std::vector<std::string>& from) {
    for (const std::string& x : from)
      if (std::find(to->begin(), to->end(), x) == to->end()) to->push_back(x);
  };
  add(&f.groups, whole.groups);
  add(&f.topics, whole.topics);
  add(&f.state_dirs, whole.state_dirs);
  fmt::print(
      "vigil reset {} deletes, on {}:\n  consumer groups (their committed offsets): {}\n  internal topics: "
      "{}\n"
      "  local state: {}\nThe next run starts from the beginning of {}.\n",
      o.config_path, spec.kafka.bootstrap, Join(f.groups), Join(f.topics), Join(f.state_dirs),
      spec.source.topic);
  if (!o.yes) {
    fmt::print("Type yes to go on: ");
    std::fflush(stdout);
    std::string answer;
    if (!std::getline(std::cin, answer) || answer != "yes") {
      fmt::print("nothing deleted\n");
      return 1;
    }
  }
  for (base::Status st :
       {connectors::DeleteGroups(spec.kafka, f.groups), connectors::DeleteTopics(spec.kafka, f.topics)}) {
    if (!st.ok()) {
      fmt::print(stderr, "error: {}\n", st.message());
      return 1;
    }
  }
  for (const std::string& dir : f.state_dirs) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) {
      fmt::print(stderr, "error: cannot delete {}: {}\n", dir, ec.message());
      return 1;
    }
  }
  fmt::print("reset done\n");
  return 0;
}

void AddResetCommand(CLI::App& app, ResetOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "reset",
      "Forget what a pipeline has done: its consumer groups' offsets, internal topics and local state");
  cmd->add_option("config", o.config_path, "Pipeline YAML file")->required();
  cmd->add_option("--bootstrap", o.bootstrap, "Kafka bootstrap servers (overrides kafka.bootstrap)");
  cmd->add_option("--state-dir", o.state_dir, "State directory (overrides runtime.state_dir)");
  cmd->add_flag("--yes", o.yes, "Do not ask for confirmation");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
