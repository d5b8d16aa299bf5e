// LabelIndex: records by chunks of 64 ids. A chunk past the largest id's is stored without reading
// the store for an earlier one; the largest id is kept in the store, so after a restart a correction
// of an older id is still one. A chunk expires by its records' first label times, without being read.
// An older vigil's records, one per id, are rewritten as chunks.
#include "engine/label_index.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
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

//! The ids of chunk k (64 ids each) start at 64 * k: one record per chunk makes each its own.
int64_t Id(int64_t chunk, int64_t slot = 0) { return chunk * engine::LabelChunk::kIds + slot; }

//! The records of chunks 1..`gone` (slot 0) are gone, those of `gone` + 1..`last` still there.
void CheckGoneThrough(engine::LabelIndex& index, int64_t gone, int64_t last) {
  for (int64_t k = 1; k <= last; ++k) {
    INFO("chunk " << k);
    auto rec = index.Lookup(Id(k));
    REQUIRE(rec.ok());
    CHECK((*rec == nullptr) == (k <= gone));
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
    for (int64_t id = 0; id < 128; ++id) r.Add(id, 0, 10);  // chunks 0 and 1
    REQUIRE(index.Ingest(r.Events()).ok());
    CHECK(index.cache_stats().misses == 0);
    index.Flush();
    REQUIRE(store->Commit(1).ok());
    // The largest id is committed with the labels (a restart then need not scan them for it).
    std::string max;
    REQUIRE(store->Get(engine::LabelIndex::kLabelMetaTable, "max_id", &max).value());
    REQUIRE(max.size() == sizeof(int64_t));
    int64_t value = 0;
    std::memcpy(&value, max.data(), sizeof value);
    CHECK(value == 127);
  }
  // A restart: a new index over the same store, with the labels above in it.
  auto store = OpenStore(dir);
  engine::LabelIndex index(spec, store.get(), 1000);
  Records fresh;
  for (int64_t id = 128; id < 256; ++id) fresh.Add(id, 1, 20);  // chunks 2 and 3
  REQUIRE(index.Ingest(fresh.Events()).ok());
  CHECK(index.cache_stats().misses == 0);  // chunks past the largest id's: nothing to read
  CHECK(index.revision() == 0);

  // A correction of an id stored before the restart: its chunk is read, and it is kept as one.
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
  CHECK(index.KnownAt(51, 15).value() == 0);  // its neighbour in the chunk, untouched
  CHECK(index.KnownAt(150, 25).value() == 1);
  CHECK(std::isnan(index.KnownAt(150, 15).value()));
  CHECK(std::isnan(index.KnownAt(300, 25).value()));  // no such id

  // The new ids, and the largest of them, reach the store with the next commit: after another
  // restart a correction of id 150 is one too.
  index.Flush();
  REQUIRE(store->Commit(2).ok());
  engine::LabelIndex again(spec, store.get(), 1000);
  Records late;
  late.Add(150, 0, 40).Add(256, 1, 40);
  REQUIRE(again.Ingest(late.Events()).ok());
  CHECK(again.cache_stats().misses == 1);  // 150's chunk only: 256 starts a chunk
  CHECK(again.revision() == 1);
  CHECK(again.KnownAt(150, 35).value() == 1);
  CHECK(again.KnownAt(150, 45).value() == 0);
  CHECK(again.KnownAt(149, 45).value() == 1);
}

TEST_CASE("label index: an older vigil's records, one per id, are rewritten as chunks", "[engine][labels]") {
  config::LabelsSpec spec;
  auto store = OpenStore(TempDir("vigil-label-index-old") + "/store");
  // Label records as an older vigil left them: one per id in the label table, no largest id.
  for (int64_t id : {7, 3, 12, 70}) {
    engine::LabelRecord r;
    r.Add(0, 10);
    store->Put(engine::LabelIndex::kLabelTable,
               std::string_view(reinterpret_cast<const char*>(&id), sizeof id),
               std::string_view(reinterpret_cast<const char*>(&r), sizeof r));
  }
  REQUIRE(store->Commit(1).ok());
  const auto legacy = [&] {
    std::optional<std::string> cursor;
    size_t n = 0;
    REQUIRE(store
                ->Scan(engine::LabelIndex::kLabelTable, "", &cursor, SIZE_MAX,
                       [&](std::string_view, std::string_view) { ++n; })
                .ok());
    return n;
  };
  {
    engine::LabelIndex index(spec, store.get(), 1000);
    // Before the first Ingest or commit, a lookup reads the old record where it is.
    CHECK(index.KnownAt(7, 15).value() == 0);
    CHECK(std::isnan(index.KnownAt(8, 15).value()));
    Records r;
    r.Add(12, 1, 20).Add(13, 1, 20);
    REQUIRE(index.Ingest(r.Events()).ok());
    CHECK(index.revision() == 1);  // 12 was stored: a correction
    CHECK(index.KnownAt(12, 15).value() == 0);
    CHECK(index.KnownAt(12, 25).value() == 1);
    CHECK(index.KnownAt(70, 15).value() == 0);
    index.Flush();
    REQUIRE(store->Commit(2).ok());
    CHECK(legacy() == 0);  // rewritten, the old records deleted in the same commit
  }
  // The chunks alone, and no largest id either: it is found in them.
  store->Delete(engine::LabelIndex::kLabelMetaTable, "max_id");
  REQUIRE(store->Commit(3).ok());
  engine::LabelIndex index(spec, store.get(), 1000);
  Records r;
  r.Add(200, 1, 30);  // past the largest id's chunk (70: chunk 1)
  REQUIRE(index.Ingest(r.Events()).ok());
  CHECK(index.cache_stats().misses == 0);
  for (int64_t id : {3, 7, 12, 13, 70}) {
    INFO("id " << id);
    CHECK_FALSE(std::isnan(index.KnownAt(id, 25).value()));
  }
  CHECK(index.KnownAt(13, 25).value() == 1);
  CHECK(std::isnan(index.KnownAt(4, 25).value()));
}

