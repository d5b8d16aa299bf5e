// A commit refused because the group rebalanced meanwhile (Source::Commit returns Aborted) does not
// stop the pipeline: the runtime drops the work since the last commit (the sinks' held records, and
// under exactly-once the aborted transaction's), closes the tasks without committing, and takes the
// partition again from its last commit (Source::Reassign). The source and sink below stand in for
// Kafka's: records written since the last commit are in an open transaction, which the refusal
// aborts. The verdict: one output per event under exactly-once (at least one under at-least-once),
// and every count as a run without the refusal gives it, so no event entered the window twice.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "operators/register.h"
#include "tests/support/count_window.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int64_t kEvents = 2000;
constexpr int64_t kRefuseFrom = 600;  // the first commit at or past this offset is refused

//! Events from `from` on, 7 per read, up to `allowed`: {ID: i, T: i ms, K: "k"}, so a window of
//! 100 ms counts min(i + 1, 100) events at event i.
class Events final : public engine::PartitionReader {
 public:
  Events(int64_t from, std::atomic<int64_t>* given, const std::atomic<int64_t>* allowed)
      : next_(from), given_(given), allowed_(allowed) {}
  base::Status Read(std::size_t, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    lines_.clear();
    for (int n = 0; n < 7 && next_ < allowed_->load(); ++n, ++next_)
      lines_.push_back("{\"ID\":" + std::to_string(next_) + ",\"T\":" + std::to_string(next_) +
                       ",\"K\":\"k\"}");
    for (size_t i = 0; i < lines_.size(); ++i)
      out->push_back(engine::RawEvent{lines_[i].data(), static_cast<uint32_t>(lines_[i].size()), nullptr, 0,
                                      next_ - static_cast<int64_t>(lines_.size() - i)});
    given_->store(next_);
    return base::Status::OK();
  }

 private:
  int64_t next_;
  std::atomic<int64_t>* given_;
  const std::atomic<int64_t>* allowed_;
  std::vector<std::string> lines_;
};

//! A transactional sink: records written go into the open transaction (or, between Hold and
//! Release, are held for the next one); Commit makes them visible, Abort drops them. Not
//! transactional (at-least-once), a record is visible once written.
class TxnSink final : public engine::Sink {
 public:
  explicit TxnSink(bool transactional) : transactional_(transactional) {}
  base::Status Write(const engine::OutBatch& batch) override {
    std::lock_guard lock(mu_);
    for (const engine::OutRecord& r : batch.records)
      (!transactional_ ? committed
       : holding_      ? held_
                       : open_)
          .emplace_back(batch.buffer.data() + r.value_offset, r.value_size);
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  bool Hold() override {
    if (!transactional_) return false;
    std::lock_guard lock(mu_);
    holding_ = true;
    return true;
  }
  base::Status Release(bool deliver) override {
    std::lock_guard lock(mu_);
    if (deliver) open_.insert(open_.end(), held_.begin(), held_.end());
    held_.clear();
    holding_ = false;
    return base::Status::OK();
  }
  base::Status Close() override { return base::Status::OK(); }
  void Commit() {
    std::lock_guard lock(mu_);
    committed.insert(committed.end(), open_.begin(), open_.end());
    open_.clear();
  }
  void Abort() {
    std::lock_guard lock(mu_);
    open_.clear();
  }
  std::vector<std::string> committed;

 private:
  const bool transactional_;
  std::mutex mu_;
  bool holding_ = false;
  std::vector<std::string> open_, held_;
};

//! Partition 0 of kEvents events. Refuses the first commit at or past kRefuseFrom as a broker refuses
//! one of an expired generation (under exactly-once, aborting the open transaction), then reassigns
//! the partition from its last commit when asked. Gives no event past kRefuseFrom + 50 before the
//! last refusal: each falls on an interval's commit, not on the run's last.
class RefusingSource final : public engine::Source {
 public:
  //! Refuses `refusals` commits in a row, from offset `refuse_from` on.
  RefusingSource(TxnSink* sink, bool exactly_once, int refusals = 1, int64_t refuse_from = kRefuseFrom)
      : sink_(sink),
        exactly_once_(exactly_once),
        refusals_(refusals),
        refuse_from_(refuse_from),
        allowed_(std::min(refuse_from + 50, kEvents)) {}
  base::Status Start(engine::SourceListener* listener) override {
    listener_ = listener;
    return Assign();
  }
  base::Status Poll(int) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override {
    const int64_t next = offsets.empty() ? committed_ : offsets[0].next_offset;
    if (refused < refusals_ && next >= refuse_from_) {
      if (++refused == refusals_) allowed_.store(kEvents);
      if (exactly_once_) sink_->Abort();
      return base::Aborted("commit offsets: Broker: Unknown member (the group rebalanced meanwhile)");
    }
    if (exactly_once_) sink_->Commit();
    committed_ = next;
    return base::Status::OK();
  }
  base::Status AbortUncommitted() override {
    ++aborts;
    if (exactly_once_) sink_->Abort();
    return base::Status::OK();
  }
  base::Status Reassign() override {
    ++reassigns;
    return Assign();
  }
  bool Finished() const override { return given_.load() >= kEvents; }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

  int64_t committed() const { return committed_; }
  int refused = 0;
  int aborts = 0, reassigns = 0;

 private:
  //! From the task's checkpoint, else from the last commit, as a consumer resumes.
  base::Status Assign() {
    VIGIL_ASSIGN_OR_RETURN(const engine::StartOffsets start, listener_->PrepareAssign(0));
    const int64_t from = start.events >= 0 ? start.events : committed_;
    given_.store(from);
    return listener_->Assigned(0, std::make_unique<Events>(from, &given_, &allowed_), nullptr);
  }

