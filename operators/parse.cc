#include "operators/parse.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "base/time.h"

namespace vigil::operators {
namespace {

using config::FieldSpec;
using config::FieldType;
using engine::Batch;
using engine::DlqReason;

//! True when `token` (a number's raw JSON, maybe followed by whitespace) follows JSON's number
//! grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view token) {
  while (!token.empty() &&
         (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r'))
    token.remove_suffix(1);
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
    return i > from;
  };
  if (i < token.size() && token[i] == '-') ++i;
  if (i < token.size() && token[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < token.size() && token[i] == '.' && (++i, !digits())) return false;
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == token.size();
}

//! True when `value`, one the schema does not name, is well-formed JSON. On-demand parsing checks
//! only what it reads, so a skipped value could hide `tru` or `[1,,2]`; this reads it all (strings
//! unescaped, numbers by grammar, so a number too large for a double is still well-formed).
bool WellFormed(simdjson::ondemand::value value) {
  simdjson::ondemand::json_type type;
  if (value.type().get(type)) return false;
  switch (type) {
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array array;
      if (value.get_array().get(array)) return false;
      for (auto element : array) {
        simdjson::ondemand::value v;
        if (std::move(element).get(v) || !WellFormed(v)) return false;
      }
      return true;
    }
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object object;
      if (value.get_object().get(object)) return false;
      for (auto field_result : object) {
        simdjson::ondemand::field field;
        std::string_view key;
        if (std::move(field_result).get(field) || field.unescaped_key().get(key) ||
            !WellFormed(field.value()))
          return false;
      }
      return true;
    }
    case simdjson::ondemand::json_type::number:
      return IsJsonNumber(value.raw_json_token());
    case simdjson::ondemand::json_type::string: {
      std::string_view v;
      return !value.get_string().get(v);
    }
    case simdjson::ondemand::json_type::boolean: {
      bool v;
      return !value.get_bool().get(v);
    }
    case simdjson::ondemand::json_type::null: {
      bool is_null = false;
      return !value.is_null().get(is_null) && is_null;
    }
  }
  return false;
}

//! Per-task scratch: the simdjson parser and a padded copy of the current payload; and the
//! partition's event-time progress, for the `future` check.
class ParseState final : public engine::OperatorState {
 public:
  simdjson::ondemand::parser parser;
  std::string padded;
  std::vector<uint8_t> seen;
  //! Latest event time accepted on this partition since the task was opened (or restored), epoch ms.
  int64_t watermark = INT64_MIN;
};

class ParseOperator final : public engine::Operator {
 public:
  ParseOperator(std::string name, std::vector<FieldSpec> fields, int event_time_index, size_t max_bytes,
                int64_t max_future_ms)
      : Operator(std::move(name)),
        fields_(std::move(fields)),
        event_time_(event_time_index),
        max_bytes_(max_bytes),
        max_future_ms_(max_future_ms) {}

  base::Result<std::unique_ptr<engine::OperatorState>> MakeState(const engine::TaskContext&) const override {
    auto state = std::make_unique<ParseState>();
    state->seen.resize(fields_.size());
    return std::unique_ptr<engine::OperatorState>(std::move(state));
  }

  base::Status Process(Batch& batch, engine::OperatorState* s) const override {
    auto* state = static_cast<ParseState*>(s);
    const auto raw = batch.raw();
    for (size_t row = 0; row < batch.size(); ++row) {
      int column = -1;
      const DlqReason reason = ParseRow(batch, row, raw[row], state, &column);
      if (reason != DlqReason::kNone) batch.Drop(row, reason, column);
    }
    DropFuture(batch, state);
    return base::Status::OK();
  }

 private:
  // One device with its clock years ahead would otherwise raise its card's (or its terminal's)
  // latest time in every window, and each real event of that key after it would be `late`. The
  // reference is the partition's progress, or the wall clock when that is later: the wall clock
  // covers a partition's first events, and past data (a replay of 2018) is accepted live and in a
  // replay alike. A read-only query (POST /v1/score) is judged too but moves nothing.
  void DropFuture(Batch& batch, ParseState* state) const {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    int64_t watermark = state->watermark;
    for (size_t row = 0; row < batch.size(); ++row) {
      if (!batch.live(row)) continue;
      const int64_t t = batch.meta(row).event_time;
      if (t - std::max(watermark, now) > max_future_ms_) {
        batch.Drop(row, DlqReason::kFuture, event_time_);
        continue;
      }
      watermark = std::max(watermark, t);
    }
    if (!batch.mode().read_only) state->watermark = watermark;
  }

