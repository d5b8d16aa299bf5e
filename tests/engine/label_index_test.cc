// LabelIndex: the first label of an id above every id ingested is stored without reading the store
// for an earlier record; the largest id is kept in the store, so after a restart a correction of an
// older id is still one. Records expire by their first label's time, without being read.
#include "engine/label_index.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/state_store.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! Label records as a label stream delivers them: id, label, time.
struct Records {
  std::vector<std::string> lines;
  std::vector<engine::RawEvent> events;
  Records& Add(int64_t id, int label, int64_t time) {
    lines.push_back("{\"TRANSACTION_ID\":" + std::to_string(id) + ",\"TX_FRAUD\":" + std::to_string(label) +
                    ",\"LABEL_TIME_MS\":" + std::to_string(time) + "}");
    return *this;
  }
  std::span<const engine::RawEvent> Events() {
    events.clear();
    for (size_t i = 0; i < lines.size(); ++i)
      events.push_back(
          {lines[i].data(), static_cast<uint32_t>(lines[i].size()), nullptr, 0, static_cast<int64_t>(i)});
    return events;
  }
};

std::unique_ptr<engine::StateStore> OpenStore(const std::string& dir) {
  auto store = engine::StateStore::Open({dir});
  REQUIRE(store.ok());
  return std::move(*store);
}

//! Ids 1..`gone` have no record any more, `gone` + 1..`last` still have theirs.
void CheckGoneThrough(engine::LabelIndex& index, int64_t gone, int64_t last) {
  for (int64_t id = 1; id <= last; ++id) {
    INFO("id " << id);
    auto rec = index.Lookup(id);
    REQUIRE(rec.ok());
    CHECK((*rec == nullptr) == (id <= gone));
  }
}

TEST_CASE("label index: new ids are stored without a read, corrections still found after a restart",
          "[engine][labels]") {
  const std::string dir = TempDir("vigil-label-index") + "/store";
  config::LabelsSpec spec;
  {
    auto store = OpenStore(dir);
    engine::LabelIndex index(spec, store.get(), 1000);
    Records r;
    for (int64_t id = 1; id <= 100; ++id) r.Add(id, 0, 10);
    REQUIRE(index.Ingest(r.Events()).ok());
    index.Flush();
    REQUIRE(store->Commit(1).ok());
    // The largest id is committed with the labels (a restart then need not scan them for it).
    std::string max;
    REQUIRE(store->Get(engine::LabelIndex::kLabelMetaTable, "max_id", &max).value());
    REQUIRE(max.size() == sizeof(int64_t));
    int64_t value = 0;
    std::memcpy(&value, max.data(), sizeof value);
    CHECK(value == 100);
  }
  // A restart: a new index over the same store, with the labels above in it.
  auto store = OpenStore(dir);
  engine::LabelIndex index(spec, store.get(), 1000);
  Records fresh;
  for (int64_t id = 101; id <= 200; ++id) fresh.Add(id, 1, 20);
  REQUIRE(index.Ingest(fresh.Events()).ok());
  CHECK(index.cache_stats().misses == 0);  // ids above every stored one: nothing to read
  CHECK(index.revision() == 0);

  // A correction of an id stored before the restart: read, and kept as a correction.
  Records correction;
  correction.Add(50, 1, 30);
  REQUIRE(index.Ingest(correction.Events()).ok());
  CHECK(index.cache_stats().misses == 1);
  CHECK(index.revision() == 1);
  auto rec = index.Lookup(50);
  REQUIRE(rec.ok());
  REQUIRE(*rec != nullptr);
  CHECK((*rec)->label == 1);
  CHECK((*rec)->time_ms == 30);
  CHECK((*rec)->previous_label == 0);
  CHECK((*rec)->previous_time_ms == 10);
  CHECK(index.KnownAt(50, 15).value() == 0);  // the first value, known at 15
  CHECK(index.KnownAt(150, 25).value() == 1);
  CHECK(std::isnan(index.KnownAt(150, 15).value()));

  // The new ids, and the largest of them, reach the store with the next commit: after another
  // restart a correction of id 150 is one too.
  index.Flush();
  REQUIRE(store->Commit(2).ok());
  engine::LabelIndex again(spec, store.get(), 1000);
  Records late;
  late.Add(150, 0, 40).Add(201, 1, 40);
  REQUIRE(again.Ingest(late.Events()).ok());
  CHECK(again.cache_stats().misses == 1);  // 150 only
  CHECK(again.revision() == 1);
  CHECK(again.KnownAt(150, 35).value() == 1);
  CHECK(again.KnownAt(150, 45).value() == 0);
}

