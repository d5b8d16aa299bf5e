#pragma once
// The Handbook transaction simulator (Le Borgne et al., "Reproducible Machine Learning for Credit Card
// Fraud Detection", chapter 3), as specified in fraudsim/SPEC.md: customers and terminals on a
// 100 x 100 map, daily Poisson transaction counts, normal amounts and times of day, three fraud
// scenarios, and an optional drift.
//
// Output: transactions in time order, with transaction ids following time order, delivered one day
// at a time. Deterministic for a seed, with any standard library.
//
//   VIGIL_ASSIGN_OR_RETURN(auto sim, Simulator::Make(options));
//   VIGIL_RETURN_IF_ERROR(sim->Run([&](int32_t day, std::span<const Transaction> txs) {
//     return writer->Write(txs);
//   }));

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "sim/scenario.h"
#include "sim/transaction.h"

namespace vigil::sim {

//! What to simulate. The defaults reproduce the book's dataset (183 days from 2018-04-01).
struct SimOptions {
  //! Number of customers (cards). Default 5,000.
  int32_t customers = 5000;
  //! Number of terminals (merchants). Default 10,000.
  int32_t terminals = 10000;
  //! Number of simulated days. Default 183 (days).
  int32_t days = 183;
  //! First simulated day, midnight UTC, as "YYYY-MM-DD". Default "2018-04-01".
  std::string start_date = "2018-04-01";
  //! A customer may use the terminals strictly closer than this, in map units (the map is
  //! 100 x 100). Default 5.0 (about 78 terminals per customer).
  double radius = 5.0;
  //! Delay after which a transaction's fraud label is published. Default 7 (days).
  int32_t label_delay_days = 7;
  //! Seed of every random draw. Default 0.
  uint64_t seed = 0;
  //! The fraud scenarios; defaults are the book's.
  FraudOptions fraud;
  //! An optional drift; disabled by default.
  DriftOptions drift;

  //! label_delay_days in milliseconds.
  int64_t LabelDelayMs() const { return static_cast<int64_t>(label_delay_days) * kMsPerDay; }
};

//! A customer's fixed profile.
struct CustomerProfile {
  int32_t id = 0;                            //!< Customer id, 0 .. customers-1.
  double x = 0;                              //!< Location, U(0, 100).
  double y = 0;                              //!< Location, U(0, 100).
  double mean_amount = 0;                    //!< Mean amount, U(5, 100).
  double std_amount = 0;                     //!< Amount standard deviation: mean_amount / 2.
  double mean_tx_per_day = 0;                //!< Mean number of transactions per day, U(0, 4).
  std::vector<int32_t> available_terminals;  //!< Terminals closer than the radius, ascending ids.
};

//! A terminal's fixed profile.
struct TerminalProfile {
  int32_t id = 0;  //!< Terminal id, 0 .. terminals-1.
  double x = 0;    //!< Location, U(0, 100).
  double y = 0;    //!< Location, U(0, 100).
};

//! Receives one finished day: its index and its transactions in id order. The span lives until the
//! callback returns. A non-OK status stops the run and is returned by Run().
using DayCallback = std::function<base::Status(int32_t day, std::span<const Transaction> transactions)>;

//! Receives the share of days delivered so far, in percent (0 < percent <= 100), after each day.
using ProgressCallback = std::function<void(double percent)>;

//! The simulator. Make() draws the customer and terminal profiles; Run() generates the transactions.
//! Immutable after Make(): Run() may be called any number of times, from any threads concurrently,
//! and always produces the same transactions.
class Simulator {
 public:
  //! A simulator for `options`; InvalidArgument if an option is out of range.
  static base::Result<std::unique_ptr<Simulator>> Make(const SimOptions& options);

  //! Generates every day in order and hands each to `on_day` once it is final (scenario 3 looks 13
  //! days ahead, so delivery lags generation by as much). Memory stays at about 15 days of
  //! transactions. Returns the first error of `on_day`, else OK.
  base::Status Run(const DayCallback& on_day, const ProgressCallback& on_progress = nullptr) const;

  //! The options it was made with.
  const SimOptions& options() const { return options_; }
  //! start_date as milliseconds since the Unix epoch.
  int64_t start_ms() const { return start_ms_; }
  //! Customer profiles, indexed by id.
  std::span<const CustomerProfile> customers() const { return customers_; }
  //! Terminal profiles, indexed by id.
  std::span<const TerminalProfile> terminals() const { return terminals_; }

  //! The transactions of `day` before any fraud scenario: all genuine, ids from `first_id`. Run()
  //! builds on exactly these.
  std::vector<Transaction> GenerateDay(int32_t day, int64_t first_id) const;

 private:
  Simulator(SimOptions options, int64_t start_ms);
  void DrawProfiles();

  SimOptions options_;                      //!< The options.
  int64_t start_ms_;                        //!< start_date at midnight UTC, epoch ms.
  std::vector<CustomerProfile> customers_;  //!< Indexed by customer id.
  std::vector<TerminalProfile> terminals_;  //!< Indexed by terminal id.
};

//! Runs a simulation and returns every transaction, in id order. Convenient for tests and small
//! runs; the book's 183 days take about 70 MB.
base::Result<std::vector<Transaction>> GenerateTransactions(const SimOptions& options);

}  // namespace vigil::sim
