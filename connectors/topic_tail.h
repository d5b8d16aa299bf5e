#pragma once
// TopicTail: every partition of a topic, read as records arrive, from where the consumer group
// `group` last committed (the start of a partition it never committed on), read_committed (a
// transaction's records once it commits). The group is only a place for positions: the tail is
// assigned every partition, it never joins the group. The model lifecycle's leader reads the group's
// matured outcomes with it (lifecycle/outcome_feed.h), and commits once it has used them, so the next
// leader goes on from there.
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
  //! Assigns every partition of `topic` (which must exist) at `group`'s committed offsets.
  static base::Result<std::unique_ptr<TopicTail>> Make(const config::KafkaSpec& kafka,
                                                       const std::string& topic, const std::string& group);
  ~TopicTail();
  TopicTail(const TopicTail&) = delete;
  TopicTail& operator=(const TopicTail&) = delete;

  //! Calls `fn(value, partition)` for up to `max` records, waiting at most `timeout_ms` for the first.
  //! Returns the number read. A fatal client error is returned.
  base::Result<size_t> Poll(int timeout_ms, size_t max,
                            const std::function<void(std::string_view value, int32_t partition)>& fn);
  //! Commits the position after every record Poll returned, for `group`.
  base::Status Commit();

 private:
  TopicTail() = default;
  KafkaHandle rk_;
  std::string topic_;
  int partitions_ = 0;
};

}  // namespace vigil::connectors