TEST_CASE("label index: a chunk expires, unread, once its records' first labels are all past the cutoff",
          "[engine][labels]") {
  config::LabelsSpec spec;
  auto store = OpenStore(TempDir("vigil-label-index-expiry") + "/store");
  // The expiry queue holds 4 x max_keys records: all 22 with room for 10 chunks in memory; with room
  // for 2, the first 8, and the rest are left to the sweep. The same chunks go, at the same commit.
  const size_t max_keys = GENERATE(10, 2);
  INFO("max_keys " << max_keys);
  engine::LabelIndex index(spec, store.get(), max_keys);
  index.Retain(100);
  Records r;
  for (int64_t k = 1; k <= 20; ++k) r.Add(Id(k), 0, 10 * k);  // one record per chunk
  r.Add(Id(3), 1, 500);                                       // a correction, long after its first label
  r.Add(Id(21), 0, 100).Add(Id(21, 1), 0, 200);               // a chunk of two records
  REQUIRE(index.Ingest(r.Events()).ok());
  index.Flush();
  REQUIRE(store->Commit(1).ok());

  // Cutoff min(250, the watermark 500) - 100 = 150: the labels of times 10..140 (chunks 1..14) go.
  // Chunk 3 too: its transaction is no later than its first label (time 30), so no reader can ask
  // for it. Chunk 21 stays: its second record's label (200) is within the retention.
  const uint64_t misses = index.cache_stats().misses;
  REQUIRE(index.ScanExpired(250).ok());
  REQUIRE(index.Expire(250).ok());
  CHECK(index.cache_stats().misses == misses);  // nothing read back to expire the queued chunks
  CHECK(index.expired() == 14);                 // each once, whether queued or found by the sweep
  // The sweep reads the store only for records the queue left out.
  CHECK((index.sweeps() > 0) == (max_keys == 2));
  index.Flush();
  REQUIRE(store->Commit(2).ok());
  CheckGoneThrough(index, 14, 20);
  CHECK(index.KnownAt(Id(21), 300).value() == 0);
  // Nothing is left to expire at the same time.
  REQUIRE(index.Expire(250).ok());
  CHECK(index.expired() == 14);
  // Cutoff 350 - 100 = 250: chunk 21 goes with its last record.
  REQUIRE(index.ScanExpired(350).ok());
  REQUIRE(index.Expire(350).ok());
  index.Flush();
  REQUIRE(store->Commit(3).ok());
  CHECK(std::isnan(index.KnownAt(Id(21, 1), 300).value()));
  CheckGoneThrough(index, 21, 21);
  // Every chunk gone, whether by the queue or by the sweep: no count is left beside the cache.
  CHECK(index.counted_chunks() == 0);
}

TEST_CASE("label index: after a restart, the records stored before join the expiry queue",
          "[engine][labels]") {
  config::LabelsSpec spec;
  auto store = OpenStore(TempDir("vigil-label-index-restart") + "/store");
  {
    engine::LabelIndex index(spec, store.get(), 10);
    Records r;
    for (int64_t k = 1; k <= 5; ++k) r.Add(Id(k), 0, 10 * k);
    r.Add(Id(2), 1, 500);  // corrected: its latest label (500) is recent, its first (20) is not
    REQUIRE(index.Ingest(r.Events()).ok());
    index.Flush();
    REQUIRE(store->Commit(1).ok());
  }
  engine::LabelIndex index(spec, store.get(), 10);
  index.Retain(100);
  Records r;
  r.Add(Id(6), 0, 600);
  REQUIRE(index.Ingest(r.Events()).ok());
  REQUIRE(index.ScanExpired(250).ok());  // reads the stored records' times once
  REQUIRE(index.Expire(250).ok());       // cutoff min(250, 600) - 100 = 150
  CHECK(index.expired() == 5);           // chunk 2 by its first label's time: the sweep alone keeps it
  CHECK(index.sweeps() == 0);
  index.Flush();
  REQUIRE(store->Commit(2).ok());
  CheckGoneThrough(index, 5, 6);
}

}  // namespace
}  // namespace vigil::testing
