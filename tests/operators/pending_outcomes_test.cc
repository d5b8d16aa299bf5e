// PendingOutcomes over a real RocksDB store: outcomes mature in due order, each once, whether they
// are still in memory, staged by the last commit or read back from the store, and a store reopened
// after a commit (a restart) holds exactly the outcomes not yet handed over.
#include "operators/pending_outcomes.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "engine/state_store.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

using operators::OutcomeView;
using operators::PendingOutcomes;
using operators::ScoredEvent;

constexpr size_t kWidth = 3;
constexpr int64_t kDay = base::kMsPerDay;
constexpr int64_t kDelay = 7 * kDay;
constexpr engine::TableId kTable = 5;

std::unique_ptr<engine::StateStore> OpenStore(const std::string& path) {
  engine::StateStoreOptions options;
  options.path = path;
  auto store = engine::StateStore::Open(options);
  REQUIRE(store.ok());
  return std::move(store).value();
}

//! Adds the event `id` at `time_ms` (offset = id), with a served vector and a segment derived from it.
void AddEvent(PendingOutcomes* p, int64_t id, int64_t time_ms) {
  ScoredEvent e;
  e.id = id;
  e.time_ms = time_ms;
  e.card = 1000 + id;
  e.score = 0.25f + 0.001f * static_cast<float>(id);
  e.flagged = id % 2 == 1;
  e.offset = id;
  e.amount = 10.5 * static_cast<double>(id);
  const float x[kWidth] = {static_cast<float>(id), 0.5f, -1.0f * static_cast<float>(id)};
  const std::vector<std::string> segments = {"night-" + std::to_string(id % 3)};
  p->Add(e, "v" + std::to_string(1 + id % 2), x, segments);
}

std::vector<int64_t> Ids(const std::vector<OutcomeView>& views) {
  std::vector<int64_t> ids;
  for (const OutcomeView& v : views) ids.push_back(v.event.id);
  return ids;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> ids;
  for (int64_t i = from; i < to; ++i) ids.push_back(i);
  return ids;
}

TEST_CASE("pending outcomes mature in due order with what was served", "[unit]") {
  const std::string dir = TempDir("vigil-pending");
  auto store = OpenStore(dir + "/store");
  PendingOutcomes pending(store.get(), kTable, kWidth, kDelay);
  for (int64_t i = 0; i < 10; ++i) AddEvent(&pending, 9 - i, (9 - i) * kDay);  // newest first
  std::vector<OutcomeView> out;
  REQUIRE(pending.Mature(6 * kDay, &out).ok());
  CHECK(out.empty());
  pending.Flush();
  REQUIRE(store->Commit(10).ok());
  REQUIRE(pending.Mature(9 * kDay, &out).ok());
  REQUIRE(Ids(out) == std::vector<int64_t>{0, 1, 2});
  const OutcomeView& v = out[1];
  CHECK(v.event.card == 1001);
  CHECK(v.event.score == Approx(0.251f));
  CHECK(v.event.flagged);
  CHECK(v.event.offset == 1);
  CHECK(v.event.amount == 10.5);
  CHECK(v.version == "v2");
  CHECK(v.inputs[0] == 1.0f);
  CHECK(v.inputs[1] == 0.5f);
  CHECK(v.inputs[2] == -1.0f);
  REQUIRE(v.num_segments == 1);
  CHECK(v.segments[0] == "night-1");
  std::string json;
  operators::AppendOutcomeJson(v, 1, 4, kWidth, &json);
  CHECK(json ==
        "{\"id\":1,\"time\":86400000,\"card\":1001,\"score\":0.25099998712539673,\"flagged\":true,"
        "\"label\":1,\"version\":\"v2\",\"epoch\":0,\"canary\":false,\"challenger\":0,\"champion\":0,"
        "\"amount\":10.5,\"partition\":4,\"offset\":1,\"x\":[1,0.5,-1],\"segments\":[\"night-1\"]}");
}

TEST_CASE("an outcome is handed over once whether in memory staged or in the store", "[unit]") {
  const std::string dir = TempDir("vigil-pending");
  auto store = OpenStore(dir + "/store");
  PendingOutcomes pending(store.get(), kTable, kWidth, kDelay);
  std::vector<OutcomeView> out;
  AddEvent(&pending, 0, 0);  // will be in the store
  pending.Flush();
  REQUIRE(store->Commit(1).ok());
  AddEvent(&pending, 1, 0);  // staged by the next Flush, then applied
  pending.Flush();
  REQUIRE(store->Commit(2).ok());
  AddEvent(&pending, 2, 0);  // still in memory
  REQUIRE(pending.Mature(kDelay, &out).ok());
  CHECK(Ids(out) == std::vector<int64_t>{0, 1, 2});
  REQUIRE(pending.Mature(kDelay + kDay, &out).ok());
  CHECK(out.empty());
  pending.Flush();
  REQUIRE(store->Commit(3).ok());
  REQUIRE(pending.Mature(30 * kDay, &out).ok());
  CHECK(out.empty());
  // A late event, already due when it is scored, matures at once.
  AddEvent(&pending, 3, kDay);
  REQUIRE(pending.Mature(30 * kDay, &out).ok());
  CHECK(Ids(out) == std::vector<int64_t>{3});
  pending.Flush();
  REQUIRE(store->Commit(4).ok());
  // Nothing is left in the store.
  PendingOutcomes reopened(store.get(), kTable, kWidth, kDelay);
  REQUIRE(reopened.Mature(INT64_MAX, &out).ok());
  CHECK(out.empty());
}

TEST_CASE("a restart finds exactly the pending outcomes its last commit left", "[unit]") {
  const std::string dir = TempDir("vigil-pending");
  std::vector<OutcomeView> out;
  {
    auto store = OpenStore(dir + "/store");
    PendingOutcomes pending(store.get(), kTable, kWidth, kDelay);
    for (int64_t i = 0; i < 1000; ++i) AddEvent(&pending, i, i * (kDay / 100));  // 10 days
    pending.Flush();
    REQUIRE(store->Commit(1000).ok());
    REQUIRE(pending.Mature(kDelay + 3 * kDay, &out).ok());  // the first 3 days' 300, and 1 more
    REQUIRE(Ids(out) == Range(0, 301));
    pending.Flush();
    REQUIRE(store->Commit(1001).ok());
    REQUIRE(pending.Mature(kDelay + 5 * kDay, &out).ok());  // handed over but never committed
    REQUIRE(Ids(out) == Range(301, 501));
    pending.Flush();
    REQUIRE(store->Close().ok());  // no commit: a crash after the batch
  }
  auto store = OpenStore(dir + "/store");
  CHECK(store->checkpoint_offset() == 1001);
  PendingOutcomes pending(store.get(), kTable, kWidth, kDelay);
  REQUIRE(pending.Mature(kDelay + 5 * kDay, &out).ok());  // the uncommitted ones come back
  CHECK(Ids(out) == Range(301, 501));
  REQUIRE(pending.Mature(INT64_MAX, &out).ok());
  CHECK(Ids(out) == Range(501, 1000));
}

}  // namespace
}  // namespace vigil::testing
