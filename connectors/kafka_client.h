#pragma once
// Shared librdkafka plumbing: building a client configuration from the pipeline's `kafka:` section
// and turning librdkafka errors into Status.

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "config/pipeline_config.h"

namespace vigil::connectors {

//! Which role a client plays; selects the `consumer:` or `producer:` overrides.
enum class KafkaRole { kConsumer, kProducer };

//! Owns an rd_kafka_t; destroys it on reset.
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

//! Builds a configuration: defaults for the role, then `properties`, then the role's overrides, then
//! `extra` (what the connector itself needs). Unknown or invalid properties are errors naming the key.
base::Result<rd_kafka_conf_t*> MakeKafkaConf(const config::KafkaSpec& spec, KafkaRole role,
                                             const std::map<std::string, std::string>& extra);
//! A client of `type` (RD_KAFKA_PRODUCER or RD_KAFKA_CONSUMER) with MakeKafkaConf's configuration for
//! that role plus `extra`, for admin, metadata and restore work.
base::Result<KafkaHandle> NewKafkaClient(const config::KafkaSpec& spec, rd_kafka_type_t type,
                                         const std::map<std::string, std::string>& extra);
//! A Status for a librdkafka error code, with context. A fence (producer fenced, group instance id
//! fenced) is kFenced.
base::Status KafkaError(rd_kafka_resp_err_t err, std::string_view context);
//! A request that timed out or lost its connection: worth trying again, whatever it asked.
bool TransientError(rd_kafka_resp_err_t err);
//! Calls `attempt` again while it fails with an error that `passing` accepts, for up to `give_up_ms` in
//! all, waiting 100 ms after the first failure, then twice as long each time up to 2 s (a warning
//! names `what`). Returns the last answer.
rd_kafka_resp_err_t RetryWhile(const std::function<rd_kafka_resp_err_t()>& attempt,
                               bool (*passing)(rd_kafka_resp_err_t), int give_up_ms, std::string_view what);
//! rd_kafka_query_watermark_offsets (each try waits up to `timeout_ms`), asked again with a backoff
//! while the answer is an error that passes: the partition's leader not known yet (a topic just
//! created) or moving (a broker restarting, or fenced by its controller under load), a timeout, a
//! lost connection. Gives up after `give_up_ms` in all with that error, in context; other errors at
//! once.
base::Status QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t* low,
                             int64_t* high, int timeout_ms, std::string_view context,
                             int give_up_ms = 60'000);
//! True for the error codes that mean another client took over this one's transactional id or
//! group instance id.
bool IsFence(rd_kafka_resp_err_t err);
//! The client's fatal error (rd_kafka_fatal_error), if it has one: kFenced for a fence, saying
//! `who` ("transactional id 'g.a'") was taken over, else kUnavailable. OK when the client is healthy.
base::Status FatalError(rd_kafka_t* rk, std::string_view who);

}  // namespace vigil::connectors
