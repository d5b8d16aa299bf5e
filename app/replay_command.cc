#include "app/replay_command.h"

#include <fmt/core.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "app/progress_bar.h"
#include "app/replay_files.h"
#include "config/pipeline_config.h"
#include "connectors/factory.h"
#include "connectors/kafka_changelog.h"
#include "connectors/kafka_source.h"
#include "connectors/topic_check.h"
#include "engine/pipeline.h"
#include "engine/stages.h"
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
    if (score == nullptr || models::Registry(score->registry).ReadChampion().ok()) continue;
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

//! Lines of a file (0 when it cannot be read).
double CountLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 1 << 16> buf;
  double lines = 0;
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0)
    lines += static_cast<double>(std::count(buf.data(), buf.data() + in.gcount(), '\n'));
  return lines;
}

//! A replay's stages: their stores are scratch, removed after the run, so the end writes none.
engine::PipelineOptions ScratchStages() {
  engine::PipelineOptions options;
  options.discard_state = true;
  return options;
}

//! Builds `spec`'s plan and runs it over `source` to its end, into the file sinks `spec` names.
//! `id_column` receives the index of `id_field` among the output's columns (-1 when absent).
base::Status RunToFiles(const config::PipelineSpec& spec, const engine::OperatorRegistry& registry,
                        std::unique_ptr<engine::Source> source, const std::string& label,
                        const std::string& id_field, int* id_column, engine::RunSummary* summary) {
  // One stage over `source`, into the file sinks `spec` names (its own metrics, none of the operators').
  VIGIL_ASSIGN_OR_RETURN(auto pipeline, engine::Pipeline::Build(
                                            {spec}, registry,
                                            [&](const config::PipelineSpec& stage, const engine::Plan& plan) {
                                              return connectors::StageIoFrom(std::move(source), stage, plan);
                                            },
                                            ScratchStages()));
  const engine::Plan& plan = pipeline->plan(0);
  *id_column = [&] {
    const auto& fields = spec.output.fields;
    for (size_t i = 0; i < fields.size(); ++i)
      if (fields[i].name == id_field) return static_cast<int>(i);
    return fields.empty() ? plan.schema().Find(id_field) : -1;
  }();
  engine::Runtime* runtime = &pipeline->runtime(0);
  base::Status run;
  {
    // The progress bar: events read against the input's lines when it is a file (counted up front).
    ProgressBar bar(true, label);
    const double total =
        spec.source.kind == config::SourceSpec::Kind::kFile ? CountLines(spec.source.path) : 0;
    std::atomic<bool> done = false;
    std::thread progress([&] {
      const auto begin = std::chrono::steady_clock::now();
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const double seen = static_cast<double>(runtime->events_seen());
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
        bar.Update(total > 0 ? seen / total : -1,
                   fmt::format("{:.0f} events, {:.0f}/s", seen, seen / seconds));
      }
    });
    run = pipeline->Run();
    done = true;
    progress.join();
  }
  VIGIL_RETURN_IF_ERROR(run);
  const engine::RunSummary s = pipeline->summary();
  summary->events_in = summary->events_in == 0 ? s.events_in : summary->events_in;  // the first stage's
  summary->events_out = s.events_out;
  summary->dead_letters += s.dead_letters;
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
  engine::OperatorRegistry registry;
  VIGIL_RETURN_IF_ERROR(operators::RegisterOperators(&registry));
  std::vector<config::PipelineSpec> stages{spec};
  if (from_kafka) {
    std::vector<connectors::NeededTopic> topics = connectors::PipelineTopics(spec);
    std::erase_if(topics,
                  [](const connectors::NeededTopic& t) { return t.role != "input" && t.role != "labels"; });
    VIGIL_RETURN_IF_ERROR(connectors::CheckTopics(spec.kafka, topics, {}));
    VIGIL_ASSIGN_OR_RETURN(const int partitions, connectors::PartitionCount(spec.kafka, spec.source.topic));
    if (partitions > 1) {
      VIGIL_ASSIGN_OR_RETURN(stages, engine::SplitStages(spec, registry));
    }
  }
  const std::string state_dir =
      !o.state_dir.empty()
          ? o.state_dir
          : (std::filesystem::temp_directory_path() / ("vigil-replay-" + std::to_string(::getpid())))
                .string();
  const std::string features_csv = o.out + ".features.tmp";
  const std::string scratch = state_dir + ".files";
  // The state, the intermediate table and the stages' files go, whatever happens.
  struct Cleanup {
    std::string state_dir, features_csv, scratch;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(state_dir, ec);
      std::filesystem::remove(features_csv, ec);
      std::filesystem::remove_all(scratch, ec);
    }
  } cleanup{state_dir, features_csv, scratch};
  std::filesystem::remove_all(state_dir);
  std::filesystem::create_directories(scratch);

  // Every stage runs in this process, one after the other, to its end. A pipeline with windows
  // re-keyed over a partitioned topic (engine/stages.h) is replayed as `vigil run` computes it: the
  // first stage reads the topic's range, one task a partition, and writes every column to a file;
  // the next reads that file sorted by event time as one partition (with the labels topic in
  // label-time order), as a replay of the events' file does. A replay of one stage reads its input
  // directly.
  std::string events = o.events, labels_file = o.labels;
  const std::string dead_letters = o.out + ".dead-letters.jsonl";
  for (size_t s = 0; s < stages.size(); ++s) {
    config::PipelineSpec stage = stages[s];
    const bool last = s + 1 == stages.size();
    std::unique_ptr<engine::Source> source;
    if (from_kafka && s == 0) {
      VIGIL_ASSIGN_OR_RETURN(connectors::OffsetBound start, connectors::ParseOffsetBound(o.start));
      VIGIL_ASSIGN_OR_RETURN(connectors::OffsetBound end, connectors::ParseOffsetBound(o.end));
      VIGIL_ASSIGN_OR_RETURN(source,
                             connectors::KafkaSource::MakeRange(stage, std::move(start), std::move(end)));
    } else {
      stage.source.kind = config::SourceSpec::Kind::kFile;
      stage.source.path = events;
      if (stage.labels.enabled) {
        if (from_kafka) {
          labels_file = scratch + "/labels.jsonl";
          VIGIL_RETURN_IF_ERROR(WriteLabelsByTime(spec, labels_file));
        }
        stage.labels.source.kind = config::SourceSpec::Kind::kFile;
        stage.labels.source.path = labels_file;
      }
      VIGIL_ASSIGN_OR_RETURN(source, connectors::MakeSource(stage));
    }
    if (last) {
      stage.output = config::SinkSpec{config::SinkSpec::Kind::kFile,
                                      config::SinkSpec::Format::kCsv,
                                      "",
                                      features_csv,
                                      stage.output.fields,
                                      stage.output.loc};
    } else {
      events = scratch + "/stage-" + std::to_string(s + 1) + ".jsonl";
      stage.output = config::SinkSpec{
          config::SinkSpec::Kind::kFile, config::SinkSpec::Format::kJson, "", events, {}, stage.output.loc};
    }
    stage.dead_letter =
        config::SinkSpec{config::SinkSpec::Kind::kFile,
                         config::SinkSpec::Format::kJson,
                         "",
                         last ? dead_letters : scratch + "/dead-letters-" + std::to_string(s + 1) + ".jsonl",
                         {},
                         {}};
    stage.http.enabled = false;
    stage.runtime.state_dir = state_dir + "/stage-" + std::to_string(s + 1);
    stage.runtime.workers = 1;
    stage.runtime.commit_interval_ms = 3'600'000;  // one commit at the end: replays restart from scratch
    int id_column = -1;
    VIGIL_RETURN_IF_ERROR(RunToFiles(
        stage, registry, std::move(source),
        stages.size() == 1 ? std::string("replay") : fmt::format("replay, stage {}/{}", s + 1, stages.size()),
        stage.labels.id, &id_column, summary));
    if (!last) {
      // The next stage reads this one's output in event-time order (app/replay_files.h).
      const std::string sorted = scratch + "/stage-" + std::to_string(s + 1) + ".sorted.jsonl";
      VIGIL_RETURN_IF_ERROR(SortByEventTime(events, sorted, stage.schema.event_time));
      events = sorted;
      continue;
    }
    if (id_column < 0)
      return base::InvalidArgument("the output fields must include the id '" + stage.labels.id + "'");
    std::filesystem::remove_all(state_dir);
    LabelMap labels;
    if (!labels_file.empty()) {
      VIGIL_ASSIGN_OR_RETURN(labels, ReadLabelsFile(labels_file, spec.labels));
    } else if (from_kafka && spec.labels.enabled) {
      VIGIL_ASSIGN_OR_RETURN(labels, ReadLabelsTopic(spec));
    }
    VIGIL_RETURN_IF_ERROR(AppendLabels(features_csv, o.out, id_column, labels));
  }
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
