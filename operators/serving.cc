#include "operators/serving.h"

namespace vigil::operators {
namespace {

//! splitmix64's finaliser: a well-mixed 64-bit hash of the card id.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

bool InCanary(int64_t card, double percent) {
  constexpr uint64_t kBuckets = 10'000;
  return static_cast<double>(Mix(static_cast<uint64_t>(card)) % kBuckets) < percent * (kBuckets / 100.0);
}

ServingLink::ServingLink(std::shared_ptr<const models::ModelVersion> champion,
                         std::unique_ptr<ScoreMonitor> monitor, bool collect_trial_outcomes)
    : monitor_(std::move(monitor)), collect_(collect_trial_outcomes) {
  auto serving = std::make_shared<Serving>();
  serving->champion = std::move(champion);
  slot_.store(std::move(serving));
}

ServingLink::~ServingLink() = default;

void ServingLink::AddTrialOutcomes(std::span<const ScoredEvent> events, bool from_group) {
  if (!collect_ || from_group != group_outcomes()) return;
  std::lock_guard lock(mu_);
  for (const ScoredEvent& e : events)
    if (e.epoch != 0) queued_.push_back(e);
}

void ServingLink::TakeTrialOutcomes(std::vector<ScoredEvent>* out) {
  out->clear();
  std::lock_guard lock(mu_);
  out->swap(queued_);
}

}  // namespace vigil::operators
