#include "engine/batch.h"

#include <cmath>
#include <limits>

namespace vigil::engine {

std::string_view DlqReasonName(DlqReason reason) {
  switch (reason) {
    case DlqReason::kNone:
      return "none";
    case DlqReason::kTooLarge:
      return "too_large";
    case DlqReason::kInvalidJson:
      return "invalid_json";
    case DlqReason::kInvalidUtf8:
      return "invalid_utf8";
    case DlqReason::kMissingField:
      return "missing_field";
    case DlqReason::kWrongType:
      return "wrong_type";
    case DlqReason::kOutOfRange:
      return "out_of_range";
    case DlqReason::kInvalidEnum:
      return "invalid_enum";
    case DlqReason::kLate:
      return "late";
    case DlqReason::kFuture:
      return "future";
  }
  return "unknown";
}

base::Result<int> Schema::Add(std::string name, FieldType type) {
  if (Find(name) >= 0) return base::InvalidArgument("column '" + name + "' is defined twice");
  columns_.push_back(Column{std::move(name), type});
  return static_cast<int>(columns_.size()) - 1;
}

int Schema::Find(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i].name == name) return static_cast<int>(i);
  return -1;
}

void Batch::Reset(std::span<const RawEvent> raw, int32_t partition) {
  raw_ = raw;
  partition_ = partition;
  rows_ = raw.size();
  const size_t width = static_cast<size_t>(schema_->size());
  if (rows_ > capacity_) {
    capacity_ = rows_;
    slots_.resize(capacity_ * width);
    meta_.resize(capacity_);
  }
  arena_.clear();
  for (int c = 0; c < schema_->size(); ++c) {
    Slot* col = column(c);
    switch (schema_->column(c).type) {
      case FieldType::kDouble:
        for (size_t r = 0; r < rows_; ++r) col[r].f64 = std::numeric_limits<double>::quiet_NaN();
        break;
      case FieldType::kString:
        for (size_t r = 0; r < rows_; ++r) col[r].str = {0, kNullLen};
        break;
      default:
        for (size_t r = 0; r < rows_; ++r) col[r].i64 = kNullInt;
    }
  }
  for (size_t r = 0; r < rows_; ++r) meta_[r] = RowMeta{raw[r].offset, 0, DlqReason::kNone, -1};
}

std::string_view Batch::str(size_t row, int c) const {
  const Slot& s = column(c)[row];
  if (s.str.length == kNullLen) return {};
  return std::string_view(arena_.data() + s.str.offset, s.str.length);
}

bool Batch::is_null(size_t row, int c) const {
  const Slot& s = column(c)[row];
  switch (schema_->column(c).type) {
    case FieldType::kDouble:
      return std::isnan(s.f64);
    case FieldType::kString:
      return s.str.length == kNullLen;
    default:
      return s.i64 == kNullInt;
  }
}

void Batch::SetString(size_t row, int c, std::string_view value) {
  Slot& s = column(c)[row];
  s.str.offset = static_cast<uint32_t>(arena_.size());
  s.str.length = static_cast<uint32_t>(value.size());
  arena_.append(value);
}

double Batch::AsDouble(size_t row, int c) const {
  const Slot& s = column(c)[row];
  switch (schema_->column(c).type) {
    case FieldType::kDouble:
      return s.f64;
    case FieldType::kString:
      return std::numeric_limits<double>::quiet_NaN();
    default:
      return s.i64 == kNullInt ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(s.i64);
  }
}

}  // namespace vigil::engine
