#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "sim/civil_time.h"
#include "sim/random.h"

namespace vigil::sim {
namespace {

constexpr double kMapSize = 100.0;      // customers and terminals live on [0, 100)^2
constexpr double kMinMeanAmount = 5.0;  // mean_amount ~ U(5, 100)
constexpr double kMaxMeanAmount = 100.0;
constexpr double kMaxMeanTxPerDay = 4.0;  // mean_tx_per_day ~ U(0, 4)
constexpr double kSecondsPerDay = 86'400.0;
constexpr double kMeanTimeOfDay = 43'200.0;  // time of day ~ N(noon, 20,000 s)
constexpr double kStdTimeOfDay = 20'000.0;
constexpr int32_t kMaxCellsPerSide = 1024;  // bounds the grid's memory for tiny radii

// Terminals bucketed in square cells of side >= radius, so a query visits the 3 x 3 cells around
// its point.
class TerminalGrid {
 public:
  TerminalGrid(std::span<const TerminalProfile> terminals, double radius)
      : terminals_(terminals), radius_(radius) {
    cells_per_side_ = std::clamp(static_cast<int32_t>(kMapSize / radius), 1, kMaxCellsPerSide);
    cell_ = kMapSize / cells_per_side_;
    cells_.resize(static_cast<size_t>(cells_per_side_) * static_cast<size_t>(cells_per_side_));
    for (const TerminalProfile& t : terminals_) cells_[CellIndex(Cell(t.x), Cell(t.y))].push_back(t.id);
  }

