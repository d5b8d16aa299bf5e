#include "app/replay_command.h"

#include <fmt/core.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "config/pipeline_config.h"
#include "connectors/factory.h"
#include "connectors/kafka_source.h"
#include "connectors/topic_check.h"
#include "engine/engine_probe.h"
#include "engine/plan.h"
#include "engine/runtime.h"
#include "models/registry.h"
#include "operators/register.h"

namespace vigil::app {
namespace {

using LabelMap = std::unordered_map<int64_t, double>;

//! Records one label (JSON object with the spec's id and label fields); others are skipped.
void AddLabel(simdjson::dom::element doc, const config::LabelsSpec& spec, LabelMap* labels) {
  int64_t id = 0;
  double label = 0;
  if (doc[spec.id].get_int64().get(id) || doc[spec.label].get_double().get(label)) return;
  (*labels)[id] = label;
}

//! Final label of each event id, from a labels JSONL file.
base::Result<LabelMap> ReadLabelsFile(const std::string& path, const config::LabelsSpec& spec) {
  simdjson::dom::parser parser;
  simdjson::dom::document_stream stream;
  auto loaded = simdjson::padded_string::load(path);
  if (loaded.error()) return base::NotFound("cannot read labels file '" + path + "'");
  const simdjson::padded_string text = std::move(loaded).value();
  if (parser.parse_many(text).get(stream))
    return base::InvalidArgument("labels file '" + path + "' is not JSONL");
  LabelMap labels;
  for (auto doc : stream) {
    simdjson::dom::element element;
    if (!doc.get(element)) AddLabel(element, spec, &labels);
  }
  return labels;
}

//! Final label of each event id, from every record of the pipeline's labels topic.
base::Result<LabelMap> ReadLabelsTopic(const config::PipelineSpec& spec) {
  simdjson::dom::parser parser;
  LabelMap labels;
  VIGIL_RETURN_IF_ERROR(
      connectors::ReadTopic(spec.kafka, spec.labels.source.topic, [&](std::string_view value) {
        simdjson::dom::element doc;
        if (!parser.parse(value.data(), value.size()).get(doc)) AddLabel(doc, spec.labels, &labels);
      }));
  return labels;
}

//! Rewrites the replay's CSV with a trailing LABEL column (empty when the event has no label).
base::Status AppendLabels(const std::string& in, const std::string& out, int id_column,
                          const std::unordered_map<int64_t, double>& labels) {
  std::ifstream src(in);
  std::ofstream dst(out, std::ios::binary);
  if (!src || !dst) return base::IoError("cannot write the table '" + out + "'");
  std::string line;
  std::getline(src, line);
  dst << line << ",LABEL\n";
  std::string buf;
  while (std::getline(src, line)) {
    size_t start = 0;
    for (int c = 0; c < id_column; ++c) start = line.find(',', start) + 1;
    const int64_t id = std::strtoll(line.c_str() + start, nullptr, 10);
    buf.assign(line);
    buf.push_back(',');
    if (auto it = labels.find(id); it != labels.end()) {
      char num[32];
      buf.append(num, static_cast<size_t>(std::snprintf(num, sizeof num, "%.17g", it->second)));
    }
    buf.push_back('\n');
    dst.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  }
  return dst.good() ? base::Status::OK() : base::IoError("write to '" + out + "' failed");
}

//! With `no_score`, removes the score operators and the output mapping (every column is written, the
//! features among them). Without it, a score operator needs a champion: the first table of a new
//! registry is the one case where there is none yet, and the error says what to do.
base::Status LeaveOutScore(bool no_score, config::PipelineSpec* spec) {
  if (no_score) {
    std::erase_if(spec->operators, [](const config::OperatorSpec& op) { return op.type == "score"; });
    spec->output.fields.clear();
    return base::Status::OK();
  }
  for (const config::OperatorSpec& op : spec->operators) {
    const auto* score = std::get_if<config::ScoreSpec>(&op.params);
    if (score == nullptr || models::ReadChampion(score->registry).ok()) continue;
    const std::string what =
        std::filesystem::is_directory(score->registry)
            ? "the score operator's registry '" + score->registry + "' has no champion yet"
            : "the model registry '" + score->registry + "' does not exist";
    return config::ConfigError(op.loc, what +
                                           ": for a first training table, run `vigil replay` with --no-score "
                                           "(the features, without SCORE), then `vigil train --promote`");
  }
  return base::Status::OK();
}

base::Status Replay(const ReplayOptions& o, engine::RunSummary* summary) {
  VIGIL_ASSIGN_OR_RETURN(config::PipelineSpec spec, config::LoadPipelineFile(o.config_path));
  if (!o.bootstrap.empty()) spec.kafka.bootstrap = o.bootstrap;
  VIGIL_RETURN_IF_ERROR(LeaveOutScore(o.no_score, &spec));
  const bool from_kafka = o.events.empty();
  if (from_kafka && spec.source.kind != config::SourceSpec::Kind::kKafka)
    return base::InvalidArgument("the pipeline reads a file, not Kafka: give --events FILE");
  if (!from_kafka && spec.labels.enabled && o.labels.empty())
    return base::InvalidArgument("the pipeline joins labels: give --labels FILE");
  if (!from_kafka && (o.start != "earliest" || o.end != "latest"))
    return base::InvalidArgument("--start and --end bound a Kafka replay; they do not apply to --events");
  if (from_kafka && !o.labels.empty())
    return base::InvalidArgument(
        "--labels goes with --events; a Kafka replay reads the pipeline's labels topic");
  std::unique_ptr<engine::Source> source;
  if (from_kafka) {
    std::vector<connectors::NeededTopic> topics = connectors::PipelineTopics(spec);
    std::erase_if(topics,
                  [](const connectors::NeededTopic& t) { return t.role != "input" && t.role != "labels"; });
    VIGIL_RETURN_IF_ERROR(connectors::CheckTopics(spec.kafka, topics, {}));
    VIGIL_ASSIGN_OR_RETURN(connectors::OffsetBound start, connectors::ParseOffsetBound(o.start));
    VIGIL_ASSIGN_OR_RETURN(connectors::OffsetBound end, connectors::ParseOffsetBound(o.end));
    VIGIL_ASSIGN_OR_RETURN(source,
                           connectors::KafkaSource::MakeRange(spec, std::move(start), std::move(end)));
  }
  const std::string state_dir =
      !o.state_dir.empty()
          ? o.state_dir
          : (std::filesystem::temp_directory_path() / ("vigil-replay-" + std::to_string(::getpid())))
                .string();
  const std::string features_csv = o.out + ".features.tmp";
  // The state and the intermediate table go, whatever happens.
  struct Cleanup {
    std::string state_dir, features_csv;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(state_dir, ec);
      std::filesystem::remove(features_csv, ec);
    }
  } cleanup{state_dir, features_csv};
  if (!from_kafka) {
    spec.source.kind = config::SourceSpec::Kind::kFile;
    spec.source.path = o.events;
    spec.labels.source.kind = config::SourceSpec::Kind::kFile;
    spec.labels.source.path = o.labels;
    VIGIL_ASSIGN_OR_RETURN(source, connectors::MakeSource(spec));
  }
  spec.output.kind = config::SinkSpec::Kind::kFile;
  spec.output.format = config::SinkSpec::Format::kCsv;
  spec.output.path = features_csv;
  spec.dead_letter = config::SinkSpec{config::SinkSpec::Kind::kFile,
                                      config::SinkSpec::Format::kJson,
                                      "",
                                      o.out + ".dead-letters.jsonl",
                                      {},
                                      {}};
  spec.http.enabled = false;
  spec.runtime.state_dir = state_dir;
  spec.runtime.workers = 1;
  spec.runtime.commit_interval_ms = 3'600'000;  // one commit at the end: replays restart from scratch
  std::filesystem::remove_all(state_dir);

