#include "lifecycle/lifecycle.h"

#include <chrono>

#include "lifecycle/monitor_export.h"

namespace vigil::lifecycle {
namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Lifecycle::Lifecycle() = default;

Lifecycle::~Lifecycle() { Stop(); }

base::Status Lifecycle::Attach(const operators::ScoreBinding& binding,
                               std::shared_ptr<operators::ServingLink> link) {
  std::unique_ptr<OutcomeFeed> feed;
  const bool outcomes =
      binding.spec.rollout.enabled || binding.spec.monitor.performance || !binding.spec.feature_log.empty();
  if (outcomes && binding.stage != nullptr &&
      binding.stage->source.kind == config::SourceSpec::Kind::kKafka && !binding.spec.outcomes.empty()) {
    auto made = OutcomeFeed::Make(binding.stage->kafka, binding.spec.outcomes, binding.features.size(), link,
                                  binding.stage->source.topic);
    if (!made.ok()) return config::ConfigError(binding.loc, made.status().message());
    feed = std::move(made).value();
  }
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<ModelWatcher> watcher,
                         ModelWatcher::Make(binding, link, feed.get()));
  std::lock_guard lock(mu_);
  if (stopped_) return base::Status::OK();
  if (OutcomeFeed* f = feed.get()) {
    feeds_.push_back(std::move(feed));
    threads_.push_back(std::make_unique<PeriodicThread>(std::chrono::milliseconds(200), [f] { f->Tick(); }));
  }
  ModelWatcher* w = watcher.get();
  watchers_.push_back(std::move(watcher));
  threads_.push_back(
      std::make_unique<PeriodicThread>(std::chrono::milliseconds(binding.spec.poll_ms), [w] { w->Tick(); }));
  if (operators::ScoreMonitor* monitor = link->monitor()) {
    threads_.push_back(
        std::make_unique<PeriodicThread>(std::chrono::milliseconds(monitor->every_ms()),
                                         [monitor, registry = models::Registry(binding.spec.registry)] {
                                           ExportMonitor(*monitor, registry, WallMs());
                                         }));
  }
  links_.push_back(std::move(link));
  return base::Status::OK();
}

bool Lifecycle::Leads() const {
  std::lock_guard lock(mu_);
  for (const auto& feed : feeds_)
    if (!feed->leader()) return false;
  return true;
}

void Lifecycle::Stop() {
  std::vector<std::unique_ptr<PeriodicThread>> threads;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    threads.swap(threads_);
  }
  for (auto& t : threads) t->Stop();
}

}  // namespace vigil::lifecycle
