#pragma once
// Summary statistics of a simulated dataset: totals, fraud rate, frauds per scenario, and the daily
// series the Handbook plots (transactions, frauds and compromised cards per day).

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "sim/simulator.h"
#include "sim/transaction.h"

namespace vigil::sim {

//! Counts of one day.
struct DayStats {
  int32_t day = 0;                //!< Days since start_date.
  int64_t transactions = 0;       //!< Transactions that day.
  int64_t frauds = 0;             //!< Frauds that day.
  int64_t compromised_cards = 0;  //!< Distinct customers with at least one fraud that day.
};

//! Statistics of a whole dataset (or of the days added so far).
struct SimStats {
  int64_t transactions = 0;  //!< All transactions.
  int64_t frauds = 0;        //!< Transactions with is_fraud = 1.
  //! Transactions per FraudScenario value (index 0 counts the genuine ones).
  std::array<int64_t, kFraudScenarioCount> by_scenario{};
  std::vector<DayStats> days;  //!< One entry per day, in day order.

  //! frauds / transactions, 0 when empty.
  double FraudRate() const;
  //! Mean of DayStats::transactions.
  double MeanTransactionsPerDay() const;
  //! Mean of DayStats::frauds.
  double MeanFraudsPerDay() const;
  //! Mean of DayStats::compromised_cards.
  double MeanCompromisedCardsPerDay() const;
};

//! Accumulates SimStats day by day; pass AddDay as (part of) Simulator::Run's callback.
//! Not thread-safe.
class StatsAccumulator {
 public:
  //! Adds one day's transactions.
  void AddDay(int32_t day, std::span<const Transaction> transactions);
  //! The statistics so far.
  const SimStats& stats() const { return stats_; }

 private:
  SimStats stats_;                        //!< Running totals.
  std::vector<int32_t> fraud_customers_;  //!< Scratch: the day's defrauded customers.
};

//! Statistics of whole `transactions` (any order); days are numbered by Transaction::day.
SimStats ComputeStats(std::span<const Transaction> transactions);

//! Runs the simulation for `options` without keeping the transactions and returns its statistics.
base::Result<SimStats> Summarize(const SimOptions& options, const ProgressCallback& on_progress = nullptr);

//! A few human-readable lines: totals, fraud rate, per-scenario counts, daily means.
std::string FormatStats(const SimStats& stats);

}  // namespace vigil::sim