  TxnSink* sink_;
  bool exactly_once_;
  int refusals_;
  int64_t refuse_from_;
  engine::SourceListener* listener_ = nullptr;
  int64_t committed_ = 0;
  std::atomic<int64_t> given_{0};
  std::atomic<int64_t> allowed_;
  std::string name_ = "refusing";
};

//! The integer after `"FIELD":` in a flat JSON record.
int64_t Field(const std::string& json, const std::string& field) {
  const size_t at = json.find("\"" + field + "\":");
  REQUIRE(at != std::string::npos);
  return std::stoll(json.substr(at + field.size() + 3));
}

//! The count window over `source` into `sink`, 5 ms commits, run to its end; `*pipeline` keeps them.
base::Status Run(std::unique_ptr<RefusingSource> source, std::unique_ptr<TxnSink> sink, bool exactly_once,
                 std::unique_ptr<engine::Pipeline>* pipeline) {
  auto loaded =
      config::LoadPipelineText(CountWindowYaml(std::string("{workers: 1, commit_interval: 5ms, guarantee: ") +
                                               (exactly_once ? "exactly_once" : "at_least_once") + "}"),
                               "commit_rewind.yaml");
  REQUIRE(loaded.ok());
  config::PipelineSpec spec = std::move(*loaded);
  spec.runtime.state_dir = TempDir("vigil-commit-rewind");
  engine::OperatorRegistry registry;
  REQUIRE(operators::RegisterOperators(&registry).ok());
  auto built = engine::Pipeline::Build({spec}, registry, [&](const auto&, const auto&) {
    return engine::StageIo(std::move(source), std::move(sink), nullptr, nullptr, exactly_once);
  });
  REQUIRE(built.ok());
  *pipeline = std::move(built).value();
  return (*pipeline)->Run();
}

void RunRefused(bool exactly_once) {
  auto sink = std::make_unique<TxnSink>(exactly_once);
  TxnSink* out = sink.get();
  auto source = std::make_unique<RefusingSource>(out, exactly_once);
  RefusingSource* refusing = source.get();
  std::unique_ptr<engine::Pipeline> pipeline;
  const base::Status st = Run(std::move(source), std::move(sink), exactly_once, &pipeline);
  INFO(st.ToString());
  REQUIRE(st.ok());  // the refusal did not stop the pipeline
  CHECK(refusing->refused == 1);
  CHECK(refusing->aborts == 1);
  CHECK(refusing->reassigns == 1);

  std::map<int64_t, int> seen;
  for (const std::string& r : out->committed) {
    const int64_t id = Field(r, "ID");
    ++seen[id];
    // Each count is the clean run's: no event entered the window twice, none was lost from it.
    CHECK(Field(r, "C") == std::min<int64_t>(id + 1, 100));
  }
  CHECK(seen.size() == static_cast<size_t>(kEvents));
  if (exactly_once) {
    CHECK(out->committed.size() == static_cast<size_t>(kEvents));  // none twice
    for (const auto& [id, n] : seen) CHECK(n == 1);
  }
}

TEST_CASE("exactly-once: a commit refused by a rebalance aborts, rewinds to the last commit and goes on",
          "[engine]") {
  RunRefused(true);
}

TEST_CASE("at-least-once: a commit refused by a rebalance rewinds to the last commit and goes on",
          "[engine]") {
  RunRefused(false);
}

TEST_CASE("commits refused again and again stop the pipeline after five rewinds", "[engine]") {
  auto sink = std::make_unique<TxnSink>(true);
  auto source = std::make_unique<RefusingSource>(sink.get(), true, 1000);
  RefusingSource* refusing = source.get();
  std::unique_ptr<engine::Pipeline> pipeline;
  const base::Status st = Run(std::move(source), std::move(sink), true, &pipeline);
  CHECK(st.code() == base::StatusCode::kAborted);
  CHECK_THAT(st.message(), Catch::Contains("5 commits in a row refused"));
  CHECK_THAT(st.message(), Catch::Contains("Unknown member"));
  // Six refusals in a row at least (a commit below kRefuseFrom after a rewind lands, and the count
  // starts over); every refusal but the last rewound.
  CHECK(refusing->refused >= 6);
  CHECK(refusing->reassigns == refusing->refused - 1);
}

TEST_CASE("exactly-once: a refused last commit ends the run cleanly, its work left to be read again",
          "[engine]") {
  auto sink = std::make_unique<TxnSink>(true);
  TxnSink* out = sink.get();
  // Only the commit that reaches the end is refused: mostly the run's last, else the interval's
  // before it (then rewound, and the last lands).
  auto source = std::make_unique<RefusingSource>(out, true, 1, kEvents);
  RefusingSource* refusing = source.get();
  std::unique_ptr<engine::Pipeline> pipeline;
  const base::Status st = Run(std::move(source), std::move(sink), true, &pipeline);
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(refusing->refused == 1);
  // What is visible is exactly the events below the last commit that landed, each once.
  REQUIRE(out->committed.size() == static_cast<size_t>(refusing->committed()));
  for (size_t i = 0; i < out->committed.size(); ++i) {
    CHECK(Field(out->committed[i], "ID") == static_cast<int64_t>(i));
    CHECK(Field(out->committed[i], "C") == std::min<int64_t>(static_cast<int64_t>(i) + 1, 100));
  }
}

}  // namespace
}  // namespace vigil::testing
