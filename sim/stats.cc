#include "sim/stats.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace vigil::sim {
namespace {

template <typename Field>
double MeanOverDays(const std::vector<DayStats>& days, Field field) {
  if (days.empty()) return 0;
  double sum = 0;
  for (const DayStats& d : days) sum += static_cast<double>(d.*field);
  return sum / static_cast<double>(days.size());
}

}  // namespace

double SimStats::FraudRate() const {
  return transactions == 0 ? 0 : static_cast<double>(frauds) / static_cast<double>(transactions);
}
double SimStats::MeanTransactionsPerDay() const { return MeanOverDays(days, &DayStats::transactions); }
double SimStats::MeanFraudsPerDay() const { return MeanOverDays(days, &DayStats::frauds); }
double SimStats::MeanCompromisedCardsPerDay() const {
  return MeanOverDays(days, &DayStats::compromised_cards);
}

void StatsAccumulator::AddDay(int32_t day, std::span<const Transaction> transactions) {
  DayStats d;
  d.day = day;
  d.transactions = static_cast<int64_t>(transactions.size());
  fraud_customers_.clear();
  for (const Transaction& tx : transactions) {
    ++stats_.by_scenario[static_cast<size_t>(tx.fraud_scenario)];
    if (tx.is_fraud) {
      ++d.frauds;
      fraud_customers_.push_back(tx.customer_id);
    }
  }
  std::sort(fraud_customers_.begin(), fraud_customers_.end());
  d.compromised_cards =
      std::unique(fraud_customers_.begin(), fraud_customers_.end()) - fraud_customers_.begin();
  stats_.transactions += d.transactions;
  stats_.frauds += d.frauds;
  stats_.days.push_back(d);
}

SimStats ComputeStats(std::span<const Transaction> transactions) {
  std::map<int32_t, std::vector<Transaction>> by_day;
  for (const Transaction& tx : transactions) by_day[tx.day].push_back(tx);
  StatsAccumulator acc;
  for (const auto& [day, txs] : by_day) acc.AddDay(day, txs);
  return acc.stats();
}

base::Result<SimStats> Summarize(const SimOptions& options, const ProgressCallback& on_progress) {
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Simulator> sim, Simulator::Make(options));
  StatsAccumulator acc;
  VIGIL_RETURN_IF_ERROR(sim->Run(
      [&](int32_t day, std::span<const Transaction> txs) {
        acc.AddDay(day, txs);
        return base::Status::OK();
      },
      on_progress));
  return acc.stats();
}

std::string FormatStats(const SimStats& stats) {
  char line[160];
  std::string out;
  std::snprintf(line, sizeof(line), "transactions: %lld over %zu days (%.1f per day)\n",
                static_cast<long long>(stats.transactions), stats.days.size(),
                stats.MeanTransactionsPerDay());
  out += line;
  std::snprintf(line, sizeof(line), "frauds: %lld (%.3f%%, %.1f per day, %.1f compromised cards per day)\n",
                static_cast<long long>(stats.frauds), 100.0 * stats.FraudRate(), stats.MeanFraudsPerDay(),
                stats.MeanCompromisedCardsPerDay());
  out += line;
  for (int s = 0; s < kFraudScenarioCount; ++s) {
    std::snprintf(line, sizeof(line), "  scenario %d (%s): %lld\n", s,
                  std::string(FraudScenarioName(static_cast<FraudScenario>(s))).c_str(),
                  static_cast<long long>(stats.by_scenario[static_cast<size_t>(s)]));
    out += line;
  }
  return out;
}

}  // namespace vigil::sim
