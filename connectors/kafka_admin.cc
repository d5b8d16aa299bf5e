#include "connectors/kafka_admin.h"

#include <chrono>
#include <functional>
#include <thread>

#include "connectors/kafka_client.h"

namespace vigil::connectors {
namespace {

constexpr int kTimeoutMs = 30'000;

//! Runs one Admin API request (`send` enqueues it on the queue it is given) and checks the error of
//! each of its results (`each` returns OK, or the error of one result), or of the request itself.
//! `answered` (may be null): whether the request got an answer within 30 s.
base::Status RunAdmin(const config::KafkaSpec& kafka,
                      const std::function<void(rd_kafka_t*, rd_kafka_queue_t*)>& send,
                      const std::function<base::Status(rd_kafka_event_t*)>& each, const std::string& what,
                      bool* answered = nullptr) {
  VIGIL_ASSIGN_OR_RETURN(KafkaHandle rk,
                         NewKafkaClient(kafka, RD_KAFKA_PRODUCER, {{"enable.idempotence", "false"}}));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
  send(rk.get(), queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, kTimeoutMs);
  base::Status st = base::Unavailable(what + ": no answer from " + kafka.bootstrap + " in 30 s");
  if (answered != nullptr) *answered = ev != nullptr;
  if (ev != nullptr) {
    st = rd_kafka_event_error(ev) ? KafkaError(rd_kafka_event_error(ev), what) : each(ev);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(queue);
  return st;
}

}  // namespace

base::Status DeleteGroups(const config::KafkaSpec& kafka, const std::vector<std::string>& groups) {
  if (groups.empty()) return base::Status::OK();
  std::vector<rd_kafka_DeleteGroup_t*> requests;
  for (const std::string& g : groups) requests.push_back(rd_kafka_DeleteGroup_new(g.c_str()));
  // A broker that has never had a consumer group has no coordinator yet (its offsets topic is created
  // on the first lookup): the answer is then NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE for a while,
  // which librdkafka 2.0 hands back as it is, or none at all within a request's time on a loaded
  // machine (the creation goes on meanwhile). Ask again, for up to 2 minutes.
  constexpr auto kPatience = std::chrono::minutes(2);
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  bool coordinator_moving = false, answered = true;
  base::Status st;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    coordinator_moving = false;
    st = RunAdmin(
        kafka,
        [&](rd_kafka_t* rk, rd_kafka_queue_t* q) {
          rd_kafka_DeleteGroups(rk, requests.data(), requests.size(), nullptr, q);
        },
        [&](rd_kafka_event_t* ev) {
          size_t n = 0;
          const rd_kafka_group_result_t** results =
              rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
          for (size_t i = 0; i < n; ++i) {
            const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i]);
            if (e == nullptr || rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
            const std::string group = rd_kafka_group_result_name(results[i]);
            const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
            if (code == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP)
              return base::FailedPrecondition("consumer group '" + group +
                                              "' still has members: stop every `vigil run` of it first");
            coordinator_moving = code == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                                 code == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                                 code == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
            return KafkaError(code, "delete consumer group '" + group + "'");
          }
          return base::Status::OK();
        },
        "delete consumer groups", &answered);
    if ((!coordinator_moving && answered) || std::chrono::steady_clock::now() >= deadline) break;
  }
  if (!answered)
    st = base::Unavailable("delete consumer groups: no answer from " + kafka.bootstrap + " within 2 minutes");
  rd_kafka_DeleteGroup_destroy_array(requests.data(), requests.size());
  return st;
}

base::Status DeleteTopics(const config::KafkaSpec& kafka, const std::vector<std::string>& topics) {
  if (topics.empty()) return base::Status::OK();
  std::vector<rd_kafka_DeleteTopic_t*> requests;
  for (const std::string& t : topics) requests.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  base::Status st = RunAdmin(
      kafka,
      [&](rd_kafka_t* rk, rd_kafka_queue_t* q) {
        rd_kafka_DeleteTopics(rk, requests.data(), requests.size(), nullptr, q);
      },
      [](rd_kafka_event_t* ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t** results =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        for (size_t i = 0; i < n; ++i) {
          const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
          return KafkaError(e, std::string("delete topic '") + rd_kafka_topic_result_name(results[i]) + "'");
        }
        return base::Status::OK();
      },
      "delete topics");
  rd_kafka_DeleteTopic_destroy_array(requests.data(), requests.size());
  return st;
}

base::Result<std::map<std::string, std::string>> DescribeTopicConfigs(const config::KafkaSpec& kafka,
                                                                      const std::string& topic) {
  std::map<std::string, std::string> configs;
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  base::Status st = RunAdmin(
      kafka,
      [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_DescribeConfigs(rk, &resource, 1, nullptr, q); },
      [&](rd_kafka_event_t* ev) {
        size_t n = 0;
        const rd_kafka_ConfigResource_t** results =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (n != 1) return base::Internal("describe configs of '" + topic + "': no answer for it");
        if (rd_kafka_ConfigResource_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
          return KafkaError(rd_kafka_ConfigResource_error(results[0]), "describe configs of '" + topic + "'");
        size_t count = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(results[0], &count);
        for (size_t i = 0; i < count; ++i) {
          const char* value = rd_kafka_ConfigEntry_value(entries[i]);
          configs[rd_kafka_ConfigEntry_name(entries[i])] = value ? value : "";
        }
        return base::Status::OK();
      },
      "describe configs of '" + topic + "'");
  rd_kafka_ConfigResource_destroy(resource);
  if (!st.ok()) return st;
  return configs;
}

}  // namespace vigil::connectors
