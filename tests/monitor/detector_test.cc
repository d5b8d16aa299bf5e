#include "monitor/detector.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace vigil::monitor {
namespace {

//! Normal samples from a fixed seed, the same on every standard library (Box-Muller over mt19937_64).
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : engine_(seed) {}
  double Next(double mean, double sd) {
    const double u1 = (static_cast<double>(engine_() >> 11) + 1) * 0x1.0p-53;
    const double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    return mean + sd * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }
  //! 1 with probability p.
  double Bernoulli(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p ? 1 : 0; }

 private:
  std::mt19937_64 engine_;
};

PageHinkley MakePageHinkley(const PageHinkleyOptions& options) {
  auto d = PageHinkley::Make(options);
  REQUIRE(d.ok());
  return *d;
}

//! Index of the first sample that raises an alarm, or -1.
template <typename Detector>
int64_t FirstAlarm(Detector& d, const std::vector<double>& stream) {
  for (size_t i = 0; i < stream.size(); ++i) {
    if (d.Update(stream[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

TEST_CASE("Page-Hinkley alarm timing on a noiseless step equals the hand-computed sample", "[monitor][detector]") {
  PageHinkleyOptions options;
  options.delta = 0;
  options.lambda = 5;
  options.alpha = 1;
  PageHinkley d = MakePageHinkley(options);
  std::vector<double> stream(100, 1.0);
  stream.resize(200, 0.0);
  // After the step the j-th sample adds 100 / (100 + j): 4.855 after five, 5.799 after six.
  CHECK(FirstAlarm(d, stream) == 105);
  CHECK(d.alarms() == 1);
  CHECK(d.samples() == 0);  // reset after the alarm
  CHECK(d.statistic() == 0);
}

TEST_CASE("Page-Hinkley: no alarm on a stationary metric, alarm soon after a drop", "[monitor][detector]") {
  PageHinkleyOptions options;
  options.direction = ChangeDirection::kDecrease;
  options.delta = 0.01;
  options.lambda = 2;
  options.alpha = 1;
  Gaussian g(42);
  std::vector<double> stationary;
  for (int i = 0; i < 20'000; ++i) stationary.push_back(g.Next(0.8, 0.05));
  PageHinkley quiet = MakePageHinkley(options);
  CHECK(FirstAlarm(quiet, stationary) == -1);
  CHECK(quiet.alarms() == 0);
  CHECK(quiet.samples() == 20'000);

  std::vector<double> step(stationary.begin(), stationary.begin() + 1000);
  for (int i = 0; i < 1000; ++i) step.push_back(g.Next(0.6, 0.05));
  PageHinkley d = MakePageHinkley(options);
  const int64_t alarm = FirstAlarm(d, step);
  CHECK(alarm >= 1000);
  CHECK(alarm < 1000 + 30);

  // The same drop seen as an increase detector: no alarm.
  options.direction = ChangeDirection::kIncrease;
  PageHinkley wrong_way = MakePageHinkley(options);
  CHECK(FirstAlarm(wrong_way, step) == -1);
}

TEST_CASE("Page-Hinkley with the default parameters catches a rise of a 0/1 error stream", "[monitor][detector]") {
  PageHinkleyOptions options;
  options.direction = ChangeDirection::kIncrease;
  Gaussian g(7);
  std::vector<double> errors;
  for (int i = 0; i < 5000; ++i) errors.push_back(g.Bernoulli(0.1));
  PageHinkley quiet = MakePageHinkley(options);
  CHECK(FirstAlarm(quiet, errors) == -1);
  for (int i = 0; i < 2000; ++i) errors.push_back(g.Bernoulli(0.4));
  PageHinkley d = MakePageHinkley(options);
  const int64_t alarm = FirstAlarm(d, errors);
  // About lambda / (0.3 - delta) = 170 samples after the step.
  CHECK(alarm >= 5000);
  CHECK(alarm < 5000 + 400);
}

TEST_CASE("Page-Hinkley waits for min_samples, ignores NaN and checks its options", "[monitor][detector]") {
  PageHinkleyOptions options;
  options.lambda = 0.5;
  options.min_samples = 10;
  PageHinkley d = MakePageHinkley(options);
  CHECK(!d.Update(1));
  for (int i = 0; i < 8; ++i) CHECK(!d.Update(-100));  // a huge drop, but only 9 samples so far
  CHECK(!d.Update(std::numeric_limits<double>::quiet_NaN()));
  CHECK(d.samples() == 9);
  CHECK(d.Update(-100));

  options = {};
  options.lambda = 0;
  CHECK(PageHinkley::Make(options).status().message() == "Page-Hinkley lambda must be > 0, got 0");
  options = {};
  options.alpha = 1.5;
  CHECK(!PageHinkley::Make(options).ok());
  options = {};
  options.delta = -1;
  CHECK(!PageHinkley::Make(options).ok());
  options = {};
  options.min_samples = 0;
  CHECK(!PageHinkley::Make(options).ok());
}

Adwin MakeAdwin(const AdwinOptions& options) {
  auto d = Adwin::Make(options);
  REQUIRE(d.ok());
  return *d;
}

TEST_CASE("ADWIN: no alarm on a stationary stream, alarm and a shrunk window after a drop", "[monitor][detector]") {
  AdwinOptions options;
  options.max_window = 500;
  Gaussian g(1234);
  std::vector<double> stream;
  for (int i = 0; i < 3000; ++i) stream.push_back(g.Next(0.8, 0.05));
  Adwin quiet = MakeAdwin(options);
  CHECK(FirstAlarm(quiet, stream) == -1);
  CHECK(quiet.width() == 500);
  CHECK(quiet.mean() == Approx(0.8).margin(0.01));

  for (int i = 0; i < 500; ++i) stream.push_back(g.Next(0.5, 0.05));
  Adwin d = MakeAdwin(options);
  const int64_t alarm = FirstAlarm(d, stream);
  CHECK(alarm >= 3000);
  // The bound's second term, 2 / (3m) * ln(2n / delta) = 8.7 / m for n = 500, alone needs m > 29
  // new samples to see a drop of 0.3.
  CHECK(alarm < 3000 + 60);
  // Only samples after the step remain.
  CHECK(d.width() <= alarm - 3000 + 1);
  CHECK(d.mean() == Approx(0.5).margin(0.03));
  CHECK(d.alarms() == 1);

  // A rise is not a drop: the window shrinks, but no alarm.
  std::vector<double> rise(stream.begin(), stream.begin() + 1000);
  for (int i = 0; i < 200; ++i) rise.push_back(g.Next(0.95, 0.02));
  Adwin up = MakeAdwin(options);
  CHECK(FirstAlarm(up, rise) == -1);
  CHECK(up.width() <= 200);
  CHECK(up.mean() == Approx(0.95).margin(0.02));

  options.delta = 0;
  CHECK(Adwin::Make(options).status().message() == "ADWIN delta must be in (0, 1), got 0");
  options = {};
  options.max_window = 8;
  CHECK(!Adwin::Make(options).ok());
}

}  // namespace
}  // namespace vigil::monitor
