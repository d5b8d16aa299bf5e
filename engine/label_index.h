#pragma once
// LabelIndex: a task's labels, by event id. Labels (fraud verdicts, chargebacks) arrive on their own
// stream, days after the events they describe; operators ask "what was known about event `id` at
// time t?", so the answer never depends on when the label happened to be consumed.

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "config/pipeline_config.h"
#include "engine/batch.h"
#include "engine/keyed_cache.h"

namespace vigil::engine {

//! One label: its value and when it became known.
struct LabelRecord {
  double label = 0;
  int64_t time_ms = 0;
};

//! Per task; used by the task's worker only. Persisted in the task's store (table kLabelTable).
class LabelIndex {
 public:
  //! Keyspace of labels in a task's store; operators use ids from 1 up.
  static constexpr TableId kLabelTable = 0xFFF0;

  LabelIndex(const config::LabelsSpec& spec, StateStore* store, size_t max_keys);
  ~LabelIndex();

  //! Parses and stores label records (JSON objects with the id, label and time fields). Malformed
  //! records are counted and skipped.
  base::Status Ingest(std::span<const RawEvent> records);
  //! The label of `id` if it was known at `time_ms` (label time ≤ time_ms), else NaN.
  base::Result<double> KnownAt(int64_t id, int64_t time_ms);
  //! The label record of `id`, or nullptr; valid until the next Flush or Ingest.
  base::Result<const LabelRecord*> Lookup(int64_t id);
  //! Stages new labels into the store.
  void Flush() { cache_.Flush(); }
  //! Latest label time ingested; -inf before the first.
  int64_t watermark() const { return watermark_; }
  uint64_t malformed() const { return malformed_; }

 private:
  struct Codec {
    static void Encode(const LabelRecord& r, std::string* out) {
      out->append(reinterpret_cast<const char*>(&r), sizeof r);
    }
    static bool Decode(std::string_view in, LabelRecord* r) {
      if (in.size() != sizeof *r) return false;
      std::memcpy(r, in.data(), sizeof *r);
      return true;
    }
  };
  struct Parser;

  config::LabelsSpec spec_;
  KeyedCache<LabelRecord, Codec> cache_;
  std::unique_ptr<Parser> parser_;
  int64_t watermark_ = INT64_MIN;
  uint64_t malformed_ = 0;
};

}  // namespace vigil::engine
