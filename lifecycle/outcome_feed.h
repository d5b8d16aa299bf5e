#pragma once
// OutcomeFeed: the whole group's outcomes, for the judge of one score operator. Every `vigil run`
// instance of the consumer group holds a share of the input partitions, and so of the matured
// outcomes; the score operator writes each to the outcomes topic (`score: outcomes:`, default
// `<group>.outcomes`) in the transaction of the events that matured it. Of the instances, one is the
// lifecycle's leader: it holds a GroupLease (connectors/group_lease.h) on the topic
// `<outcomes>.lease`, in the consumer group `<outcomes>.lifecycle`. The leader reads the outcomes
// topic, every partition (connectors/topic_tail.h), from the position the leaders commit in the group
// `<outcomes>.reader` after using each read (from the start the first time), and hands the trial
// outcomes to its ServingLink, where its model watcher's judge takes them: one judge decides on the
// outcomes of every partition. It also feeds the monitor's performance metrics and appends the
// feature log (the retraining table) from them: the whole group's. The other instances only score:
// their watchers follow CHAMPION and CANDIDATE, and neither judge nor write the registry, and their
// retraining workers wait (Lifecycle::Leads). A leader that crashes between a read and its commit
// leaves those outcomes to the next, which logs them again (at least once in the feature log). When the
// leader goes (a crash: after the session timeout), another takes the lease and its judge starts the trial's
// comparison over.
//
// Lifecycle: Make → Tick* (its own periodic thread) → destroyed (leaves the group). Thread-safety:
// leader() and terms() from any thread; Tick from one.

#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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
  //! `width`: the served vector's length (the pipeline's features).
  static base::Result<std::unique_ptr<OutcomeFeed>> Make(const config::KafkaSpec& kafka,
                                                         const std::string& topic, size_t width,
                                                         std::shared_ptr<operators::ServingLink> link,
                                                         const std::string& input_topic);
  ~OutcomeFeed();
  OutcomeFeed(const OutcomeFeed&) = delete;
  OutcomeFeed& operator=(const OutcomeFeed&) = delete;

  //! Serves the lease; while held, moves the trial outcomes that arrived into the link.
  void Tick();
  //! True while this instance is the leader.
  bool leader() const { return leader_.load(std::memory_order_acquire); }
  //! How many times this instance took the lease: a new term means a judge that starts over.
  uint64_t terms() const { return terms_.load(std::memory_order_acquire); }
  //! The partitions of `input_topic`, the score operator's stage's input (0 if unknown): the judge
  //! waits for the trial's events from each of them.
  int input_partitions() const { return input_partitions_; }

 private:
  OutcomeFeed(config::KafkaSpec kafka, std::string topic, size_t width,
              std::shared_ptr<operators::ServingLink> link);
  //! Appends the outcome record `json` to the Tick's lists; false when it is not one.
  bool Parse(std::string_view json, int32_t partition);

  const config::KafkaSpec kafka_;
  const std::string topic_;
  const size_t width_;
  const std::shared_ptr<operators::ServingLink> link_;
  std::unique_ptr<connectors::GroupLease> lease_;
  std::unique_ptr<connectors::TopicTail> tail_;  //!< While leader.
  simdjson::dom::parser parser_;
  // One Tick's outcomes: each event, its version, served vector (width_ floats) and segment values.
  std::vector<operators::ScoredEvent> events_;
  std::vector<std::string> versions_;
  std::vector<float> inputs_;
  std::vector<std::string> segment_text_;
  std::vector<operators::LogRow> rows_;
  std::atomic<bool> leader_{false};
  std::atomic<uint64_t> terms_{0};
  bool failed_ = false;  //!< A fatal lease error was logged: this instance no longer leads.
  //! Progress, logged at most every 30 s while outcomes arrive: records read since the last line,
  //! the newest event time among them, when the last line was written.
  uint64_t read_since_log_ = 0;
  int64_t newest_ms_ = 0;
  std::chrono::steady_clock::time_point logged_{};
  int input_partitions_ = 0;
};

}  // namespace vigil::lifecycle
