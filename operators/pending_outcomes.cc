#include "operators/pending_outcomes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>
#include <tuple>

#include "base/json.h"
#include "engine/row_encoder.h"

namespace vigil::operators {
namespace {

constexpr uint8_t kFormat = 1;      // the value's layout, first byte
constexpr size_t kScanChunk = 256;  // store records read per Scan call
constexpr uint64_t kSign = uint64_t{1} << 63;

uint64_t Ordered(int64_t v) { return static_cast<uint64_t>(v) ^ kSign; }

void PutBigEndian(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t GetBigEndian(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

void EncodeKey(uint64_t due, uint64_t order, std::string* out) {
  out->resize(16);
  PutBigEndian(due, out->data());
  PutBigEndian(order, out->data() + 8);
}

//! The fixed part of a value, after the format byte.
struct Header {
  int64_t id, time, card, offset;
  double amount;
  float score, challenger, champion;
  uint32_t epoch;
  uint8_t flagged, canary, num_segments;
  uint16_t version_size;
};

template <typename T>
void Append(const T& v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

void PendingOutcomes::Generation::Clear() {
  buf.clear();
  slots.clear();
  heap.clear();
  keys.clear();
}

PendingOutcomes::PendingOutcomes(engine::StateStore* store, engine::TableId table, size_t width,
                                 int64_t delay_ms)
    : store_(store), table_(table), width_(width), delay_ms_(delay_ms) {}

void PendingOutcomes::Add(const ScoredEvent& e, std::string_view version, const float* inputs,
                          std::span<const std::string> segments) {
  std::string& buf = fresh_.buf;
  const auto at = static_cast<uint32_t>(buf.size());
  buf.push_back(static_cast<char>(kFormat));
  const size_t segment_count = std::min(segments.size(), kMaxSegmentColumns);
  Append(Header{e.id, e.time_ms, e.card, e.offset, e.amount, e.score, e.challenger, e.champion, e.epoch,
                static_cast<uint8_t>(e.flagged), static_cast<uint8_t>(e.canary),
                static_cast<uint8_t>(segment_count),
                static_cast<uint16_t>(std::min<size_t>(version.size(), 65535))},
         &buf);
  buf.append(version.substr(0, 65535));
  buf.append(reinterpret_cast<const char*>(inputs), width_ * sizeof(float));
  for (size_t i = 0; i < segment_count; ++i) {
    const std::string_view text = std::string_view(segments[i]).substr(0, 65535);
    Append(static_cast<uint16_t>(text.size()), &buf);
    buf.append(text);
  }
  const uint64_t due = Ordered(e.time_ms > INT64_MAX - delay_ms_ ? INT64_MAX : e.time_ms + delay_ms_);
  fresh_.slots.push_back({due, Ordered(e.offset), at, static_cast<uint32_t>(buf.size() - at), false});
  fresh_.heap.emplace_back(due, static_cast<uint32_t>(fresh_.slots.size() - 1));
  std::push_heap(fresh_.heap.begin(), fresh_.heap.end(), std::greater<>());
}

void PendingOutcomes::TakeDue(Generation* g, uint64_t due, bool staged) {
  while (!g->heap.empty() && g->heap.front().first <= due) {
    std::pop_heap(g->heap.begin(), g->heap.end(), std::greater<>());
    Slot& slot = g->slots[g->heap.back().second];
    g->heap.pop_back();
    slot.emitted = true;
    matured_.push_back({slot.due, slot.order, staged ? 1 : 0, slot.at, slot.size});
    if (staged) delete_.emplace_back(slot.due, slot.order);  // the last Flush put it
  }
}

bool PendingOutcomes::InStaged(uint64_t due, uint64_t order) const {
  return std::binary_search(staged_.keys.begin(), staged_.keys.end(), std::make_pair(due, order));
}

base::Status PendingOutcomes::Mature(int64_t through, std::vector<OutcomeView>* out) {
  out->clear();
  matured_.clear();
  const uint64_t due = Ordered(through);
  TakeDue(&fresh_, due, false);
  TakeDue(&staged_, due, true);
  if (through > through_) {
    // The store, past what earlier calls handed over; the staged generation's records are its own.
    scanned_.clear();
    std::string from;
    EncodeKey(Ordered(through_), UINT64_MAX, &from);
    std::optional<std::string> cursor = from;
    bool done = false;
    while (!done) {
      VIGIL_RETURN_IF_ERROR(
          store_->Scan(table_, "", &cursor, kScanChunk, [&](std::string_view key, std::string_view value) {
            if (done || key.size() != 16) return;
            const uint64_t d = GetBigEndian(key.data()), order = GetBigEndian(key.data() + 8);
            if (d > due) {
              done = true;
              return;
            }
            if (InStaged(d, order)) return;
            matured_.push_back(
                {d, order, 2, static_cast<uint32_t>(scanned_.size()), static_cast<uint32_t>(value.size())});
            scanned_.append(value);
            delete_.emplace_back(d, order);
          }));
      if (!cursor.has_value()) done = true;
    }
    through_ = through;
  }
  std::sort(matured_.begin(), matured_.end(), [](const Matured& a, const Matured& b) {
    return std::tie(a.due, a.order) < std::tie(b.due, b.order);
  });
  inputs_.resize(matured_.size() * width_);
  out->resize(matured_.size());
  for (size_t i = 0; i < matured_.size(); ++i) {
    const Matured& m = matured_[i];
    const std::string& buf = m.source == 0 ? fresh_.buf : m.source == 1 ? staged_.buf : scanned_;
    Decode(std::string_view(buf).substr(m.at, m.size), &(*out)[i], inputs_.data() + i * width_);
  }
  return base::Status::OK();
}

void PendingOutcomes::Decode(std::string_view value, OutcomeView* out, float* inputs) const {
  Header h;
  const char* p = value.data() + 1;  // past the format byte
  std::memcpy(&h, p, sizeof h);
  p += sizeof h;
  ScoredEvent& e = out->event;
  e = ScoredEvent{};
  e.id = h.id;
  e.time_ms = h.time;
  e.card = h.card;
  e.offset = h.offset;
  e.amount = h.amount;
  e.score = h.score;
  e.challenger = h.challenger;
  e.champion = h.champion;
  e.epoch = h.epoch;
  e.flagged = h.flagged != 0;
  e.canary = h.canary != 0;
  out->version = std::string_view(p, h.version_size);
  p += h.version_size;
  std::memcpy(inputs, p, width_ * sizeof(float));
  out->inputs = inputs;
  p += width_ * sizeof(float);
  out->num_segments = h.num_segments;
  for (size_t i = 0; i < h.num_segments; ++i) {
    uint16_t size = 0;
    std::memcpy(&size, p, sizeof size);
    p += sizeof size;
    out->segments[i] = std::string_view(p, size);
    p += size;
  }
}

void PendingOutcomes::Flush() {
  for (const Slot& slot : fresh_.slots) {
    if (slot.emitted) continue;
    EncodeKey(slot.due, slot.order, &key_buf_);
    store_->Put(table_, key_buf_, std::string_view(fresh_.buf).substr(slot.at, slot.size));
  }
  for (const auto& [due, order] : delete_) {
    EncodeKey(due, order, &key_buf_);
    store_->Delete(table_, key_buf_);
  }
  delete_.clear();
  // The fresh generation becomes the staged one; the old staged one is in the store (its commit
  // applied before this one staged).
  std::swap(fresh_, staged_);
  fresh_.Clear();
  staged_.keys.clear();
  for (const Slot& slot : staged_.slots)
    if (!slot.emitted) staged_.keys.emplace_back(slot.due, slot.order);
  std::sort(staged_.keys.begin(), staged_.keys.end());
}

void AppendOutcomeJson(const OutcomeView& o, int label, int32_t partition, size_t width, std::string* out) {
  const ScoredEvent& e = o.event;
  auto it = std::back_inserter(*out);
  fmt::format_to(it, "{{\"id\":{},\"time\":{},\"card\":{},\"score\":", e.id, e.time_ms, e.card);
  engine::AppendJsonDouble(e.score, out);
  fmt::format_to(it, ",\"flagged\":{},\"label\":{},\"version\":", e.flagged, label != 0 ? 1 : 0);
  base::AppendJsonString(o.version, out);
  fmt::format_to(it, ",\"epoch\":{},\"canary\":{},\"challenger\":", e.epoch, e.canary);
  engine::AppendJsonDouble(e.challenger, out);
  out->append(",\"champion\":");
  engine::AppendJsonDouble(e.champion, out);
  out->append(",\"amount\":");
  engine::AppendJsonDouble(e.amount, out);
  fmt::format_to(it, ",\"partition\":{},\"offset\":{},\"x\":[", partition, e.offset);
  for (size_t i = 0; i < width; ++i) {
    if (i > 0) out->push_back(',');
    engine::AppendJsonDouble(o.inputs[i], out);
  }
  out->push_back(']');
  if (o.num_segments > 0) {
    out->append(",\"segments\":[");
    for (size_t i = 0; i < o.num_segments; ++i) {
      if (i > 0) out->push_back(',');
      base::AppendJsonString(o.segments[i], out);
    }
    out->push_back(']');
  }
  out->push_back('}');
}

}  // namespace vigil::operators
