#pragma once
// The segments of a score monitor's performance (config::SegmentsSpec, models/segments.h): which value
// of each segmentation a matured event has. The segmentations, in this order: card age (new or
// established) when card_age_days > 0, amount bands when amount_bands is not empty, then each
// categorical column.
//
// Lifecycle: made by ScoreMonitor::Make, owned by the monitor. Thread-safety: two disjoint halves.
// The value catalogue (ValueIndex, Dimensions) is shared by the tasks: the monitor's mutex guards it.
// The card ages (LearnFirstSeen, KeyOf) are the export thread's own. Memory: one hash-map entry per
// card seen (its first matured event time), for the monitor's life, and at most max_values + 1 values
// per column.

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "monitor/label_window.h"

namespace vigil::operators {

//! Categorical segment columns at most (config::SegmentsSpec::columns).
inline constexpr size_t kMaxSegmentColumns = 6;

//! Which segment of each segmentation an event falls in, for one score monitor.
class MonitorSegments {
 public:
  //! InvalidArgument for bands that do not increase, too many columns or max_values outside 1..100.
  static base::Result<MonitorSegments> Make(const config::SegmentsSpec& spec);

  //! The index of `value` among categorical column `column`'s values: the first max_values distinct
  //! values get their own, later ones share `other` (logged once per column). Guarded by the caller.
  uint8_t ValueIndex(size_t column, const std::string& value);
  //! The segmentations with every value named so far. Guarded by the caller.
  std::vector<monitor::SegmentDimension> Dimensions() const;

  //! Records that `card` was seen at `time_ms`; its first seen time is the earliest recorded.
  void LearnFirstSeen(int64_t card, int64_t time_ms);
  //! The segment key of an event of a card already learnt, with its amount and its categorical value
  //! indexes (one per column).
  monitor::SegmentKey KeyOf(int64_t card, int64_t time_ms, double amount,
                            std::span<const uint8_t> values) const;

  //! The spec.
  const config::SegmentsSpec& spec() const { return spec_; }

 private:
  explicit MonitorSegments(const config::SegmentsSpec& spec);

  config::SegmentsSpec spec_;                                    //!< Immutable.
  std::vector<std::vector<std::string>> values_;                 //!< Per column, named values.
  std::vector<std::unordered_map<std::string, uint8_t>> index_;  //!< Per column, value -> index.
  std::vector<bool> capped_;                                     //!< Per column, `other` in use.
  std::unordered_map<int64_t, int64_t> first_seen_;              //!< Card -> first matured event time.
};

}  // namespace vigil::operators
