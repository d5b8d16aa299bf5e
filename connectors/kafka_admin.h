#pragma once
// Deleting a pipeline's footprint on the cluster, for `vigil reset`: its consumer groups (their
// committed offsets) and its internal topics. Blocking calls through librdkafka's Admin API.

#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"

namespace vigil::connectors {

//! Deletes each consumer group of `groups` with its committed offsets. A group that does not exist
//! counts as deleted. FailedPrecondition when a group still has members (a `vigil run` of it is
//! running); other errors name the group. Waits up to 30 s for the broker.
base::Status DeleteGroups(const config::KafkaSpec& kafka, const std::vector<std::string>& groups);
//! Deletes each topic of `topics`; one that does not exist counts as deleted. Waits up to 30 s.
base::Status DeleteTopics(const config::KafkaSpec& kafka, const std::vector<std::string>& topics);

}  // namespace vigil::connectors
