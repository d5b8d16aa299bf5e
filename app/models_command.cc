// `vigil models list|show|promote|propose|rollback`: the model registry from the command line.
#include <fmt/core.h>

#include "app/models_command.h"
#include "models/registry.h"

namespace vigil::app {
namespace {

int Fail(const base::Status& st) {
  fmt::print(stderr, "error: {}\n", st.message());
  return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2 : 1;
}


}  // namespace

int ModelsCommand(const ModelsOptions& o) {
  if (o.action == "list") {
    auto versions = models::ListVersions(o.registry);
    if (!versions.ok()) return Fail(versions.status());
    auto champion = models::ReadChampion(o.registry);
    auto candidate = models::ReadCandidate(o.registry);
    for (const auto& v : *versions)
      fmt::print("{}{}\n", v, champion.ok() && *champion == v     ? "  (champion)"
                              : candidate.ok() && *candidate == v ? "  (candidate)"
                                                                  : "");
    return 0;
  }
  if (o.action == "show") {
    auto v = models::LoadVersion(o.registry, o.version, {});
    if (!v.ok()) return Fail(v.status());
    fmt::print("{}: {} trees, {} features, parent {}, golden rows reproduce\n", (*v)->version, (*v)->forest->num_trees(),
               (*v)->features.size(), (*v)->parent.empty() ? "none" : (*v)->parent);
    for (const auto& f : (*v)->features) fmt::print("  {}\n", f);
    return 0;
  }
  if (o.action == "promote") {
    if (base::Status st = models::Promote(o.registry, o.version, {}); !st.ok()) return Fail(st);
    fmt::print("{} is the champion\n", o.version);
    return 0;
  }
  if (o.action == "propose") {
    if (base::Status st = models::ProposeCandidate(o.registry, o.version, {}); !st.ok()) return Fail(st);
    fmt::print("{} is the candidate: pipelines with `rollout:` now try it against the champion\n", o.version);
    return 0;
  }
  if (o.action == "rollback") {
    auto previous = models::Rollback(o.registry);
    if (!previous.ok()) return Fail(previous.status());
    fmt::print("{} is the champion again\n", *previous);
    return 0;
  }
  return 2;
}

void AddModelsCommand(CLI::App& app, ModelsOptions& o) {
  CLI::App* cmd = app.add_subcommand("models", "The model registry: list, show, promote, propose, rollback");
  cmd->add_option("--registry", o.registry, "Models directory")->required();
  cmd->require_subcommand(1);
  cmd->add_subcommand("list", "List versions; the champion is marked")->callback([&o] { o.action = "list"; });
  CLI::App* show = cmd->add_subcommand("show", "Load and verify a version, print its features");
  show->add_option("version", o.version)->required();
  show->callback([&o] { o.action = "show"; });
  CLI::App* promote = cmd->add_subcommand("promote", "Verify a version and make it the champion (running pipelines swap to it)");
  promote->add_option("version", o.version)->required();
  promote->callback([&o] { o.action = "promote"; });
  CLI::App* propose = cmd->add_subcommand(
      "propose", "Verify a version and make it the candidate (pipelines with `rollout:` shadow or canary it)");
  propose->add_option("version", o.version)->required();
  propose->callback([&o] { o.action = "propose"; });
  cmd->add_subcommand("rollback", "Make the previous champion serve again")->callback([&o] { o.action = "rollback"; });
}

}  // namespace vigil::app