  std::vector<int32_t> Near(double x, double y) const {
    std::vector<int32_t> out;
    const int32_t cx = Cell(x);
    const int32_t cy = Cell(y);
    for (int32_t i = std::max(cx - 1, 0); i <= std::min(cx + 1, cells_per_side_ - 1); ++i) {
      for (int32_t j = std::max(cy - 1, 0); j <= std::min(cy + 1, cells_per_side_ - 1); ++j) {
        for (int32_t id : cells_[CellIndex(i, j)]) {
          const TerminalProfile& t = terminals_[static_cast<size_t>(id)];
          const double dx = t.x - x;
          const double dy = t.y - y;
          if (std::sqrt(dx * dx + dy * dy) < radius_) out.push_back(id);
        }
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  int32_t Cell(double v) const { return std::clamp(static_cast<int32_t>(v / cell_), 0, cells_per_side_ - 1); }
  size_t CellIndex(int32_t i, int32_t j) const {
    return static_cast<size_t>(i) * static_cast<size_t>(cells_per_side_) + static_cast<size_t>(j);
  }

  std::span<const TerminalProfile> terminals_;
  double radius_;
  double cell_ = kMapSize;
  int32_t cells_per_side_ = 1;
  std::vector<std::vector<int32_t>> cells_;
};

base::Status ValidateOptions(const SimOptions& o) {
  if (o.customers <= 0) return base::InvalidArgument("customers must be > 0");
  if (o.terminals <= 0) return base::InvalidArgument("terminals must be > 0");
  if (o.days <= 0) return base::InvalidArgument("days must be > 0");
  if (!(o.radius > 0) || !std::isfinite(o.radius)) return base::InvalidArgument("radius must be > 0");
  if (o.label_delay_days < 0) return base::InvalidArgument("label_delay_days must be >= 0");
  return ValidateScenarioOptions(o.fraud, o.drift, o.customers, o.terminals);
}

}  // namespace

Simulator::Simulator(SimOptions options, int64_t start_ms)
    : options_(std::move(options)), start_ms_(start_ms) {}

base::Result<std::unique_ptr<Simulator>> Simulator::Make(const SimOptions& options) {
  VIGIL_RETURN_IF_ERROR(ValidateOptions(options).WithContext("simulator options"));
  auto start_ms = ParseDateMs(options.start_date);
  if (!start_ms.ok()) return start_ms.status().WithContext("simulator options: start_date");
  std::unique_ptr<Simulator> sim(new Simulator(options, *start_ms));
  sim->DrawProfiles();
  return sim;
}

void Simulator::DrawProfiles() {
  Rng customer_rng(StreamSeed(options_.seed, Stream::kCustomerProfiles, 0));
  customers_.resize(static_cast<size_t>(options_.customers));
  for (int32_t id = 0; id < options_.customers; ++id) {
    CustomerProfile& c = customers_[static_cast<size_t>(id)];
    c.id = id;
    c.x = customer_rng.Uniform(0, kMapSize);
    c.y = customer_rng.Uniform(0, kMapSize);
    c.mean_amount = customer_rng.Uniform(kMinMeanAmount, kMaxMeanAmount);
    c.std_amount = c.mean_amount / 2;
    c.mean_tx_per_day = customer_rng.Uniform(0, kMaxMeanTxPerDay);
  }
  Rng terminal_rng(StreamSeed(options_.seed, Stream::kTerminalProfiles, 0));
  terminals_.resize(static_cast<size_t>(options_.terminals));
  for (int32_t id = 0; id < options_.terminals; ++id) {
    TerminalProfile& t = terminals_[static_cast<size_t>(id)];
    t.id = id;
    t.x = terminal_rng.Uniform(0, kMapSize);
    t.y = terminal_rng.Uniform(0, kMapSize);
  }
  const TerminalGrid grid(terminals_, options_.radius);
  for (CustomerProfile& c : customers_) c.available_terminals = grid.Near(c.x, c.y);
}

std::vector<Transaction> Simulator::GenerateDay(int32_t day, int64_t first_id) const {
  Rng rng(StreamSeed(options_.seed, Stream::kTransactions, static_cast<uint64_t>(day)));
  std::vector<Transaction> txs;
  txs.reserve(static_cast<size_t>(options_.customers) * 2 + 64);
  const int64_t day_start_ms = start_ms_ + static_cast<int64_t>(day) * kMsPerDay;
  for (const CustomerProfile& c : customers_) {
    if (c.available_terminals.empty()) continue;
    const int64_t count = rng.Poisson(c.mean_tx_per_day);
    for (int64_t i = 0; i < count; ++i) {
      const double seconds = std::floor(rng.Normal(kMeanTimeOfDay, kStdTimeOfDay));
      if (!(seconds > 0 && seconds < kSecondsPerDay)) continue;
      double amount = rng.Normal(c.mean_amount, c.std_amount);
      if (amount < 0) amount = rng.Uniform(0, 2 * c.mean_amount);
      const uint64_t pick = rng.UniformIndex(c.available_terminals.size());
      Transaction tx;
      tx.tx_time_ms = day_start_ms + static_cast<int64_t>(seconds) * 1000;
      tx.customer_id = c.id;
      tx.terminal_id = c.available_terminals[pick];
      tx.amount = RoundToCents(amount);
      tx.day = day;
      txs.push_back(tx);
    }
  }
  // Stable: equal times keep customer order, then draw order.
  std::stable_sort(txs.begin(), txs.end(),
                   [](const Transaction& a, const Transaction& b) { return a.tx_time_ms < b.tx_time_ms; });
  for (Transaction& tx : txs) tx.transaction_id = first_id++;
  return txs;
}

base::Status Simulator::Run(const DayCallback& on_day, const ProgressCallback& on_progress) const {
  const auto scenarios =
      MakeScenarios(options_.fraud, options_.drift, options_.seed, options_.customers, options_.terminals);
  // lag_before[k]: days scenario k trails generation by, the horizons of the scenarios before it.
  std::vector<int32_t> lag_before(scenarios.size() + 1, 0);
  for (size_t k = 0; k < scenarios.size(); ++k)
    lag_before[k + 1] = lag_before[k] + scenarios[k]->HorizonDays();
  const int32_t total_lag = lag_before.back();
  const int32_t days = options_.days;

  DayWindow window;
  auto emit_through = [&](int32_t last) -> base::Status {
    while (window.first_day() <= last && window.first_day() <= window.last_day()) {
      const int32_t day = window.first_day();
      const std::vector<Transaction> txs = window.PopFront();
      VIGIL_RETURN_IF_ERROR(on_day(day, txs));
      if (on_progress) on_progress(100.0 * (day + 1) / days);
    }
    return base::Status::OK();
  };

  int64_t next_id = 0;
  for (int32_t d = 0; d < days; ++d) {
    std::vector<Transaction> txs = GenerateDay(d, next_id);
    next_id += static_cast<int64_t>(txs.size());
    window.PushBack(std::move(txs));
    for (size_t k = 0; k < scenarios.size(); ++k) {
      if (d - lag_before[k] >= 0) scenarios[k]->OnDay(d - lag_before[k], window);
    }
    VIGIL_RETURN_IF_ERROR(emit_through(d - total_lag));
  }
  // Drain: each scenario, in order, gets the days it has not seen yet, then finishes.
  for (size_t k = 0; k < scenarios.size(); ++k) {
    for (int32_t e = std::max(0, days - lag_before[k]); e < days; ++e) scenarios[k]->OnDay(e, window);
    scenarios[k]->Finish(window);
  }
  return emit_through(days - 1);
}

base::Result<std::vector<Transaction>> GenerateTransactions(const SimOptions& options) {
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Simulator> sim, Simulator::Make(options));
  std::vector<Transaction> all;
  VIGIL_RETURN_IF_ERROR(sim->Run([&](int32_t, std::span<const Transaction> txs) {
    all.insert(all.end(), txs.begin(), txs.end());
    return base::Status::OK();
  }));
  return all;
}

}  // namespace vigil::sim
