// WindowKeyState::UpperBound, the search behind every window's bounds: the first entry later than a
// time, over runs of equal times (twins), evicted heads and every length of the searched prefix.
#include "operators/window_state.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <vector>

namespace vigil::testing {
namespace {

TEST_CASE("window state: the upper bound of a time is std::upper_bound's, twins and evicted heads included",
          "[operators][unit]") {
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    operators::WindowKeyState s;
    s.stride = 3;
    std::vector<double> times;
    const int n = static_cast<int>(random() % 40);
    double t = 0;
    for (int i = 0; i < n; ++i) {
      t += static_cast<double>(random() % 3);  // a third of the steps repeat the time before
      const double entry[3] = {t, 1, 2};
      s.Insert(s.size(), entry);
      times.push_back(t);
    }
    const size_t evicted = n > 0 ? random() % (times.size() + 1) : 0;
    if (evicted > 0) s.Evict(evicted);
    times.erase(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(evicted));
    REQUIRE(s.size() == times.size());
    for (size_t end = 0; end <= times.size(); ++end) {
      for (double probe = -1; probe <= t + 1; probe += 0.5) {
        INFO("round " << round << ", end " << end << ", time " << probe);
        const auto expected =
            static_cast<size_t>(std::upper_bound(times.begin(), times.begin() + end, probe) - times.begin());
        CHECK(s.UpperBound(probe, end) == expected);
      }
    }
  }
}

}  // namespace
}  // namespace vigil::testing