  engine::OperatorRegistry registry;
  VIGIL_RETURN_IF_ERROR(operators::RegisterOperators(&registry));
  VIGIL_ASSIGN_OR_RETURN(auto plan, engine::Plan::Build(spec, registry));
  const int id_column = [&] {
    const auto& fields = spec.output.fields;
    for (size_t i = 0; i < fields.size(); ++i)
      if (fields[i].name == spec.labels.id) return static_cast<int>(i);
    return fields.empty() ? plan->schema().Find(spec.labels.id) : -1;
  }();
  if (id_column < 0)
    return base::InvalidArgument("the output fields must include the id '" + spec.labels.id + "'");
  engine::EngineProbe probe(engine::NewMetricsRegistry(), spec.name);
  VIGIL_ASSIGN_OR_RETURN(auto output,
                         connectors::MakeSink(spec, spec.output, plan->output_encoder().csv_header()));
  VIGIL_ASSIGN_OR_RETURN(auto dead, connectors::MakeSink(spec, spec.dead_letter));
  VIGIL_ASSIGN_OR_RETURN(auto runtime, engine::Runtime::Make(*plan, std::move(source), std::move(output),
                                                             std::move(dead), &probe));
  VIGIL_RETURN_IF_ERROR(runtime->Run());
  *summary = runtime->summary();
  runtime.reset();
  std::filesystem::remove_all(state_dir);
  LabelMap labels;
  if (!o.labels.empty()) {
    VIGIL_ASSIGN_OR_RETURN(labels, ReadLabelsFile(o.labels, spec.labels));
  } else if (from_kafka && spec.labels.enabled) {
    VIGIL_ASSIGN_OR_RETURN(labels, ReadLabelsTopic(spec));
  }
  VIGIL_RETURN_IF_ERROR(AppendLabels(features_csv, o.out, id_column, labels));
  std::filesystem::remove(features_csv);
  return base::Status::OK();
}

}  // namespace

