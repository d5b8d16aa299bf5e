#include "operators/window.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>

#include "base/time.h"
#include "engine/pieced_cache.h"
#include "operators/window_aggregates.h"
#include "operators/window_state.h"

namespace vigil::operators {
namespace {

using config::Aggregate;
using engine::Batch;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaxRanges = 32;  // distinct (window, delay) pairs per operator
constexpr size_t kMaxValues = 16;  // distinct value fields per operator
constexpr int kLabelValue = -2;    // Output::value of "$label" outputs
constexpr std::string_view kLabelField = "$label";
// The label slots at the end of an entry of a window with "$label" outputs (see WindowOperator).
enum LabelSlot : size_t { kId, kLatest, kLatestTime, kPrevious, kPreviousTime, kRevision, kLabelSlots };

//! A bound output: where to write, what to compute, over which slot of the per-event values.
struct Output {
  int column;
  Aggregate agg;
  int value = -1;        // index into the event's values, or -1
  int denominator = -1;  // ratio only; -1 = count
  int64_t window_ms;
  int64_t delay_ms;
  int range = -1;  // index into the operator's distinct (window, delay) ranges; -1: time_since_last
  int where = -1;  // index into the event's values of the `where` column, or -1: every event
};

//! A distinct (window, delay) pair; outputs over the same range share its bounds.
struct Range {
  int64_t window_ms;
  int64_t delay_ms;
};

//! Entries [lo, hi) of a key's state that fall in a range.
struct Bounds {
  size_t lo, hi;
};

using Cache = engine::PiecedCache<WindowKeyState, WindowKeyCodec>;

//! Room for one row's state key, reused from row to row: an integer key's bytes, or a composite key's
//! encoding (each column in order: an integer's 8 bytes, a string's 4-byte length and bytes).
struct KeyBuffer {
  int64_t integer = 0;
  std::string composite;
};

//! A key whose latest event is before `cutoff`.
struct OlderThan {
  int64_t cutoff;
  bool operator()(const WindowKeyState& s) const { return s.max_time < cutoff; }
};

class WindowState final : public engine::OperatorState {
 public:
  WindowState(std::unique_ptr<Cache> c, engine::LabelIndex* l, int64_t expiry)
      : cache(std::move(c)), labels(l), expiry_ms(expiry) {}
  void Flush() override { cache->Flush(); }
  void Trim() override { cache->Trim(); }
  // A key whose latest event is older than the task's event time by more than lateness + the longest
  // window (with its delay) is unreadable by any event the task still admits within lateness of its
  // time: forgotten whole, with its records.
  base::Status Expire(int64_t event_time) override {
    if (expiry_ms < 0 || event_time == INT64_MIN) return base::Status::OK();
    return cache->Sweep(OlderThan{event_time - expiry_ms});
  }
  base::Status ScanExpired(int64_t event_time) override {
    if (expiry_ms < 0 || event_time == INT64_MIN) return base::Status::OK();
    return cache->ScanExpired(OlderThan{event_time - expiry_ms});
  }
  size_t cached_keys() const override { return cache->size(); }
  engine::CacheStats cache_stats() const override { return cache->stats(); }
  uint64_t expired_keys() const override { return cache->swept(); }
  std::unique_ptr<Cache> cache;
  engine::LabelIndex* labels;         //!< The task's labels, for "$label" outputs.
  std::vector<WindowKeyState*> rows;  //!< Per-batch scratch: each row's key state.
  WindowKeyState peek;                //!< Read-only batches: a copy of the key's state to compute on.
  KeyBuffer key;                      //!< The current row's state key.
  DistinctScratch distinct;           //!< `distinct` scratch.
  int64_t expiry_ms;                  //!< Lateness + horizon; -1: keys never expire (time_since_last).
};

//! Pulls the parts of a key's state that a window update touches towards the cache.
inline void Prefetch(const WindowKeyState* s) {
  const size_t n = s->data.size();
  if (n == 0) return;
  const double* live = s->data.data() + size_t{s->head} * s->stride;
  const double* end = s->data.data() + n;
  // Eviction reads the oldest entries, the range searches the middle, the update the newest.
  const auto span = end - live;
  for (int q = 0; q < 4; ++q) __builtin_prefetch(live + span * q / 4);
  __builtin_prefetch(end - 1);
  __builtin_prefetch(end - 9);
}

class WindowOperator final : public engine::Operator {
 public:
  //! `label_id` ≥ 0: the int64 column of the event id whose label "$label" outputs read. Each entry
  //! then ends with kLabelSlots slots: the id's bits (exact beyond 2^53) and a copy of its label
  //! record (LabelIndex) with the index revision it was read at.
  //! `keys`: the key columns (one, or a composite key's), each a string or an integer.
  WindowOperator(std::string name, engine::TableId table, std::vector<int> keys,
                 std::vector<bool> string_keys, std::vector<int> value_columns, std::vector<Output> outputs,
                 int64_t lateness, int label_id)
      : Operator(std::move(name)),
        table_(table),
        keys_(std::move(keys)),
        string_keys_(std::move(string_keys)),
        value_columns_(std::move(value_columns)),
        outputs_(std::move(outputs)),
        lateness_(lateness),
        label_id_(label_id) {
    stride_ = 1 + value_columns_.size() + (label_id_ >= 0 ? size_t{kLabelSlots} : size_t{0});
    for (Output& o : outputs_) {
      if (o.agg == Aggregate::kTimeSinceLast) {
        keep_previous_ = true;
        continue;
      }
      horizon_ = std::max(horizon_, o.window_ms + o.delay_ms);
      auto it = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) {
        return r.window_ms == o.window_ms && r.delay_ms == o.delay_ms;
      });
      o.range = static_cast<int>(it - ranges_.begin());
      if (it == ranges_.end()) ranges_.push_back({o.window_ms, o.delay_ms});
    }
  }

