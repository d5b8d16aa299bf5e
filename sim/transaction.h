#pragma once
// The records the simulator produces: transactions and their delayed fraud labels.

#include <cstdint>
#include <string_view>

#include "base/time.h"

namespace vigil::sim {

//! Which rule made a transaction fraudulent. Written as its integer value (TX_FRAUD_SCENARIO).
enum class FraudScenario : int8_t {
  kGenuine = 0,              //!< Not a fraud.
  kLargeAmount = 1,          //!< Scenario 1: amount above the threshold (220).
  kCompromisedTerminal = 2,  //!< Scenario 2: made on a compromised terminal.
  kCompromisedCard = 3,      //!< Scenario 3: drawn among a compromised card's transactions.
};

//! Number of FraudScenario values, kGenuine included. Extend together with the enum.
inline constexpr int kFraudScenarioCount = 4;

//! A short English name of a scenario, e.g. "compromised terminal".
std::string_view FraudScenarioName(FraudScenario scenario);

//! One simulated card payment. A plain value: 40 bytes, trivially copyable.
struct Transaction {
  int64_t transaction_id = 0;  //!< Dense from 0; increases with tx_time_ms (ties broken by customer).
  int64_t tx_time_ms = 0;      //!< Event time, milliseconds since the Unix epoch, UTC.
  int32_t customer_id = 0;     //!< The card / customer, 0 .. customers-1.
  int32_t terminal_id = 0;     //!< The terminal / merchant, 0 .. terminals-1.
  double amount = 0;           //!< Amount in currency units, rounded to cents.
  int32_t day = 0;             //!< Days since SimOptions::start_date (0-based).
  int8_t is_fraud = 0;         //!< 1 if fraudulent, else 0.
  FraudScenario fraud_scenario = FraudScenario::kGenuine;  //!< The rule that made it fraud.
};

//! The fraud label of a transaction, known only label_delay after the transaction.
struct Label {
  int64_t transaction_id = 0;  //!< The labelled transaction.
  int64_t label_time_ms = 0;   //!< When the label becomes known: tx_time_ms + label delay.
  int8_t is_fraud = 0;         //!< 1 if fraudulent, else 0.
};

//! The label of `tx`, published `label_delay_ms` after it.
inline Label MakeLabel(const Transaction& tx, int64_t label_delay_ms) {
  return Label{tx.transaction_id, tx.tx_time_ms + label_delay_ms, tx.is_fraud};
}

using base::kMsPerDay;  //!< Milliseconds in one day (base/time.h).

}  // namespace vigil::sim
