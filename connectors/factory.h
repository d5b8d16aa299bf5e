#pragma once
// Makes the source and sinks a pipeline file names.

#include <memory>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/io.h"
#include "engine/operator_registry.h"
#include "engine/pipeline.h"

namespace vigil::connectors {

//! The pipeline's source (Kafka or file).
base::Result<std::unique_ptr<engine::Source>> MakeSource(const config::PipelineSpec& spec);
//! A sink from an output or dead_letter section; nullptr for kind none. `csv_header` is written
//! first by CSV file sinks.
base::Result<std::unique_ptr<engine::Sink>> MakeSink(const config::PipelineSpec& spec,
                                                     const config::SinkSpec& sink,
                                                     const std::string& csv_header = "");

//! Everything `vigil run` connects to (a stage's I/O, engine/pipeline.h).
using PipelineIo = engine::StageIo;

//! The source, sinks and changelog of a pipeline. With a Kafka source, every Kafka sink and the
//! changelog share one producer, transactional under exactly_once (then every sink must be Kafka or
//! none; a file sink makes the pipeline at-least-once, with a warning). The changelog topic
//! ChangelogTopic(spec) is created if needed, partitioned like the input topic, which must exist.
//! With a `side_output` topic (engine::Plan::side_output) and a Kafka source, the topic is created
//! likewise if needed (SideOutputTopicConfigs) and written on the same producer.
base::Result<PipelineIo> MakePipelineIo(const config::PipelineSpec& spec, const std::string& csv_header,
                                        const std::string& side_output = "");
//! MakePipelineIo for a stage of an engine::Pipeline (its engine::MakeStageIo), a CSV sink's header
//! from the stage's plan.
base::Result<PipelineIo> MakeStageIo(const config::PipelineSpec& stage, const engine::Plan& plan);
//! `source` with the stage's output and dead-letter sinks (MakeSink, the CSV header from `plan`), with
//! no changelog (at-least-once): the I/O of a stage whose events come from elsewhere (a replay's
//! range or file, a benchmark's stream).
base::Result<PipelineIo> StageIoFrom(std::unique_ptr<engine::Source> source,
                                     const config::PipelineSpec& stage, const engine::Plan& plan);
//! The stages `vigil run` runs for `spec` (engine/stages.h): cut at re-keyed windows when the source is
//! a Kafka topic of more than one partition (which must exist), else `spec` alone. Each repartition
//! topic is created, partitioned like the input, if it does not exist.
base::Result<std::vector<config::PipelineSpec>> PipelineStages(const config::PipelineSpec& spec,
                                                               const engine::OperatorRegistry& registry);
//! The changelog topic of the pipeline's stores: "<group>.<input topic>.changelog" (a group reused
//! with another input never restores the wrong state).
std::string ChangelogTopic(const config::PipelineSpec& spec);
//! The transactional id of this process: "<group>.<instance id>", with runtime.instance_id or else
//! DefaultInstanceId(this host's name, the absolute state_dir): a restart on the same host with the
//! same state fences its predecessor, and two hosts (pods) that mount the same path do not fence
//! each other.
std::string TransactionalId(const config::PipelineSpec& spec);
//! "<hostname>-<8 hex digits of a 32-bit FNV-1a hash of state_dir>", the hostname reduced to
//! [A-Za-z0-9._-] ("host" when empty). The same inputs give the same id on every build and host.
std::string DefaultInstanceId(std::string_view hostname, std::string_view state_dir);

}  // namespace vigil::connectors
