#pragma once
// The files `vigil replay` hands from one stage to the next when it replays a pipeline with re-keyed
// windows over a partitioned Kafka topic (engine/stages.h): the next stage reads them as one
// partition, in event-time order, exactly as a replay of the events' file reads it.

#include <string>

#include "config/pipeline_config.h"

namespace vigil::app {

//! Writes every record of the pipeline's labels topic to `path` (JSONL) in the order of their label
//! time (`labels.time`), the order in which a labels file is read.
base::Status WriteLabelsByTime(const config::PipelineSpec& spec, const std::string& path);

//! Rewrites the JSONL file `in` to `out` with its lines in the order of their integer field
//! `time_field` (a stable sort: lines of equal time keep their order; a line without it sorts first).
//! A stage's tasks write their partitions' events interleaved batch by batch, each partition in its
//! own order; sorted, the next stage sees every key's events in time order. Holds 16 bytes per line
//! in memory; the lines themselves are read from a mapping of the file.
base::Status SortByEventTime(const std::string& in, const std::string& out, const std::string& time_field);

}  // namespace vigil::app
