#pragma once
// ModelWatcher: the rollout controller of one score operator. It follows the registry and publishes
// what the operator serves in its ServingLink (operators/serving.h); each Tick (every `poll_ms`, on
// a thread of the lifecycle's, lifecycle/lifecycle.h):
//   1. hands the judge the trial's matured events the operator queued;
//   2. follows CHAMPION (a hot swap): a new champion is loaded and verified (features, golden rows)
//      off the hot path and published; a version that fails to load or verify is refused with an
//      error in the log (not retried) while the current one keeps serving. A trial in progress starts
//      again against the new champion, or ends when its candidate was promoted elsewhere;
//   3. with `rollout:`, follows CANDIDATE: a new candidate starts a trial (shadow, or canary on
//      `canary_percent` of the cards), a withdrawn one ends it, one that does not load is rejected;
//   4. asks the judge (lifecycle/rollout_judge.h) and carries its verdict out through the registry:
//      promotes the candidate (published at once) or rejects it (a canary is rolled back).
// Over a group of instances (an OutcomeFeed), every instance does 2 and 3 (they serve the same
// versions), but only the leader judges, from the whole group's outcomes, and writes the registry;
// a trial's epoch (which tags its events) is a hash of the candidate and the champion, the same in
// every instance. A new leader's judge starts the trial's comparison over.
//
// Lifecycle: one per score operator, made at Attach. Thread-safety: Tick from one thread at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "lifecycle/outcome_feed.h"
#include "lifecycle/rollout_judge.h"
#include "models/registry.h"
#include "operators/serving.h"

namespace vigil::lifecycle {

class ModelWatcher {
 public:
  //! Watches for the operator bound as `binding`, publishing in `link`; with `rollout:`, makes its
  //! judge (a located config error for a spec out of range).
  //! With a `feed` (may be null; it must outlive the watcher), only the group's leader judges and
  //! writes the registry (lifecycle/outcome_feed.h); without one, this process does.
  static base::Result<std::unique_ptr<ModelWatcher>> Make(const operators::ScoreBinding& binding,
                                                          std::shared_ptr<operators::ServingLink> link,
                                                          const OutcomeFeed* feed = nullptr);
  ~ModelWatcher();

  //! One round: outcomes to the judge, CHAMPION, CANDIDATE, the verdict.
  void Tick();

 private:
  ModelWatcher(const operators::ScoreBinding& binding, std::shared_ptr<operators::ServingLink> link,
               std::unique_ptr<RolloutJudge> judge, const OutcomeFeed* feed);
  //! True when this process judges and writes the registry: no feed, or the group's leader.
  bool Leads() const;
  void FollowChampion();
  void FollowCandidate();
  void StartTrial(std::shared_ptr<const models::ModelVersion> model);
  void EndTrial(const std::string& why);
  void JudgeTrial();
  //! Publishes `champion` and `trial` (may be null) as what the operator serves.
  void Publish(std::shared_ptr<const models::ModelVersion> champion,
               std::shared_ptr<const operators::ServingTrial> trial);

  const config::ScoreSpec spec_;
  const models::Registry registry_;  // spec_.registry
  const std::vector<std::string> features_;
  const std::shared_ptr<operators::ServingLink> link_;
  const std::unique_ptr<RolloutJudge> judge_;     // null without `rollout:`
  std::vector<operators::ScoredEvent> outcomes_;  // taken from the link, each Tick
  std::string refused_, refused_candidate_;       // versions that failed to load (not retried)
  const OutcomeFeed* const feed_;                 // null: this process judges alone
  uint64_t term_ = 0;                             // feed_'s terms() the judge started in
  // The trial's waiting verdict, logged when it changes, at most once per kWaitLogInterval.
  std::string waiting_;
  std::chrono::steady_clock::time_point waiting_logged_{};
};

}  // namespace vigil::lifecycle
