// `vigil models list|show|promote|propose|rollback|import`: the model registry from the command line.
#include "app/models_command.h"

#include <fmt/core.h>

#include "app/train_command.h"
#include "models/registry.h"

namespace vigil::app {
namespace {

int Fail(const base::Status& st) {
  fmt::print(stderr, "error: {}\n", st.message());
  return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2 : 1;
}

//! `vigil models import`: registers a model trained elsewhere as vigil train registers its own.
int Import(const ModelsOptions& o) {
  lifecycle::TrainRequest request;
  request.pipeline_file = o.pipeline;
  request.table = o.table;
  request.models_dir = o.registry;
  request.train_start = o.start;
  request.train_days = o.days;
  request.valid_days = 0;
  request.version = o.version;
  request.trigger = "import";
  request.import_model = o.model;
  auto result = lifecycle::TrainAndRegister(request);
  if (!result.ok()) return Fail(result.status());
  if (!result->trained.ok()) return Fail(result->trained);
  if (!result->recorded.ok()) return Fail(result->recorded);
  const std::string& version = result->run.model_version;
  fmt::print("{} registered from {} ({} features checked; golden rows and reference from {} rows of {})\n",
             version, o.model, result->features.size(),
             static_cast<int64_t>(
                 result->run.train_metrics.count("rows") ? result->run.train_metrics.at("rows") : 0),
             o.table);
  if (!o.promote) {
    fmt::print("next: vigil models --registry {} promote {}\n", o.registry, version);
    return 0;
  }
  if (base::Status st = models::Registry(o.registry).Promote(version, result->features); !st.ok())
    return Fail(st);
  fmt::print("{} is the champion\n", version);
  return 0;
}

}  // namespace

int ModelsCommand(const ModelsOptions& o) {
  if (o.action == "import") return Import(o);
  const models::Registry registry(o.registry);
  if (o.action == "list") {
    auto versions = registry.ListVersions();
    if (!versions.ok()) return Fail(versions.status());
    auto champion = registry.ReadChampion();
    auto candidate = registry.ReadCandidate();
    for (const auto& v : *versions)
      fmt::print("{}{}\n", v,
                 champion.ok() && *champion == v     ? "  (champion)"
                 : candidate.ok() && *candidate == v ? "  (candidate)"
                                                     : "");
    // A folder with a model but no metadata.json is not a version yet: say so instead of hiding it.
    for (const std::string& folder : registry.ListUnregistered())
      fmt::print(
          "{}  (not registered: a model without metadata.json; register it with vigil models --registry {} "
          "import --model FILE --pipeline P.yaml --table T.csv)\n",
          folder, o.registry);
    return 0;
  }
  if (o.action == "show") {
    auto v = registry.LoadVersion(o.version, {});
    if (!v.ok()) return Fail(v.status());
    fmt::print("{}: {} trees, {} features, parent {}, golden rows reproduce\n", (*v)->version,
               (*v)->forest->num_trees(), (*v)->features.size(),
               (*v)->parent.empty() ? "none" : (*v)->parent);
    for (const auto& f : (*v)->features) fmt::print("  {}\n", f);
    return 0;
  }
  if (o.action == "promote") {
    if (base::Status st = registry.Promote(o.version, {}); !st.ok()) return Fail(st);
    fmt::print("{} is the champion\n", o.version);
    return 0;
  }
  if (o.action == "propose") {
    if (base::Status st = registry.ProposeCandidate(o.version, {}); !st.ok()) return Fail(st);
    fmt::print("{} is the candidate: pipelines with `rollout:` now try it against the champion\n", o.version);
    return 0;
  }
  if (o.action == "rollback") {
    auto previous = registry.Rollback();
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
  CLI::App* promote = cmd->add_subcommand(
      "promote", "Verify a version and make it the champion (running pipelines swap to it)");
  promote->add_option("version", o.version)->required();
  promote->callback([&o] { o.action = "promote"; });
  CLI::App* propose = cmd->add_subcommand(
      "propose",
      "Verify a version and make it the candidate (pipelines with `rollout:` shadow or canary it)");
  propose->add_option("version", o.version)->required();
  propose->callback([&o] { o.action = "propose"; });
  cmd->add_subcommand("rollback", "Make the previous champion serve again")->callback([&o] {
    o.action = "rollback";
  });
  CLI::App* import = cmd->add_subcommand(
      "import",
      "Register an XGBoost model trained anywhere (JSON or UBJSON, xgboost 1.7-3.x): its features are "
      "checked against the pipeline, its golden rows and reference histograms computed from the table");
  import->add_option("--model", o.model, "The model file (Booster.save_model('model.json') or .ubj)")
      ->required();
  import->add_option("--pipeline", o.pipeline, "The pipeline whose features: the model reads, in order")
      ->required();
  import->add_option("--table", o.table, "A training table (vigil replay's CSV) with those features")
      ->required();
  import->add_option("--version", o.version, "Version name (default: v<N+1>)");
  import->add_option("--start", o.start,
                     "First day (UTC, YYYY-MM-DD) of the rows it was trained on (default: the whole table)");
  import->add_option("--days", o.days, "With --start: days of that window")->capture_default_str();
  import->add_flag("--promote", o.promote, "Make it the champion once registered");
  import->callback([&o] { o.action = "import";
});
}  // namespace vigil::app

}  // namespace vigil::app
