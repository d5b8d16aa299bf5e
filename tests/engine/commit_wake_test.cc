// A commit wakes the workers' reads: a worker with one task waits for events inside the gate (up to
// batch.max_wait), and the commit's pause must not wait that long. Here the wait is ten minutes and
// the reader gives up only after two: without the wake-up, no commit would happen before that.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/count_window.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int kEvents = 10;

//! Gives kEvents events, one a read; then a read with a wait blocks until Wake (or two minutes).
class WaitingReader final : public engine::PartitionReader {
 public:
  base::Status Read(std::size_t, int wait_ms, std::vector<engine::RawEvent>* out) override {
    out->clear();
    if (given < kEvents) {
      line_ = "{\"ID\":" + std::to_string(given) + ",\"T\":" + std::to_string(10 * given) + ",\"K\":\"k\"}";
      out->push_back(engine::RawEvent{line_.data(), static_cast<uint32_t>(line_.size()), nullptr, 0, given});
      ++given;
      return base::Status::OK();
    }
    if (wait_ms <= 0) return base::Status::OK();
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::minutes(2), [&] { return woken_; })) gave_up = true;
    woken_ = false;
    return base::Status::OK();
  }
  void Wake() override {
    std::lock_guard lock(mu_);
    woken_ = true;
    ++wakes;
    cv_.notify_all();
  }

  int64_t given = 0;          // worker thread
  std::atomic<int> wakes{0};  // any thread
  std::atomic<bool> gave_up{false};

 private:
  std::string line_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
};

//! Partition 0 over a WaitingReader; finished after three commits past every event.
class OnePartition final : public engine::Source {
 public:
  base::Status Start(engine::SourceListener* listener) override {
    VIGIL_RETURN_IF_ERROR(listener->PrepareAssign(0).status());
    auto reader = std::make_unique<WaitingReader>();
    this->reader = reader.get();
    return listener->Assigned(0, std::move(reader), nullptr);
  }
  base::Status Poll(int timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 2)));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override {
    if (!offsets.empty() && offsets[0].next_offset == kEvents) ++commits_at_end;
    return base::Status::OK();
  }
  bool Finished() const override { return commits_at_end >= 3; }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

  WaitingReader* reader = nullptr;
  int commits_at_end = 0;  // control thread

 private:
  std::string name_ = "waiting";
};

TEST_CASE("a commit wakes a worker waiting in its read instead of waiting for it", "[engine]") {
  auto loaded = config::LoadPipelineText(CountWindowYaml("{workers: 1, commit_interval: 20ms}"), "wake.yaml");
  REQUIRE(loaded.ok());
  config::PipelineSpec spec = std::move(*loaded);
  spec.runtime.state_dir = TempDir("vigil-commit-wake");
  spec.batch.max_wait_ms = 600'000;
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  std::vector<Captured> out, dead;
  auto source = std::make_unique<OnePartition>();
  OnePartition* one = source.get();
  auto pipeline = engine::Pipeline::Build({spec}, registry, [&](const auto&, const auto&) {
    return engine::StageIo(std::move(source), std::make_unique<CapturingSink>(&out),
                           std::make_unique<CapturingSink>(&dead));
  });
  REQUIRE(pipeline.ok());
  const base::Status st = (*pipeline)->Run();
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(one->commits_at_end >= 3);
  CHECK(one->reader->wakes.load() >= 3);
  CHECK_FALSE(one->reader->gave_up.load());  // every wait ended by a wake-up
  CHECK(out.size() == kEvents);
}

}  // namespace
}  // namespace vigil::testing
