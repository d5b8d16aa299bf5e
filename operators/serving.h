#pragma once
// What a score operator serves, and what it hands back to whatever follows the model registry for it
// (the model lifecycle of `vigil run`, lifecycle/). The operator only reads and queues (it owns no
// thread and writes nothing to the registry, engine/operator.h rule 1):
//   Serving         an immutable snapshot: the champion and the trial, if any (the candidate, its
//                   epoch, canary or shadow, the canary share), replaced whole;
//   ServingLink     one per score operator, shared with the lifecycle: the slot holding the current
//                   Serving (read once per batch, so a promotion takes effect at the next batch), the
//                   queue of the trial's matured events for the judge, the drift and performance
//                   monitor the operator feeds (operators/score_monitor.h) and the feature log. Over a
//                   group (set_group_outcomes) the matured outcomes reach the judge, the monitor's
//                   performance and the feature log from the group's outcomes topic instead, on the
//                   lifecycle's leader only;
//   ScoreLifecycle  what the score factory attaches its link to (given to RegisterOperators). Without
//                   one (replay, tests, benchmarks) the slot keeps the champion loaded at bind time,
//                   nothing is monitored and no trial runs.
//
// Thread-safety: Load, Publish, AddTrialOutcomes and TakeTrialOutcomes may be called from any thread;
// the tasks take the queue's mutex once per batch that has matured events of a trial.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "models/registry.h"
#include "operators/feature_log.h"
#include "operators/score_monitor.h"

namespace prometheus {
class Registry;
}

namespace vigil::operators {

//! A candidate on trial.
struct ServingTrial {
  std::shared_ptr<const models::ModelVersion> model;
  uint32_t epoch = 0;   //!< Tags the events scored during this trial.
  bool canary = false;  //!< Canary (the candidate decides for its cards) or shadow.
  double percent = 0;   //!< Canary share of cards.
};

//! What the score operator serves: immutable, published whole.
struct Serving {
  std::shared_ptr<const models::ModelVersion> champion;  //!< Never null.
  std::shared_ptr<const ServingTrial> trial;             //!< Null: no candidate on trial.
};

class ServingLink {
 public:
  //! Serves `champion` until something publishes another snapshot. `monitor` (may be null) is fed by
  //! the operator and evaluated by the lifecycle; with `collect_trial_outcomes`, the operator queues
  //! the matured events of trials for the judge.
  ServingLink(std::shared_ptr<const models::ModelVersion> champion, std::unique_ptr<ScoreMonitor> monitor,
              bool collect_trial_outcomes);
  ~ServingLink();
  ServingLink(const ServingLink&) = delete;
  ServingLink& operator=(const ServingLink&) = delete;

  //! The current snapshot; never null.
  std::shared_ptr<const Serving> Load() const { return slot_.load(); }
  //! Replaces the snapshot (`serving` and its champion not null).
  void Publish(std::shared_ptr<const Serving> serving) { slot_.store(std::move(serving)); }

  //! The monitor, or null.
  ScoreMonitor* monitor() const { return monitor_.get(); }
  //! The feature log (`feature_log:`), or null. Set by the score factory before Attach.
  void set_feature_log(std::shared_ptr<FeatureLog> log) { log_ = std::move(log); }
  FeatureLog* feature_log() const { return log_.get(); }
  //! Whether matured events of trials are queued.
  bool collects_trial_outcomes() const { return collect_; }
  //! Queues the events of `events` scored during a trial (epoch != 0); ignored unless collected.
  //! `from_group`: they come from the whole group's outcomes topic (lifecycle/outcome_feed.h), not
  //! from this process's tasks. Once set_group_outcomes() was called, only those are queued, and the
  //! operator leaves the monitor's outcomes and the feature log to the group's leader too.
  void AddTrialOutcomes(std::span<const ScoredEvent> events, bool from_group = false);
  //! From now on the trial's outcomes come from the group (AddTrialOutcomes with from_group), and the
  //! tasks' own are ignored. Called by the lifecycle at Attach, before any batch.
  void set_group_outcomes() { group_.store(true, std::memory_order_release); }
  bool group_outcomes() const { return group_.load(std::memory_order_acquire); }
  //! Moves the queued events into `out` (cleared first), oldest first.
  void TakeTrialOutcomes(std::vector<ScoredEvent>* out);

 private:
  std::atomic<std::shared_ptr<const Serving>> slot_;
  const std::unique_ptr<ScoreMonitor> monitor_;
  std::shared_ptr<FeatureLog> log_;
  const bool collect_;
  std::atomic<bool> group_{false};
  std::mutex mu_;                    //!< Guards queued_.
  std::vector<ScoredEvent> queued_;  //!< Matured trial events not yet taken.
};

//! True when `card` falls in the canary share `percent` (0..100): sticky, by a hash of the id.
bool InCanary(int64_t card, double percent);

//! What a score operator is bound with, for its lifecycle.
struct ScoreBinding {
  const config::ScoreSpec& spec;                  //!< The operator's entry.
  const config::Location& loc;                    //!< Where it is in the file (located errors).
  const std::vector<std::string>& features;       //!< The model's inputs.
  const std::string& pipeline;                    //!< The pipeline's name (metric labels).
  std::shared_ptr<prometheus::Registry> metrics;  //!< Where to register metrics; may be null.
  const config::PipelineSpec* stage = nullptr;    //!< The stage it runs in (source, kafka settings).
};

//! Follows the registry for score operators. Implemented by lifecycle::Lifecycle, installed by
//! `vigil run` (operators/register.h).
class ScoreLifecycle {
 public:
  virtual ~ScoreLifecycle() = default;
  //! Takes over `link` of a bound score operator: from now until the lifecycle stops it publishes
  //! hot swaps and trials in it and consumes what the operator queues. Called by the factory before
  //! the operator sees a batch; an error is a located config error and fails the binding.
  virtual base::Status Attach(const ScoreBinding& binding, std::shared_ptr<ServingLink> link) = 0;
};

}  // namespace vigil::operators
