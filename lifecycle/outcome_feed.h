#pragma once
// OutcomeFeed: the whole group's outcomes, for the judge of one score operator. Every `vigil run`
// instance of the consumer group holds a share of the input partitions, and so of the matured
// outcomes; the score operator writes each to the outcomes topic (`score: outcomes:`, default
// `<group>.outcomes`) in the transaction of the events that matured it. Of the instances, one is the
// lifecycle's leader: it holds a GroupLease (connectors/group_lease.h) on the topic
// `<outcomes>.lease`, in the consumer group `<outcomes>.lifecycle`. The leader reads the outcomes
// topic, every partition, from when it took the lease (connectors/topic_tail.h), and hands the trial
// outcomes to its ServingLink, where its model watcher's judge takes them: one judge decides on the
// outcomes of every partition. The other instances only score: their watchers follow CHAMPION and
// CANDIDATE, and neither judge nor write the registry. When the leader goes (a crash: after the
// session timeout), another takes the lease and its judge starts the trial's comparison over.
//
// Lifecycle: Make → Tick* (its own periodic thread) → destroyed (leaves the group). Thread-safety:
// leader() and terms() from any thread; Tick from one.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "operators/serving.h"

namespace vigil::connectors {
class GroupLease;
class TopicTail;
}  // namespace vigil::connectors

namespace vigil::lifecycle {

class OutcomeFeed {
 public:
  //! Joins the lease's group for `link`'s score operator, whose outcomes go to `topic`; the link
  //! takes its trial outcomes from the group from now on.
  static base::Result<std::unique_ptr<OutcomeFeed>> Make(const config::KafkaSpec& kafka, const std::string& topic,
                                                         std::shared_ptr<operators::ServingLink> link);
  ~OutcomeFeed();
  OutcomeFeed(const OutcomeFeed&) = delete;
  OutcomeFeed& operator=(const OutcomeFeed&) = delete;

  //! Serves the lease; while held, moves the trial outcomes that arrived into the link.
  void Tick();
  //! True while this instance is the leader.
  bool leader() const { return leader_.load(std::memory_order_acquire); }
  //! How many times this instance took the lease: a new term means a judge that starts over.
  uint64_t terms() const { return terms_.load(std::memory_order_acquire); }

 private:
  OutcomeFeed(config::KafkaSpec kafka, std::string topic, std::shared_ptr<operators::ServingLink> link);

  const config::KafkaSpec kafka_;
  const std::string topic_;
  const std::shared_ptr<operators::ServingLink> link_;
  std::unique_ptr<connectors::GroupLease> lease_;
  std::unique_ptr<connectors::TopicTail> tail_;  //!< While leader.
  std::vector<operators::ScoredEvent> events_;   //!< One Tick's trial outcomes.
  std::atomic<bool> leader_{false};
  std::atomic<uint64_t> terms_{0};
  bool failed_ = false;  //!< A fatal lease error was logged: this instance no longer leads.
};

}  // namespace vigil::lifecycle
