// Task::Query: one event through the task's operators on a batch of its own. Read-only queries see
// the live state and leave it as it was (operator contract rule 8); the stream then computes the
// same values. A writing query changes the state like a stream event. A query never waits for a
// commit's changelog appends, nor for another partition's batch.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "engine/plan.h"
#include "engine/task.h"
#include "operators/register.h"
#include "tests/support/one_task.h"
#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
    - {name: V, type: double}
operators:
  - type: window
    key: K
    lateness: 10
    outputs:
      - {name: C, agg: count, window: 100}
      - {name: S, agg: sum, field: V, window: 100}
output: {kind: none, fields: [ID, C, S]}
)";

//! Serves the given lines once, as offsets first, first + 1, ...
class LinesReader final : public engine::PartitionReader {
 public:
  explicit LinesReader(std::vector<std::string> lines, int64_t first = 0)
      : lines_(std::move(lines)), first_(first) {}
  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    for (; next_ < lines_.size() && out->size() < max_events; ++next_)
      out->push_back(engine::RawEvent{lines_[next_].data(), static_cast<uint32_t>(lines_[next_].size()),
                                      nullptr, 0, first_ + static_cast<int64_t>(next_)});
    return base::Status::OK();
  }

 private:
  std::vector<std::string> lines_;
  int64_t first_ = 0;
  size_t next_ = 0;
};

std::string Ev(int id, int t, const char* k, double v) {
  return "{\"ID\":" + std::to_string(id) + ",\"T\":" + std::to_string(t) + ",\"K\":\"" + k +
         "\",\"V\":" + std::to_string(v) + "}";
}

struct Answer {
  bool live = false;
  double c = 0, s = 0;
  std::string reason;
};

TEST_CASE("task query: read-only answers from live state and changes nothing", "[engine]") {
  OneTask t(kYaml, "query");
  t.task->SetReaders(std::make_unique<LinesReader>(
                         std::vector<std::string>{Ev(1, 10, "a", 1), Ev(2, 20, "a", 2), Ev(3, 30, "b", 5)}),
                     nullptr);
  std::vector<Captured> out, dead;
  CapturingSink output(&out), dead_letter(&dead);
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).ok());
  REQUIRE(out.size() == 3);

  const engine::Schema& schema = t.plan->schema();
  const int c = schema.Find("C"), s = schema.Find("S");
  const auto query = [&](const std::string& event, bool read_only) {
    Answer a;
    engine::BatchMode mode;
    mode.read_only = read_only;
    const base::Status st = t.task->Query(event, mode, [&](const engine::Batch& batch, size_t row) {
      a.live = batch.live(row);
      if (!a.live)
        a.reason = std::string(engine::DlqReasonName(batch.meta(row).reason));
      else
        a = Answer{true, batch.f64(row, c), batch.f64(row, s), ""};
    });
    REQUIRE(st.ok());
    return a;
  };

  // Key "a" holds two events: a third at t=40 would count 3 and sum 1+2+7.
  for (int i = 0; i < 3; ++i) {
    const Answer a = query(Ev(4, 40, "a", 7), true);
    REQUIRE(a.live);
    CHECK(a.c == 3);
    CHECK(a.s == 10);
  }
  // An unknown key starts empty; a late event is refused as the stream would refuse it.
  CHECK(query(Ev(5, 40, "z", 4), true).c == 1);
  CHECK(query(Ev(6, 5, "a", 1), true).reason == "late");
  CHECK(query("{\"ID\":7,", true).reason == "invalid_json");

  // The stream, given the queried event now, computes what the query answered: nothing was added.
  t.task->SetReaders(std::make_unique<LinesReader>(std::vector<std::string>{Ev(4, 40, "a", 7)}, 3), nullptr);
  out.clear();
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).ok());
  REQUIRE(out.size() == 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out[0].value);
  CHECK(doc["C"].get_double().value() == 3);
  CHECK(doc["S"].get_double().value() == 10);

  // A writing query is an event: the next one sees it.
  CHECK(query(Ev(8, 50, "a", 100), false).c == 4);
  CHECK(query(Ev(9, 60, "a", 0), true).c == 5);
  CHECK(query(Ev(9, 60, "a", 0), true).s == 110);
  REQUIRE(t.task->Close().ok());
  CHECK_FALSE(
      t.task->Query(Ev(10, 70, "a", 0), engine::BatchMode{true, 0}, [](const engine::Batch&, size_t) {})
          .ok());
}

