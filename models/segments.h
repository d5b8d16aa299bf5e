#pragma once
// Per-segment metrics: how a score does on parts of the traffic, and which parts it under-serves.
//
// A segmentation (a "dimension") gives each row one value of a small set: new or established card,
// an amount band, the value of a categorical column. For every value, over its rows: average
// precision, and precision and recall at the decision threshold (alerts: score >= threshold). A
// segment is under-served when its precision or its recall at the threshold is below `ratio` times
// the same figure over all rows; a figure undefined for the segment (no alert, no fraud) or overall
// flags nothing.
//
// Built-in segmentations (their rules, shared by `vigil evaluate` and the score monitor):
//   - card age: a row is "new" when its card was first seen less than `days` days before it (first
//     seen = the card's earliest row in the data at hand: the table, or the events the monitor has
//     seen), "established" otherwise;
//   - amount bands: increasing bounds b1 < b2 < ... give "<b1", "b1-b2", ..., ">=bn"; a band holds
//     its lower bound.
//
// All functions are pure and thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil::models {

//! The names of the card-age segmentation and of its values.
inline constexpr const char* kCardAgeDimension = "card_age";
inline constexpr const char* kNewCard = "new";
inline constexpr const char* kEstablishedCard = "established";
//! The name of the amount-band segmentation.
inline constexpr const char* kAmountDimension = "amount";
//! The value that pools a categorical column's values beyond its cap.
inline constexpr const char* kOtherValue = "other";

//! One segmentation of the rows.
struct Segmentation {
  std::string dimension;               //!< "card_age", "amount", or a column's name.
  std::vector<std::string> values;     //!< The value names; a row's value is an index into them.
  std::vector<uint32_t> value_of_row;  //!< One per row.
};

//! Metrics of one segment (or of all rows).
struct SegmentMetrics {
  std::string dimension;         //!< The segmentation; empty for all rows.
  std::string value;             //!< The value; empty for all rows.
  int64_t transactions = 0;      //!< Rows.
  int64_t frauds = 0;            //!< Fraudulent rows.
  int64_t alerts = 0;            //!< Rows scored at or above the threshold.
  int64_t frauds_caught = 0;     //!< Frauds among the alerts.
  double average_precision = 0;  //!< AveragePrecision(); NaN without a fraud.
  double precision = 0;          //!< frauds_caught / alerts; NaN without an alert.
  double recall = 0;             //!< frauds_caught / frauds; NaN without a fraud.
  bool underserved = false;      //!< precision or recall below ratio × the overall figure.
  bool low_precision = false;    //!< precision < ratio × overall precision.
  bool low_recall = false;       //!< recall < ratio × overall recall.
};

//! The metrics of every segment.
struct SegmentReport {
  double threshold = 0;                  //!< The decision threshold used.
  double ratio = 0;                      //!< The under-served ratio used.
  SegmentMetrics overall;                //!< All rows.
  std::vector<SegmentMetrics> segments;  //!< Dimension by dimension, values in their order.
  int64_t underserved = 0;               //!< Segments flagged.
};

//! Metrics per value of each segmentation (every value listed, even without rows). InvalidArgument
//! for mismatched lengths, labels other than 0/1, NaN scores, a value index out of range, a ratio
//! outside [0, 1] or a NaN threshold. Cost: one sort per segment with frauds.
base::Result<SegmentReport> EvaluateSegments(std::span<const double> scores, std::span<const int> labels,
                                             std::span<const Segmentation> segmentations, double threshold,
                                             double ratio);

//! Whether a row at `time_ms` of a card first seen at `first_seen_ms` is a new card (< days old).
inline bool IsNewCard(int64_t first_seen_ms, int64_t time_ms, int32_t days) {
  return time_ms - first_seen_ms < int64_t{days} * base::kMsPerDay;
}

//! Checks amount bounds: at least one, finite, strictly increasing. InvalidArgument otherwise.
base::Status CheckAmountBands(std::span<const double> bounds);
//! The band names of `bounds`: "<20", "20-100", "100-500", ">=500" for {20, 100, 500}.
std::vector<std::string> AmountBandNames(std::span<const double> bounds);
//! The band of `amount` (index into AmountBandNames); NaN falls in the first band.
uint32_t AmountBand(double amount, std::span<const double> bounds);

}  // namespace vigil::models
