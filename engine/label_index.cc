#include "engine/label_index.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <unordered_set>

namespace vigil::engine {

struct LabelIndex::Parser {
  simdjson::ondemand::parser parser;
  std::string padded;
};

void LabelRecord::Add(double value, int64_t t) {
  if (time_ms == kNever || t == time_ms) {
    label = value;
    time_ms = t;
  } else if (t > time_ms) {
    previous_label = label;
    previous_time_ms = time_ms;
    label = value;
    time_ms = t;
  } else if (previous_time_ms == kNever || t >= previous_time_ms) {
    previous_label = value;  // an older value arriving late: before the latest
    previous_time_ms = t;
  }
}

const LabelRecord* LabelChunk::Find(int slot) const {
  const uint64_t bit = uint64_t{1} << slot;
  if ((present & bit) == 0) return nullptr;
  return &records[static_cast<size_t>(std::popcount(present & (bit - 1)))];
}

LabelRecord* LabelChunk::Insert(int slot) {
  const uint64_t bit = uint64_t{1} << slot;
  const auto at = static_cast<size_t>(std::popcount(present & (bit - 1)));
  if ((present & bit) == 0) {
    present |= bit;
    // Room for 8 at once (a chunk over 8 partitions holds about that many): a new chunk would
    // otherwise grow by 1, 2, 4 and 8 records, an allocation each.
    if (records.capacity() == 0) records.reserve(8);
    records.insert(records.begin() + static_cast<std::ptrdiff_t>(at), LabelRecord{});
  }
  return &records[at];
}

void LabelIndex::Codec::Encode(const LabelChunk& c, std::string* out) {
  static_assert(sizeof(LabelRecord) == 32);
  out->append(reinterpret_cast<const char*>(&c.present), sizeof c.present);
  out->append(reinterpret_cast<const char*>(c.records.data()), c.records.size() * sizeof(LabelRecord));
}

bool LabelIndex::Codec::Decode(std::string_view in, LabelChunk* c) {
  if (in.size() < sizeof c->present) return false;
  std::memcpy(&c->present, in.data(), sizeof c->present);
  const auto n = static_cast<size_t>(std::popcount(c->present));
  if (in.size() != sizeof c->present + n * sizeof(LabelRecord)) return false;
  c->records.resize(n);
  std::memcpy(c->records.data(), in.data() + sizeof c->present, n * sizeof(LabelRecord));
  return true;
}

LabelIndex::LabelIndex(const config::LabelsSpec& spec, StateStore* store, size_t max_keys,
                       CacheBudget* budget)
    : spec_(spec),
      store_(store),
      cache_(store, kLabelChunkTable, max_keys, budget),
      parser_(std::make_unique<Parser>()),
      expiry_capacity_(4 * max_keys) {}

LabelIndex::~LabelIndex() = default;

namespace {
constexpr std::string_view kMaxIdKey = "max_id";

//! The bytes of `v` (a key), valid as long as `v`: never of a temporary.
std::string_view Bytes(const int64_t& v) { return {reinterpret_cast<const char*>(&v), sizeof v}; }
std::string_view Bytes(const int64_t&& v) = delete;

//! A record as an older vigil stored it, one per id: 32 bytes, or 16 (label, time) from before
//! corrections were kept.
bool DecodeLegacy(std::string_view in, LabelRecord* r) {
  if (in.size() != sizeof *r && in.size() != 16) return false;
  *r = LabelRecord{};
  std::memcpy(r, in.data(), in.size());
  return true;
}
}  // namespace

base::Status LabelIndex::Load() {
  if (loaded_) return base::Status::OK();
  VIGIL_RETURN_IF_ERROR(LoadMaxId());
  VIGIL_RETURN_IF_ERROR(Migrate());
  loaded_ = true;
  return base::Status::OK();
}

base::Status LabelIndex::LoadMaxId() {
  std::string value;
  VIGIL_ASSIGN_OR_RETURN(const bool found, store_->Get(kLabelMetaTable, kMaxIdKey, &value));
  int64_t max = INT64_MIN;
  if (found) {
    if (value.size() != sizeof max) return base::Corruption("label index: undecodable largest id");
    std::memcpy(&max, value.data(), sizeof max);
  } else {
    // A store written before this record existed: its labels' ids, read once (an older vigil's
    // records are read by Migrate, which takes their largest id).
    std::optional<std::string> cursor;
    VIGIL_RETURN_IF_ERROR(
        store_->Scan(kLabelChunkTable, "", &cursor, SIZE_MAX, [&](std::string_view k, std::string_view v) {
          int64_t chunk = 0;
          uint64_t present = 0;
          if (k.size() != sizeof chunk || v.size() < sizeof present) return;
          std::memcpy(&chunk, k.data(), sizeof chunk);
          std::memcpy(&present, v.data(), sizeof present);
          if (present != 0) max = std::max(max, chunk * LabelChunk::kIds + 63 - std::countl_zero(present));
        }));
  }
  max_id_ = max;
  return base::Status::OK();
}

base::Status LabelIndex::Migrate() {
  std::vector<std::pair<int64_t, LabelRecord>> legacy;
  std::optional<std::string> cursor;
  bool undecodable = false;
  VIGIL_RETURN_IF_ERROR(
      store_->Scan(kLabelTable, "", &cursor, SIZE_MAX, [&](std::string_view k, std::string_view v) {
        int64_t id = 0;
        LabelRecord r;
        if (k.size() != sizeof id || !DecodeLegacy(v, &r)) {
          undecodable = true;
          return;
        }
        std::memcpy(&id, k.data(), sizeof id);
        legacy.emplace_back(id, r);
      }));
  if (undecodable) return base::Corruption("label index: undecodable label record");
  if (legacy.empty()) return base::Status::OK();
  for (const auto& [id, r] : legacy) {
    const int64_t chunk_id = LabelChunk::Of(id);
    VIGIL_ASSIGN_OR_RETURN(LabelChunk * chunk, cache_.GetForUpdate(Bytes(chunk_id)));
    *chunk->Insert(LabelChunk::Slot(id)) = r;
    store_->Delete(kLabelTable, Bytes(id));
    Track(std::min(r.time_ms, r.previous_time_ms), id);
    if (id > *max_id_) {
      max_id_ = id;
      max_id_changed_ = true;
    }
  }
  spdlog::info("label index: {} label records of an older layout rewritten as chunks", legacy.size());
  return base::Status::OK();
}

void LabelIndex::Flush() {
  if (max_id_changed_) {
    const int64_t max = *max_id_;
    store_->Put(kLabelMetaTable, kMaxIdKey, Bytes(max));
    max_id_changed_ = false;
  }
  cache_.Flush();
}

base::Status LabelIndex::Ingest(std::span<const RawEvent> records) {
  VIGIL_RETURN_IF_ERROR(Load());
  for (const RawEvent& ev : records) {
    parser_->padded.assign(ev.data, ev.size);
    parser_->padded.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::ondemand::document doc;
    int64_t id = 0, time = 0;
    double label = 0;
    bool ok = !parser_->parser.iterate(parser_->padded.data(), ev.size, parser_->padded.size()).get(doc);
    simdjson::ondemand::object obj;
    ok = ok && !doc.get_object().get(obj);
    int seen = 0;
    if (ok) {
      for (auto field_result : obj) {
        simdjson::ondemand::field field;
        std::string_view key;
        if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
          ok = false;
          break;
        }
        if (key == spec_.id) {
          ok = !field.value().get_int64().get(id);
          seen |= 1;
        } else if (key == spec_.label) {
          ok = !field.value().get_double().get(label);
          seen |= 2;
        } else if (key == spec_.time) {
          ok = !field.value().get_int64().get(time);
          seen |= 4;
        }
        if (!ok) break;
      }
    }
    if (!ok || seen != 7) {
      if (malformed_++ == 0)
        spdlog::warn("malformed label record at offset {} (further ones are only counted)", ev.offset);
      continue;
    }
    watermark_ = std::max(watermark_, time);
    const int64_t chunk_id = LabelChunk::Of(id);
    const std::string_view key = Bytes(chunk_id);
    // A chunk past the largest id's was never stored: nothing to read (its first label makes it).
    if (id > *max_id_ && (*max_id_ == INT64_MIN || chunk_id > LabelChunk::Of(*max_id_)))
      cache_.Put(key, LabelChunk{});
    VIGIL_ASSIGN_OR_RETURN(LabelChunk * chunk, cache_.GetForUpdate(key));
    LabelRecord* rec = chunk->Insert(LabelChunk::Slot(id));
    const LabelRecord before = *rec;
    rec->Add(label, time);
    if (before.time_ms == LabelRecord::kNever)
      Track(time, id);
    else if (std::memcmp(&before, rec, sizeof before) != 0)
      ++revision_;
    if (id > *max_id_) {
      max_id_ = id;
      max_id_changed_ = true;
    }
  }
  return base::Status::OK();
}

