#include "lifecycle/model_watcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "models/runs.h"

namespace vigil::lifecycle {

using models::ModelVersion;
using operators::Serving;
using operators::ServingTrial;

namespace {

//! The epoch of a trial of `candidate` against `champion`: FNV-1a of both names, never 0, the same in
//! every instance of the group, so the leader's judge knows the events the others scored for it.
uint32_t TrialEpoch(const std::string& candidate, const std::string& champion) {
  uint32_t hash = 2166136261u;
  for (const std::string* s : {&candidate, &champion}) {
    for (const char c : *s) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 16777619u;
    }
    hash ^= 0xff;  // a separator no name contains
    hash *= 16777619u;
  }
  return hash == 0 ? 1 : hash;
}

}  // namespace

base::Result<std::unique_ptr<ModelWatcher>> ModelWatcher::Make(const operators::ScoreBinding& binding,
                                                               std::shared_ptr<operators::ServingLink> link,
                                                               const OutcomeFeed* feed) {
  std::unique_ptr<RolloutJudge> judge;
  if (binding.spec.rollout.enabled) {
    auto made = RolloutJudge::Make(binding.spec.rollout, binding.spec.monitor.top_k, binding.pipeline,
                                   binding.metrics);
    if (!made.ok()) return config::ConfigError(binding.spec.rollout.loc, made.status().message());
    judge = std::move(made).value();
  }
  return std::unique_ptr<ModelWatcher>(new ModelWatcher(binding, std::move(link), std::move(judge), feed));
}

ModelWatcher::ModelWatcher(const operators::ScoreBinding& binding,
                           std::shared_ptr<operators::ServingLink> link, std::unique_ptr<RolloutJudge> judge,
                           const OutcomeFeed* feed)
    : spec_(binding.spec),
      registry_(binding.spec.registry),
      features_(binding.features),
      link_(std::move(link)),
      judge_(std::move(judge)),
      feed_(feed) {
  if (judge_ && feed_) judge_->ExpectPartitions(feed_->input_partitions());
}

bool ModelWatcher::Leads() const { return feed_ == nullptr || feed_->leader(); }

ModelWatcher::~ModelWatcher() = default;

void ModelWatcher::Tick() {
  if (judge_) {
    if (feed_ != nullptr && feed_->terms() != term_) {  // this instance just took the lead
      term_ = feed_->terms();
      const auto serving = link_->Load();
      if (const auto& trial = serving->trial) {
        judge_->Begin(trial->epoch, trial->model->version, serving->champion->version);
        spdlog::info("rollout: judging {} from here on, on the group's outcomes", trial->model->version);
      }
    }
    link_->TakeTrialOutcomes(&outcomes_);
    judge_->AddOutcomes(outcomes_);
  }
  FollowChampion();
  if (!judge_) return;
  FollowCandidate();
  if (Leads()) JudgeTrial();
}

void ModelWatcher::Publish(std::shared_ptr<const ModelVersion> champion,
                           std::shared_ptr<const ServingTrial> trial) {
  auto serving = std::make_shared<Serving>();
  serving->champion = std::move(champion);
  serving->trial = std::move(trial);
  link_->Publish(std::move(serving));
}

void ModelWatcher::FollowChampion() {
  const auto serving = link_->Load();
  auto champion = registry_.ReadChampion();
  if (!champion.ok() || *champion == serving->champion->version || *champion == refused_) return;
  auto next = registry_.LoadVersion(*champion, features_);
  if (!next.ok()) {
    spdlog::error("refusing model {}: {} (still serving {})", *champion, next.status().message(),
                  serving->champion->version);
    refused_ = *champion;
    return;
  }
  Publish(*next, serving->trial);
  // Logged once published: a batch that starts after this line scores with the new version.
  spdlog::info("model {} replaces {}", *champion, serving->champion->version);
  refused_.clear();
  if (const auto& trial = serving->trial) {
    if (trial->model->version == *champion) {
      EndTrial("promoted elsewhere");  // by hand, or by another instance's judge
    } else {
      StartTrial(trial->model);  // the comparison starts again, against the new champion
    }
  }
}

