#pragma once
// Lifecycle: the model lifecycle of a running pipeline (`vigil run`), the operators::ScoreLifecycle
// that app/run_command.cc gives RegisterOperators. Each score operator bound then is attached: its
// model watcher (lifecycle/model_watcher.h: hot swaps, trials, verdicts) ticks every `poll_ms`, and
// its monitor, with `monitor:`, is exported every `monitor.every` (lifecycle/monitor_export.h: gauges
// and drift signals), each on a thread of its own (lifecycle/periodic.h). With `rollout:` over a Kafka
// source, the operator's trial outcomes come from the whole group (lifecycle/outcome_feed.h, ticked
// every 200 ms on a thread of its own), and only the group's leader judges.
//
// Lifecycle: made before the pipeline is built; Stop (or the destructor) ends the threads, after the
// round in progress. The operators keep their links (shared): the lifecycle may stop before or after
// the pipeline. Thread-safety: Attach and Stop may be called from any thread.

#include <memory>
#include <mutex>
#include <vector>

#include "lifecycle/model_watcher.h"
#include "lifecycle/outcome_feed.h"
#include "lifecycle/periodic.h"
#include "operators/serving.h"

namespace vigil::lifecycle {

class Lifecycle final : public operators::ScoreLifecycle {
 public:
  Lifecycle();
  ~Lifecycle() override;
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  //! Starts watching for the operator bound as `binding` (its watcher's and its monitor's threads).
  base::Status Attach(const operators::ScoreBinding& binding,
                      std::shared_ptr<operators::ServingLink> link) override;
  //! True when this process trains and judges for its group: every attached operator's OutcomeFeed
  //! holds the lead, or there is none (a file source). Any thread.
  bool Leads() const;
  //! Ends every thread (idempotent); a later Attach starts nothing.
  void Stop();

 private:
  mutable std::mutex mu_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<OutcomeFeed>> feeds_;  // used by the watchers
  std::vector<std::unique_ptr<ModelWatcher>> watchers_;
  std::vector<std::shared_ptr<operators::ServingLink>> links_;
  std::vector<std::unique_ptr<PeriodicThread>> threads_;  // use the two above: stopped first
};

}  // namespace vigil::lifecycle
