#include "connectors/kafka_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace vigil::connectors {

namespace {

//! librdkafka's own log lines (it prints them to stderr otherwise) go to the debug level: what they
//! report reaches the user as vigil's errors; `--log-level debug` shows the client's view.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  spdlog::debug("librdkafka {} [{}] {}: {}", rk != nullptr ? rd_kafka_name(rk) : "-", level, facility,
                message);
}

}  // namespace

base::Result<rd_kafka_conf_t*> MakeKafkaConf(const config::KafkaSpec& spec, KafkaRole role,
                                             const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> props = {{"bootstrap.servers", spec.bootstrap}};
  if (role == KafkaRole::kProducer) {
    props["enable.idempotence"] = "true";
    // Keys land where the Java clients put them (and where source.partitioner says by default).
    props["partitioner"] = "murmur2_random";
    props["linger.ms"] = "5";
    props["message.max.bytes"] = "2000000";
    // Backpressure: a slow broker fills this bounded queue, producers then wait (KafkaProducer), the
    // workers stop reading, and the consumer's bounded prefetch pauses fetching.
    props["queue.buffering.max.messages"] = "200000";
    props["queue.buffering.max.kbytes"] = "131072";
  } else {
    props["enable.auto.commit"] = "false";
    props["enable.auto.offset.store"] = "false";
    props["auto.offset.reset"] = "earliest";
    props["fetch.message.max.bytes"] = "2000000";
    props["queued.max.messages.kbytes"] = "16384";  // prefetch per partition, bounded (librdkafka pauses)
  }
  for (const auto& [k, v] : spec.properties) props[k] = v;
  for (const auto& [k, v] : role == KafkaRole::kProducer ? spec.producer : spec.consumer) props[k] = v;
  for (const auto& [k, v] : extra) props[k] = v;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, LogToSpdlog);
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return base::InvalidArgument("kafka property '" + k + "': " + err);
    }
  }
  return conf;
}

base::Result<KafkaHandle> NewKafkaClient(const config::KafkaSpec& spec, rd_kafka_type_t type,
                                         const std::map<std::string, std::string>& extra) {
  VIGIL_ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      MakeKafkaConf(spec, type == RD_KAFKA_PRODUCER ? KafkaRole::kProducer : KafkaRole::kConsumer, extra));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return base::InvalidArgument(std::string("kafka client: ") + err);
  }
  return KafkaHandle(rk);
}

namespace {

bool PassingMetadataError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      return true;
    default:
      return TransientError(err);
  }
}

}  // namespace

bool TransientError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__TRANSPORT;
}

rd_kafka_resp_err_t RetryWhile(const std::function<rd_kafka_resp_err_t()>& attempt,
                               bool (*passing)(rd_kafka_resp_err_t), int give_up_ms, std::string_view what) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(give_up_ms);
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    const rd_kafka_resp_err_t err = attempt();
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || !passing(err) ||
        std::chrono::steady_clock::now() + backoff > give_up)
      return err;
    spdlog::warn("{}: {}; trying again in {} ms", what, rd_kafka_err2str(err), backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

base::Status QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t* low,
                             int64_t* high, int timeout_ms, std::string_view context, int give_up_ms) {
  return KafkaError(RetryWhile(
                        [&] {
                          return rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, low, high,
                                                                  timeout_ms);
                        },
                        PassingMetadataError, give_up_ms, context),
                    context);
}

base::Status KafkaError(rd_kafka_resp_err_t err, std::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return base::Status::OK();
  std::string msg = std::string(context) + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return base::Unavailable(std::move(msg));
    default:
      return IsFence(err) ? base::Fenced(std::move(msg)) : base::Unavailable(std::move(msg));
  }
}

bool IsFence(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         err == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

base::Status FatalError(rd_kafka_t* rk, std::string_view who) {
  char reason[512];
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, reason, sizeof reason);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return base::Status::OK();
  if (IsFence(err))
    return base::Fenced("another instance with " + std::string(who) + " took over (" + reason + ")");
  return base::Unavailable(std::string("kafka fatal error: ") + reason);
}

}  // namespace vigil::connectors
