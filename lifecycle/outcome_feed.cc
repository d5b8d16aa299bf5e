#include "lifecycle/outcome_feed.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "connectors/group_lease.h"
#include "connectors/topic_tail.h"

namespace vigil::lifecycle {
namespace {

constexpr size_t kMaxPerTick = 100'000;

//! A trial outcome from its `<group>.outcomes` record (operators/pending_outcomes.h); false for
//! a record outside a trial or one that does not parse.
bool ParseTrialOutcome(simdjson::dom::parser& parser, std::string_view json, operators::ScoredEvent* e) {
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return false;
  int64_t epoch = 0;
  if (doc["epoch"].get(epoch) != simdjson::SUCCESS || epoch == 0) return false;
  double score = 0, challenger = 0, champion = 0, amount = 0;
  int64_t label = 0, partition = -1;
  bool flagged = false, canary = false;
  if (doc["id"].get(e->id) || doc["time"].get(e->time_ms) || doc["card"].get(e->card) ||
      doc["score"].get(score) || doc["flagged"].get(flagged) || doc["label"].get(label) ||
      doc["canary"].get(canary) || doc["challenger"].get(challenger) || doc["champion"].get(champion) ||
      doc["amount"].get(amount) || doc["partition"].get(partition) || doc["offset"].get(e->offset))
    return false;
  e->epoch = static_cast<uint32_t>(epoch);
  e->score = static_cast<float>(score);
  e->flagged = flagged;
  e->label = static_cast<int>(label);
  e->canary = canary;
  e->challenger = static_cast<float>(challenger);
  e->champion = static_cast<float>(champion);
  e->amount = amount;
  e->partition = static_cast<int32_t>(partition);
  return true;
}

}  // namespace

base::Result<std::unique_ptr<OutcomeFeed>> OutcomeFeed::Make(const config::KafkaSpec& kafka,
                                                             const std::string& topic,
                                                             std::shared_ptr<operators::ServingLink> link) {
  std::unique_ptr<OutcomeFeed> feed(new OutcomeFeed(kafka, topic, std::move(link)));
  VIGIL_ASSIGN_OR_RETURN(feed->lease_, connectors::GroupLease::Make(kafka, topic + ".lease", topic + ".lifecycle"));
  feed->link_->set_group_outcomes();
  return feed;
}

OutcomeFeed::OutcomeFeed(config::KafkaSpec kafka, std::string topic, std::shared_ptr<operators::ServingLink> link)
    : kafka_(std::move(kafka)), topic_(std::move(topic)), link_(std::move(link)) {}

OutcomeFeed::~OutcomeFeed() = default;

void OutcomeFeed::Tick() {
  if (failed_) return;
  if (base::Status st = lease_->Poll(0); !st.ok()) {
    spdlog::error("lifecycle: {}; this instance no longer judges", st.message());
    failed_ = true;
    tail_.reset();
    leader_.store(false, std::memory_order_release);
    return;
  }
  if (!lease_->held()) {
    if (tail_) spdlog::info("lifecycle: another instance leads now: it judges for the group");
    tail_.reset();
    leader_.store(false, std::memory_order_release);
    return;
  }
  if (!tail_) {
    auto tail = connectors::TopicTail::Make(kafka_, topic_);
    if (!tail.ok()) {
      spdlog::warn("lifecycle: cannot read '{}' yet: {}", topic_, tail.status().message());
      return;
    }
    tail_ = std::move(tail).value();
    terms_.fetch_add(1, std::memory_order_acq_rel);
    leader_.store(true, std::memory_order_release);
    spdlog::info("lifecycle: this instance leads: it judges on the outcomes of every partition ('{}')", topic_);
  }
  simdjson::dom::parser parser;
  events_.clear();
  auto read = tail_->Poll(100, kMaxPerTick, [&](std::string_view value, int32_t) {
    operators::ScoredEvent e;
    if (ParseTrialOutcome(parser, value, &e)) events_.push_back(e);
  });
  if (!read.ok()) {
    spdlog::error("lifecycle: {}", read.status().message());
    tail_.reset();
    return;
  }
  link_->AddTrialOutcomes(events_, /*from_group=*/true);
}

}  // namespace vigil::lifecycle