  base::Result<std::unique_ptr<engine::OperatorState>> MakeState(
      const engine::TaskContext& ctx) const override {
    if (label_id_ >= 0 && ctx.labels == nullptr)
      return base::FailedPrecondition("window '" + name() + "' reads $label but the task has no labels");
    VIGIL_ASSIGN_OR_RETURN(auto cache, Cache::Make(ctx.store, table_, ctx.cache_max_keys,
                                                   "window '" + name() + "'", ctx.cache_budget));
    // A label is read through the entries of its transaction, which no admitted event reads once
    // older than lateness + horizon.
    if (label_id_ >= 0) ctx.labels->Retain(lateness_ + horizon_);
    // time_since_last reads a key's previous event however old: its keys never expire.
    const int64_t expiry = keep_previous_ ? -1 : lateness_ + horizon_;
    return std::unique_ptr<engine::OperatorState>(
        std::make_unique<WindowState>(std::move(cache), ctx.labels, expiry));
  }

  base::Status Process(Batch& batch, engine::OperatorState* s) const override {
    auto* ws = static_cast<WindowState*>(s);
    if (batch.mode().read_only) return ProcessReadOnly(batch, ws);
    // Two passes: the key lookups of a batch are independent, so the CPU overlaps their cache
    // misses; the updates then run in order with the next rows' state prefetched.
    ws->rows.assign(batch.size(), nullptr);
    for (size_t row = 0; row < batch.size(); ++row) {
      if (!batch.live(row)) continue;
      VIGIL_ASSIGN_OR_RETURN(ws->rows[row], ws->cache->GetForUpdate(Key(batch, row, &ws->key)));
    }
    constexpr size_t kAhead = 6;
    for (size_t row = 0; row < batch.size(); ++row) {
      if (row + kAhead < batch.size() && ws->rows[row + kAhead] != nullptr) Prefetch(ws->rows[row + kAhead]);
      if (ws->rows[row] != nullptr) VIGIL_RETURN_IF_ERROR(UpdateRow(batch, row, ws->rows[row], ws));
    }
    return base::Status::OK();
  }