void ModelWatcher::FollowCandidate() {
  auto name = registry_.ReadCandidate();
  const auto serving = link_->Load();
  const auto& trial = serving->trial;
  if (!name.ok()) {
    if (trial) EndTrial("withdrawn");
    return;
  }
  if ((trial && trial->model->version == *name) || *name == refused_candidate_) return;
  if (*name == serving->champion->version) return;
  auto model = registry_.LoadVersion(*name, features_);
  if (!model.ok()) {
    spdlog::error("rollout: refusing candidate {}: {}", *name, model.status().message());
    refused_candidate_ = *name;
    if (Leads()) {
      (void)registry_.EndCandidate(*name, models::kRunRejected, "refused: " + model.status().message());
      judge_->Count("refused");
    }
    return;
  }
  StartTrial(*model);
}

void ModelWatcher::StartTrial(std::shared_ptr<const ModelVersion> model) {
  auto trial = std::make_shared<ServingTrial>();
  trial->model = std::move(model);
  const auto champion = link_->Load()->champion;
  trial->epoch = TrialEpoch(trial->model->version, champion->version);
  trial->canary = spec_.rollout.mode == "canary";
  trial->percent = spec_.rollout.canary_percent;
  judge_->Begin(trial->epoch, trial->model->version, champion->version);
  spdlog::info("rollout: candidate {} starts as {} against champion {}", trial->model->version,
               trial->canary ? fmt::format("canary on {}% of cards", trial->percent) : std::string("shadow"),
               champion->version);
  judge_->Count("started");
  Publish(champion, std::move(trial));
}

void ModelWatcher::EndTrial(const std::string& why) {
  const auto serving = link_->Load();
  spdlog::info("rollout: trial of {} ended ({})", serving->trial->model->version, why);
  judge_->End();
  Publish(serving->champion, nullptr);
}

void ModelWatcher::JudgeTrial() {
  const auto serving = link_->Load();
  const auto& trial = serving->trial;
  if (!trial) return;
  const RolloutVerdict verdict = judge_->Judge();
  if (verdict.kind == RolloutVerdict::Kind::kWait) {
    // Why a trial is not decided yet (days, frauds, partitions), for whoever wonders: when it
    // changed, at most every 30 s.
    constexpr auto kWaitLogInterval = std::chrono::seconds(30);
    const auto now = std::chrono::steady_clock::now();
    if (verdict.detail != waiting_ && now - waiting_logged_ >= kWaitLogInterval) {
      waiting_ = verdict.detail;
      waiting_logged_ = now;
      spdlog::info("rollout: {} not decided yet: {}", trial->model->version, verdict.detail);
    }
    return;
  }
  const std::string& name = trial->model->version;
  std::shared_ptr<const ModelVersion> champion = serving->champion;
  if (verdict.kind == RolloutVerdict::Kind::kPromote) {
    if (base::Status st = registry_.Promote(name, features_, verdict.detail, verdict.Figures()); !st.ok()) {
      spdlog::error("rollout: cannot promote {}: {}", name, st.message());
      (void)registry_.EndCandidate(name, models::kRunRejected, "promotion failed: " + st.message());
      judge_->Count("refused");
    } else {
      champion = trial->model;
      Publish(champion, nullptr);
      spdlog::info("rollout: {} promoted: {}", name, verdict.detail);
      judge_->Count("promoted");
    }
  } else {
    const bool canary = trial->canary;
    (void)registry_.EndCandidate(name, canary ? models::kRunRolledBack : models::kRunRejected, verdict.detail,
                                 verdict.Figures());
    spdlog::warn("rollout: {} {}: {}", name, canary ? "rolled back" : "rejected", verdict.detail);
    judge_->Count(canary ? "rolled_back" : "rejected");
  }
  judge_->End();
  Publish(champion, nullptr);
}

}  // namespace vigil::lifecycle
