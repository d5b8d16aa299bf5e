#pragma once
// Paired comparison of two models on the same events, with a bootstrap confidence interval: is the
// second model (the contender, e.g. a rollout's candidate) better than the first (the baseline, the
// champion), or only lucky on this sample?
//
// The resampling unit is the card: a card's events are not independent (card precision@k even ranks
// cards), so each resample draws as many cards as the sample has, with replacement, and keeps every
// event of each drawn card as many times as it was drawn. Both metrics are recomputed on the same
// resample, so the interval is that of the paired difference (contender - baseline), which is much
// narrower than the two metrics' own intervals. The interval is the percentile one, two-sided: its
// bounds are the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the resampled
// differences (linear interpolation between order statistics).
//
// The metrics are models/metrics.h's: average precision (scikit-learn's), or the Handbook's card
// precision@k (cards caught in an earlier day's top k left out; a card drawn twice is two cards). On
// the sample itself (every card once) they equal AveragePrecision and CardPrecisionAtK.
//
// Deterministic: the same events (in any order), options and seed give the same result. Cost: one
// sort per model, then O(events + days × k) per resample and model; 1,000 resamples of a million
// events take a few seconds on one core. Pure and thread-safe.

#include <cstdint>
#include <span>

#include "base/status.h"

namespace vigil::models {

//! One event scored by both models, with its outcome.
struct PairedOutcome {
  int32_t day = 0;       //!< Day index (e.g. days since the epoch, UTC).
  int64_t card = 0;      //!< The card: the resampling unit.
  int label = 0;         //!< 1 fraud, 0 genuine.
  double baseline = 0;   //!< The first model's score (the champion's).
  double contender = 0;  //!< The second model's score (the candidate's).
  bool operator==(const PairedOutcome&) const = default;
};

//! The metric compared.
enum class PairedMetric { kAveragePrecision, kCardPrecisionAtK };

//! Parameters of ComparePaired.
struct PairedBootstrapOptions {
  PairedMetric metric = PairedMetric::kAveragePrecision;  //!< Default average precision.
  int64_t top_k = 100;       //!< k of card precision@k; >= 1. Default 100 (the Handbook's).
  int resamples = 1000;      //!< Bootstrap resamples; 0 = the point estimates only. Default 1,000.
  double confidence = 0.95;  //!< Two-sided confidence of the interval, in (0, 1). Default 0.95.
  uint64_t seed = 20180401;  //!< Seed of the resampling (std::mt19937_64).
};

//! The comparison. Metrics undefined on the sample make ComparePaired fail; the interval is NaN
//! without resamples.
struct PairedComparison {
  double baseline = 0;    //!< The baseline's metric on the sample.
  double contender = 0;   //!< The contender's metric on the sample.
  double difference = 0;  //!< contender - baseline.
  double low = 0;         //!< Lower bound of the difference's confidence interval.
  double high = 0;        //!< Upper bound.
  int resamples = 0;      //!< Resamples the interval was taken over (those with a defined metric).
  int64_t events = 0;     //!< Events in the sample.
  int64_t frauds = 0;     //!< Among them, frauds.
  int64_t cards = 0;      //!< Distinct cards.
};

//! Compares the two models' scores of `events`. InvalidArgument for options out of range, an empty
//! sample, a label other than 0/1, a NaN score, or average precision without a fraud. A resample
//! whose metric is undefined (no fraud drawn) is left out of the interval.
base::Result<PairedComparison> ComparePaired(std::span<const PairedOutcome> events,
                                             const PairedBootstrapOptions& options);

}  // namespace vigil::models
