// Per-segment metrics: a planted under-served segment (one channel's frauds scored low) is flagged and
// the others are not, with every figure computed by hand; amount bands and card age by their rules;
// and AP, precision and recall per segment against scikit-learn on random data.
#include "models/segments.h"

#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "base/time.h"

namespace vigil::models {
namespace {

TEST_CASE("a planted under-served segment is flagged, the others are not", "[models][segments]") {
  // pos: frauds scored high; web: its two frauds scored under the threshold, a genuine one over it.
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.3, 0.2, 0.85, 0.4, 0.35, 0.1};
  const std::vector<int> labels = {1, 1, 0, 0, 0, 0, 1, 1, 0};
  const std::vector<double> amounts = {10, 150, 50, 30, 5, 25, 120, 60, 15};
  Segmentation channel{"CHANNEL", {"pos", "web"}, {0, 0, 0, 0, 0, 1, 1, 1, 1}};
  Segmentation bands{kAmountDimension, AmountBandNames(std::vector<double>{20, 100, 1000}), {}};
  for (double a : amounts) bands.value_of_row.push_back(AmountBand(a, std::vector<double>{20, 100, 1000}));
  const std::vector<Segmentation> segmentations = {channel, bands};
  auto report = EvaluateSegments(scores, labels, segmentations, 0.5, 0.5);
  REQUIRE(report.ok());
  const SegmentReport& r = *report;
  // All rows: alerts 0.9, 0.85, 0.8, 0.7; frauds caught 2 of 4.
  CHECK(r.overall.transactions == 9);
  CHECK(r.overall.frauds == 4);
  CHECK(r.overall.alerts == 4);
  CHECK(r.overall.precision == 0.5);
  CHECK(r.overall.recall == 0.5);
  // Thresholds 0.9 (P 1, R .25), 0.8 (2/3, .5), 0.4 (3/5, .75), 0.35 (4/6, 1).
  CHECK(r.overall.average_precision == Approx(0.25 + 0.25 * 2 / 3 + 0.25 * 0.6 + 0.25 * 4 / 6));
  REQUIRE(r.segments.size() == 6);

  const SegmentMetrics& pos = r.segments[0];
  CHECK(pos.dimension == "CHANNEL");
  CHECK(pos.value == "pos");
  CHECK(pos.transactions == 5);
  CHECK(pos.precision == Approx(2.0 / 3));
  CHECK(pos.recall == 1);
  CHECK(pos.average_precision == 1);
  CHECK_FALSE(pos.underserved);

  const SegmentMetrics& web = r.segments[1];
  CHECK(web.value == "web");
  CHECK(web.alerts == 1);
  CHECK(web.precision == 0);
  CHECK(web.recall == 0);
  CHECK(web.average_precision == Approx(0.5 * 0.5 + 0.5 * 2 / 3));
  CHECK(web.low_precision);
  CHECK(web.low_recall);
  CHECK(web.underserved);

  CHECK(r.segments[2].value == "<20");  // 0.9 fraud, 0.2, 0.1: all caught, nothing wasted
  CHECK(r.segments[2].precision == 1);
  CHECK(r.segments[2].recall == 1);
  CHECK_FALSE(r.segments[2].underserved);
  CHECK(r.segments[3].value == "20-100");  // alerts 0.7 and 0.85 genuine, the fraud at 0.35 missed
  CHECK(r.segments[3].precision == 0);
  CHECK(r.segments[3].recall == 0);
  CHECK(r.segments[3].underserved);
  CHECK(r.segments[4].value == "100-1000");  // 0.8 caught, 0.4 missed: recall 0.5, at the overall's
  CHECK(r.segments[4].precision == 1);
  CHECK(r.segments[4].recall == 0.5);
  CHECK_FALSE(r.segments[4].underserved);
  CHECK(r.segments[5].value == ">=1000");  // no rows: undefined figures flag nothing
  CHECK(r.segments[5].transactions == 0);
  CHECK(std::isnan(r.segments[5].precision));
  CHECK(std::isnan(r.segments[5].recall));
  CHECK(std::isnan(r.segments[5].average_precision));
  CHECK_FALSE(r.segments[5].underserved);
  CHECK(r.underserved == 2);