TEST_CASE("a task skips records delivered again below its next offset", "[engine]") {
  OneTask t(kYaml, "redelivery");
  std::vector<Captured> out, dead;
  CapturingSink output(&out), dead_letter(&dead);
  t.task->SetReaders(std::make_unique<LinesReader>(
                         std::vector<std::string>{Ev(1, 10, "a", 1), Ev(2, 20, "a", 2), Ev(3, 30, "a", 4)}),
                     nullptr);
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).ok());
  REQUIRE(out.size() == 3);
  CHECK(t.task->next_offset() == 3);

  // The client rewinds to offset 1 (a stale fetch position): 1 and 2 are skipped, 3 is new.
  t.task->SetReaders(
      std::make_unique<LinesReader>(
          std::vector<std::string>{Ev(2, 20, "a", 2), Ev(3, 30, "a", 4), Ev(4, 40, "a", 8)}, 1),
      nullptr);
  out.clear();
  auto processed = t.task->RunOnce(100, 0, &output, &dead_letter);
  REQUIRE(processed.ok());
  CHECK(*processed == 1);
  REQUIRE(out.size() == 1);
  CHECK(dead.empty());
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out[0].value);
  CHECK(doc["ID"].get_int64().value() == 4);
  CHECK(doc["C"].get_double().value() == 4);  // counted once each: 1, 2, 4 and 8
  CHECK(doc["S"].get_double().value() == 15);
  CHECK(t.task->next_offset() == 4);
  CHECK(t.task->stats().events_in == 4);

  // A batch entirely below the next offset produces nothing.
  t.task->SetReaders(std::make_unique<LinesReader>(std::vector<std::string>{Ev(4, 40, "a", 8)}, 3), nullptr);
  out.clear();
  processed = t.task->RunOnce(100, 0, &output, &dead_letter);
  REQUIRE(processed.ok());
  CHECK(*processed == 0);
  CHECK(out.empty());
  CHECK(t.task->next_offset() == 4);
  REQUIRE(t.task->Close().ok());
}

//! A one-shot gate: Enter (once) signals `entered` and blocks until Release.
class Blocker {
 public:
  void Enter() {
    std::unique_lock lock(mu_);
    if (used_) return;
    used_ = entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
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
  bool used_ = false, entered_ = false, released_ = false;
};

//! A changelog whose first Append is held (a commit stuck on a full producer queue).
class HeldChangelog final : public engine::Changelog {
 public:
  explicit HeldChangelog(Blocker* hold) : hold_(hold) {}
  base::Status Append(int32_t, std::string_view, const std::string_view*) override {
    hold_->Enter();
    ++appended;
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  int64_t NextOffset(int32_t) const override { return appended; }
  base::Result<int64_t> Restore(
      int32_t, int64_t from,
      const std::function<base::Status(std::string_view, const std::string_view*)>&) override {
    return from;
  }
  int64_t appended = 0;

 private:
  Blocker* hold_;
};

//! A sink whose first Write of partition `held` is held (a batch in progress). Thread-safe.
class HeldSink final : public engine::Sink {
 public:
  HeldSink(Blocker* hold, int32_t held) : hold_(hold), held_(held) {}
  base::Status Write(const engine::OutBatch& batch) override {
    if (batch.source_partition == held_) hold_->Enter();
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }

 private:
  Blocker* hold_;
  int32_t held_;
};

//! Partitions 0 and 1, assigned at Start, each serving `lines` once.
class TwoPartitions final : public engine::Source {
 public:
  explicit TwoPartitions(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  base::Status Start(engine::SourceListener* listener) override {
    for (int32_t p = 0; p < 2; ++p) {
      VIGIL_RETURN_IF_ERROR(listener->PrepareAssign(p).status());
      VIGIL_RETURN_IF_ERROR(listener->Assigned(p, std::make_unique<LinesReader>(lines_), nullptr));
    }
    return base::Status::OK();
  }
  base::Status Poll(int) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset>) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

