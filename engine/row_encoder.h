#pragma once
// Encodes batch rows with a fixed output mapping, as JSON objects or CSV lines. Doubles are written in
// the shortest form that reads back to the same bits, so a feature vector survives a round trip
// exactly.

#include <string>
#include <vector>

#include "base/json.h"
#include "config/pipeline_config.h"
#include "engine/batch.h"
#include "engine/io.h"

namespace vigil::engine {

//! Immutable after Make; Encode is const and may run on many threads.
class RowEncoder {
 public:
  //! `fields` empty means every column of `schema`, in order. Unknown columns are located errors.
  static base::Result<RowEncoder> Make(const Schema& schema, const std::vector<config::OutputField>& fields,
                                       const std::string& key_column);
  //! Appends row `row` as one JSON object to `out`.
  void EncodeRow(const Batch& batch, size_t row, std::string* out) const;
  //! Appends the record key of `row` (the key column as text) to `out`; nothing without a key column.
  void EncodeKey(const Batch& batch, size_t row, std::string* out) const;
  //! Appends row `row` as one CSV line (no newline) to `out`; null cells are empty.
  void EncodeCsvRow(const Batch& batch, size_t row, std::string* out) const;
  //! The CSV header line (no newline): the output names, comma-separated.
  const std::string& csv_header() const { return csv_header_; }
  //! Encodes every live row of `batch` into `out` (records + buffer), after clearing it.
  void EncodeLive(const Batch& batch, OutBatch* out, config::SinkSpec::Format format) const;
  //! Encodes every dropped row of `batch` into `out` as dead letters: the original bytes, unchanged.
  static void EncodeDropped(const Batch& batch, OutBatch* out);

 private:
  struct Field {
    std::string prefix;  // `"name":` with the leading comma when not first
    int column;
    FieldType type;
  };
  std::vector<Field> fields_;
  std::string csv_header_;
  int key_column_ = -1;
  FieldType key_type_ = FieldType::kString;
};

using base::AppendJsonString;  //!< base/json.h, for the encoders' callers.
//! Appends a double in shortest round-trip form; NaN and infinities become null.
void AppendJsonDouble(double v, std::string* out);

}  // namespace vigil::engine