 private:
  // The row's state key, valid until the next call with the same buffer. A single key's bytes are
  // what they always were, so existing state keeps its keys.
  std::string_view Key(const Batch& batch, size_t row, KeyBuffer* buf) const {
    if (keys_.size() == 1) {
      if (string_keys_[0]) return batch.str(row, keys_[0]);
      buf->integer = batch.i64(row, keys_[0]);
      return std::string_view(reinterpret_cast<const char*>(&buf->integer), sizeof buf->integer);
    }
    buf->composite.clear();  // keeps its capacity: no allocation once it fits the longest key
    for (size_t k = 0; k < keys_.size(); ++k) {
      if (string_keys_[k]) {
        const std::string_view s = batch.str(row, keys_[k]);
        const auto size = static_cast<uint32_t>(s.size());
        buf->composite.append(reinterpret_cast<const char*>(&size), sizeof size);
        buf->composite.append(s);
      } else {
        const int64_t v = batch.i64(row, keys_[k]);
        buf->composite.append(reinterpret_cast<const char*>(&v), sizeof v);
      }
    }
    return buf->composite;
  }

  // Appends the row's event to its key's state and computes its outputs (or drops it as late).
  base::Status UpdateRow(Batch& batch, size_t row, WindowKeyState* state, WindowState* ws) const {
    // A stored state of another layout (the window's value fields changed since it was written, or
    // an older vigil wrote it) would be read as garbage: refuse it, never mix the two.
    if (!state->data.empty() && state->stride != stride_) [[unlikely]]
      return base::FailedPrecondition(
          "window '" + name() + "': the stored state has " + std::to_string(state->stride) +
          " values per event, this pipeline " + std::to_string(stride_) +
          " (its fields changed, or an older vigil wrote it); rebuild the state: a new runtime.state_dir "
          "and source.group, or vigil replay");
    const int64_t t = batch.meta(row).event_time;
    if (state->max_time != INT64_MIN && t < state->max_time - lateness_) {
      batch.Drop(row, engine::DlqReason::kLate, keys_[0]);
      return base::Status::OK();
    }
    const size_t pos = Insert(batch, row, t, state);
    Bounds bounds[kMaxRanges];
    for (size_t r = 0; r < ranges_.size(); ++r) {
      // Ranges of one delay (the usual case) end at the same entry: searched once.
      const bool same_end = r > 0 && ranges_[r].delay_ms == ranges_[r - 1].delay_ms;
      bounds[r] = Locate(*state, ranges_[r], t, pos, same_end ? &bounds[r - 1] : nullptr);
    }
    if (label_id_ >= 0) VIGIL_RETURN_IF_ERROR(ResolveLabels(state, bounds, ws->labels));
    for (const Output& o : outputs_) {
      // The entry at `pos` is the current event: its own value, and the one before it its predecessor.
      batch.f64(row, o.column) = o.range < 0
                                     ? (pos == 0 ? kNaN : static_cast<double>(t) - state->time(pos - 1))
                                     : Compute(*state, o, bounds[o.range], t, pos, &ws->distinct);
    }
    return base::Status::OK();
  }

  // Rule 8: each row is computed on a copy of its key's stored state, which stays untouched.
  base::Status ProcessReadOnly(Batch& batch, WindowState* ws) const {
    for (size_t row = 0; row < batch.size(); ++row) {
      if (!batch.live(row)) continue;
      VIGIL_ASSIGN_OR_RETURN(const bool found, ws->cache->Peek(Key(batch, row, &ws->key), &ws->peek));
      if (!found) ws->peek = WindowKeyState{};
      VIGIL_RETURN_IF_ERROR(UpdateRow(batch, row, &ws->peek, ws));
    }
    return base::Status::OK();
  }

