#pragma once
// The batch: the unit of work, of commit and of vectorised scoring. A micro-batch of events from one
// partition, stored column by column in 8-byte slots. A task owns one Batch and reuses it for every
// micro-batch, so steady-state processing allocates nothing per event.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/pipeline_config.h"

namespace vigil::engine {

using config::FieldType;

//! One event as read from a source. The bytes belong to the source and stay valid until the task's
//! next read from that source.
struct RawEvent {
  const char* data = nullptr;  //!< Payload bytes (not NUL-terminated).
  uint32_t size = 0;           //!< Payload size in bytes.
  const char* key = nullptr;   //!< Record key bytes, may be null.
  uint32_t key_size = 0;
  int64_t offset = 0;  //!< Offset in its partition (line number for files).
  //! The record's timestamp (Kafka's CreateTime or LogAppendTime), ms since the epoch; -1: none.
  int64_t timestamp_ms = -1;
};

//! Why a row was sent to the dead-letter queue. Names (see DlqReasonName) are machine-readable.
enum class DlqReason : uint8_t {
  kNone,
  kTooLarge,      //!< "too_large": payload above schema.max_event_bytes.
  kInvalidJson,   //!< "invalid_json": not a JSON object, truncated, trailing garbage.
  kInvalidUtf8,   //!< "invalid_utf8": payload is not valid UTF-8.
  kMissingField,  //!< "missing_field": a required field is absent or null.
  kWrongType,     //!< "wrong_type": a field has the wrong JSON type or an unparsable timestamp.
  kOutOfRange,    //!< "out_of_range": a number outside [min, max].
  kInvalidEnum,   //!< "invalid_enum": a string outside the allowed values.
  kLate,          //!< "late": event time older than the key's latest minus the allowed lateness.
  kFuture,        //!< "future": event time beyond the partition's progress plus schema.max_future.
};
//! Number of DlqReason values (kNone included), for tables indexed by reason.
inline constexpr std::size_t kDlqReasonCount = static_cast<std::size_t>(DlqReason::kFuture) + 1;

std::string_view DlqReasonName(DlqReason reason);

//! An 8-byte cell. Which member is valid follows the column's type: kDouble → f64; kInt64, kBool,
//! kTimestamp (epoch ms) → i64; kString → str (offset/length into the batch's string arena).
//! Missing values: NaN for doubles, kNullInt for integers, length kNullLen for strings.
union Slot {
  double f64;
  int64_t i64;
  struct {
    uint32_t offset;
    uint32_t length;
  } str;
};

inline constexpr int64_t kNullInt = INT64_MIN;
inline constexpr uint32_t kNullLen = UINT32_MAX;

//! A named, typed column of the batch layout.
struct Column {
  std::string name;
  FieldType type;
};

//! The column layout shared by every batch of a pipeline. Built once while operators are bound, then
//! read-only. Input schema fields come first, then the columns operators add, in graph order.
class Schema {
 public:
  //! Adds a column; fails if the name exists already.
  base::Result<int> Add(std::string name, FieldType type);
  //! Index of a column, or -1.
  int Find(std::string_view name) const;
  const Column& column(int index) const { return columns_[static_cast<size_t>(index)]; }
  int size() const { return static_cast<int>(columns_.size()); }
  const std::vector<Column>& columns() const { return columns_; }

 private:
  std::vector<Column> columns_;
};

//! Per-row bookkeeping.
struct RowMeta {
  int64_t offset = 0;                   //!< Source offset of the event.
  int64_t event_time = 0;               //!< Event time, epoch ms (set by parse).
  DlqReason reason = DlqReason::kNone;  //!< kNone while the row is live.
  int16_t detail_column = -1;           //!< Column the reason is about, or -1.
};

//! How a batch is to be processed. Stream batches use the defaults; a synchronous scoring request
//! (POST /v1/score) sets them on its own one-row batch.
struct BatchMode {
  //! Operators compute every output from their state as if the events were appended, but change no
  //! state (operator.h rule 8).
  bool read_only = false;
  //! Reason codes for every row, not only for flagged ones: 0 = as configured, 1 = approximate,
  //! 2 = exact.
  int explain = 0;
};

//! A micro-batch. Owned by one task; not thread-safe. Capacity grows to the largest batch seen and
//! is kept, so Reset() does not allocate in steady state.
class Batch {
 public:
  explicit Batch(const Schema* schema) : schema_(schema) {}

  //! Starts a new batch over `raw` events from `partition`. Every row starts live and every slot null.
  void Reset(std::span<const RawEvent> raw, int32_t partition);

  size_t size() const { return rows_; }
  int32_t partition() const { return partition_; }
  const Schema& schema() const { return *schema_; }
  std::span<const RawEvent> raw() const { return raw_; }

  RowMeta& meta(size_t row) { return meta_[row]; }
  const RowMeta& meta(size_t row) const { return meta_[row]; }
  bool live(size_t row) const { return meta_[row].reason == DlqReason::kNone; }
  //! Marks a row as dead-lettered; later operators skip it.
  void Drop(size_t row, DlqReason reason, int column = -1) {
    meta_[row].reason = reason;
    meta_[row].detail_column = static_cast<int16_t>(column);
  }

  Slot* column(int c) { return slots_.data() + static_cast<size_t>(c) * capacity_; }
  const Slot* column(int c) const { return slots_.data() + static_cast<size_t>(c) * capacity_; }
  double& f64(size_t row, int c) { return column(c)[row].f64; }
  double f64(size_t row, int c) const { return column(c)[row].f64; }
  int64_t& i64(size_t row, int c) { return column(c)[row].i64; }
  int64_t i64(size_t row, int c) const { return column(c)[row].i64; }
  //! A string cell, or an empty view for null.
  std::string_view str(size_t row, int c) const;
  bool is_null(size_t row, int c) const;
  //! Copies `value` into the arena and stores it in the cell.
  void SetString(size_t row, int c, std::string_view value);
  //! Reads a numeric cell of any numeric type as double (NaN for null).
  double AsDouble(size_t row, int c) const;
  //! See BatchMode; kept across Reset.
  const BatchMode& mode() const { return mode_; }
  void set_mode(const BatchMode& mode) { mode_ = mode; }

 private:
  const Schema* schema_;
  std::span<const RawEvent> raw_;
  int32_t partition_ = -1;
  size_t rows_ = 0;
  size_t capacity_ = 0;
  std::vector<Slot> slots_;
  std::vector<RowMeta> meta_;
  std::string arena_;
  BatchMode mode_;
};

}  // namespace vigil::engine
