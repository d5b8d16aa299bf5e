#include "engine/label_index.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
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

LabelIndex::LabelIndex(const config::LabelsSpec& spec, StateStore* store, size_t max_keys,
                       CacheBudget* budget)
    : spec_(spec),
      store_(store),
      cache_(store, kLabelTable, max_keys, budget),
      parser_(std::make_unique<Parser>()),
      expiry_capacity_(4 * max_keys) {}

LabelIndex::~LabelIndex() = default;

namespace {
constexpr std::string_view kMaxIdKey = "max_id";
}  // namespace

base::Status LabelIndex::LoadMaxId() {
  std::string value;
  VIGIL_ASSIGN_OR_RETURN(const bool found, store_->Get(kLabelMetaTable, kMaxIdKey, &value));
  int64_t max = INT64_MIN;
  if (found) {
    if (value.size() != sizeof max) return base::Corruption("label index: undecodable largest id");
    std::memcpy(&max, value.data(), sizeof max);
  } else {
    // A store written before this record existed: its labels' ids, read once.
    std::optional<std::string> cursor;
    VIGIL_RETURN_IF_ERROR(
        store_->Scan(kLabelTable, "", &cursor, SIZE_MAX, [&](std::string_view k, std::string_view) {
          int64_t id = 0;
          if (k.size() == sizeof id) std::memcpy(&id, k.data(), sizeof id);
          max = std::max(max, id);
        }));
  }
  max_id_ = max;
  return base::Status::OK();
}

void LabelIndex::Flush() {
  if (max_id_changed_) {
    const int64_t max = *max_id_;
    store_->Put(kLabelMetaTable, kMaxIdKey,
                std::string_view(reinterpret_cast<const char*>(&max), sizeof max));
    max_id_changed_ = false;
  }
  cache_.Flush();
}

base::Status LabelIndex::Ingest(std::span<const RawEvent> records) {
  if (!max_id_) VIGIL_RETURN_IF_ERROR(LoadMaxId());
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
    const std::string_view key(reinterpret_cast<const char*>(&id), sizeof id);
    watermark_ = std::max(watermark_, time);
    if (id > *max_id_) {  // never ingested: nothing to correct
      LabelRecord first;
      first.Add(label, time);
      cache_.Put(key, first);
      Track(time, id);
      max_id_ = id;
      max_id_changed_ = true;
      continue;
    }
    VIGIL_ASSIGN_OR_RETURN(LabelRecord * rec, cache_.GetForUpdate(key));
    const LabelRecord before = *rec;
    rec->Add(label, time);
    if (before.time_ms == LabelRecord::kNever) Track(time, id);
    if (before.time_ms != LabelRecord::kNever && std::memcmp(&before, rec, sizeof before) != 0) ++revision_;
  }
  return base::Status::OK();
}

void LabelIndex::Track(int64_t time, int64_t id) {
  if (expiry_.size() < expiry_capacity_)
    expiry_.emplace_back(time, id);
  else
    queue_complete_ = false;  // this record is the sweep's
}

base::Status LabelIndex::ScanStoredTimes() {
  stored_scanned_ = true;
  std::optional<std::string> cursor;
  size_t read = 0;
  LabelRecord r;
  VIGIL_RETURN_IF_ERROR(
      store_->Scan(kLabelTable, "", &cursor, expiry_capacity_, [&](std::string_view k, std::string_view v) {
        ++read;
        int64_t id = 0;
        if (k.size() != sizeof id || !Codec::Decode(v, &r)) return;  // the sweep reports it
        std::memcpy(&id, k.data(), sizeof id);
        // Every label time of a record bounds its transaction's: its earliest is the first label's.
        stored_.emplace_back(std::min(r.time_ms, r.previous_time_ms), id);
      }));
  std::sort(stored_.begin(), stored_.end());
  // Records beyond what was read, or one that did not decode, are left to the sweep.
  if (cursor.has_value() || stored_.size() != read) queue_complete_ = false;
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
  }
  merged.insert(merged.end(), a, expiry_.end());
  expiry_.swap(merged);
  stored_ = {};
}

base::Status LabelIndex::Expire(int64_t event_time) {
  if (retention_ms_ < 0 || event_time == INT64_MIN || watermark_ == INT64_MIN) return base::Status::OK();
  const int64_t cutoff = std::min(event_time, watermark_) - retention_ms_;
  // The records by their first label's time: one below the cutoff is deleted unread. Its transaction
  // is no later than that label, so no reader asks for it again, whatever label it holds now. Labels
  // come about in time order; one later than the queue's head waits for it.
  if (!stored_.empty()) MergeStored();
  while (!expiry_.empty() && expiry_.front().first < cutoff) {
    const int64_t id = expiry_.front().second;
    cache_.Erase(std::string_view(reinterpret_cast<const char*>(&id), sizeof id));
    expiry_.pop_front();
  }
  cache_.SetExtraBytes(expiry_.size() * sizeof(std::pair<int64_t, int64_t>));
  // Every record is queued (the stored ones merged, none left out for room): a sweep would find
  // none the queue does not delete as early.
  if (stored_scanned_ && stored_.empty() && queue_complete_) return base::Status::OK();
  ++sweeps_;
  return cache_.Sweep([cutoff](const LabelRecord& r) { return r.time_ms < cutoff; });
}

base::Status LabelIndex::ScanExpired(int64_t event_time) {
  // The watermark is the worker's: this scan, beside it, goes by the event time alone, which only
  // widens what it finds; Expire checks each record found against its own cutoff.
  if (retention_ms_ < 0 || event_time == INT64_MIN) return base::Status::OK();
  if (!stored_scanned_) VIGIL_RETURN_IF_ERROR(ScanStoredTimes());
  if (queue_complete_) return base::Status::OK();  // Expire needs no sweep (above)
  const int64_t cutoff = event_time - retention_ms_;
  return cache_.ScanExpired([cutoff](const LabelRecord& r) { return r.time_ms < cutoff; });
}

base::Result<const LabelRecord*> LabelIndex::Lookup(int64_t id) {
  const std::string_view key(reinterpret_cast<const char*>(&id), sizeof id);
  return cache_.Find(key);
}

base::Result<double> LabelIndex::KnownAt(int64_t id, int64_t time_ms) {
  VIGIL_ASSIGN_OR_RETURN(const LabelRecord* rec, Lookup(id));
  if (rec == nullptr) return std::numeric_limits<double>::quiet_NaN();
  return rec->At(time_ms);
}

}  // namespace vigil::engine