void LabelIndex::Track(int64_t time, int64_t id) {
  if (expiry_.size() < expiry_capacity_) {
    expiry_.emplace_back(time, id);
    Count(id);
    return;
  }
  queue_complete_ = false;  // this record, and so its chunk, is the sweep's
  uint32_t& n = pending_[LabelChunk::Of(id)];
  if (n < kPinned) n += kPinned;
}

base::Status LabelIndex::ScanStoredTimes() {
  stored_scanned_ = true;
  std::optional<std::string> cursor;
  size_t read = 0, decoded = 0;
  LabelChunk c;
  VIGIL_RETURN_IF_ERROR(store_->Scan(
      kLabelChunkTable, "", &cursor, expiry_capacity_, [&](std::string_view k, std::string_view v) {
        ++read;
        int64_t chunk = 0;
        if (k.size() != sizeof chunk || !Codec::Decode(v, &c)) return;  // the sweep reports it
        ++decoded;
        std::memcpy(&chunk, k.data(), sizeof chunk);
        size_t i = 0;
        for (uint64_t bits = c.present; bits != 0; bits &= bits - 1, ++i) {
          const LabelRecord& r = c.records[i];
          // Every label time of a record bounds its transaction's: its earliest is the first label's.
          stored_.emplace_back(std::min(r.time_ms, r.previous_time_ms),
                               chunk * LabelChunk::kIds + std::countr_zero(bits));
        }
      }));
  std::sort(stored_.begin(), stored_.end());
  // Chunks beyond what was read, or one that did not decode, are left to the sweep.
  if (cursor.has_value() || decoded != read) queue_complete_ = false;
  return base::Status::OK();
}

