#pragma once
// Portable random numbers for the simulator. The engine is std::mt19937_64, whose output the standard
// fixes; every distribution is implemented here because std::normal_distribution and friends differ
// between standard libraries. A seed therefore yields the same dataset with libstdc++ and libc++ (up to
// the last-ulp behaviour of std::log / std::cos on the platform's libm).

#include <cmath>
#include <cstdint>
#include <random>

namespace vigil::sim {

//! Independent random streams. Each (seed, stream, index) triple seeds its own generator, so that
//! adding draws to one stream (a new scenario, a drift) never shifts the numbers of another.
enum class Stream : uint64_t {
  kCustomerProfiles = 1,      //!< Customer locations, spending habits.
  kTerminalProfiles = 2,      //!< Terminal locations.
  kTransactions = 3,          //!< Per day: counts, times, amounts, terminals.
  kCompromisedTerminals = 4,  //!< Per day: which terminals scenario 2 compromises.
  kCompromisedCards = 5,      //!< Per day: which customers scenario 3 compromises.
  kCardFraudSelection = 6,    //!< Per day: which transactions of the compromised cards are fraud.
};

//! SplitMix64's finaliser: a bijective, well-mixing hash of a 64-bit value.
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

//! The seed of stream `stream`, element `index` (usually a day), for the user seed `seed`.
constexpr uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t index) {
  return Mix64(Mix64(Mix64(seed) ^ static_cast<uint64_t>(stream)) + index);
}

//! A random generator with portable distributions. Cheap to construct (one per stream and day).
//! Not thread-safe: use one per thread.
class Rng {
 public:
  //! A generator seeded with `seed`, typically StreamSeed(...).
  explicit Rng(uint64_t seed) : engine_(seed) {}

  //! Uniform on [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  //! Uniform on [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  //! Uniform integer on [0, n), without modulo bias. `n` must be > 0.
  uint64_t UniformIndex(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n: the biased low values are rejected
    uint64_t r = engine_();
    while (r < threshold) r = engine_();
    return r % n;
  }

  //! Normal(mean, stddev) by the Box-Muller transform; the second value of each pair is kept for the
  //! next call.
  double Normal(double mean, double stddev) {
    if (has_spare_) {
      has_spare_ = false;
      return mean + stddev * spare_;
    }
    const double u1 = 1.0 - Uniform();  // (0, 1]: log(u1) is finite
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * kPi * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return mean + stddev * (r * std::cos(theta));
  }

  //! Poisson(lambda), lambda >= 0: Knuth's product method for small lambda, Hörmann's PTRS
  //! transformed rejection otherwise.
  int64_t Poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda < kPtrsThreshold) {
      const double limit = std::exp(-lambda);
      int64_t k = 0;
      double p = Uniform();
      while (p > limit) {
        ++k;
        p *= Uniform();
      }
      return k;
    }
    return PoissonPtrs(lambda);
  }

 private:
  static constexpr double kPi = 3.14159265358979323846;
  static constexpr double kPtrsThreshold = 10.0;

  int64_t PoissonPtrs(double lambda) {
    const double slam = std::sqrt(lambda);
    const double loglam = std::log(lambda);
    const double b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b;
    const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    const double vr = 0.9277 - 3.6224 / (b - 2);
    while (true) {
      const double u = Uniform() - 0.5;
      const double v = Uniform();
      const double us = 0.5 - std::fabs(u);
      const double k = std::floor((2 * a / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return static_cast<int64_t>(k);
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
          -lambda + k * loglam - std::lgamma(k + 1)) {
        return static_cast<int64_t>(k);
      }
    }
  }

  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace vigil::sim