  // Inserts the event after any with the same time and returns its index.
  size_t Insert(const Batch& batch, size_t row, int64_t t, WindowKeyState* state) const {
    const auto stride = static_cast<uint32_t>(stride_);
    if (state->data.empty()) {
      state->stride = stride;
      state->head = 0;
    }
    Evict(state, std::max(state->max_time, t));
    double entry[1 + kMaxValues + kLabelSlots];
    entry[0] = static_cast<double>(t);
    for (size_t v = 0; v < value_columns_.size(); ++v) entry[1 + v] = batch.AsDouble(row, value_columns_[v]);
    if (label_id_ >= 0) {
      double* l = entry + stride_ - kLabelSlots;
      l[kId] = std::bit_cast<double>(batch.i64(row, label_id_));
      l[kLatest] = l[kLatestTime] = l[kPrevious] = l[kPreviousTime] = kNaN;  // label unknown yet
      l[kRevision] = -1;
    }
    const size_t n = state->size();
    const size_t pos = (n == 0 || state->time(n - 1) <= entry[0]) ? n : state->UpperBound(entry[0], n);
    state->Insert(pos, entry);
    state->max_time = std::max(state->max_time, t);
    return pos;
  }

  // Drops events no future in-time event can see: older than latest − lateness − longest window.
  // With time_since_last the newest of them stays: it precedes every event still admitted, so it is
  // the previous event of the next one inserted first. No window sees it: every admitted event's
  // windows start after the cutoff.
  void Evict(WindowKeyState* state, int64_t latest) const {
    if (state->max_time == INT64_MIN) return;
    const auto cutoff = static_cast<double>(latest - lateness_ - horizon_);
    const size_t n = state->size();
    size_t drop = 0;
    while (drop < n && state->time(drop) <= cutoff) ++drop;
    if (keep_previous_ && drop > 0) --drop;
    if (drop > 0) state->Evict(drop);
  }

  // `same_end`: the bounds of a range with the same delay, or null.
  static Bounds Locate(const WindowKeyState& s, const Range& r, int64_t t, size_t pos,
                       const Bounds* same_end) {
    const auto hi_t = static_cast<double>(t - r.delay_ms);
    const auto lo_t = static_cast<double>(t - r.delay_ms - r.window_ms);
    // Without delay the range ends at the current event (inserted after its earlier twins).
    const size_t hi = same_end != nullptr ? same_end->hi
                      : r.delay_ms == 0   ? pos + 1
                                          : s.UpperBound(hi_t, s.size());
    return {s.UpperBound(lo_t, hi), hi};
  }

  // Makes the label slots of every entry that a "$label" output will read hold its id's label record.
  // A record once seen is cached in the entry, so each is looked up once, and again only after the
  // index took a correction (its revision moved). Only an entry whose record changed is marked for
  // the store: a stored entry with an older revision is merely looked up again once reloaded.
  base::Status ResolveLabels(WindowKeyState* s, const Bounds* bounds, engine::LabelIndex* labels) const {
    const auto revision = static_cast<double>(labels->revision());
    for (const Output& o : outputs_) {
      if (o.value != kLabelValue) continue;
      const Bounds b = bounds[o.range];
      for (size_t i = b.lo; i < b.hi; ++i) {
        double* l = s->entry(i) + stride_ - kLabelSlots;
        if (!std::isnan(l[kLatestTime]) && l[kRevision] == revision) continue;  // resolved before
        VIGIL_ASSIGN_OR_RETURN(const engine::LabelRecord* rec,
                               labels->Lookup(std::bit_cast<int64_t>(l[kId])));
        if (rec == nullptr) continue;
        const auto time = [](int64_t ms) {
          return ms == engine::LabelRecord::kNever ? kNaN : static_cast<double>(ms);
        };
        const double record[] = {rec->label, time(rec->time_ms), rec->previous_label,
                                 time(rec->previous_time_ms)};
        static_assert(kPreviousTime - kLatest + 1 == std::size(record));
        if (std::memcmp(l + kLatest, record, sizeof record) != 0) {
          std::memcpy(l + kLatest, record, sizeof record);
          s->Touch(i);
        }
        l[kRevision] = revision;
      }
    }
    return base::Status::OK();
  }