void LabelIndex::MergeStored() {
  std::unordered_set<int64_t> queued;
  for (const auto& entry : expiry_) queued.insert(entry.second);
  std::deque<std::pair<int64_t, int64_t>> merged;
  auto a = expiry_.begin();
  for (const auto& entry : stored_) {
    if (queued.contains(entry.second)) continue;  // created since the index was made, and queued then
    for (; a != expiry_.end() && *a < entry; ++a) merged.push_back(*a);
    merged.push_back(entry);
    Count(entry.second);
  }
  merged.insert(merged.end(), a, expiry_.end());
  expiry_.swap(merged);
  stored_ = {};
}

namespace {
//! True when every label of the chunk is older than `cutoff`: none of its transactions can be read.
bool AllBefore(const LabelChunk& c, int64_t cutoff) {
  return std::all_of(c.records.begin(), c.records.end(),
                     [&](const LabelRecord& r) { return r.time_ms < cutoff; });
}
}  // namespace

base::Status LabelIndex::Expire(int64_t event_time) {
  VIGIL_RETURN_IF_ERROR(Load());
  if (retention_ms_ < 0 || event_time == INT64_MIN || watermark_ == INT64_MIN) return base::Status::OK();
  const int64_t cutoff = std::min(event_time, watermark_) - retention_ms_;
  // The records by their first label's time: a chunk whose queued records are all below the cutoff
  // is deleted unread. A record's transaction is no later than its first label, so no reader asks
  // for it again, whatever label it holds now. Labels come about in time order; one later than the
  // queue's head waits for it. Until the stored records' times were read, none is deleted this way:
  // a chunk may hold some of them.
  if (!stored_.empty()) MergeStored();
  while (stored_scanned_ && !expiry_.empty() && expiry_.front().first < cutoff) {
    const int64_t chunk = LabelChunk::Of(expiry_.front().second);
    expiry_.pop_front();
    auto it = pending_.find(chunk);
    if (it == pending_.end() || --it->second > 0) continue;
    pending_.erase(it);
    cache_.Erase(Bytes(chunk));
  }
  cache_.SetExtraBytes(expiry_.size() * sizeof(std::pair<int64_t, int64_t>) +
                       pending_.size() * (sizeof(std::pair<int64_t, uint32_t>) + 16));
  // Every record is queued (the stored ones merged, none left out for room): a sweep would find
  // none the queue does not delete as early.
  if (stored_scanned_ && stored_.empty() && queue_complete_) return base::Status::OK();
  ++sweeps_;
  // A chunk the sweep deletes has no count left to keep (a pinned one would stay for good).
  return cache_.Sweep([cutoff](const LabelChunk& c) { return AllBefore(c, cutoff); },
                      [this](std::string_view key) {
                        int64_t chunk = 0;
                        std::memcpy(&chunk, key.data(), sizeof chunk);
                        pending_.erase(chunk);
                      });
}