 private:
  std::vector<std::string> lines_;
  std::string name_ = "two";
};

//! Runs `query` on a thread of its own; Done waits for it, up to a deadlock guard of 60 s (the
//! answer is expected while something else is held, so a wait that long means it never comes).
class Pending {
 public:
  explicit Pending(std::function<base::Status()> query)
      : future_(std::async(std::launch::async, std::move(query))) {}
  bool Done(std::chrono::seconds guard = std::chrono::seconds(60)) {
    return future_.wait_for(guard) == std::future_status::ready;
  }
  base::Status Get() { return future_.get(); }

 private:
  std::future<base::Status> future_;
};

TEST_CASE("task query: answered while the task's commit appends to the changelog", "[engine]") {
  OneTask t(kYaml, "query-commit");
  t.task->SetReaders(std::make_unique<LinesReader>(
                         std::vector<std::string>{Ev(1, 10, "a", 1), Ev(2, 20, "a", 2), Ev(3, 30, "b", 5)}),
                     nullptr);
  std::vector<Captured> out, dead;
  CapturingSink output(&out), dead_letter(&dead);
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).ok());

  Blocker hold;
  HeldChangelog changelog(&hold);
  auto commit = std::async(std::launch::async, [&] {
    VIGIL_RETURN_IF_ERROR(t.task->StageState(&changelog));
    return t.task->ApplyState(&changelog);
  });
  hold.WaitEntered();  // the commit is inside its first changelog append

  const int c = t.plan->schema().Find("C"), s = t.plan->schema().Find("S");
  double count = 0, sum = 0;
  Pending query([&] {
    return t.task->Query(Ev(4, 40, "a", 7), engine::BatchMode{true, 0},
                         [&](const engine::Batch& batch, size_t row) {
                           count = batch.f64(row, c);
                           sum = batch.f64(row, s);
                         });
  });
  const bool answered = query.Done();
  CHECK(answered);  // while the commit is still held
  hold.Release();
  REQUIRE(query.Get().ok());
  CHECK(count == 3);  // the live state: both events of "a"
  CHECK(sum == 10);
  REQUIRE(commit.get().ok());
  CHECK(changelog.appended > 0);
  CHECK(t.task->checkpoint_offset() == 3);
  REQUIRE(t.task->Close().ok());
}

TEST_CASE("runtime query: another partition answers while one is busy in a batch", "[engine]") {
  auto spec = config::LoadPipelineText(kYaml, "two.yaml");
  REQUIRE(spec.ok());
  spec->runtime.workers = 2;  // one per partition
  spec->runtime.state_dir = TempDir("vigil-query-busy");
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  Blocker hold;
  auto pipeline = engine::Pipeline::Build({*spec}, registry, [&](const auto&, const auto&) {
    return engine::StageIo(
        std::make_unique<TwoPartitions>(std::vector<std::string>{Ev(1, 10, "a", 1), Ev(2, 20, "a", 2)}),
        std::make_unique<HeldSink>(&hold, 0), nullptr);
  });
  REQUIRE(pipeline.ok());
  engine::Runtime& rt = (*pipeline)->runtime(0);
  auto run = std::async(std::launch::async, [&] { return rt.Run(); });
  hold.WaitEntered();  // partition 0's worker is inside a batch, holding its task's state

  const auto query = [&](int32_t partition) {
    return [&rt, partition] {
      return rt.Query(partition, Ev(9, 40, "a", 1), engine::BatchMode{true, 0},
                      [](const engine::Batch&, size_t) {});
    };
  };
  Pending busy(query(0));
  // Let it reach its wait for partition 0's batch (it cannot say when it has): the query below
  // must not queue behind it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Pending other(query(1));
  const bool answered = other.Done();
  CHECK(answered);
  CHECK_FALSE(busy.Done(std::chrono::seconds(0)));  // partition 0 still waits for its batch
  hold.Release();
  REQUIRE(other.Get().ok());
  CHECK(busy.Get().ok());  // answered once the batch is done
  rt.RequestStop();
  CHECK(run.get().ok());
}

}  // namespace
}  // namespace vigil::testing
