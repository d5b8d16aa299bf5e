#pragma once
// Reference histograms: the distribution of each model input and of the model score on the training
// rows, stored with a model version (metadata.json, key "reference") and compared with live traffic
// by the drift windows (monitor/drift.h).
//
// Bins. A histogram has E strictly increasing finite edges e_0 < ... < e_{E-1} (E <= kMaxEdges) and
// E + 1 value bins, closed on the right as pandas.qcut's: bin 0 is (-inf, e_0], bin i is
// (e_{i-1}, e_i], bin E is (e_{E-1}, +inf). ±inf fall in the outer bins. NaN (a missing value) has
// its own bin after the value bins, so a histogram has E + 2 bins in all.
//
// Edges from training values (quantile edges): for q = 1/B .. (B-1)/B the smallest training value v
// with F(v) >= q (F the empirical CDF of the finite values), deduplicated, and without the largest
// value (a bin above the maximum would be empty). Ties therefore merge bins instead of making empty
// ones: a 0/1 column gets one edge (0) and two value bins. A column with one distinct value c gets
// the edges {below(c), c}: "below c", "exactly c" and "above c", so a live shift to another constant
// still shows. Every value bin of a freshly built histogram holds at least one training value, except
// the outer ones of a constant column.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace vigil::models {
class Registry;
}  // namespace vigil::models

namespace vigil::monitor {

//! Most edges a histogram may have: the edges fit one 64-byte cache line, and finding a value's bin
//! is a binary search of at most 4 steps.
inline constexpr size_t kMaxEdges = 16;
//! Default number of quantile bins (deciles).
inline constexpr int kDefaultBins = 10;
//! Value of "format" in a serialized ReferenceSet.
inline constexpr std::string_view kReferenceFormat = "vigil-reference/1";

//! The binned distribution of one variable on the training rows. An immutable value after it is
//! built (FromValues or Make); copies are independent. Safe to read from several threads at once.
class ReferenceHistogram {
 public:
  //! Quantile edges of `values` into at most `bins` value bins (2 <= bins <= kMaxEdges + 1; default
  //! 10) plus the missing bin, and the fraction of `values` in each. NaN counts as missing. Cost:
  //! O(n log n) (one sort of a copy of the finite values). InvalidArgument for an empty input or a
  //! bad `bins`.
  static base::Result<ReferenceHistogram> FromValues(std::span<const float> values, int bins = kDefaultBins);

  //! A histogram from explicit parts (parsing, tests): `edges` finite and strictly increasing, at most
  //! kMaxEdges; `fractions` of size edges.size() + 2 (value bins, then missing), each in [0, 1],
  //! summing to 1 within 1e-6; `count` >= 1 values it was computed from. InvalidArgument otherwise,
  //! saying which rule fails.
  static base::Result<ReferenceHistogram> Make(std::vector<float> edges, std::vector<double> fractions,
                                               int64_t count);

  //! The bin of `value`: 0 .. num_value_bins() - 1, or missing_bin() for NaN. Cost: a binary search
  //! over <= 16 floats; no allocation.
  size_t BinOf(float value) const;

  //! The bin edges, strictly increasing, finite.
  std::span<const float> edges() const { return edges_; }
  //! Reference fraction of each bin: the value bins in order, then the missing bin. Sums to 1.
  std::span<const double> fractions() const { return fractions_; }
  //! Number of value bins: edges().size() + 1.
  size_t num_value_bins() const { return edges_.size() + 1; }
  //! Number of bins, missing included: edges().size() + 2.
  size_t num_bins() const { return edges_.size() + 2; }
  //! Index of the missing (NaN) bin: the last one.
  size_t missing_bin() const { return edges_.size() + 1; }
  //! Reference fraction of missing values.
  double missing_fraction() const { return fractions_.back(); }
  //! Number of training values the fractions were computed from.
  int64_t count() const { return count_; }

  bool operator==(const ReferenceHistogram&) const = default;

 private:
  ReferenceHistogram() = default;

  std::vector<float> edges_;       //!< Bin edges; value bins are closed on the right.
  std::vector<double> fractions_;  //!< Per bin, missing last.
  int64_t count_ = 0;              //!< Training values counted.
};

//! One histogram per model input, in the model's input order, plus one for the model score.
//! Immutable after it is built or parsed; safe to share between threads (e.g. as
//! std::shared_ptr<const ReferenceSet>).
class ReferenceSet {
 public:
  //! Builds the histograms of training data held column-major: `features[f * num_rows + r]` is
  //! feature f of row r, for the `names.size()` features; `scores[r]` is the model's score of row r
  //! (so scores.size() == num_rows). `bins` as in ReferenceHistogram::FromValues. InvalidArgument for
  //! mismatched sizes, no rows, empty or duplicate names.
  static base::Result<ReferenceSet> Build(std::span<const std::string> names, std::span<const float> features,
                                          size_t num_rows, std::span<const float> scores,
                                          int bins = kDefaultBins);

  //! A set from its parts; `names` and `histograms` of the same size, names unique and non-empty.
  static base::Result<ReferenceSet> Make(std::vector<std::string> names,
                                         std::vector<ReferenceHistogram> histograms,
                                         ReferenceHistogram score);

  //! Parses the JSON text of a serialized set (the object ToJson writes). InvalidArgument naming the
  //! offending member (e.g. "reference.features[2] 'TX_AMOUNT': edges[3] ...") for malformed input.
  static base::Result<ReferenceSet> FromJson(std::string_view json);

  //! The JSON object (see monitor/README.md for its members). Numbers are written in shortest
  //! round-trip form, so FromJson(ToJson()) == *this. Lines after the first are prefixed by `indent`,
  //! so the object can be nested in another document.
  std::string ToJson(std::string_view indent = "") const;

  //! Feature names, in the model's input order.
  const std::vector<std::string>& feature_names() const { return names_; }
  //! Number of features.
  size_t num_features() const { return names_.size(); }
  //! Histogram of feature `i` (< num_features()).
  const ReferenceHistogram& feature(size_t i) const { return features_[i]; }
  //! Histogram of the feature called `name`, or nullptr. Cost: linear in the number of features.
  const ReferenceHistogram* Find(std::string_view name) const;
  //! Histogram of the model score.
  const ReferenceHistogram& score() const { return score_; }

  bool operator==(const ReferenceSet&) const = default;

 private:
  //! Used by the factories only.
  ReferenceSet(std::vector<std::string> names, std::vector<ReferenceHistogram> features,
               ReferenceHistogram score)
      : names_(std::move(names)), features_(std::move(features)), score_(std::move(score)) {}

  std::vector<std::string> names_;            //!< Feature names, input order.
  std::vector<ReferenceHistogram> features_;  //!< One per name.
  ReferenceHistogram score_;                  //!< The model score's.
};

//! Loads the "reference" member of a model version's metadata.json (as `vigil train` writes it) and
//! checks that its features are the metadata's "features", in order. NotFound if the file cannot be
//! read or has no "reference" (versions trained before vigil wrote one); Corruption, naming the path
//! and the member, if the file is not JSON or the reference is malformed.
base::Result<ReferenceSet> LoadReference(const std::string& metadata_path);

//! LoadReference of the metadata.json of `version` in `registry`.
base::Result<ReferenceSet> LoadVersionReference(const models::Registry& registry, const std::string& version);

}  // namespace vigil::monitor