base::Status LabelIndex::ScanExpired(int64_t event_time) {
  // The watermark is the worker's: this scan, beside it, goes by the event time alone, which only
  // widens what it finds; Expire checks each chunk found against its own cutoff.
  if (retention_ms_ < 0 || event_time == INT64_MIN) return base::Status::OK();
  if (!stored_scanned_) VIGIL_RETURN_IF_ERROR(ScanStoredTimes());
  if (queue_complete_) return base::Status::OK();  // Expire needs no sweep (above)
  const int64_t cutoff = event_time - retention_ms_;
  return cache_.ScanExpired([cutoff](const LabelChunk& c) { return AllBefore(c, cutoff); });
}

base::Result<const LabelRecord*> LabelIndex::Lookup(int64_t id) {
  const int64_t chunk_id = LabelChunk::Of(id);
  VIGIL_ASSIGN_OR_RETURN(const LabelChunk* chunk, cache_.Find(Bytes(chunk_id)));
  if (chunk != nullptr) {
    if (const LabelRecord* rec = chunk->Find(LabelChunk::Slot(id))) return rec;
  }
  if (loaded_) return static_cast<const LabelRecord*>(nullptr);
  // Before Load: a record an older vigil stored is still in its own table.
  std::string value;
  VIGIL_ASSIGN_OR_RETURN(const bool found, store_->Get(kLabelTable, Bytes(id), &value));
  if (!found) return static_cast<const LabelRecord*>(nullptr);
  if (!DecodeLegacy(value, &legacy_)) return base::Corruption("label index: undecodable label record");
  return static_cast<const LabelRecord*>(&legacy_);
}

base::Result<double> LabelIndex::KnownAt(int64_t id, int64_t time_ms) {
  VIGIL_ASSIGN_OR_RETURN(const LabelRecord* rec, Lookup(id));
  if (rec == nullptr) return std::numeric_limits<double>::quiet_NaN();
  return rec->At(time_ms);
}

}  // namespace vigil::engine
