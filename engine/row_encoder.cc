#include "engine/row_encoder.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace vigil::engine {

void AppendJsonDouble(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  // Whole numbers (counts, flags) are common features: print them as integers, exactly.
  if (v == std::trunc(v) && std::abs(v) < 9.007199254740992e15) {
    auto res = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    out->append(buf, res.ptr);
    return;
  }
  // Shortest form that reads back to the same bits (Dragonbox).
  char* end = fmt::format_to(buf, FMT_COMPILE("{}"), v);
  out->append(buf, end);
}

namespace {

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

void AppendCell(const Batch& batch, size_t row, int column, FieldType type, std::string* out) {
  if (batch.is_null(row, column)) {
    out->append("null");
    return;
  }
  switch (type) {
    case FieldType::kDouble:
      AppendJsonDouble(batch.f64(row, column), out);
      break;
    case FieldType::kString:
      AppendJsonString(batch.str(row, column), out);
      break;
    case FieldType::kBool:
      out->append(batch.i64(row, column) ? "true" : "false");
      break;
    case FieldType::kInt64:
    case FieldType::kTimestamp:
      AppendInt(batch.i64(row, column), out);
      break;
  }
}

}  // namespace

base::Result<RowEncoder> RowEncoder::Make(const Schema& schema,
                                          const std::vector<config::OutputField>& fields,
                                          const std::string& key_column) {
  RowEncoder enc;
  auto add = [&](const std::string& name, int column) {
    std::string prefix = enc.fields_.empty() ? "{" : ",";
    AppendJsonString(name, &prefix);
    prefix.push_back(':');
    enc.fields_.push_back(Field{std::move(prefix), column, schema.column(column).type});
    if (!enc.csv_header_.empty()) enc.csv_header_.push_back(',');
    enc.csv_header_.append(name);
  };
  if (fields.empty()) {
    for (int c = 0; c < schema.size(); ++c) add(schema.column(c).name, c);
  } else {
    for (const auto& f : fields) {
      int c = schema.Find(f.from);
      if (c < 0)
        return config::ConfigError(
            f.loc, "output field '" + f.from +
                       "' is not a column; known columns are the schema fields and operator outputs");
      add(f.name, c);
    }
  }
  if (!key_column.empty()) {
    enc.key_column_ = schema.Find(key_column);
    if (enc.key_column_ < 0) return base::InvalidArgument("key column '" + key_column + "' does not exist");
    enc.key_type_ = schema.column(enc.key_column_).type;
  }
  return enc;
}

void RowEncoder::EncodeRow(const Batch& batch, size_t row, std::string* out) const {
  if (fields_.empty()) {
    out->append("{}");
    return;
  }
  for (const Field& f : fields_) {
    out->append(f.prefix);
    AppendCell(batch, row, f.column, f.type, out);
  }
  out->push_back('}');
}

void RowEncoder::EncodeCsvRow(const Batch& batch, size_t row, std::string* out) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i > 0) out->push_back(',');
    const Field& f = fields_[i];
    if (batch.is_null(row, f.column)) continue;
    AppendCell(batch, row, f.column, f.type, out);  // strings come out JSON-quoted, which CSV reads too
  }
}

void RowEncoder::EncodeKey(const Batch& batch, size_t row, std::string* out) const {
  if (key_column_ < 0 || batch.is_null(row, key_column_)) return;
  if (key_type_ == FieldType::kString)
    out->append(batch.str(row, key_column_));
  else if (key_type_ == FieldType::kDouble)
    AppendJsonDouble(batch.f64(row, key_column_), out);
  else
    AppendInt(batch.i64(row, key_column_), out);
}

void RowEncoder::EncodeLive(const Batch& batch, OutBatch* out, config::SinkSpec::Format format) const {
  const bool csv = format == config::SinkSpec::Format::kCsv;
  out->Clear();
  for (size_t r = 0; r < batch.size(); ++r) {
    if (!batch.live(r)) continue;
    OutRecord rec;
    rec.key_offset = static_cast<uint32_t>(out->buffer.size());
    EncodeKey(batch, r, &out->buffer);
    rec.key_size = static_cast<uint32_t>(out->buffer.size()) - rec.key_offset;
    rec.value_offset = static_cast<uint32_t>(out->buffer.size());
    if (csv)
      EncodeCsvRow(batch, r, &out->buffer);
    else
      EncodeRow(batch, r, &out->buffer);
    rec.value_size = static_cast<uint32_t>(out->buffer.size()) - rec.value_offset;
    rec.source_offset = batch.meta(r).offset;
    rec.timestamp_ms = batch.meta(r).event_time;
    out->records.push_back(rec);
  }
}

void RowEncoder::EncodeDropped(const Batch& batch, OutBatch* out) {
  out->Clear();
  const auto raw = batch.raw();
  for (size_t r = 0; r < batch.size(); ++r) {
    if (batch.live(r)) continue;
    OutRecord rec;
    rec.key_offset = static_cast<uint32_t>(out->buffer.size());
    if (raw[r].key != nullptr) out->buffer.append(raw[r].key, raw[r].key_size);
    rec.key_size = static_cast<uint32_t>(out->buffer.size()) - rec.key_offset;
    rec.value_offset = static_cast<uint32_t>(out->buffer.size());
    out->buffer.append(raw[r].data, raw[r].size);
    rec.value_size = raw[r].size;
    rec.source_offset = batch.meta(r).offset;
    rec.timestamp_ms = batch.meta(r).event_time;
    rec.reason = batch.meta(r).reason;
    const int detail = batch.meta(r).detail_column;
    if (detail >= 0) rec.detail = batch.schema().column(detail).name;
    out->records.push_back(rec);
  }
}

}  // namespace vigil::engine
