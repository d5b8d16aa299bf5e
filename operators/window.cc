#include "operators/window.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "operators/window_state.h"

namespace vigil::operators {
namespace {

using config::Aggregate;
using engine::Batch;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

//! A bound output: where to write, what to compute, over which slot of the per-event values.
struct Output {
  int column;
  Aggregate agg;
  int value = -1;        // index into the event's values, or -1
  int denominator = -1;  // ratio only; -1 = count
  int64_t window_ms;
  int64_t delay_ms;
};

using Cache = engine::KeyedCache<WindowKeyState, WindowKeyCodec>;

class WindowState final : public engine::OperatorState {
 public:
  WindowState(const engine::TaskContext& ctx, engine::TableId table) : cache(ctx.store, table, ctx.cache_max_keys) {}
  void Flush() override { cache.Flush(); }
  size_t cached_keys() const override { return cache.size(); }
  engine::CacheStats cache_stats() const override { return cache.stats(); }
  Cache cache;
};

class WindowOperator final : public engine::Operator {
 public:
  WindowOperator(std::string name, engine::TableId table, int key, std::vector<int> value_columns,
                 std::vector<Output> outputs, int64_t lateness)
      : Operator(std::move(name)), table_(table), key_(key), value_columns_(std::move(value_columns)),
        outputs_(std::move(outputs)), lateness_(lateness) {
    for (const Output& o : outputs_) horizon_ = std::max(horizon_, o.window_ms + o.delay_ms);
  }

  base::Result<std::unique_ptr<engine::OperatorState>> MakeState(const engine::TaskContext& ctx) const override {
    return std::unique_ptr<engine::OperatorState>(std::make_unique<WindowState>(ctx, table_));
  }

  base::Status Process(Batch& batch, engine::OperatorState* s) const override {
    auto& cache = static_cast<WindowState*>(s)->cache;
    const bool string_key = batch.schema().column(key_).type == config::FieldType::kString;
    for (size_t row = 0; row < batch.size(); ++row) {
      if (!batch.live(row)) continue;
      int64_t int_key = 0;
      std::string_view key;
      if (string_key) {
        key = batch.str(row, key_);
      } else {
        int_key = batch.i64(row, key_);
        key = std::string_view(reinterpret_cast<const char*>(&int_key), sizeof int_key);
      }
      VIGIL_ASSIGN_OR_RETURN(WindowKeyState * state, cache.GetForUpdate(key));
      const int64_t t = batch.meta(row).event_time;
      if (state->max_time != INT64_MIN && t < state->max_time - lateness_) {
        batch.Drop(row, engine::DlqReason::kLate, batch.schema().Find(batch.schema().column(key_).name));
        continue;
      }
      Insert(batch, row, t, state);
      for (const Output& o : outputs_) batch.f64(row, o.column) = Compute(*state, o, t);
    }
    return base::Status::OK();
  }

 private:
  void Insert(const Batch& batch, size_t row, int64_t t, WindowKeyState* state) const {
    const size_t stride = value_columns_.size();
    if (state->max_time != INT64_MIN && !state->times.empty()) Evict(state, std::max(state->max_time, t));
    const auto pos = static_cast<size_t>(std::upper_bound(state->times.begin(), state->times.end(), t) - state->times.begin());
    state->times.insert(state->times.begin() + static_cast<std::ptrdiff_t>(pos), t);
    double vals[16];
    for (size_t v = 0; v < stride; ++v) vals[v] = batch.AsDouble(row, value_columns_[v]);
    state->values.insert(state->values.begin() + static_cast<std::ptrdiff_t>(pos * stride), vals, vals + stride);
    state->max_time = std::max(state->max_time, t);
  }

  // Drops events no future in-time event can see: older than latest − lateness − longest window.
  void Evict(WindowKeyState* state, int64_t latest) const {
    const int64_t cutoff = latest - lateness_ - horizon_;
    const auto n = static_cast<size_t>(std::upper_bound(state->times.begin(), state->times.end(), cutoff) - state->times.begin());
    if (n == 0) return;
    state->times.erase(state->times.begin(), state->times.begin() + static_cast<std::ptrdiff_t>(n));
    const size_t stride = value_columns_.size();
    state->values.erase(state->values.begin(), state->values.begin() + static_cast<std::ptrdiff_t>(n * stride));
  }

