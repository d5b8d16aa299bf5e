#pragma once
// Start-up checks of the Kafka topics a command uses: is a broker there, and does every topic it
// reads or writes exist. A missing broker fails fast with one line; a missing topic is named with the
// commands that create it, or created on request with the input's partitions. vigil's own internal
// topics (changelogs, repartition topics) are not checked here: the runtime creates those.

#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"

namespace vigil::connectors {

//! A topic a command needs, and what for ("input", "labels", "output", "dead letters").
struct NeededTopic {
  std::string topic;
  std::string role;
};

//! The Kafka topics `spec` reads or writes, in that order: input, labels, output, dead letters.
//! Empty for a pipeline with no Kafka part.
std::vector<NeededTopic> PipelineTopics(const config::PipelineSpec& spec);

//! Options of CheckTopics; each states its default.
struct TopicCheckOptions {
  //! Create the missing topics instead of failing. Default false.
  bool create = false;
  //! Partitions of a created topic. 0 (default): those of the first needed topic that exists (the
  //! input's, for a pipeline), else 1.
  int partitions = 0;
  //! The vigil command that creates the missing topics, quoted in the error (e.g.
  //! "vigil run p.yaml --create-topics"). Default empty: only the kafka-topics.sh command is quoted.
  std::string create_command;
  //! How long the broker may take to answer, in ms. Default 8,000 (so a command fails within 10 s).
  int timeout_ms = 8000;
};

//! Checks `topics` on the cluster of `kafka`. Returns Unavailable "cannot reach Kafka at HOST:PORT (is
//! it running?)" when no broker answers within the timeout; NotFound naming each missing
//! topic, its role and the commands that create it (unless `create`, which creates them); OK when
//! every topic exists. Blocking; any thread.
base::Status CheckTopics(const config::KafkaSpec& kafka, const std::vector<NeededTopic>& topics,
                         const TopicCheckOptions& options);

}  // namespace vigil::connectors
