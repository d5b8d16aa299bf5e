// A partition restores its store from the changelog in the background: the assignment returns at
// once, the other partitions are processed meanwhile, the restoring one is neither read nor queried,
// and the runtime is not ready until every restore is done. The changelog below holds partition 0's
// restore until the test lets it go: with restores on the rebalance path, nothing at all would run.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/count_window.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const std::string kYaml = CountWindowYaml("{workers: 2, commit_interval: 20ms}");

//! Three events of partition p: ids 1000p+0..2.
class ThreeEvents final : public engine::PartitionReader {
 public:
  explicit ThreeEvents(int32_t p) {
    for (int i = 0; i < 3; ++i)
      lines_.push_back("{\"ID\":" + std::to_string(1000 * p + i) + ",\"T\":" + std::to_string(10 * i) +
                       ",\"K\":\"k\"}");
  }
  base::Status Read(std::size_t, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    for (; next_ < lines_.size(); ++next_)
      out->push_back(engine::RawEvent{lines_[next_].data(), static_cast<uint32_t>(lines_[next_].size()),
                                      nullptr, 0, static_cast<int64_t>(next_)});
    return base::Status::OK();
  }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
};

class TwoPartitions final : public engine::Source {
 public:
  base::Status Start(engine::SourceListener* listener) override {
    for (int32_t p = 0; p < 2; ++p) {
      VIGIL_RETURN_IF_ERROR(listener->PrepareAssign(p).status());
      VIGIL_RETURN_IF_ERROR(listener->Assigned(p, std::make_unique<ThreeEvents>(p), nullptr));
    }
    return base::Status::OK();
  }
  base::Status Poll(int) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override {
    std::lock_guard lock(mu_);
    for (const auto& o : offsets) committed_partitions.insert(o.partition);
    return base::Status::OK();
  }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }
  std::set<int32_t> Committed() {
    std::lock_guard lock(mu_);
    return committed_partitions;
  }

 private:
  std::mutex mu_;
  std::set<int32_t> committed_partitions;
  std::string name_ = "two";
};

