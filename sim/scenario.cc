#include "sim/scenario.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

#include "sim/random.h"

namespace vigil::sim {
namespace {

// `count` distinct values of [0, n), in draw order. Rejection when count << n (the usual case, and
// it needs no O(n) array); a partial Fisher-Yates shuffle otherwise.
std::vector<int32_t> SampleDistinct(Rng& rng, int32_t count, int32_t n) {
  std::vector<int32_t> out;
  if (count > n / 16) {
    out.resize(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = i;
    for (int32_t i = 0; i < count; ++i) {
      const auto j = i + static_cast<int32_t>(rng.UniformIndex(static_cast<uint64_t>(n - i)));
      std::swap(out[static_cast<size_t>(i)], out[static_cast<size_t>(j)]);
    }
    out.resize(static_cast<size_t>(count));
    return out;
  }
  out.reserve(static_cast<size_t>(count));
  while (static_cast<int32_t>(out.size()) < count) {
    const auto v = static_cast<int32_t>(rng.UniformIndex(static_cast<uint64_t>(n)));
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

void MarkFraud(Transaction& tx, FraudScenario scenario) {
  tx.is_fraud = 1;
  tx.fraud_scenario = scenario;
}

//! Scenario 1: amounts above a threshold are fraud.
class LargeAmountScenario final : public Scenario {
 public:
  //! A scenario with threshold `threshold` (currency units).
  explicit LargeAmountScenario(double threshold) : threshold_(threshold) {}

  void OnDay(int32_t day, DayWindow& window) override {
    for (Transaction& tx : window.Day(day)) {
      if (tx.amount > threshold_) MarkFraud(tx, FraudScenario::kLargeAmount);
    }
  }

 private:
  double threshold_;  //!< Amounts strictly above this are fraud.
};

//! Scenario 2: each day a few terminals are compromised; all their transactions for a period are fraud.
class CompromisedTerminalScenario final : public Scenario {
 public:
  //! A scenario over `terminals` terminals.
  CompromisedTerminalScenario(const FraudOptions& fraud, const DriftOptions& drift, uint64_t seed,
                              int32_t terminals)
      : fraud_(fraud),
        drift_(drift),
        seed_(seed),
        terminals_(terminals),
        compromised_until_(static_cast<size_t>(terminals), -1) {}

  void OnDay(int32_t day, DayWindow& window) override {
    for (int32_t terminal : CompromisedTerminalsOfDay(fraud_, drift_, seed_, terminals_, day)) {
      int32_t& until = compromised_until_[static_cast<size_t>(terminal)];
      until = std::max(until, day + fraud_.terminal_compromise_days - 1);
    }
    for (Transaction& tx : window.Day(day)) {
      if (compromised_until_[static_cast<size_t>(tx.terminal_id)] >= day) {
        MarkFraud(tx, FraudScenario::kCompromisedTerminal);
      }
    }
  }

 private:
  FraudOptions fraud_;                      //!< Scenario parameters.
  DriftOptions drift_;                      //!< Raises the daily count from drift_.start_day.
  uint64_t seed_;                           //!< The run's seed.
  int32_t terminals_;                       //!< Number of terminals.
  std::vector<int32_t> compromised_until_;  //!< Per terminal: last compromised day, or -1.
};

//! Scenario 3: each day a few cards are compromised; a fraction of their transactions over a period
//! become frauds with inflated amounts. The fraction is drawn over the whole period, so a card's
//! period is resolved once its last day has been generated: the horizon is period - 1 days.
class CompromisedCardScenario final : public Scenario {
 public:
  //! A scenario over `customers` customers.
  CompromisedCardScenario(const FraudOptions& fraud, uint64_t seed, int32_t customers)
      : fraud_(fraud), seed_(seed), customers_(customers) {}

  int32_t HorizonDays() const override { return fraud_.card_compromise_days - 1; }

  void OnDay(int32_t day, DayWindow& window) override {
    pending_.push_back(day);
    if (pending_.front() + HorizonDays() <= day) {
      Resolve(pending_.front(), window);
      pending_.pop_front();
    }
  }

  void Finish(DayWindow& window) override {
    for (int32_t start : pending_) Resolve(start, window);
    pending_.clear();
  }

 private:
  // Selects and inflates the frauds of the cards compromised on `start`.
  void Resolve(int32_t start, DayWindow& window) const {
    const std::vector<int32_t> cards = CompromisedCardsOfDay(fraud_, seed_, customers_, start);
    std::vector<Transaction*> candidates;
    const int32_t end = std::min(start + fraud_.card_compromise_days - 1, window.last_day());
    for (int32_t day = start; day <= end; ++day) {
      for (Transaction& tx : window.Day(day)) {
        if (std::find(cards.begin(), cards.end(), tx.customer_id) != cards.end()) candidates.push_back(&tx);
      }
    }
    const size_t frauds = candidates.size() / static_cast<size_t>(fraud_.card_fraud_one_in);
    Rng rng(StreamSeed(seed_, Stream::kCardFraudSelection, static_cast<uint64_t>(start)));
    for (size_t i = 0; i < frauds; ++i) {  // partial Fisher-Yates: candidates[0..frauds) is the sample
      const size_t j = i + static_cast<size_t>(rng.UniformIndex(candidates.size() - i));
      std::swap(candidates[i], candidates[j]);
      Transaction& tx = *candidates[i];
      tx.amount = RoundToCents(tx.amount * fraud_.card_fraud_amount_factor);
      MarkFraud(tx, FraudScenario::kCompromisedCard);
    }
  }

  FraudOptions fraud_;           //!< Scenario parameters.
  uint64_t seed_;                //!< The run's seed.
  int32_t customers_;            //!< Number of customers.
  std::deque<int32_t> pending_;  //!< Start days of the compromise periods not yet resolved.
};

//! Drift: from a given day, every fraud's amount is scaled, and optionally every amount.
class FraudAmountDriftScenario final : public Scenario {
 public:
  //! A drift from `drift.start_day` on.
  explicit FraudAmountDriftScenario(const DriftOptions& drift) : drift_(drift) {}

  void OnDay(int32_t day, DayWindow& window) override {
    if (day < drift_.start_day) return;
    for (Transaction& tx : window.Day(day)) {
      if (tx.is_fraud) tx.amount = RoundToCents(tx.amount * drift_.fraud_amount_factor);
      if (drift_.amount_factor != 1.0) tx.amount = RoundToCents(tx.amount * drift_.amount_factor);
    }
  }

 private:
  DriftOptions drift_;  //!< Start day and factor.
};

}  // namespace

std::string_view FraudScenarioName(FraudScenario scenario) {
  switch (scenario) {
    case FraudScenario::kGenuine:
      return "genuine";
    case FraudScenario::kLargeAmount:
      return "large amount";
    case FraudScenario::kCompromisedTerminal:
      return "compromised terminal";
    case FraudScenario::kCompromisedCard:
      return "compromised card";
  }
  return "unknown";
}

double RoundToCents(double amount) { return std::round(amount * 100.0) / 100.0; }

base::Status ValidateScenarioOptions(const FraudOptions& fraud, const DriftOptions& drift, int32_t customers,
                                     int32_t terminals) {
  const int64_t max_terminals_per_day = static_cast<int64_t>(fraud.compromised_terminals_per_day) *
                                        (drift.start_day >= 0 ? drift.compromised_terminals_factor : 1);
  if (fraud.compromised_terminals_per_day < 0 || max_terminals_per_day > terminals) {
    return base::InvalidArgument(
        "compromised_terminals_per_day must be in [0, terminals], with the drift factor");
  }
  if (fraud.compromised_cards_per_day < 0 || fraud.compromised_cards_per_day > customers) {
    return base::InvalidArgument("compromised_cards_per_day must be in [0, customers]");
  }
  if (fraud.terminal_compromise_days < 1 || fraud.card_compromise_days < 1) {
    return base::InvalidArgument("compromise periods must be at least 1 day");
  }
  if (fraud.card_fraud_one_in < 1) return base::InvalidArgument("card_fraud_one_in must be >= 1");
  if (!(fraud.card_fraud_amount_factor > 0) || !std::isfinite(fraud.card_fraud_amount_factor)) {
    return base::InvalidArgument("card_fraud_amount_factor must be a positive number");
  }
  if (std::isnan(fraud.large_amount_threshold)) return base::InvalidArgument("large_amount_threshold is NaN");
  if (drift.start_day >= 0 && (drift.compromised_terminals_factor < 0 || !(drift.fraud_amount_factor > 0) ||
                               !std::isfinite(drift.fraud_amount_factor) || !(drift.amount_factor > 0) ||
                               !std::isfinite(drift.amount_factor))) {
    return base::InvalidArgument("drift factors must be positive");
  }
  return base::Status::OK();
}

std::span<Transaction> DayWindow::Day(int32_t day) {
  assert(Contains(day));
  return days_[static_cast<size_t>(day - first_day_)];
}

std::vector<Transaction> DayWindow::PopFront() {
  std::vector<Transaction> front = std::move(days_.front());
  days_.pop_front();
  ++first_day_;
  return front;
}

std::vector<std::unique_ptr<Scenario>> MakeScenarios(const FraudOptions& fraud, const DriftOptions& drift,
                                                     uint64_t seed, int32_t customers, int32_t terminals) {
  std::vector<std::unique_ptr<Scenario>> scenarios;
  scenarios.push_back(std::make_unique<LargeAmountScenario>(fraud.large_amount_threshold));
  if (fraud.compromised_terminals_per_day > 0) {
    scenarios.push_back(std::make_unique<CompromisedTerminalScenario>(fraud, drift, seed, terminals));
  }
  if (fraud.compromised_cards_per_day > 0) {
    scenarios.push_back(std::make_unique<CompromisedCardScenario>(fraud, seed, customers));
  }
  if (drift.start_day >= 0) scenarios.push_back(std::make_unique<FraudAmountDriftScenario>(drift));
  return scenarios;
}

std::vector<int32_t> CompromisedTerminalsOfDay(const FraudOptions& fraud, const DriftOptions& drift,
                                               uint64_t seed, int32_t terminals, int32_t day) {
  int32_t count = fraud.compromised_terminals_per_day;
  if (drift.start_day >= 0 && day >= drift.start_day) count *= drift.compromised_terminals_factor;
  Rng rng(StreamSeed(seed, Stream::kCompromisedTerminals, static_cast<uint64_t>(day)));
  return SampleDistinct(rng, std::min(count, terminals), terminals);
}

std::vector<int32_t> CompromisedCardsOfDay(const FraudOptions& fraud, uint64_t seed, int32_t customers,
                                           int32_t day) {
  Rng rng(StreamSeed(seed, Stream::kCompromisedCards, static_cast<uint64_t>(day)));
  return SampleDistinct(rng, std::min(fraud.compromised_cards_per_day, customers), customers);
}

}  // namespace vigil::sim
