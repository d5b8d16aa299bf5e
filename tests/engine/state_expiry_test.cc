// State that expires: a key seen once, then only other keys for longer than its window's horizon
// (lateness + window + delay), is gone from the store with its label record, and a restore from the
// changelog does not bring it back; recent keys and labels stay.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/io.h"
#include "engine/label_index.h"
#include "engine/task.h"
#include "tests/support/one_task.h"
#include "tests/support/pipeline_harness.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
labels:
  source: {kind: file, path: unused}
  id: ID
  max_wait: 0ms
operators:
  - type: window
    key: K
    lateness: 100
    outputs:
      - {name: C, agg: count, window: 1000}
      - {name: L, agg: sum, field: $label, window: 1000, delay: 200}
output: {kind: none, fields: [ID, C, L]}
)";

//! Serves the lines pushed so far, once, offsets counting on from batch to batch.
class Lines final : public engine::PartitionReader {
 public:
  void Push(std::string line) { lines_.push_back(std::move(line)); }
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

//! A compacted changelog in memory: every change in order, restored whole.
class MemoryChangelog final : public engine::Changelog {
 public:
  base::Status Append(int32_t, std::string_view key, const std::string_view* value) override {
    log_.emplace_back(std::string(key), value ? std::optional<std::string>(*value) : std::nullopt);
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  int64_t NextOffset(int32_t) const override { return static_cast<int64_t>(log_.size()); }
  base::Result<int64_t> Restore(
      int32_t, int64_t from,
      const std::function<base::Status(std::string_view, const std::string_view*)>& fn) override {
    for (size_t i = static_cast<size_t>(std::max<int64_t>(from, 0)); i < log_.size(); ++i) {
      const std::string_view v = log_[i].second ? std::string_view(*log_[i].second) : std::string_view();
      VIGIL_RETURN_IF_ERROR(fn(log_[i].first, log_[i].second ? &v : nullptr));
    }
    return static_cast<int64_t>(log_.size());
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> log_;
};

std::string Ev(int64_t id, int64_t t, const std::string& k) {
  return "{\"ID\":" + std::to_string(id) + ",\"T\":" + std::to_string(t) + ",\"K\":\"" + k + "\"}";
}
std::string Label(int64_t id, int64_t t) {
  return "{\"ID\":" + std::to_string(id) + ",\"TX_FRAUD\":1,\"LABEL_TIME_MS\":" + std::to_string(t) + "}";
}

//! Every key of the store's window tables (1 to 8) and the label ids of its label table.
struct Stored {
  std::vector<std::string> window_keys;
  std::vector<int64_t> label_ids;
  bool HasKey(const std::string& k) const {
    for (const auto& s : window_keys)
      if (s.find(k) != std::string::npos) return true;
    return false;
  }
  bool HasLabel(int64_t id) const {
    return std::find(label_ids.begin(), label_ids.end(), id) != label_ids.end();
  }
};
Stored Read(const engine::Task& task, const engine::StateStore& store) {
  Stored s;
  for (engine::TableId t = 1; t <= 8; ++t) {
    std::optional<std::string> cursor;
    REQUIRE(store
                .Scan(t, "", &cursor, SIZE_MAX,
                      [&](std::string_view k, std::string_view) { s.window_keys.emplace_back(k); })
                .ok());
  }
  std::optional<std::string> cursor;
  REQUIRE(store
              .Scan(engine::LabelIndex::kLabelChunkTable, "", &cursor, SIZE_MAX,
                    [&](std::string_view k, std::string_view v) {
                      int64_t chunk = 0;
                      uint64_t present = 0;
                      std::memcpy(&chunk, k.data(), sizeof chunk);
                      std::memcpy(&present, v.data(), sizeof present);
                      for (int slot = 0; slot < 64; ++slot)
                        if ((present >> slot) & 1) s.label_ids.push_back(chunk * 64 + slot);
                    })
              .ok());
  return s;
}

TEST_CASE("state expiry: a key not seen for longer than its horizon is forgotten, changelog too",
          "[engine]") {
  OneTask t(kYaml, "expiry");
  auto events = std::make_unique<Lines>();
  auto labels = std::make_unique<Lines>();
  Lines* ev = events.get();
  Lines* lb = labels.get();
  t.task->SetReaders(std::move(events), std::move(labels));
  MemoryChangelog changelog;
  std::vector<Captured> out, dead;
  CapturingSink output(&out), dead_letter(&dead);
  const auto commit = [&] {
    REQUIRE(t.task->StageState(&changelog).ok());
    REQUIRE(t.task->ApplyState(&changelog).ok());
  };
  // "once" at t=0, its label at t=50; then key "busy" (one label each) every 10 ms up to t=3000.
  // The horizon is 100 + 1000 + 200 = 1300: "once" expires when the task passes t=1300.
  ev->Push(Ev(1, 0, "once"));
  lb->Push(Label(1, 50));
  REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).ok());
  commit();
  const engine::StateStore& store = *t.task->store();
  CHECK(Read(*t.task, store).HasKey("once"));
  CHECK(Read(*t.task, store).HasLabel(1));
  int64_t id = 2;
  for (int64_t time = 10; time <= 3000; time += 10, ++id) {
    ev->Push(Ev(id, time, "busy"));
    lb->Push(Label(id, time + 5));
    if (time % 100 == 0) {
      REQUIRE(t.task->RunOnce(100, 0, &output, &dead_letter).ok());
      commit();
      if (time == 1200) CHECK(Read(*t.task, store).HasKey("once"));  // not yet past its horizon
    }
  }
  const Stored after = Read(*t.task, store);
  CHECK_FALSE(after.HasKey("once"));
  CHECK_FALSE(after.HasLabel(1));
  CHECK(after.HasKey("busy"));
  CHECK(after.HasLabel(id - 1));
  // Labels older than 3000 - 1300 are gone, by chunks of 64 ids: their transactions are out of every
  // window. A chunk stays while one of its labels (here id 171's, at 1705, on) is within it.
  std::set<int64_t> chunks;
  for (int64_t l : after.label_ids) {
    CHECK(engine::LabelChunk::Of(l) >= engine::LabelChunk::Of(171));
    chunks.insert(engine::LabelChunk::Of(l));
  }
  // What vigil_state_expired_keys_total counts: the key "once" and every label chunk gone (of those
  // of the ids 1..id - 1 pushed), then nothing new.
  CHECK(t.task->TakeExpired() ==
        1 + static_cast<uint64_t>(engine::LabelChunk::Of(id - 1) + 1) - chunks.size());
  CHECK(t.task->TakeExpired() == 0);

  // A store rebuilt from the changelog holds the same: the deletions were in it.
  OneTask restored(kYaml, "expiry-restored");
  REQUIRE(restored.task->Restore(&changelog).ok());
  const Stored again = Read(*restored.task, *restored.task->store());
  CHECK_FALSE(again.HasKey("once"));
  CHECK_FALSE(again.HasLabel(1));
  CHECK(again.window_keys == after.window_keys);
  CHECK(again.label_ids == after.label_ids);
}

}  // namespace
}  // namespace vigil::testing
