#pragma once
// Makes the source and sinks a pipeline file names.

#include <memory>

#include "config/pipeline_config.h"
#include "engine/io.h"

namespace vigil::connectors {

//! The pipeline's source (Kafka or file).
base::Result<std::unique_ptr<engine::Source>> MakeSource(const config::PipelineSpec& spec);
//! A sink from an output or dead_letter section; nullptr for kind none. `csv_header` is written
//! first by CSV file sinks.
base::Result<std::unique_ptr<engine::Sink>> MakeSink(const config::PipelineSpec& spec, const config::SinkSpec& sink,
                                                     const std::string& csv_header = "");

}  // namespace vigil::connectors
