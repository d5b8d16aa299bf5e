#pragma once
// Model performance on delayed labels. Fraud labels (chargebacks, analyst verdicts) arrive days after
// the transactions, so performance is measured over the recent days whose labels have matured:
// a day D (UTC, [D, D+1) days since the epoch) is matured once the time reaches the end of D plus the
// label delay. Over the last `window_days` matured days the window computes:
//   - average precision of the scores (models::AveragePrecision, scikit-learn's definition);
//   - precision at the review threshold: frauds among the records with score >= threshold, and recall
//     there: those frauds among all frauds;
//   - precision of the recorded decisions: frauds among the records that were flagged;
//   - card precision@k, per day and averaged over the days, as the Fraud Detection Handbook does
//     (models::CardPrecisionAtK: a card already caught in the top k of an earlier day is left out).
// They are exported as vigil_label_average_precision, vigil_label_precision_at_threshold and
// vigil_label_card_precision_at_k. Records may carry segment values (SegmentKey): EvaluateSegments
// gives the same figures per segment (models/segments.h).
//
// Time is the caller's: the newest event time recorded, or AdvanceTo (normally the watermark). Days
// older than the evaluated window are dropped as time advances, so memory holds at most
// window_days + label_delay_days + 1 days of records.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "models/metrics.h"
#include "models/segments.h"

namespace vigil::monitor {

//! Parameters of a LabelWindow.
struct LabelWindowOptions {
  //! Matured days evaluated (W). >= 1. Default 7 days.
  int32_t window_days = 7;
  //! Days after the end of a day when its labels are taken as complete. >= 0. Default 7 days (the
  //! Handbook's delay period).
  int32_t label_delay_days = 7;
  //! Scores >= this are sent for review (precision at threshold). Default 0.5.
  double review_threshold = 0.5;
  //! k of card precision@k. >= 1. Default 100 (the Handbook's).
  int64_t top_k = 100;
  //! In matured days, a record with no label counts as genuine (true) or is left out (false).
  //! Default true: many label streams carry only the frauds.
  bool unlabelled_are_genuine = true;
};

//! Performance over the matured window. Metrics undefined for the window (no fraud for average
//! precision, nothing above the threshold, no record at all) are NaN.
struct LabelMetrics {
  int32_t first_day = 0;                       //!< First day of the window (days since the epoch, UTC).
  int32_t last_day = -1;                       //!< Last matured day (days since the epoch, UTC).
  int64_t transactions = 0;                    //!< Records evaluated.
  int64_t frauds = 0;                          //!< Among them, labelled fraud.
  int64_t unlabelled = 0;                      //!< Records of matured days that had no label.
  double average_precision = 0;                //!< Average precision of the scores.
  int64_t reviewed = 0;                        //!< Records with score >= review_threshold.
  double precision_at_threshold = 0;           //!< Frauds among `reviewed` / reviewed.
  double recall_at_threshold = 0;              //!< Frauds among `reviewed` / frauds.
  int64_t flagged = 0;                         //!< Records whose recorded decision flagged them.
  double decision_precision = 0;               //!< Frauds among `flagged` / flagged.
  double card_precision_at_k = 0;              //!< Mean of card_precision_per_day.
  std::vector<int32_t> days;                   //!< Days with records, ascending.
  std::vector<double> card_precision_per_day;  //!< Card precision@k of each of `days`.
};

//! A record's segment values (models/segments.h): one value index per segmentation, in the order of
//! the dimensions given to EvaluateSegments; unused slots stay 0.
inline constexpr size_t kMaxSegmentations = 8;
using SegmentKey = std::array<uint8_t, kMaxSegmentations>;

//! One segmentation of the records: its name and its value names (SegmentKey indexes into them).
struct SegmentDimension {
  std::string name;                 //!< "card_age", "amount", a column's name.
  std::vector<std::string> values;  //!< Value names.
};

//! Scored events waiting for their labels, and the performance over those whose labels matured.
//! Lifecycle: Make; Record every scored event; SetLabel as labels arrive; Evaluate when metrics are
//! exported. Not thread-safe: one owner. Memory: one entry (~48 bytes plus a hash-map node) per
//! record of the retained days; old days are dropped by Record/AdvanceTo.
class LabelWindow {
 public:
  //! InvalidArgument for options out of range.
  static base::Result<std::unique_ptr<LabelWindow>> Make(const LabelWindowOptions& options);