TEST_CASE("label index: a store without the largest id (an older vigil's) is scanned for it once",
          "[engine][labels]") {
  config::LabelsSpec spec;
  auto store = OpenStore(TempDir("vigil-label-index-old") + "/store");
  // Label records as an older vigil left them: in the label table, no largest id beside them.
  for (int64_t id : {7, 3, 12}) {
    engine::LabelRecord r;
    r.Add(0, 10);
    store->Put(engine::LabelIndex::kLabelTable,
               std::string_view(reinterpret_cast<const char*>(&id), sizeof id),
               std::string_view(reinterpret_cast<const char*>(&r), sizeof r));
  }
  REQUIRE(store->Commit(1).ok());
  engine::LabelIndex index(spec, store.get(), 1000);
  Records r;
  r.Add(12, 1, 20).Add(13, 1, 20);
  REQUIRE(index.Ingest(r.Events()).ok());
  CHECK(index.cache_stats().misses == 1);  // 12 is read (a correction), 13 is new
  CHECK(index.revision() == 1);
  CHECK(index.KnownAt(12, 15).value() == 0);
  CHECK(index.KnownAt(12, 25).value() == 1);
}

TEST_CASE("label index: a record it created expires as its first label's time passes, unread",
          "[engine][labels]") {
  config::LabelsSpec spec;
  auto store = OpenStore(TempDir("vigil-label-index-expiry") + "/store");
  // The expiry queue holds 4 x max_keys records: all 21 with room for 10 in memory; with room for 2,
  // ids 1..8, and 9..20 are left to the sweep. Either way the same records go, at the same commit.
  const size_t max_keys = GENERATE(10, 2);
  INFO("max_keys " << max_keys);
  engine::LabelIndex index(spec, store.get(), max_keys);
  index.Retain(100);
  Records r;
  for (int64_t id = 1; id <= 20; ++id) r.Add(id, 0, 10 * id);
  r.Add(3, 1, 500);  // a correction of id 3, long after its first label
  REQUIRE(index.Ingest(r.Events()).ok());
  index.Flush();
  REQUIRE(store->Commit(1).ok());

  // Cutoff min(250, the watermark 500) - 100 = 150: the labels of times 10..140 (ids 1..14) go. Id 3
  // too: its transaction is no later than its first label (time 30), so no reader can ask for it.
  const uint64_t misses = index.cache_stats().misses;
  REQUIRE(index.ScanExpired(250).ok());
  REQUIRE(index.Expire(250).ok());
  CHECK(index.cache_stats().misses == misses);  // nothing read back to expire the queued records
  CHECK(index.expired() == 14);                 // each once, whether queued or found by the sweep
  // The sweep reads the store only for records the queue left out.
  CHECK((index.sweeps() > 0) == (max_keys == 2));
  index.Flush();
  REQUIRE(store->Commit(2).ok());
  CheckGoneThrough(index, 14, 20);
  // Nothing is left to expire at the same time.
  REQUIRE(index.Expire(250).ok());
  CHECK(index.expired() == 14);
}

TEST_CASE("label index: after a restart, the records stored before join the expiry queue",
          "[engine][labels]") {
  config::LabelsSpec spec;
  auto store = OpenStore(TempDir("vigil-label-index-restart") + "/store");
  {
    engine::LabelIndex index(spec, store.get(), 10);
    Records r;
    for (int64_t id = 1; id <= 5; ++id) r.Add(id, 0, 10 * id);
    r.Add(2, 1, 500);  // corrected: its latest label (500) is recent, its first (20) is not
    REQUIRE(index.Ingest(r.Events()).ok());
    index.Flush();
    REQUIRE(store->Commit(1).ok());
  }
  engine::LabelIndex index(spec, store.get(), 10);
  index.Retain(100);
  Records r;
  r.Add(6, 0, 600);
  REQUIRE(index.Ingest(r.Events()).ok());
  REQUIRE(index.ScanExpired(250).ok());  // reads the stored records' times once
  REQUIRE(index.Expire(250).ok());       // cutoff min(250, 600) - 100 = 150
  CHECK(index.expired() == 5);           // id 2 by its first label's time: the sweep alone keeps it
  index.Flush();
  REQUIRE(store->Commit(2).ok());
  CheckGoneThrough(index, 5, 6);
}

}  // namespace
}  // namespace vigil::testing