  int FindField(std::string_view key) const {
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i].name == key) return static_cast<int>(i);
    return -1;
  }

  DlqReason ParseRow(Batch& batch, size_t row, const engine::RawEvent& ev, ParseState* st,
                     int* column) const {
    if (ev.size > max_bytes_) return DlqReason::kTooLarge;
    if (!simdjson::validate_utf8(ev.data, ev.size)) return DlqReason::kInvalidUtf8;
    st->padded.assign(ev.data, ev.size);
    st->padded.append(simdjson::SIMDJSON_PADDING, '\0');
    std::fill(st->seen.begin(), st->seen.end(), 0);
    simdjson::ondemand::document doc;
    if (st->parser.iterate(st->padded.data(), ev.size, st->padded.size()).get(doc))
      return DlqReason::kInvalidJson;
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) return DlqReason::kInvalidJson;
    for (auto field_result : obj) {
      simdjson::ondemand::field field;
      if (std::move(field_result).get(field)) return DlqReason::kInvalidJson;
      std::string_view key;
      if (field.unescaped_key().get(key)) return DlqReason::kInvalidJson;
      const int i = FindField(key);
      if (i < 0) {  // a field the schema does not name: skipped, once known to be well-formed
        if (!WellFormed(field.value())) return DlqReason::kInvalidJson;
        continue;
      }
      *column = i;
      const DlqReason r = ReadValue(batch, row, i, field.value(), st);
      if (r != DlqReason::kNone) return r;
    }
    // Anything after the object (a second document, garbage) makes the event invalid.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return DlqReason::kInvalidJson;
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i].required && !st->seen[i]) {
        *column = static_cast<int>(i);
        return DlqReason::kMissingField;
      }
    }
    batch.meta(row).event_time = batch.i64(row, event_time_);
    *column = -1;
    return DlqReason::kNone;
  }

  DlqReason CheckRange(const FieldSpec& f, double v) const {
    if ((f.min && v < *f.min) || (f.max && v > *f.max) || std::isnan(v)) return DlqReason::kOutOfRange;
    return DlqReason::kNone;
  }

  DlqReason ReadValue(Batch& batch, size_t row, int i, simdjson::ondemand::value value,
                      ParseState* st) const {
    const FieldSpec& f = fields_[static_cast<size_t>(i)];
    simdjson::ondemand::json_type type;
    if (value.type().get(type)) return DlqReason::kInvalidJson;
    if (type == simdjson::ondemand::json_type::null) {
      bool is_null = false;  // the type comes from the first byte: "nul" or "nullx" is not null
      if (value.is_null().get(is_null) || !is_null) return DlqReason::kInvalidJson;
      return DlqReason::kNone;  // null = absent; required fields are caught afterwards
    }
    st->seen[static_cast<size_t>(i)] = 1;
    switch (f.type) {
      case FieldType::kDouble: {
        double v;
        if (type != simdjson::ondemand::json_type::number) return DlqReason::kWrongType;
        if (value.get_double().get(v)) return DlqReason::kWrongType;
        batch.f64(row, i) = v;
        return CheckRange(f, v);
      }
      case FieldType::kInt64: {
        int64_t v;
        if (type != simdjson::ondemand::json_type::number) return DlqReason::kWrongType;
        if (value.get_int64().get(v)) return DlqReason::kWrongType;
        if (v == engine::kNullInt) return DlqReason::kOutOfRange;  // INT64_MIN is how a cell says null
        batch.i64(row, i) = v;
        return CheckRange(f, static_cast<double>(v));
      }
      case FieldType::kBool: {
        bool v;
        if (value.get_bool().get(v)) return DlqReason::kWrongType;
        batch.i64(row, i) = v ? 1 : 0;
        return DlqReason::kNone;
      }
      case FieldType::kString: {
        std::string_view v;
        if (value.get_string().get(v)) return DlqReason::kWrongType;
        if (!f.allowed.empty() && std::find(f.allowed.begin(), f.allowed.end(), v) == f.allowed.end())
          return DlqReason::kInvalidEnum;
        batch.SetString(row, i, v);
        return DlqReason::kNone;
      }
      case FieldType::kTimestamp:
        return ReadTimestamp(batch, row, i, f, value, type);
    }
    return DlqReason::kWrongType;
  }

  DlqReason ReadTimestamp(Batch& batch, size_t row, int i, const FieldSpec& f,
                          simdjson::ondemand::value value, simdjson::ondemand::json_type type) const {
    int64_t ms = 0;
    if (f.time_format == config::TimeFormat::kIso8601) {
      std::string_view text;
      if (value.get_string().get(text)) return DlqReason::kWrongType;
      auto parsed = base::ParseIso8601Ms(text);
      if (!parsed) return DlqReason::kWrongType;
      ms = *parsed;
    } else {
      if (type != simdjson::ondemand::json_type::number) return DlqReason::kWrongType;
      double v;
      if (value.get_double().get(v) || !std::isfinite(v)) return DlqReason::kWrongType;
      const double scaled = f.time_format == config::TimeFormat::kEpochSeconds ? v * 1000 : v;
      // Also keeps the conversion defined: a double beyond int64 has none.
      if (!(std::abs(scaled) <= static_cast<double>(base::kMaxAbsTimeMs))) return DlqReason::kOutOfRange;
      ms = f.time_format == config::TimeFormat::kEpochSeconds ? static_cast<int64_t>(std::llround(scaled))
                                                              : static_cast<int64_t>(scaled);
    }
    batch.i64(row, i) = ms;
    return CheckRange(f, static_cast<double>(ms));
  }

  std::vector<FieldSpec> fields_;
  int event_time_;
  size_t max_bytes_;
  int64_t max_future_ms_;
};

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeParse(engine::BindContext& ctx) {
  const config::SchemaSpec& schema = ctx.pipeline.schema;
  if (ctx.schema.size() != 0) return config::ConfigError(ctx.spec.loc, "parse must be the first operator");
  int event_time = -1;
  for (const FieldSpec& f : schema.fields) {
    auto index = ctx.schema.Add(f.name, f.type);
    if (!index.ok()) return config::ConfigError(f.loc, index.status().message());
    if (f.name == schema.event_time) event_time = *index;
  }
  if (event_time < 0)
    return config::ConfigError(schema.loc,
                               "event_time field '" + schema.event_time + "' is not in the schema");
  return std::unique_ptr<engine::Operator>(std::make_unique<ParseOperator>(
      ctx.spec.name, schema.fields, event_time, schema.max_event_bytes, schema.max_future_ms));
}

}  // namespace vigil::operators