  // Output `o` over the entries in `b`, for the event at `pos`, time t.
  double Compute(const WindowKeyState& s, const Output& o, Bounds b, int64_t t, size_t pos,
                 DistinctScratch* scratch) const {
    // `where`: an entry whose filter column is 0 or NaN is not in the window. NaN stands for it in
    // `value`, which every aggregate below skips.
    const size_t filter = o.where < 0 ? 0 : static_cast<size_t>(1 + o.where);
    const auto passes = [&](size_t i) {
      const double w = s.entry(i)[filter];
      return w != 0 && !std::isnan(w);
    };
    const auto counted = [&] {
      if (filter == 0) return static_cast<double>(b.hi - b.lo);
      size_t n = 0;
      for (size_t i = b.lo; i < b.hi; ++i) n += passes(i);
      return static_cast<double>(n);
    };
    if (o.agg == Aggregate::kCount) return counted();
    const bool is_label = o.value == kLabelValue;
    const size_t slot = static_cast<size_t>(1 + o.value);
    const double now = static_cast<double>(t);
    // A label counts only if it was known at the event's time: the value known then.
    const auto value = [&](size_t i) {
      if (filter != 0 && !passes(i)) return kNaN;
      const double* e = s.entry(i);
      return is_label ? LabelAt(e + stride_ - kLabelSlots, now) : e[slot];
    };
    if (o.agg == Aggregate::kDistinct) return DistinctCount(value, b.lo, b.hi, scratch);
    if (o.agg == Aggregate::kLast) {
      for (size_t i = b.hi; i > b.lo; --i)
        if (const double v = value(i - 1); !std::isnan(v)) return v;
      return kNaN;
    }
    const Moments m = Summarize(value, b.lo, b.hi);
    // zscore and ratio_to_* are never over "$label" (config refuses it): the slot is the field's.
    const double current = is_label ? kNaN : s.entry(pos)[slot];
    switch (o.agg) {
      case Aggregate::kSum:
        return m.sum;
      case Aggregate::kAvg:
        return m.mean();
      case Aggregate::kMin:
        return m.min;
      case Aggregate::kMax:
        return m.max;
      case Aggregate::kRatio: {
        double den = 0;
        if (o.denominator < 0) {
          den = counted();
        } else {
          for (size_t i = b.lo; i < b.hi; ++i)
            if (filter == 0 || passes(i)) den += s.entry(i)[1 + o.denominator];
        }
        return den == 0 ? 0.0 : m.sum / den;
      }
      case Aggregate::kStddev:
        return PopulationStddev(value, b.lo, b.hi, m);
      case Aggregate::kZscore:
        return ZScore(current, m, PopulationStddev(value, b.lo, b.hi, m));
      case Aggregate::kRatioToSum:
        return RatioTo(current, m.sum);
      case Aggregate::kRatioToAvg:
        return RatioTo(current, m.mean());
      case Aggregate::kRatioToMin:
        return RatioTo(current, m.min);
      case Aggregate::kRatioToMax:
        return RatioTo(current, m.max);
      case Aggregate::kCount:
      case Aggregate::kDistinct:
      case Aggregate::kTimeSinceLast:
      case Aggregate::kLast:
        break;
    }
    return kNaN;
  }

  // The label value of an entry's cached record known at `now`, or NaN.
  static double LabelAt(const double* l, double now) {
    if (l[kLatestTime] <= now) return l[kLatest];
    return l[kPreviousTime] <= now ? l[kPrevious] : kNaN;
  }

  engine::TableId table_;
  std::vector<int> keys_;
  std::vector<bool> string_keys_;
  std::vector<int> value_columns_;
  std::vector<Output> outputs_;
  int64_t lateness_;
  int64_t horizon_ = 0;
  std::vector<Range> ranges_;
  int label_id_;
  size_t stride_;
  bool keep_previous_ = false;  // a time_since_last output: Evict keeps the newest evicted event
};