  //! Records a scored event. Advances time to `event_time_ms` if it is newer. An event whose day was
  //! already dropped is ignored (too_old()); a transaction id already recorded is ignored
  //! (duplicates()). InvalidArgument for a NaN score. Cost: one hash-map insert.
  base::Status Record(int64_t transaction_id, int64_t event_time_ms, int64_t customer_id, double score,
                      bool flagged, const SegmentKey& segments = {});
  //! Sets the label (0 genuine, 1 fraud) of a recorded transaction; a later label replaces an
  //! earlier one. A transaction not (or no longer) held is counted in unmatched_labels().
  //! InvalidArgument for another label value.
  base::Status SetLabel(int64_t transaction_id, int label);
  //! Advances time to `now_ms` (epoch ms) if it is newer, dropping days no longer evaluated.
  void AdvanceTo(int64_t now_ms);

  //! Metrics over the matured window as of now_ms(). Allocates the result; reuses scratch buffers.
  base::Result<LabelMetrics> Evaluate();
  //! Per-segment metrics over the same records as Evaluate(): dimension d of `dimensions` reads slot d
  //! of each record's SegmentKey; precision and recall at the review threshold; under-served below
  //! `ratio` × the overall figure (models::EvaluateSegments). InvalidArgument for more than
  //! kMaxSegmentations dimensions or a recorded value without a name.
  base::Result<models::SegmentReport> EvaluateSegments(std::span<const SegmentDimension> dimensions,
                                                       double ratio);

  //! Current time, epoch ms: the newest of the event times recorded and AdvanceTo; 0 before any.
  int64_t now_ms() const { return now_ms_; }
  //! Days currently held.
  size_t retained_days() const { return days_.size(); }
  //! Records currently held.
  size_t retained_records() const { return index_.size(); }
  //! Records ignored because their day was already dropped.
  int64_t too_old() const { return too_old_; }
  //! Records ignored because their transaction id was already held.
  int64_t duplicates() const { return duplicates_; }
  //! Labels for transactions not held.
  int64_t unmatched_labels() const { return unmatched_labels_; }
  //! The parameters.
  const LabelWindowOptions& options() const { return options_; }

 private:
  //! One recorded event.
  struct Entry {
    int64_t transaction_id = 0;  //!< Its id.
    int64_t customer_id = 0;     //!< The card.
    double score = 0;            //!< Model score.
    int8_t label = -1;           //!< 0, 1, or -1 while unknown.
    bool flagged = false;        //!< The recorded decision.
    SegmentKey segments{};       //!< Its segment values.
  };
  //! Where an entry lives.
  struct Slot {
    int32_t day = 0;     //!< Its day.
    uint32_t index = 0;  //!< Position in that day's entries.
  };

  explicit LabelWindow(const LabelWindowOptions& options) : options_(options) {}
  //! The last matured day as of now_ms_.
  int32_t LastMaturedDay() const;
  //! The first day of the evaluated window as of now_ms_; older days are dropped.
  int32_t FirstKeptDay() const { return LastMaturedDay() - options_.window_days + 1; }
  //! Drops the days before FirstKeptDay().
  void DropOldDays();
  //! Calls f(day, entry, label) for each record of the matured window that is evaluated (label 0/1),
  //! and returns the number of records of matured days without a label.
  template <typename F>
  int64_t ForEachEvaluated(int32_t first_day, int32_t last_day, F f) const;

  LabelWindowOptions options_;                           //!< Parameters.
  int64_t now_ms_ = 0;                                   //!< Newest time seen.
  std::map<int32_t, std::vector<Entry>> days_;           //!< Entries per day.
  std::unordered_map<int64_t, Slot> index_;              //!< Transaction id -> entry.
  int64_t too_old_ = 0;                                  //!< See too_old().
  int64_t duplicates_ = 0;                               //!< See duplicates().
  int64_t unmatched_labels_ = 0;                         //!< See unmatched_labels().
  std::vector<double> scratch_scores_;                   //!< Evaluate's buffers.
  std::vector<int> scratch_labels_;                      //!< Evaluate's buffers.
  std::vector<models::ScoredTransaction> scratch_rows_;  //!< Evaluate's buffers.
};

}  // namespace vigil::monitor
