// Runtime event-time alignment (Runtime::set_event_time_alignment) with a partition that only ever
// reads garbage: such a partition never moves event time forward, so it must stop holding the other
// partitions back once runtime.idle_timeout has passed without an accepted event.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
output: {kind: none}
batch: {max_events: 50}
runtime: {idle_timeout: 200ms}
)";

//! Serves a fresh batch of unparsable records on every read, forever, never at the partition's end.
class GarbageReader final : public engine::PartitionReader {
 public:
  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a producer of garbage, not a busy loop
    for (std::size_t i = 0; i < std::min<std::size_t>(max_events, 10); ++i)
      out->push_back(engine::RawEvent{kGarbage, sizeof kGarbage - 1, nullptr, 0, next_++});
    return base::Status::OK();
  }
  int64_t Lag() const override { return 1'000'000; }

 private:
  static constexpr char kGarbage[] = "{not json";
  int64_t next_ = 0;
};

//! Serves `n` valid events, one second of event time apart, then nothing.
class EventsReader final : public engine::PartitionReader {
 public:
  explicit EventsReader(int n) {
    for (int i = 0; i < n; ++i)
      lines_.push_back("{\"ID\":" + std::to_string(i) +
                       ",\"T\":" + std::to_string(1522540800000 + i * 1000LL) + "}");
  }
  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    for (; next_ < lines_.size() && out->size() < max_events; ++next_)
      out->push_back(engine::RawEvent{lines_[next_].data(), static_cast<uint32_t>(lines_[next_].size()),
                                      nullptr, 0, static_cast<int64_t>(next_)});
    return base::Status::OK();
  }
  int64_t Lag() const override { return static_cast<int64_t>(lines_.size() - next_); }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
};

//! Two partitions: 0 of garbage, 1 of `events` valid events; assigned on the first poll.
class TwoPartitionSource final : public engine::Source {
 public:
  explicit TwoPartitionSource(int events) : events_(events) {}
  base::Status Start(engine::SourceListener* listener) override {
    listener_ = listener;
    return base::Status::OK();
  }
  base::Status Poll(int timeout_ms) override {
    if (assigned_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      return base::Status::OK();
    }
    assigned_ = true;
    for (int32_t p : {0, 1}) VIGIL_RETURN_IF_ERROR(listener_->PrepareAssign(p).status());
    VIGIL_RETURN_IF_ERROR(listener_->Assigned(0, std::make_unique<GarbageReader>(), nullptr));
    return listener_->Assigned(1, std::make_unique<EventsReader>(events_), nullptr);
  }
  base::Status Commit(std::span<const engine::PartitionOffset>) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

 private:
  int events_;
  engine::SourceListener* listener_ = nullptr;
  bool assigned_ = false;
  std::string name_ = "input";
};

//! Counts records; thread-safe.
class CountingSink final : public engine::Sink {
 public:
  explicit CountingSink(std::atomic<uint64_t>* count) : count_(count) {}
  base::Status Write(const engine::OutBatch& batch) override {
    count_->fetch_add(batch.records.size());
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }

 private:
  std::atomic<uint64_t>* count_;
};

TEST_CASE("alignment: a partition of only garbage stops holding the others back after idle_timeout",
          "[engine]") {
  constexpr int kEvents = 1000;  // 20 batches of 50: all but the first need the garbage partition idle
  auto spec = config::LoadPipelineText(kYaml, "t.yaml");
  REQUIRE(spec.ok());
  spec->runtime.state_dir = TempDir("alignment");
  spec->runtime.changelog = false;
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  std::atomic<uint64_t> out{0}, dead{0};
  engine::PipelineOptions options;
  options.event_time_alignment_ms = 0;
  auto pipeline = engine::Pipeline::Build(
      {*spec}, registry,
      [&](const auto&, const auto&) {
        return engine::StageIo(std::make_unique<TwoPartitionSource>(kEvents),
                               std::make_unique<CountingSink>(&out), std::make_unique<CountingSink>(&dead));
      },
      options);
  REQUIRE(pipeline.ok());
  base::Status status;
  std::thread run([&] { status = (*pipeline)->Run(); });
  // Not a timing assertion: the bound only keeps a broken build from hanging (the partition of
  // events used to stay held behind the garbage forever).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (out.load() < kEvents && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  (*pipeline)->RequestStop();
  run.join();
  REQUIRE(status.ok());
  CHECK(out.load() == kEvents);
  CHECK(dead.load() > 0);
}

}  // namespace
}  // namespace vigil::testing