//! An empty changelog whose restore of partition 0 waits until Release.
class HeldRestore final : public engine::Changelog {
 public:
  base::Status Append(int32_t, std::string_view, const std::string_view*) override {
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  int64_t NextOffset(int32_t) const override { return -1; }
  base::Result<int64_t> Restore(
      int32_t partition, int64_t from,
      const std::function<base::Status(std::string_view, const std::string_view*)>&) override {
    if (partition == 0) {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    return from;
  }
  void WaitEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, released_ = false;
};

//! Counts the decisions of each partition (by id); thread-safe.
class CountingSink final : public engine::Sink {
 public:
  base::Status Write(const engine::OutBatch& batch) override {
    std::lock_guard lock(mu_);
    for (const engine::OutRecord& r : batch.records) {
      const std::string_view value(batch.buffer.data() + r.value_offset, r.value_size);
      ++counts_[value.find("\"ID\":100") != std::string_view::npos ? 1 : 0];
    }
    cv_.notify_all();
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  //! Waits (up to 60 s) until partition p has n decisions.
  bool WaitFor(int p, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return counts_[p] >= n; });
  }
  int count(int p) {
    std::lock_guard lock(mu_);
    return counts_[p];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int counts_[2] = {0, 0};
};

//! The runtime of kYaml over TwoPartitions into a CountingSink, at-least-once with `changelog`,
//! running on a thread of its own from construction; Stop ends it and returns Run's status.
struct Running {
  explicit Running(std::unique_ptr<engine::Changelog> changelog) {
    auto loaded = config::LoadPipelineText(kYaml, "restore_background.yaml");
    REQUIRE(loaded.ok());
    spec = std::move(*loaded);
    spec.runtime.state_dir = TempDir("vigil-restore-background");
    REQUIRE(operators::RegisterOperators(&registry).ok());
    auto made_source = std::make_unique<TwoPartitions>();
    source = made_source.get();
    auto made_sink = std::make_unique<CountingSink>();
    out = made_sink.get();
    auto built = engine::Pipeline::Build({spec}, registry, [&](const auto&, const auto&) {
      return engine::StageIo(std::move(made_source), std::move(made_sink), nullptr, std::move(changelog));
    });
    REQUIRE(built.ok());
    pipeline = std::move(*built);
    runtime = &pipeline->runtime(0);
    run = std::async(std::launch::async, [this] { return pipeline->Run(); });
  }
  base::Status Stop() {
    pipeline->RequestStop();
    return run.get();
  }
  config::PipelineSpec spec;
  engine::OperatorRegistry registry;
  std::unique_ptr<engine::Pipeline> pipeline;
  engine::Runtime* runtime = nullptr;
  TwoPartitions* source = nullptr;
  CountingSink* out = nullptr;
  std::future<base::Status> run;
};

TEST_CASE("a partition restores in the background while the others run, ready once all are restored",
          "[engine]") {
  auto changelog = std::make_unique<HeldRestore>();
  HeldRestore* held = changelog.get();
  Running running(std::move(changelog));
  engine::Runtime& runtime = *running.runtime;
  TwoPartitions* two = running.source;
  CountingSink* out = running.out;

  held->WaitEntered();
  // Partition 1 is restored and runs; partition 0 is still restoring: not read, not committed, not
  // queried, and the runtime is not ready.
  REQUIRE(out->WaitFor(1, 3));
  CHECK(out->count(0) == 0);
  CHECK_FALSE(runtime.ready());
  const base::Status query =
      runtime.Query(0, "{\"ID\":9,\"T\":5,\"K\":\"k\"}", engine::BatchMode{true, 0}, [](auto&, size_t) {});
  CHECK(query.code() == base::StatusCode::kUnavailable);
  CHECK(query.message().find("partition 0 is restoring its state") != std::string::npos);
  const auto wait_committed = [&](int32_t p) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!two->Committed().count(p) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return two->Committed().count(p) > 0;
  };
  REQUIRE(wait_committed(1));
  CHECK(two->Committed().count(0) == 0);

  held->Release();
  REQUIRE(out->WaitFor(0, 3));
  CHECK(out->count(0) == 3);
  CHECK(wait_committed(0));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!runtime.ready() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(runtime.ready());
  const base::Status st = running.Stop();
  INFO(st.ToString());
  CHECK(st.ok());
}

//! A changelog whose partition 0 never ends: its restore reads until the reader gives up.
class EndlessRestore final : public engine::Changelog {
 public:
  base::Status Append(int32_t, std::string_view, const std::string_view*) override {
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  int64_t NextOffset(int32_t) const override { return -1; }
  base::Result<int64_t> Restore(
      int32_t partition, int64_t from,
      const std::function<base::Status(std::string_view, const std::string_view*)>& fn) override {
    if (partition != 0) return from;
    const std::string_view value("v");
    for (uint64_t i = 0;; ++i) {
      if (i == 1000) started.set_value();
      const std::string key = "k" + std::to_string(i % 1000);
      if (base::Status st = fn(key, &value); !st.ok()) return st;
    }
  }
  std::promise<void> started;
};

TEST_CASE("stopping cancels a restore in progress and drops its partition uncommitted", "[engine]") {
  auto changelog = std::make_unique<EndlessRestore>();
  std::future<void> started = changelog->started.get_future();
  Running running(std::move(changelog));
  TwoPartitions* two = running.source;
  CountingSink* out = running.out;
  REQUIRE(started.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  REQUIRE(out->WaitFor(1, 3));
  // Without the cancellation the restore never returns, and neither does Run (the test times out).
  const base::Status st = running.Stop();
  INFO(st.ToString());
  CHECK(st.ok());
  CHECK(out->count(0) == 0);
  CHECK(two->Committed().count(0) == 0);
  CHECK(two->Committed().count(1) == 1);
}

}  // namespace
}  // namespace vigil::testing
