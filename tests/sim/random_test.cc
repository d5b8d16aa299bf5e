#include "sim/random.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace vigil::sim {
namespace {

struct Moments {
  double mean = 0;
  double variance = 0;
};

template <typename Draw>
Moments Sample(int n, Draw draw) {
  double sum = 0;
  double sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double v = draw();
    sum += v;
    sum_sq += v * v;
  }
  const double mean = sum / n;
  return {mean, sum_sq / n - mean * mean};
}

TEST_CASE("Stream seeds differ by stream and index and are stable", "[sim][random]") {
  CHECK(StreamSeed(1, Stream::kTransactions, 0) != StreamSeed(1, Stream::kTransactions, 1));
  CHECK(StreamSeed(1, Stream::kTransactions, 0) != StreamSeed(1, Stream::kCompromisedCards, 0));
  CHECK(StreamSeed(1, Stream::kTransactions, 0) != StreamSeed(2, Stream::kTransactions, 0));
  // SplitMix64's published first output for state 0.
  CHECK(Mix64(0) == 0xe220a8397b1dcdafULL);
}

TEST_CASE("Uniform draws use only the standardised engine, so they are portable", "[sim][random]") {
  // The C++ standard fixes std::mt19937_64's 10000th output for the default seed 5489.
  Rng rng(5489);
  for (int i = 1; i < 10000; ++i) rng.Uniform();
  CHECK(rng.Uniform() == static_cast<double>(9981545732273789042ULL >> 11) * 0x1.0p-53);
  Rng a(42);
  Rng b(42);
  for (int i = 0; i < 1000; ++i) REQUIRE(a.UniformIndex(7) == b.UniformIndex(7));
}

TEST_CASE("UniformIndex covers its range evenly", "[sim][random]") {
  Rng rng(7);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng.UniformIndex(10);
    REQUIRE(v < 10);
    ++counts[v];
  }
  for (int c : counts) CHECK(std::abs(c - 10000) < 500);
  CHECK(rng.UniformIndex(1) == 0);
}

TEST_CASE("Normal has the requested mean and deviation", "[sim][random]") {
  Rng rng(11);
  const Moments m = Sample(200000, [&] { return rng.Normal(43200, 20000); });
  CHECK(m.mean == Approx(43200).margin(150));
  CHECK(std::sqrt(m.variance) == Approx(20000).epsilon(0.01));
}

TEST_CASE("Poisson has mean and variance lambda, small and large", "[sim][random]") {
  for (double lambda : {0.3, 2.0, 3.9, 25.0, 400.0}) {
    Rng rng(13);
    const Moments m = Sample(100000, [&] { return static_cast<double>(rng.Poisson(lambda)); });
    INFO("lambda " << lambda);
    CHECK(m.mean == Approx(lambda).epsilon(0.02));
    CHECK(m.variance == Approx(lambda).epsilon(0.05));
  }
  Rng rng(1);
  CHECK(rng.Poisson(0) == 0);
}

}  // namespace
}  // namespace vigil::sim
