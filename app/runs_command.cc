// `vigil runs list|show`: training run records from the command line.
#include "app/runs_command.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "models/registry.h"
#include "models/runs.h"

namespace vigil::app {
namespace {

int Fail(const base::Status& st) {
  fmt::print(stderr, "error: {}\n", st.message());
  return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2 : 1;
}

//! A day boundary as "YYYY-MM-DD", any other instant in full ISO-8601.
std::string ShortTime(int64_t ms) {
  const std::string iso = base::Iso8601(ms);
  return ms % base::kMsPerDay == 0 ? iso.substr(0, 10) : iso;
}

std::string WindowText(const models::TimeWindow& w) {
  return w.empty() ? "-" : ShortTime(w.start_ms) + " .. " + ShortTime(w.end_ms);
}

std::string Metric(const std::map<std::string, double>& metrics, const std::string& name) {
  const auto it = metrics.find(name);
  return it == metrics.end() || !std::isfinite(it->second) ? "-" : fmt::format("{:.4f}", it->second);
}

std::string Duration(const models::RunRecord& r) {
  return r.finished_ms > 0 ? fmt::format("{:.1f} s", static_cast<double>(r.duration_ms()) / 1000.0) : "-";
}

std::string OrNone(const std::string& s) { return s.empty() ? "-" : s; }

//! An outcome cut to one table cell; `show` prints it whole.
std::string ShortOutcome(const std::string& outcome) {
  constexpr size_t kMaxWidth = 60;
  return outcome.size() <= kMaxWidth ? outcome : outcome.substr(0, kMaxWidth - 3) + "...";
}

void PrintList(const std::vector<models::RunRecord>& runs) {
  constexpr std::string_view kRow = "{:<23}{:<10}{:<26}{:>8}{:>8}  {:<9}{:>10}  {}\n";
  fmt::print(fmt::runtime(kRow), "RUN", "TRIGGER", "TRAIN WINDOW", "AP", "VAL AP", "VERSION", "DURATION",
             "OUTCOME");
  for (const models::RunRecord& r : runs) {
    fmt::print(fmt::runtime(kRow), r.id, OrNone(r.trigger), WindowText(r.train_window),
               Metric(r.train_metrics, "average_precision"),
               Metric(r.validation_metrics, "average_precision"), OrNone(r.model_version), Duration(r),
               ShortOutcome(r.outcome));
  }
}

std::string MetricsText(const std::map<std::string, double>& metrics) {
  std::vector<std::string> items;
  for (const auto& [name, value] : metrics) items.push_back(fmt::format("{} {}", name, value));
  return items.empty() ? "-" : fmt::format("{}", fmt::join(items, ", "));
}

void PrintRun(const models::RunRecord& r) {
  constexpr std::string_view kLine = "{:<20}{}\n";
  const auto line = [&](std::string_view name, const std::string& value) {
    fmt::print(fmt::runtime(kLine), name, value);
  };
  line("run", r.id);
  line("trigger", OrNone(r.trigger));
  line("outcome", r.outcome);
  if (!r.detail.empty()) line("detail", r.detail);
  line("started", base::Iso8601(r.started_ms));
  line("finished", r.finished_ms > 0 ? base::Iso8601(r.finished_ms) + " (" + Duration(r) + ")" : "-");
  line("input", OrNone(r.input));
  line("train window", WindowText(r.train_window));
  line("validation window", WindowText(r.validation_window));
  std::vector<std::string> offsets;
  for (const models::OffsetRange& o : r.offsets)
    offsets.push_back(fmt::format("{}:{}:{}-{}", o.topic, o.partition, o.first, o.end));
  line("offsets", offsets.empty() ? "-" : fmt::format("{}", fmt::join(offsets, ", ")));
  std::vector<std::string> params;
  for (const auto& [key, value] : r.params) params.push_back(key + "=" + value);
  line("params", params.empty() ? "-" : fmt::format("{}", fmt::join(params, " ")));
  line("train metrics", MetricsText(r.train_metrics));
  line("validation metrics", MetricsText(r.validation_metrics));
  line("version", OrNone(r.model_version));
  line("model sha256", OrNone(r.model_sha256));
  line("parent", OrNone(r.parent));
  if (!r.rollout_metrics.empty()) line("rollout verdict", MetricsText(r.rollout_metrics));
  if (r.search.empty()) return;
  if (r.search.id == r.id)
    line("search", fmt::format("best of {} trials: trial {}", r.search.trials, r.search.trial));
  else
    line("search", fmt::format("trial {} of {} of search {}", r.search.trial, r.search.trials, r.search.id));
}

}  // namespace

int RunsCommand(const RunsOptions& o) {
  const models::Registry registry(o.registry);
  if (o.action == "list") {
    auto runs = registry.ListRuns();
    if (!runs.ok()) return Fail(runs.status());
    if (o.json) {
      std::vector<std::string> records;
      for (const models::RunRecord& r : *runs) records.push_back(models::RunToJson(r));
      fmt::print("{{\"runs\": [{}]}}\n", fmt::join(records, ","));
    } else if (runs->empty()) {
      fmt::print("no runs in '{}'\n", o.registry);
    } else {
      PrintList(*runs);
    }
    return 0;
  }
  if (o.action == "show") {
    auto run = registry.ReadRun(o.id);
    if (!run.ok()) return Fail(run.status());
    if (o.json)
      fmt::print("{}", models::RunToJson(*run));
    else
      PrintRun(*run);
    return 0;
  }
  return 2;
}

void AddRunsCommand(CLI::App& app, RunsOptions& o) {
  CLI::App* cmd = app.add_subcommand("runs", "Training run records of a model registry: list, show");
  cmd->add_option("--registry", o.registry, "Models directory (the records are in DIR/runs/)")->required();
  cmd->require_subcommand(1);
  CLI::App* list =
      cmd->add_subcommand("list", "One line per run, oldest first: window, AP, version, outcome");
  list->add_flag("--json", o.json, "Print {\"runs\": [...]} instead of a table");
  list->callback([&o] { o.action = "list"; });
  CLI::App* show = cmd->add_subcommand("show", "Everything recorded about one run");
  show->add_option("id", o.id, "Run id, as `vigil runs list` prints it")->required();
  show->add_flag("--json", o.json, "Print the record's JSON");
  show->callback([&o] { o.action = "show"; });
}

}  // namespace vigil::app
