#include "connectors/factory.h"

#include "connectors/file_io.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"

namespace vigil::connectors {

base::Result<std::unique_ptr<engine::Source>> MakeSource(const config::PipelineSpec& spec) {
  if (spec.source.kind == config::SourceSpec::Kind::kFile) {
    VIGIL_ASSIGN_OR_RETURN(auto source,
                           FileSource::Make(spec.source.path, spec.labels.enabled ? spec.labels.source.path : ""));
    return std::unique_ptr<engine::Source>(std::move(source));
  }
  VIGIL_ASSIGN_OR_RETURN(auto source, KafkaSource::Make(spec));
  return std::unique_ptr<engine::Source>(std::move(source));
}

base::Result<std::unique_ptr<engine::Sink>> MakeSink(const config::PipelineSpec& spec, const config::SinkSpec& sink,
                                                     const std::string& csv_header) {
  switch (sink.kind) {
    case config::SinkSpec::Kind::kNone: return std::unique_ptr<engine::Sink>();
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

}  // namespace vigil::connectors
