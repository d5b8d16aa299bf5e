#include "lifecycle/outcome_feed.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/time.h"
#include "connectors/group_lease.h"
#include "connectors/kafka_changelog.h"
#include "connectors/topic_tail.h"

namespace vigil::lifecycle {
namespace {

constexpr size_t kMaxPerTick = 100'000;

}  // namespace

base::Result<std::unique_ptr<OutcomeFeed>> OutcomeFeed::Make(const config::KafkaSpec& kafka,
                                                             const std::string& topic, size_t width,
                                                             std::shared_ptr<operators::ServingLink> link,
                                                             const std::string& input_topic) {
  std::unique_ptr<OutcomeFeed> feed(new OutcomeFeed(kafka, topic, width, std::move(link)));
  if (auto partitions = connectors::PartitionCount(kafka, input_topic); partitions.ok()) {
    feed->input_partitions_ = *partitions;
  } else {
    spdlog::warn("lifecycle: {}: the judge will not wait for every partition", partitions.status().message());
  }
  VIGIL_ASSIGN_OR_RETURN(feed->lease_,
                         connectors::GroupLease::Make(kafka, topic + ".lease", topic + ".lifecycle"));
  feed->link_->set_group_outcomes();
  return feed;
}

OutcomeFeed::OutcomeFeed(config::KafkaSpec kafka, std::string topic, size_t width,
                         std::shared_ptr<operators::ServingLink> link)
    : kafka_(std::move(kafka)), topic_(std::move(topic)), width_(width), link_(std::move(link)) {}

OutcomeFeed::~OutcomeFeed() = default;

bool OutcomeFeed::Parse(std::string_view json, int32_t partition) {
  simdjson::dom::element doc;
  if (parser_.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return false;
  operators::ScoredEvent e;
  double score = 0, challenger = 0, champion = 0;
  int64_t label = 0, epoch = 0;
  std::string_view version;
  simdjson::dom::array x;
  if (doc["id"].get(e.id) || doc["time"].get(e.time_ms) || doc["card"].get(e.card) ||
      doc["score"].get(score) || doc["flagged"].get(e.flagged) || doc["label"].get(label) ||
      doc["version"].get(version) || doc["epoch"].get(epoch) || doc["canary"].get(e.canary) ||
      doc["challenger"].get(challenger) || doc["champion"].get(champion) || doc["amount"].get(e.amount) ||
      doc["offset"].get(e.offset) || doc["x"].get(x) || x.size() != width_)
    return false;
  e.score = static_cast<float>(score);
  e.label = static_cast<int>(label);
  e.epoch = static_cast<uint32_t>(epoch);
  e.challenger = static_cast<float>(challenger);
  e.champion = static_cast<float>(champion);
  e.partition = partition;
  for (simdjson::dom::element v : x) {
    double d = 0;
    if (v.get(d)) return false;
    inputs_.push_back(static_cast<float>(d));
  }
  simdjson::dom::array segments;
  if (doc["segments"].get(segments) == simdjson::SUCCESS) {
    for (simdjson::dom::element v : segments) {
      std::string_view text;
      if (v.get(text)) return false;
      segment_text_.emplace_back(text);
    }
  }
  versions_.emplace_back(version);
  events_.push_back(e);
  return true;
}

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
    auto tail = connectors::TopicTail::Make(kafka_, topic_, topic_ + ".reader");
    if (!tail.ok()) {
      spdlog::warn("lifecycle: cannot read '{}' yet: {}", topic_, tail.status().message());
      return;
    }
    tail_ = std::move(tail).value();
    terms_.fetch_add(1, std::memory_order_acq_rel);
    leader_.store(true, std::memory_order_release);
    spdlog::info("lifecycle: this instance leads: it judges on the outcomes of every partition ('{}')",
                 topic_);
  }
  events_.clear();
  versions_.clear();
  inputs_.clear();
  segment_text_.clear();
  size_t malformed = 0;
  auto read = tail_->Poll(100, kMaxPerTick, [&](std::string_view value, int32_t partition) {
    if (!Parse(value, partition)) ++malformed;
  });
  if (!read.ok()) {
    spdlog::error("lifecycle: {}", read.status().message());
    tail_.reset();
    return;
  }
  if (malformed > 0)
    spdlog::warn("lifecycle: {} records of '{}' are not outcomes: skipped", malformed, topic_);
  if (*read == 0) return;
  // The judge's trial outcomes, the monitor's performance, the feature log: the whole group's.
  link_->AddTrialOutcomes(events_, /*from_group=*/true);
  if (operators::ScoreMonitor* monitor = link_->monitor()) {
    monitor->IdentifySegmentValues(events_, segment_text_);
    monitor->AddOutcomes(*link_->Load()->champion, events_);
  }
  if (operators::FeatureLog* log = link_->feature_log()) {
    rows_.clear();
    for (size_t i = 0; i < events_.size(); ++i) {
      const operators::ScoredEvent& e = events_[i];
      rows_.push_back(operators::LogRow{e.id, e.time_ms, e.card, e.score, e.label,
                                        inputs_.data() + i * width_, &versions_[i], e.partition, e.offset});
    }
    base::Status st = log->Append(rows_);
    if (st.ok()) st = log->Flush();
    if (!st.ok()) {
      spdlog::error("lifecycle: feature log: {}", st.message());
      return;  // not committed: the next leader reads them again
    }
  }
  // Used: the next leader (or this one, after a restart) goes on after them.
  if (base::Status st = tail_->Commit(); !st.ok()) spdlog::warn("lifecycle: {}", st.message());
  read_since_log_ += events_.size();
  for (const operators::ScoredEvent& e : events_) newest_ms_ = std::max(newest_ms_, e.time_ms);
  if (const auto now = std::chrono::steady_clock::now(); now - logged_ >= std::chrono::seconds(30)) {
    spdlog::info("lifecycle: {} outcomes read from '{}' (events up to {})", read_since_log_, topic_,
                 base::Iso8601(newest_ms_));
    read_since_log_ = 0;
    logged_ = now;
  }
}

}  // namespace vigil::lifecycle
