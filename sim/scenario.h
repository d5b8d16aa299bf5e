#pragma once
// Fraud and drift scenarios: rules that turn generated transactions into frauds (or shift them).
//
// Scenarios form a pipeline, applied in list order exactly as if each ran over the whole dataset
// before the next one:
//   1. The simulator generates the days one by one into a DayWindow.
//   2. Scenario k receives OnDay(d) once every earlier scenario is done with day d, for d = 0, 1, ...
//   3. In OnDay(d) a scenario may read and modify days [d - HorizonDays(), d] of the window, and no
//      other day. Once it returns, it is done with day d - HorizonDays().
//   4. After the last day, Finish() lets it complete work whose horizon runs past the end (windows
//      that the end of the data cuts short).
//   5. A day leaves the window (and is emitted) once every scenario is done with it.
// A scenario object holds per-run state; make a fresh list per run.
//
// To add a scenario (a new fraud pattern, a drift), implement Scenario and append it in
// MakeScenarios(), with options in FraudOptions or DriftOptions.

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "sim/transaction.h"

namespace vigil::sim {

//! Parameters of the Handbook's three fraud scenarios. The defaults are the book's.
struct FraudOptions {
  //! Scenario 1: every transaction with an amount strictly above this is fraud. Default 220 (currency
  //! units). Set to infinity to disable.
  double large_amount_threshold = 220.0;
  //! Scenario 2: terminals compromised each day. Default 2. 0 disables the scenario.
  int32_t compromised_terminals_per_day = 2;
  //! Scenario 2: days during which a compromised terminal's transactions are all fraud, starting with
  //! the day it is compromised. Default 28 (days).
  int32_t terminal_compromise_days = 28;
  //! Scenario 3: customers (cards) compromised each day. Default 3. 0 disables the scenario.
  int32_t compromised_cards_per_day = 3;
  //! Scenario 3: days during which a compromised card is used by fraudsters, starting with the day it
  //! is compromised. Default 14 (days).
  int32_t card_compromise_days = 14;
  //! Scenario 3: one in this many of the compromised cards' transactions in that period is fraud
  //! (floor(n / card_fraud_one_in) of them, drawn at random). Default 3.
  int32_t card_fraud_one_in = 3;
  //! Scenario 3: factor applied to the amount of each such fraud. Default 5.
  double card_fraud_amount_factor = 5.0;
};

//! A concept drift starting on a given day. Disabled by default.
struct DriftOptions {
  //! First day (0-based, since start_date) of the drift. Default -1: no drift.
  int32_t start_day = -1;
  //! From start_day, scenario 2 compromises this many times more terminals per day. Default 3.
  int32_t compromised_terminals_factor = 3;
  //! From start_day, the amount of every fraud (any scenario) is multiplied by this, after all fraud
  //! scenarios ran. Default 0.5: fraudsters switch to smaller amounts.
  double fraud_amount_factor = 0.5;
  //! From start_day, the amount of every transaction (genuine or not) is multiplied by this, after
  //! the fraud scenarios ran: a shift of the amount distribution. Default 1: none.
  double amount_factor = 1.0;
};

//! Checks the options' ranges against the numbers of customers and terminals.
base::Status ValidateScenarioOptions(const FraudOptions& fraud, const DriftOptions& drift, int32_t customers,
                                     int32_t terminals);

//! The days generated but not yet emitted, oldest first. Scenarios read and modify them through
//! Day(). Owned by the simulator's run; not thread-safe.
class DayWindow {
 public:
  //! The transactions of `day`, in id order. `day` must lie in [first_day(), last_day()].
  std::span<Transaction> Day(int32_t day);
  //! Whether `day` is held.
  bool Contains(int32_t day) const { return day >= first_day_ && day <= last_day(); }
  //! The oldest day held.
  int32_t first_day() const { return first_day_; }
  //! The newest day held; first_day() - 1 when empty.
  int32_t last_day() const { return first_day_ + static_cast<int32_t>(days_.size()) - 1; }
  //! Appends the next day (last_day() + 1).
  void PushBack(std::vector<Transaction> transactions) { days_.push_back(std::move(transactions)); }
  //! Removes the oldest day and returns its transactions.
  std::vector<Transaction> PopFront();

 private:
  int32_t first_day_ = 0;                      //!< Day index of days_.front().
  std::deque<std::vector<Transaction>> days_;  //!< Held days, oldest first.
};

//! One fraud or drift rule; see the pipeline contract at the top of this file.
class Scenario {
 public:
  virtual ~Scenario() = default;
  //! Later days this scenario must see before it is done with a day. Default 0.
  virtual int32_t HorizonDays() const { return 0; }
  //! Processes day `day`; may modify days [day - HorizonDays(), day] of `window`.
  virtual void OnDay(int32_t day, DayWindow& window) = 0;
  //! Called once after the last OnDay(): completes work cut short by the end of the data.
  virtual void Finish(DayWindow& window) {}
};

//! The scenarios for these options, in application order: large amount, compromised terminals,
//! compromised cards, then the drift's amount shift if a drift is configured. `seed` is the run's seed.
std::vector<std::unique_ptr<Scenario>> MakeScenarios(const FraudOptions& fraud, const DriftOptions& drift,
                                                     uint64_t seed, int32_t customers, int32_t terminals);

//! The terminals scenario 2 compromises on `day` (distinct, in draw order). Exposed for tests and
//! for explaining a dataset.
std::vector<int32_t> CompromisedTerminalsOfDay(const FraudOptions& fraud, const DriftOptions& drift,
                                               uint64_t seed, int32_t terminals, int32_t day);

//! The customers scenario 3 compromises on `day` (distinct, in draw order).
std::vector<int32_t> CompromisedCardsOfDay(const FraudOptions& fraud, uint64_t seed, int32_t customers,
                                           int32_t day);

//! `amount` rounded to cents.
double RoundToCents(double amount);

}  // namespace vigil::sim