  double Compute(const WindowKeyState& s, const Output& o, int64_t t) const {
    const int64_t hi_t = t - o.delay_ms;
    const int64_t lo_t = hi_t - o.window_ms;
    const auto lo = static_cast<size_t>(std::upper_bound(s.times.begin(), s.times.end(), lo_t) - s.times.begin());
    // With no delay the current event is the last one with time t (it was inserted after its twins).
    const auto hi = static_cast<size_t>(std::upper_bound(s.times.begin(), s.times.end(), hi_t) - s.times.begin());
    const size_t stride = value_columns_.size();
    if (o.agg == Aggregate::kCount) return static_cast<double>(hi - lo);
    double sum = 0, den = 0, mn = kNaN, mx = kNaN;
    size_t n = 0;
    for (size_t i = lo; i < hi; ++i) {
      const double v = s.values[i * stride + static_cast<size_t>(o.value)];
      if (o.agg == Aggregate::kRatio) den += o.denominator < 0 ? 1.0 : s.values[i * stride + static_cast<size_t>(o.denominator)];
      if (std::isnan(v)) continue;
      sum += v;
      ++n;
      if (!(v >= mn)) mn = v;
      if (!(v <= mx)) mx = v;
    }
    switch (o.agg) {
      case Aggregate::kSum: return sum;
      case Aggregate::kAvg: return n ? sum / static_cast<double>(n) : kNaN;
      case Aggregate::kMin: return mn;
      case Aggregate::kMax: return mx;
      case Aggregate::kRatio: return den == 0 ? 0.0 : sum / den;
      case Aggregate::kCount: break;
    }
    return kNaN;
  }

  engine::TableId table_;
  int key_;
  std::vector<int> value_columns_;
  std::vector<Output> outputs_;
  int64_t lateness_;
  int64_t horizon_ = 0;
};

base::Result<int> BindValue(engine::BindContext& ctx, const config::WindowOutputSpec& o, const std::string& field,
                            std::vector<int>* value_columns) {
  const int column = ctx.schema.Find(field);
  if (column < 0) return config::ConfigError(o.loc, "unknown column '" + field + "'");
  if (ctx.schema.column(column).type == config::FieldType::kString)
    return config::ConfigError(o.loc, "column '" + field + "' is a string; window aggregates need numbers");
  auto it = std::find(value_columns->begin(), value_columns->end(), column);
  if (it != value_columns->end()) return static_cast<int>(it - value_columns->begin());
  if (value_columns->size() == 16) return config::ConfigError(o.loc, "a window reads at most 16 distinct fields");
  value_columns->push_back(column);
  return static_cast<int>(value_columns->size()) - 1;
}

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeWindow(engine::BindContext& ctx) {
  const auto& spec = std::get<config::WindowSpec>(ctx.spec.params);
  const int key = ctx.schema.Find(spec.key);
  if (key < 0) return config::ConfigError(ctx.spec.loc, "window key '" + spec.key + "' is not a column");
  if (ctx.schema.column(key).type == config::FieldType::kDouble)
    return config::ConfigError(ctx.spec.loc, "window key '" + spec.key + "' must be a string or integer column");
  std::vector<int> value_columns;
  std::vector<Output> outputs;
  for (const auto& o : spec.outputs) {
    Output out{-1, o.agg, -1, -1, o.window_ms, o.delay_ms};
    if (o.agg != Aggregate::kCount) {
      VIGIL_ASSIGN_OR_RETURN(out.value, BindValue(ctx, o, o.field, &value_columns));
    }
    if (o.agg == Aggregate::kRatio && !o.denominator.empty()) {
      VIGIL_ASSIGN_OR_RETURN(out.denominator, BindValue(ctx, o, o.denominator, &value_columns));
    }
    auto column = ctx.schema.Add(o.name, config::FieldType::kDouble);
    if (!column.ok()) return config::ConfigError(o.loc, column.status().message());
    out.column = *column;
    outputs.push_back(out);
  }
  return std::unique_ptr<engine::Operator>(std::make_unique<WindowOperator>(
      ctx.spec.name, ctx.table, key, std::move(value_columns), std::move(outputs), spec.lateness_ms));
}

}  // namespace vigil::operators
