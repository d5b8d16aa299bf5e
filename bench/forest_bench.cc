// Forest (vigil's native evaluator) against libxgboost 1.7.4, same models, same rows, same process.
// Models: 200 trees of depth 6, binary:logistic, trained here with 15 and with 30 features; 10% of
// the input values are missing. Figures:
//   Row/<features>:   one row per call; vigil PredictRow vs XGBoosterPredictFromDense (inplace).
//   Batch/<features>: 1,000 rows per call, one thread; vigil PredictBatch vs libxgboost inplace
//                     predict with nthread=1.
// After the runs it prints the ratio libxgboost time / vigil time for each pair.
//
//   ninja -C build/release forest_bench && build/release/bench/forest_bench

#include <benchmark/benchmark.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "models/forest.h"
#include "models/xgb_booster.h"

namespace vigil::models {
namespace {

constexpr int kTrees = 200;
constexpr size_t kBatchRows = 1000;
constexpr size_t kTrainRows = 20000;

//! One model in both evaluators, plus rows to score.
struct Setup {
  std::unique_ptr<XgbBooster> booster;     //!< The libxgboost side.
  std::shared_ptr<const Forest> forest;    //!< The vigil side, loaded from the booster's JSON.
  std::vector<float> rows;                 //!< kBatchRows x num_cols.
  size_t num_cols = 0;                     //!< Features.
};

//! CPU seconds per iteration of each benchmark's last (longest) run, by name, for the ratios.
std::map<std::string, double>& CpuSecondsPerIteration() {
  static std::map<std::string, double> seconds;
  return seconds;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

//! Records the CPU time of a benchmark run when it goes out of scope.
class CpuTimer {
 public:
  CpuTimer(const benchmark::State& state, std::string name)
      : state_(state), name_(std::move(name)), start_(ThreadCpuSeconds()) {}
  ~CpuTimer() {
    if (state_.iterations() > 0) {
      CpuSecondsPerIteration()[name_] = (ThreadCpuSeconds() - start_) / static_cast<double>(state_.iterations());
    }
  }

 private:
  const benchmark::State& state_;  //!< The run being timed.
  std::string name_;               //!< Key in CpuSecondsPerIteration.
  double start_;                   //!< Thread CPU seconds at the start.
};

//! Prints libxgboost time / vigil time for each pair of benchmarks that ran.
void PrintRatios() {
  const auto& seconds = CpuSecondsPerIteration();
  std::printf("\nCPU time per call, libxgboost / vigil (same models, same rows, same process):\n");
  for (const char* kind : {"Row", "Batch"}) {
    for (int features : {15, 30}) {
      const std::string suffix = std::string(kind) + "/" + std::to_string(features);
      auto vigil = seconds.find("Vigil" + suffix);
      auto xgb = seconds.find("Xgboost" + suffix);
      if (vigil == seconds.end() || xgb == seconds.end()) continue;
      std::printf("  %-5s %2d features: vigil %10.3f us  libxgboost %10.3f us  ratio %6.1fx\n", kind, features,
                  vigil->second * 1e6, xgb->second * 1e6, xgb->second / vigil->second);
    }
  }
}

std::vector<float> RandomRows(size_t n, size_t cols, std::mt19937* rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> rows(n * cols);
  for (float& v : rows) v = uniform(*rng) < 0.1f ? std::numeric_limits<float>::quiet_NaN() : normal(*rng);
  return rows;
}

std::map<size_t, Setup>& Setups() {
  static std::map<size_t, Setup> setups;
  return setups;
}

Setup& GetSetup(size_t num_cols) {
  Setup& s = Setups()[num_cols];
  if (s.forest) return s;
  std::mt19937 rng(static_cast<uint32_t>(num_cols));
  std::vector<float> train = RandomRows(kTrainRows, num_cols, &rng);
  std::vector<float> labels(kTrainRows);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (size_t i = 0; i < kTrainRows; ++i) {
    const float* r = &train[i * num_cols];
    float score = 0;
    for (size_t j = 0; j < num_cols; ++j) score += std::isnan(r[j]) ? 0.0f : (j % 2 ? std::sin(r[j]) : r[j]) / (1 + j % 4);
    labels[i] = uniform(rng) < 1.0f / (1.0f + std::exp(-2.0f * score)) ? 1.0f : 0.0f;
  }
  auto dmatrix = DMatrix::FromDense(train.data(), kTrainRows, num_cols, labels);
  TrainOptions options;
  options.params = {{"objective", "binary:logistic"}, {"max_depth", "6"}, {"eta", "0.1"}, {"nthread", "2"}};
  options.rounds = kTrees;
  auto booster = XgbBooster::Train(**dmatrix, options);
  if (!booster.ok()) std::abort();
  s.booster = std::move(booster).value();
  if (!s.booster->SetParam("nthread", "1").ok()) std::abort();
  auto forest = Forest::Load(s.booster->Save(ModelFormat::kJson).value());
  if (!forest.ok()) std::abort();
  s.forest = *forest;
  s.rows = RandomRows(kBatchRows, num_cols, &rng);
  s.num_cols = num_cols;
  return s;
}

void BM_VigilRow(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<size_t>(state.range(0)));
  CpuTimer timer(state, "VigilRow/" + std::to_string(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.forest->PredictRow(&s.rows[i * s.num_cols]));
    i = (i + 1) % kBatchRows;
  }
}

void BM_XgboostRow(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<size_t>(state.range(0)));
  CpuTimer timer(state, "XgboostRow/" + std::to_string(state.range(0)));
  size_t i = 0;
  float out = 0;
  for (auto _ : state) {
    if (!s.booster->PredictDense(&s.rows[i * s.num_cols], 1, s.num_cols, PredictKind::kValue, &out).ok()) {
      state.SkipWithError("libxgboost predict failed");
    }
    benchmark::DoNotOptimize(out);
    i = (i + 1) % kBatchRows;
  }
}

void BM_VigilBatch(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<size_t>(state.range(0)));
  CpuTimer timer(state, "VigilBatch/" + std::to_string(state.range(0)));
  std::vector<float> out(kBatchRows);
  for (auto _ : state) {
    s.forest->PredictBatch(s.rows.data(), kBatchRows, s.num_cols, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatchRows);
}

void BM_XgboostBatch(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<size_t>(state.range(0)));
  CpuTimer timer(state, "XgboostBatch/" + std::to_string(state.range(0)));
  std::vector<float> out(kBatchRows);
  for (auto _ : state) {
    if (!s.booster->PredictDense(s.rows.data(), kBatchRows, s.num_cols, PredictKind::kValue, out.data()).ok()) {
      state.SkipWithError("libxgboost predict failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatchRows);
}

BENCHMARK(BM_VigilRow)->Arg(15)->Arg(30);
BENCHMARK(BM_XgboostRow)->Arg(15)->Arg(30);
BENCHMARK(BM_VigilBatch)->Arg(15)->Arg(30)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_XgboostBatch)->Arg(15)->Arg(30)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vigil::models

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  vigil::models::PrintRatios();
  // Boosters must go before libxgboost's own static state is torn down at exit.
  vigil::models::Setups().clear();
  benchmark::Shutdown();
  return 0;
}
