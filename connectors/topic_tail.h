#pragma once
// TopicTail: every partition of a topic, read from its end at Make on, as records arrive
// (read_committed: a transaction's records once it commits). No consumer group: nothing is committed,
// and each TopicTail reads everything written after it started. The model lifecycle's leader reads the
// group's matured outcomes with it (lifecycle/outcome_feed.h).
//
// Thread-safety: one thread at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"

namespace vigil::connectors {

class TopicTail {
 public:
  //! Assigns every partition of `topic` (which must exist) at its end.
  static base::Result<std::unique_ptr<TopicTail>> Make(const config::KafkaSpec& kafka, const std::string& topic);
  ~TopicTail();
  TopicTail(const TopicTail&) = delete;
  TopicTail& operator=(const TopicTail&) = delete;

  //! Calls `fn(value, partition)` for up to `max` records, waiting at most `timeout_ms` for the first.
  //! Returns the number read. A fatal client error is returned.
  base::Result<size_t> Poll(int timeout_ms, size_t max,
                            const std::function<void(std::string_view value, int32_t partition)>& fn);

 private:
  TopicTail() = default;
  KafkaHandle rk_;
  std::string topic_;
};

}  // namespace vigil::connectors