int ReplayCommand(const ReplayOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  engine::RunSummary summary;
  if (base::Status st = Replay(o, &summary); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return st.code() == base::StatusCode::kInvalidArgument || st.code() == base::StatusCode::kNotFound ? 2
                                                                                                       : 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("replay: {} events, {} rows in {}, {} dead-lettered, {:.1f} s\n", summary.events_in,
             summary.events_out, o.out, summary.dead_letters, seconds);
  return 0;
}

void AddReplayCommand(CLI::App& app, ReplayOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "replay", "Run a pipeline's operators over recorded events and write the training table");
  cmd->footer(
      "Events come from a file (--events) or, without --events, from the pipeline's Kafka topic: every\n"
      "partition from --start to --end, read outside the pipeline's consumer group (nothing is committed),\n"
      "with labels from the pipeline's labels topic. Offset bounds: earliest, latest (the end when the\n"
      "replay starts), an offset for every partition, PARTITION:OFFSET,... (others: earliest / latest),\n"
      "or an ISO-8601 time (the first offset at or after it).\n"
      "Example: vigil replay pipeline.yaml --start 2018-05-01 --end 2018-06-01 --out may.csv");
  cmd->add_option("config", o.config_path, "Pipeline YAML file")->required();
  cmd->add_option("--events", o.events,
                  "Events file (JSONL), e.g. from vigil simulate --out; default: the Kafka topic");
  cmd->add_option("--labels", o.labels,
                  "Labels file (JSONL) for --events, e.g. from vigil simulate --labels-out");
  cmd->add_option("--start", o.start, "Kafka: where each partition starts")->capture_default_str();
  cmd->add_option("--end", o.end, "Kafka: where each partition ends (exclusive)")->capture_default_str();
  cmd->add_option("--out", o.out, "Training table (CSV): the pipeline's output fields, then LABEL")
      ->required();
  cmd->add_option("--bootstrap", o.bootstrap, "Kafka bootstrap servers (overrides kafka.bootstrap)");
  cmd->add_option("--state-dir", o.state_dir,
                  "State directory (default: a temporary one, removed afterwards)");
  cmd->add_flag("--no-score", o.no_score,
                "Leave the score operator out and write every column (the table of a first model, "
                "before the registry has a champion)");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