base::Result<int> BindValue(engine::BindContext& ctx, const config::WindowOutputSpec& o,
                            const std::string& field, std::vector<int>* value_columns) {
  const int column = ctx.schema.Find(field);
  if (column < 0) return config::ConfigError(o.loc, "unknown column '" + field + "'");
  if (ctx.schema.column(column).type == config::FieldType::kString)
    return config::ConfigError(o.loc, "column '" + field + "' is a string; window aggregates need numbers");
  auto it = std::find(value_columns->begin(), value_columns->end(), column);
  if (it != value_columns->end()) return static_cast<int>(it - value_columns->begin());
  if (value_columns->size() == kMaxValues)
    return config::ConfigError(o.loc, "a window reads at most 16 distinct fields");
  value_columns->push_back(column);
  return static_cast<int>(value_columns->size()) - 1;
}

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeWindow(engine::BindContext& ctx) {
  const auto& spec = std::get<config::WindowSpec>(ctx.spec.params);
  // Event times are within ±base::kMaxAbsTimeMs (parse); spans subtracted from them must be too, or
  // t − delay − window and latest − lateness − horizon overflow.
  if (spec.lateness_ms > base::kMaxAbsTimeMs)
    return config::ConfigError(ctx.spec.loc, "lateness is too long: at most 2^53 ms (285,000 years)");
  std::vector<int> keys;
  std::vector<bool> string_keys;
  for (const std::string& name : spec.key) {
    const int key = ctx.schema.Find(name);
    if (key < 0) return config::ConfigError(ctx.spec.loc, "window key '" + name + "' is not a column");
    if (ctx.schema.column(key).type == config::FieldType::kDouble)
      return config::ConfigError(ctx.spec.loc,
                                 "window key '" + name + "' must be a string or integer column");
    keys.push_back(key);
    string_keys.push_back(ctx.schema.column(key).type == config::FieldType::kString);
  }
  std::vector<int> value_columns;
  std::vector<Output> outputs;
  int label_id = -1;
  for (const auto& o : spec.outputs) {
    if (o.window_ms > base::kMaxAbsTimeMs || o.delay_ms > base::kMaxAbsTimeMs)
      return config::ConfigError(o.loc, "window and delay are too long: at most 2^53 ms (285,000 years)");
    Output out{-1, o.agg, -1, -1, o.window_ms, o.delay_ms};
    const bool valueless = o.agg == Aggregate::kCount || o.agg == Aggregate::kTimeSinceLast;
    if (!valueless && o.field == kLabelField) {
      const auto& labels = ctx.pipeline.labels;
      if (!labels.enabled)
        return config::ConfigError(o.loc, "'$label' needs a labels: section in the pipeline");
      if (label_id < 0) {
        label_id = ctx.schema.Find(labels.id);  // a required int64 field (config checks it)
        if (label_id < 0) return config::ConfigError(o.loc, "unknown column '" + labels.id + "'");
      }
      out.value = kLabelValue;
    } else if (!valueless) {
      VIGIL_ASSIGN_OR_RETURN(out.value, BindValue(ctx, o, o.field, &value_columns));
    }
    if (o.agg == Aggregate::kRatio && !o.denominator.empty()) {
      VIGIL_ASSIGN_OR_RETURN(out.denominator, BindValue(ctx, o, o.denominator, &value_columns));
    }
    if (!o.where.empty()) {
      VIGIL_ASSIGN_OR_RETURN(out.where, BindValue(ctx, o, o.where, &value_columns));
    }
    auto column = ctx.schema.Add(o.name, config::FieldType::kDouble);
    if (!column.ok()) return config::ConfigError(o.loc, column.status().message());
    out.column = *column;
    outputs.push_back(out);
    if (outputs.size() > kMaxRanges) return config::ConfigError(o.loc, "a window has at most 32 outputs");
  }
  return std::unique_ptr<engine::Operator>(std::make_unique<WindowOperator>(
      ctx.spec.name, ctx.table, std::move(keys), std::move(string_keys), std::move(value_columns),
      std::move(outputs), spec.lateness_ms, label_id));
}

}  // namespace vigil::operators
