#include "connectors/factory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <filesystem>

#include "connectors/file_io.h"
#include "connectors/kafka_changelog.h"
#include "connectors/kafka_producer.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "engine/stages.h"

namespace vigil::connectors {

base::Result<std::unique_ptr<engine::Source>> MakeSource(const config::PipelineSpec& spec) {
  if (spec.source.kind == config::SourceSpec::Kind::kFile) {
    VIGIL_ASSIGN_OR_RETURN(
        auto source, FileSource::Make(spec.source.path, spec.labels.enabled ? spec.labels.source.path : ""));
    return std::unique_ptr<engine::Source>(std::move(source));
  }
  VIGIL_ASSIGN_OR_RETURN(auto source, KafkaSource::Make(spec));
  return std::unique_ptr<engine::Source>(std::move(source));
}

base::Result<std::unique_ptr<engine::Sink>> MakeSink(const config::PipelineSpec& spec,
                                                     const config::SinkSpec& sink,
                                                     const std::string& csv_header) {
  switch (sink.kind) {
    case config::SinkSpec::Kind::kNone:
      return std::unique_ptr<engine::Sink>();
    case config::SinkSpec::Kind::kFile: {
      const bool csv = sink.format == config::SinkSpec::Format::kCsv;
      VIGIL_ASSIGN_OR_RETURN(auto s, FileSink::Make(sink.path, csv ? csv_header : ""));
      return std::unique_ptr<engine::Sink>(std::move(s));
    }
    case config::SinkSpec::Kind::kKafka: {
      VIGIL_ASSIGN_OR_RETURN(auto s, KafkaSink::Make(spec.kafka, sink.topic));
      return std::unique_ptr<engine::Sink>(std::move(s));
    }
  }
  return base::Internal("unknown sink kind");
}

std::string ChangelogTopic(const config::PipelineSpec& spec) {
  return spec.source.group + "." + spec.source.topic + ".changelog";
}

std::string DefaultInstanceId(std::string_view hostname, std::string_view state_dir) {
  std::string host;
  for (char c : hostname)
    host += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ? c : '_';
  if (host.empty()) host = "host";
  uint32_t hash = 2166136261u;  // FNV-1a: stable across builds, unlike std::hash
  for (char c : state_dir) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return fmt::format("{}-{:08x}", host, hash);
}

std::string TransactionalId(const config::PipelineSpec& spec) {
  std::string instance = spec.runtime.instance_id;
  if (instance.empty()) {
    std::error_code ec;
    const auto dir = std::filesystem::weakly_canonical(spec.runtime.state_dir, ec);
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    instance = DefaultInstanceId(host, ec ? spec.runtime.state_dir : dir.string());
  }
  return spec.source.group + "." + instance;
}

base::Result<PipelineIo> MakePipelineIo(const config::PipelineSpec& spec, const std::string& csv_header,
                                        const std::string& side_output) {
  PipelineIo io;
  if (spec.source.kind != config::SourceSpec::Kind::kKafka) {
    VIGIL_ASSIGN_OR_RETURN(io.source, MakeSource(spec));
    VIGIL_ASSIGN_OR_RETURN(io.output, MakeSink(spec, spec.output, csv_header));
    VIGIL_ASSIGN_OR_RETURN(io.dead_letter, MakeSink(spec, spec.dead_letter));
    return io;
  }
  using Kind = config::SinkSpec::Kind;
  const bool file_sink = spec.output.kind == Kind::kFile || spec.dead_letter.kind == Kind::kFile;
  io.exactly_once = spec.runtime.guarantee == config::Guarantee::kExactlyOnce && !file_sink;
  if (spec.runtime.guarantee == config::Guarantee::kExactlyOnce && file_sink)
    spdlog::warn("exactly_once needs Kafka sinks; a file sink makes this pipeline at-least-once");
  VIGIL_ASSIGN_OR_RETURN(auto source, KafkaSource::Make(spec));
  // Keyed records (outputs, repartition topics) land where the source's partitioner says a key lives.
  config::KafkaSpec kafka = spec.kafka;
  kafka.producer.emplace("partitioner", spec.source.partitioner);
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<KafkaProducer> producer,
                         KafkaProducer::Make(kafka, io.exactly_once ? TransactionalId(spec) : ""));
  if (io.exactly_once) source->set_transactions(producer);
  if (spec.source.purge_committed) source->set_purge_committed(10'000);
  auto sink = [&](const config::SinkSpec& s,
                  const std::string& header) -> base::Result<std::unique_ptr<engine::Sink>> {
    if (s.kind == Kind::kKafka)
      return std::unique_ptr<engine::Sink>(std::make_unique<KafkaSink>(producer, s.topic));
    return MakeSink(spec, s, header);
  };
  VIGIL_ASSIGN_OR_RETURN(io.output, sink(spec.output, csv_header));
  VIGIL_ASSIGN_OR_RETURN(io.dead_letter, sink(spec.dead_letter, ""));
  if (spec.runtime.changelog || !side_output.empty()) {
    auto partitions = PartitionCount(spec.kafka, spec.source.topic);
    if (!partitions.ok())
      return partitions.status().WithContext("the changelog and side output are partitioned like the input");
    if (spec.runtime.changelog) {
      const std::string topic = ChangelogTopic(spec);
      VIGIL_RETURN_IF_ERROR(EnsureTopic(spec.kafka, topic, *partitions, ChangelogTopicConfigs()));
      io.changelog = std::make_unique<KafkaChangelog>(spec.kafka, producer, topic);
    }
    if (!side_output.empty()) {
      // Keyed by the producer: any partition count will do, so an existing topic is taken as it is.
      if (!PartitionCount(spec.kafka, side_output).ok())
        VIGIL_RETURN_IF_ERROR(EnsureTopic(spec.kafka, side_output, *partitions, SideOutputTopicConfigs()));
      io.side_output = std::make_unique<KafkaSink>(producer, side_output);
    }
  }
  io.source = std::move(source);
  return io;
}

base::Result<PipelineIo> MakeStageIo(const config::PipelineSpec& stage, const engine::Plan& plan) {
  return MakePipelineIo(stage, plan.output_encoder().csv_header(), plan.side_output());
}

base::Result<PipelineIo> StageIoFrom(std::unique_ptr<engine::Source> source,
                                     const config::PipelineSpec& stage, const engine::Plan& plan) {
  PipelineIo io;
  io.source = std::move(source);
  VIGIL_ASSIGN_OR_RETURN(io.output, MakeSink(stage, stage.output, plan.output_encoder().csv_header()));
  VIGIL_ASSIGN_OR_RETURN(io.dead_letter, MakeSink(stage, stage.dead_letter));
  return io;
}

base::Result<std::vector<config::PipelineSpec>> PipelineStages(const config::PipelineSpec& spec,
                                                               const engine::OperatorRegistry& registry) {
  VIGIL_ASSIGN_OR_RETURN(std::vector<config::PipelineSpec> stages, engine::SplitStages(spec, registry));
  if (stages.size() == 1) return stages;
  auto partitions = PartitionCount(spec.kafka, spec.source.topic);
  if (!partitions.ok())
    return partitions.status().WithContext("the input of a pipeline with re-keyed windows");
  if (*partitions == 1) return std::vector<config::PipelineSpec>{spec};
  for (size_t s = 1; s < stages.size(); ++s) {
    VIGIL_RETURN_IF_ERROR(
        EnsureTopic(spec.kafka, stages[s].source.topic, *partitions, RepartitionTopicConfigs()));
    spdlog::info("stage {} ({}): {} by {}", s + 1, stages[s].name, stages[s].source.topic,
                 stages[s].source.key);
  }
  return stages;
}

}  // namespace vigil::connectors