  // A ratio of 0 flags nothing; a ratio of 1 also flags a segment just under the overall figure.
  CHECK(EvaluateSegments(scores, labels, segmentations, 0.5, 0)->underserved == 0);
  CHECK(EvaluateSegments(scores, labels, segmentations, 0.5, 1)->underserved == 2);
  CHECK_FALSE(EvaluateSegments(scores, labels, segmentations, 0.5, 1.5).ok());
  Segmentation broken = channel;
  broken.value_of_row[0] = 2;
  CHECK_FALSE(EvaluateSegments(scores, labels, std::vector<Segmentation>{broken}, 0.5, 0.5).ok());
}

TEST_CASE("amount bands and card age follow their documented rules", "[models][segments]") {
  const std::vector<double> bounds = {20, 100, 500};
  CHECK(AmountBandNames(bounds) == std::vector<std::string>{"<20", "20-100", "100-500", ">=500"});
  CHECK(AmountBandNames(std::vector<double>{12.5}) == std::vector<std::string>{"<12.5", ">=12.5"});
  CHECK(AmountBand(0, bounds) == 0);
  CHECK(AmountBand(19.99, bounds) == 0);
  CHECK(AmountBand(20, bounds) == 1);  // a band holds its lower bound
  CHECK(AmountBand(99.99, bounds) == 1);
  CHECK(AmountBand(100, bounds) == 2);
  CHECK(AmountBand(500, bounds) == 3);
  CHECK(AmountBand(1e9, bounds) == 3);
  CHECK(AmountBand(std::nan(""), bounds) == 0);
  CHECK(CheckAmountBands(bounds).ok());
  CHECK_FALSE(CheckAmountBands(std::vector<double>{}).ok());
  CHECK_FALSE(CheckAmountBands(std::vector<double>{100, 20}).ok());
  CHECK_FALSE(CheckAmountBands(std::vector<double>{20, 20}).ok());
  constexpr int64_t kDay = base::kMsPerDay;
  CHECK(IsNewCard(0, 0, 30));
  CHECK(IsNewCard(0, 30 * kDay - 1, 30));
  CHECK_FALSE(IsNewCard(0, 30 * kDay, 30));
}

// Random scores in three segments, one of them scored worse; scikit-learn computes AP, precision and
// recall of each segment (pandas groupby). Returns false without sklearn.
bool Sklearn(const std::vector<double>& scores, const std::vector<int>& labels,
             const std::vector<uint32_t>& seg, double threshold, std::vector<std::array<double, 3>>* out) {
  const auto path =
      std::filesystem::temp_directory_path() / ("vigil_segments_" + std::to_string(::getpid()) + ".csv");
  {
    std::ofstream f(path);
    f.precision(17);
    f << "s,y,g\n";
    for (size_t i = 0; i < scores.size(); ++i) f << scores[i] << ',' << labels[i] << ',' << seg[i] << '\n';
  }
  const std::string command =
      "/usr/bin/python3 -c 'import sys, pandas as pd\n"
      "from sklearn.metrics import average_precision_score, precision_score, recall_score\n"
      "d = pd.read_csv(sys.argv[1]); t = float(sys.argv[2])\n"
      "for g, x in d.groupby(\"g\"):\n"
      "    p = (x.s >= t).astype(int)\n"
      "    print(repr(average_precision_score(x.y, x.s)), repr(precision_score(x.y, p)), "
      "repr(recall_score(x.y, p)))' " +
      path.string() + " " + std::to_string(threshold) + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<double, 3> v{};
  while (std::fscanf(pipe, "%lf %lf %lf", &v[0], &v[1], &v[2]) == 3) out->push_back(v);
  const int status = ::pclose(pipe);
  std::filesystem::remove(path);
  if (status != 0 && std::system("/usr/bin/python3 -c 'import sklearn, pandas' >/dev/null 2>&1") != 0)
    return false;
  REQUIRE(status == 0);
  return true;
}

TEST_CASE("per-segment AP, precision and recall agree with scikit-learn", "[models][segments][sklearn]") {
  std::mt19937_64 rng(20240607);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::bernoulli_distribution fraud(0.1);
  std::vector<double> scores;
  std::vector<int> labels;
  Segmentation seg{"G", {"a", "b", "c"}, {}};
  for (int i = 0; i < 3000; ++i) {
    const auto g = static_cast<uint32_t>(i % 3);
    const int y = fraud(rng) ? 1 : 0;
    // Segment 2's frauds get no lift: it is the under-served one.
    const double lift = y == 1 && g != 2 ? 0.5 : 0.0;
    scores.push_back(std::round((uniform(rng) * 0.6 + lift) * 100) / 100);  // ties, as real scores have
    labels.push_back(y);
    seg.value_of_row.push_back(g);
  }
  std::vector<std::array<double, 3>> expected;
  if (!Sklearn(scores, labels, seg.value_of_row, 0.5, &expected)) {
    WARN("/usr/bin/python3 with sklearn and pandas not found: cross-check skipped");
    return;
  }
  REQUIRE(expected.size() == 3);
  auto report = EvaluateSegments(scores, labels, std::vector<Segmentation>{seg}, 0.5, 0.5);
  REQUIRE(report.ok());
  for (size_t g = 0; g < 3; ++g) {
    INFO("segment " << g);
    CHECK(std::abs(report->segments[g].average_precision - expected[g][0]) < 1e-9);
    CHECK(std::abs(report->segments[g].precision - expected[g][1]) < 1e-9);
    CHECK(std::abs(report->segments[g].recall - expected[g][2]) < 1e-9);
  }
  CHECK_FALSE(report->segments[0].underserved);
  CHECK_FALSE(report->segments[1].underserved);
  CHECK(report->segments[2].underserved);
  CHECK(report->segments[2].low_recall);
}

}  // namespace
}  // namespace vigil::models
