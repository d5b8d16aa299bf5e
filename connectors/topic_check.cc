#include "connectors/topic_check.h"

#include <fmt/core.h>

#include <map>

#include "connectors/kafka_changelog.h"
#include "connectors/kafka_client.h"

namespace vigil::connectors {

std::vector<NeededTopic> PipelineTopics(const config::PipelineSpec& spec) {
  using Source = config::SourceSpec::Kind;
  using Sink = config::SinkSpec::Kind;
  std::vector<NeededTopic> topics;
  if (spec.source.kind == Source::kKafka) topics.push_back({spec.source.topic, "input"});
  if (spec.labels.enabled && spec.labels.source.kind == Source::kKafka)
    topics.push_back({spec.labels.source.topic, "labels"});
  if (spec.output.kind == Sink::kKafka) topics.push_back({spec.output.topic, "output"});
  if (spec.dead_letter.kind == Sink::kKafka) topics.push_back({spec.dead_letter.topic, "dead letters"});
  return topics;
}

base::Status CheckTopics(const config::KafkaSpec& kafka, const std::vector<NeededTopic>& topics,
                         const TopicCheckOptions& options) {
  if (topics.empty()) return base::Status::OK();
  VIGIL_ASSIGN_OR_RETURN(KafkaHandle rk,
                         NewKafkaClient(kafka, RD_KAFKA_PRODUCER, {{"enable.idempotence", "false"}}));
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk.get(), /*all_topics=*/1, nullptr, &md, options.timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
        err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
      return base::Unavailable(fmt::format("cannot reach Kafka at {} (is it running?)", kafka.bootstrap));
    return KafkaError(err, "metadata from " + kafka.bootstrap);
  }
  std::map<std::string, int> partitions;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      partitions[md->topics[i].topic] = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);

  int create_partitions = options.partitions;
  for (const NeededTopic& t : topics)
    if (create_partitions == 0 && partitions.count(t.topic)) create_partitions = partitions[t.topic];
  if (create_partitions == 0) create_partitions = 1;
  std::string missing;
  for (const NeededTopic& t : topics) {
    if (partitions.count(t.topic)) continue;
    if (options.create) {
      VIGIL_RETURN_IF_ERROR(EnsureTopic(kafka, t.topic, create_partitions));
      partitions[t.topic] = create_partitions;
      continue;
    }
    missing += fmt::format(
        "{}topic '{}' ({}) does not exist on {}; create it with: kafka-topics.sh "
        "--bootstrap-server {} --create --topic {} --partitions {}",
        missing.empty() ? "" : "\n", t.topic, t.role, kafka.bootstrap, kafka.bootstrap, t.topic,
        create_partitions);
  }
  if (missing.empty()) return base::Status::OK();
  if (!options.create_command.empty())
    missing += "\nor create every missing topic with: " + options.create_command;
  return base::NotFound(missing);
}

}  // namespace vigil::connectors
