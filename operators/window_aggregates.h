#pragma once
// The arithmetic of `window`'s aggregates over the entries [lo, hi) of a key's state, each read
// through `value(i)` (a field's slot, or the label known at the event's time). NaN values are skipped
// everywhere. Every function reads the entries in order and allocates nothing (DistinctCount reuses
// its scratch), so a result depends only on the entries: live and replay compute the same bits.
// Internal to operators/.

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace vigil::operators {

//! Count, sum and extremes of the non-NaN values of a window.
struct Moments {
  size_t n = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  //! The mean, or NaN over nothing.
  double mean() const { return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN(); }
};

template <typename Value>
Moments Summarize(const Value& value, size_t lo, size_t hi) {
  // Locals, not the struct's fields: the loop keeps them in registers instead of a store and a load
  // per value.
  size_t n = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = min;
  for (size_t i = lo; i < hi; ++i) {
    const double v = value(i);
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
    if (!(v >= min)) min = v;
    if (!(v <= max)) max = v;
  }
  return Moments{n, sum, min, max};
}

//! The population standard deviation (ddof 0) of the non-NaN values, given their Moments: NaN over
//! nothing, exactly 0 when they are all equal (one value included), else sqrt(Σ(v − mean)² / n). Two
//! passes, not Σv² − n·mean², which cancels catastrophically when the spread is small next to the mean.
template <typename Value>
double PopulationStddev(const Value& value, size_t lo, size_t hi, const Moments& m) {
  if (m.n == 0) return std::numeric_limits<double>::quiet_NaN();
  // Equal values: their mean may round away from them, and that residue would read as a spread.
  if (m.min == m.max) return 0.0;
  const double mean = m.mean();
  double squares = 0;
  for (size_t i = lo; i < hi; ++i) {
    const double v = value(i);
    if (std::isnan(v)) continue;
    squares += (v - mean) * (v - mean);
  }
  return std::sqrt(squares / static_cast<double>(m.n));
}

//! (current − mean) / stddev: NaN when the current value is NaN or the window has no value, 0 when
//! stddev is 0 (a single value, or equal ones).
inline double ZScore(double current, const Moments& m, double stddev) {
  if (std::isnan(current) || m.n == 0) return std::numeric_limits<double>::quiet_NaN();
  return stddev == 0 ? 0.0 : (current - m.mean()) / stddev;
}

//! current / base: NaN when base is 0 or NaN (no ratio to an empty or zero window).
inline double RatioTo(double current, double base) {
  return base == 0 || std::isnan(base) ? std::numeric_limits<double>::quiet_NaN() : current / base;
}

//! Scratch of DistinctCount: an open-addressing set of doubles' bits, reused from event to event.
//! std::unordered_set would allocate a node per value, per event; this allocates only when a window
//! outgrows every earlier one.
struct DistinctScratch {
  std::vector<uint64_t> slots;
};

//! The number of distinct non-NaN values (−0 and 0 are one value): one pass that inserts each value's
//! bits into a table of at least twice as many slots, O(n). A NaN's bits mark an empty slot: no value
//! inserted is NaN.
template <typename Value>
double DistinctCount(const Value& value, size_t lo, size_t hi, DistinctScratch* scratch) {
  constexpr uint64_t kEmpty = 0x7ff8'0000'0000'0001;  // a NaN
  size_t capacity = 16;
  while (capacity < 2 * (hi - lo)) capacity *= 2;
  scratch->slots.assign(capacity, kEmpty);
  const size_t mask = capacity - 1;
  const int shift = 64 - std::countr_zero(capacity);
  size_t distinct = 0;
  for (size_t i = lo; i < hi; ++i) {
    const double v = value(i);
    if (std::isnan(v)) continue;
    const uint64_t bits = std::bit_cast<uint64_t>(v == 0 ? 0.0 : v);
    // Fibonacci hashing: the top bits of bits × 2^64/φ spread nearby values (consecutive ids) apart.
    for (size_t slot = (bits * 0x9E37'79B9'7F4A'7C15ULL) >> shift;; slot = (slot + 1) & mask) {
      if (scratch->slots[slot] == bits) break;
      if (scratch->slots[slot] == kEmpty) {
        scratch->slots[slot] = bits;
        ++distinct;
        break;
      }
    }
  }
  return static_cast<double>(distinct);
}

}  // namespace vigil::operators
