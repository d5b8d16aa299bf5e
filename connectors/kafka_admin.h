#pragma once
// Deleting a pipeline's footprint on the cluster, for `vigil reset`: its consumer groups (their
// committed offsets) and its internal topics; reading a topic's configs. Blocking calls through
// librdkafka's Admin API.

#include <map>
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
//! The configs of `topic` as the broker reports them (DescribeConfigs): every config, its own or the
//! broker's default. Waits up to 30 s.
base::Result<std::map<std::string, std::string>> DescribeTopicConfigs(const config::KafkaSpec& kafka,
                                                                      const std::string& topic);

}  // namespace vigil::connectors
