#pragma once
// GroupLease: one holder among the processes of a group, through Kafka's group membership. Every
// process subscribes a consumer of group `group` to `topic`, a topic of one partition that nobody
// writes: the group coordinator assigns that partition to exactly one member, which holds the lease
// until it leaves or its session expires (a crash: session.timeout.ms of the pipeline's `kafka:
// consumer:` settings). The assignment is cooperative-sticky: members that join or leave do not move
// the lease from a holder that stays. The model lifecycle uses it for the one instance
// that judges and promotes for the whole group (lifecycle/outcome_feed.h).
//
// Lifecycle: Make → Poll* (serves the group; call at least every max.poll.interval.ms) → Close or
// destruction (leaves the group, handing the lease over at once). Thread-safety: Poll and Close on
// one thread; held() from any.

#include <atomic>
#include <memory>
#include <string>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "connectors/kafka_client.h"

namespace vigil::connectors {

class GroupLease {
 public:
  //! Creates `topic` (one partition) if needed and joins `group`. The lease is not held until a Poll
  //! has served the assignment.
  static base::Result<std::unique_ptr<GroupLease>> Make(const config::KafkaSpec& kafka,
                                                        const std::string& topic, const std::string& group);
  ~GroupLease();
  GroupLease(const GroupLease&) = delete;
  GroupLease& operator=(const GroupLease&) = delete;

  //! Serves the group for up to `timeout_ms` (rebalances happen here). A fatal client error is
  //! returned.
  base::Status Poll(int timeout_ms);
  //! True while this process holds the lease.
  bool held() const { return held_.load(std::memory_order_acquire); }
  //! Leaves the group. Idempotent.
  void Close();

 private:
  GroupLease() = default;
  static void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                        void* opaque);

  KafkaHandle rk_;
  std::string topic_;
  std::atomic<bool> held_{false};
  bool closed_ = false;
};

}  // namespace vigil::connectors
