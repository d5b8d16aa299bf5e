#include "sim/simulator.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <set>
#include <vector>

#include "sim/stats.h"

namespace vigil::sim {
namespace {

// A small world with the book's densities: ~70 terminals per customer, ~2 tx per customer-day.
SimOptions SmallOptions(uint64_t seed = 1) {
  SimOptions o;
  o.customers = 600;
  o.terminals = 1000;
  o.radius = 15.0;
  o.days = 60;
  o.seed = seed;
  return o;
}

std::vector<Transaction> Generate(const SimOptions& options) {
  auto txs = GenerateTransactions(options);
  REQUIRE(txs.ok());
  return std::move(txs).value();
}

std::unique_ptr<Simulator> MakeSim(const SimOptions& options) {
  auto sim = Simulator::Make(options);
  REQUIRE(sim.ok());
  return std::move(sim).value();
}

bool SameTransaction(const Transaction& a, const Transaction& b) {
  return a.transaction_id == b.transaction_id && a.tx_time_ms == b.tx_time_ms &&
         a.customer_id == b.customer_id && a.terminal_id == b.terminal_id && a.amount == b.amount &&
         a.day == b.day && a.is_fraud == b.is_fraud && a.fraud_scenario == b.fraud_scenario;
}

bool SameRun(const std::vector<Transaction>& a, const std::vector<Transaction>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameTransaction(a[i], b[i])) return false;
  }
  return true;
}

TEST_CASE("Same seed gives identical output, another seed different output", "[sim]") {
  const auto a = Generate(SmallOptions(5));
  const auto b = Generate(SmallOptions(5));
  const auto c = Generate(SmallOptions(6));
  REQUIRE_FALSE(a.empty());
  CHECK(SameRun(a, b));
  CHECK_FALSE(SameRun(a, c));
}

TEST_CASE("Ids are dense and follow time order and times fall inside their day", "[sim]") {
  const SimOptions o = SmallOptions();
  const auto sim = MakeSim(o);
  CHECK(sim->start_ms() == 1522540800000);  // 2018-04-01T00:00:00Z
  const auto txs = Generate(o);
  for (size_t i = 0; i < txs.size(); ++i) {
    const Transaction& tx = txs[i];
    REQUIRE(tx.transaction_id == static_cast<int64_t>(i));
    const int64_t in_day = tx.tx_time_ms - sim->start_ms() - tx.day * kMsPerDay;
    REQUIRE(in_day > 0);
    REQUIRE(in_day < kMsPerDay);
    REQUIRE(in_day % 1000 == 0);
    if (i > 0) {
      REQUIRE(txs[i - 1].tx_time_ms <= tx.tx_time_ms);
      if (txs[i - 1].tx_time_ms == tx.tx_time_ms) REQUIRE(txs[i - 1].customer_id <= tx.customer_id);
    }
  }
  CHECK(txs.back().day == o.days - 1);
}

TEST_CASE("Available terminals are exactly those closer than the radius", "[sim]") {
  const auto sim = MakeSim(SmallOptions());
  const auto terminals = sim->terminals();
  size_t total = 0;
  for (const CustomerProfile& c : sim->customers()) {
    std::vector<int32_t> expected;
    for (const TerminalProfile& t : terminals) {
      if (std::hypot(t.x - c.x, t.y - c.y) < 15.0) expected.push_back(t.id);
    }
    REQUIRE(c.available_terminals == expected);
    total += expected.size();
    CHECK(c.std_amount == c.mean_amount / 2);
    CHECK((c.mean_amount >= 5 && c.mean_amount < 100));
    CHECK((c.mean_tx_per_day >= 0 && c.mean_tx_per_day < 4));
  }
  CHECK(total > 0);
  const auto txs = Generate(SmallOptions());
  for (const Transaction& tx : txs) {
    const auto& available = sim->customers()[static_cast<size_t>(tx.customer_id)].available_terminals;
    REQUIRE(std::binary_search(available.begin(), available.end(), tx.terminal_id));
  }
}

TEST_CASE("Scenario 1: every amount above 220 is fraud", "[sim]") {
  const auto txs = Generate(SmallOptions());
  int64_t large = 0;
  for (const Transaction& tx : txs) {
    if (tx.amount > 220) {
      ++large;
      REQUIRE(tx.is_fraud == 1);
    }
    if (tx.fraud_scenario == FraudScenario::kLargeAmount) REQUIRE(tx.amount > 220);
    REQUIRE(tx.is_fraud == (tx.fraud_scenario != FraudScenario::kGenuine ? 1 : 0));
  }
  CHECK(large > 0);
}

TEST_CASE("Scenario 2: a compromised terminal's transactions are fraud for 28 days", "[sim]") {
  const SimOptions o = SmallOptions();
  // compromised[terminal] = days on which it was compromised.
  std::vector<std::vector<int32_t>> compromised(static_cast<size_t>(o.terminals));
  for (int32_t day = 0; day < o.days; ++day) {
    const auto drawn = CompromisedTerminalsOfDay(o.fraud, o.drift, o.seed, o.terminals, day);
    REQUIRE(drawn.size() == 2);
    REQUIRE(drawn[0] != drawn[1]);
    for (int32_t t : drawn) compromised[static_cast<size_t>(t)].push_back(day);
  }
  int64_t inside = 0;
  for (const Transaction& tx : Generate(o)) {
    bool in_window = false;
    for (int32_t c : compromised[static_cast<size_t>(tx.terminal_id)])
      in_window |= c <= tx.day && tx.day <= c + 27;
    if (in_window) {
      ++inside;
      REQUIRE(tx.is_fraud == 1);
      // Scenario 3 runs later and may relabel it.
      REQUIRE((tx.fraud_scenario == FraudScenario::kCompromisedTerminal ||
               tx.fraud_scenario == FraudScenario::kCompromisedCard));
    }
    if (tx.fraud_scenario == FraudScenario::kCompromisedTerminal) REQUIRE(in_window);
  }
  CHECK(inside > 100);
}

TEST_CASE("Scenario 3: a third of a compromised card's transactions, amounts times 5", "[sim]") {
  const SimOptions o = SmallOptions();
  SimOptions base_options = o;
  base_options.fraud.compromised_cards_per_day = 0;
  const auto with = Generate(o);
  const auto without = Generate(base_options);
  REQUIRE(with.size() == without.size());

  // windows[start] = customers compromised on `start`, active for days start..start+13.
  std::vector<std::vector<int32_t>> windows;
  for (int32_t day = 0; day < o.days; ++day)
    windows.push_back(CompromisedCardsOfDay(o.fraud, o.seed, o.customers, day));
  auto in_window = [&](const Transaction& tx, int32_t start) {
    const auto& cards = windows[static_cast<size_t>(start)];
    return tx.day >= start && tx.day <= start + 13 &&
           std::find(cards.begin(), cards.end(), tx.customer_id) != cards.end();
  };
  int64_t card_frauds = 0;
  for (size_t i = 0; i < with.size(); ++i) {
    const Transaction& tx = with[i];
    const Transaction& base = without[i];
    REQUIRE((tx.customer_id == base.customer_id && tx.tx_time_ms == base.tx_time_ms));
    if (tx.fraud_scenario != FraudScenario::kCompromisedCard) {
      REQUIRE(SameTransaction(tx, base));
      continue;
    }
    ++card_frauds;
    bool covered = false;
    for (int32_t start = std::max(0, tx.day - 13); start <= tx.day; ++start) covered |= in_window(tx, start);
    REQUIRE(covered);
    // Selected by one window, rarely by two overlapping ones.
    const bool times5 = tx.amount == RoundToCents(base.amount * 5);
    const bool times25 = tx.amount == RoundToCents(RoundToCents(base.amount * 5) * 5);
    REQUIRE((times5 || times25));
  }
  int64_t expected = 0;  // sum of floor(n / 3) over the windows
  for (int32_t start = 0; start < o.days; ++start) {
    int64_t n = 0;
    for (const Transaction& tx : without) n += in_window(tx, start) ? 1 : 0;
    expected += n / 3;
  }
  CHECK(card_frauds <= expected);
  CHECK(card_frauds >= expected * 9 / 10);
  CHECK(card_frauds > 50);
}

TEST_CASE("Transaction counts match the customers' Poisson means", "[sim]") {
  const SimOptions o = SmallOptions();
  const auto sim = MakeSim(o);
  double expected_per_day = 0;
  for (const CustomerProfile& c : sim->customers()) {
    if (!c.available_terminals.empty()) expected_per_day += c.mean_tx_per_day;
  }
  expected_per_day *= 0.969257;  // P(0 < N(43200, 20000) < 86400)
  const SimStats stats = ComputeStats(Generate(o));
  CHECK(stats.MeanTransactionsPerDay() == Approx(expected_per_day).epsilon(0.02));
  CHECK(stats.days.size() == static_cast<size_t>(o.days));
  CHECK(stats.by_scenario[0] + stats.frauds == stats.transactions);
  CHECK(stats.FraudRate() > 0.001);
  CHECK(stats.FraudRate() < 0.2);
}

TEST_CASE("Run reports progress and stops at the first callback error", "[sim]") {
  SimOptions o = SmallOptions();
  o.days = 20;
  const auto sim = MakeSim(o);
  std::vector<double> progress;
  int32_t expected_day = 0;
  REQUIRE(sim->Run(
                 [&](int32_t day, std::span<const Transaction>) {
                   CHECK(day == expected_day++);
                   return base::Status::OK();
                 },
                 [&](double p) { progress.push_back(p); })
              .ok());
  REQUIRE(progress.size() == 20);
  CHECK(progress.back() == 100.0);
  CHECK(std::is_sorted(progress.begin(), progress.end()));

  int calls = 0;
  const base::Status st = sim->Run([&](int32_t, std::span<const Transaction>) {
    return ++calls == 3 ? base::IoError("disk full") : base::Status::OK();
  });
  CHECK(st.code() == base::StatusCode::kIoError);
  CHECK(calls == 3);
}

TEST_CASE("Invalid options are refused", "[sim]") {
  auto refused = [](auto mutate) {
    SimOptions o = SmallOptions();
    mutate(o);
    return Simulator::Make(o).status().code() == base::StatusCode::kInvalidArgument;
  };
  CHECK(refused([](SimOptions& o) { o.customers = 0; }));
  CHECK(refused([](SimOptions& o) { o.days = 0; }));
  CHECK(refused([](SimOptions& o) { o.radius = -1; }));
  CHECK(refused([](SimOptions& o) { o.start_date = "2018-02-30"; }));
  CHECK(refused([](SimOptions& o) { o.start_date = "April 1st"; }));
  CHECK(refused([](SimOptions& o) { o.fraud.card_fraud_one_in = 0; }));
  CHECK(refused([](SimOptions& o) { o.fraud.compromised_terminals_per_day = 5000; }));
}

TEST_CASE("Drift: from its start day, more compromised terminals and shifted fraud amounts", "[sim]") {
  SimOptions o = SmallOptions();
  const auto before = Generate(o);
  o.drift.start_day = 30;
  o.drift.fraud_amount_factor = 0.5;
  CHECK(CompromisedTerminalsOfDay(o.fraud, o.drift, o.seed, o.terminals, 29).size() == 2);
  CHECK(CompromisedTerminalsOfDay(o.fraud, o.drift, o.seed, o.terminals, 30).size() == 6);
  const auto after = Generate(o);
  REQUIRE(before.size() == after.size());
  int64_t frauds_before = 0;
  int64_t frauds_after = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i].day < 30) {
      REQUIRE(SameTransaction(before[i], after[i]));
    } else {
      frauds_before += before[i].is_fraud;
      frauds_after += after[i].is_fraud;
    }
  }
  CHECK(frauds_after > frauds_before * 3 / 2);
}

TEST_CASE("The book's 183 days: ~1,754,155 transactions, 0.84% fraud", "[sim][handbook]") {
  const auto start = std::chrono::steady_clock::now();
  const auto stats = Summarize(SimOptions{});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(stats.ok());
  INFO(FormatStats(*stats) << "generated in " << seconds << " s");
  CHECK(std::abs(static_cast<double>(stats->transactions) / 1'754'155 - 1) < 0.03);
  CHECK(std::abs(100 * stats->FraudRate() - 0.837) < 0.08);
  CHECK(stats->days.size() == 183);
  for (int s = 1; s < kFraudScenarioCount; ++s) CHECK(stats->by_scenario[static_cast<size_t>(s)] > 500);
}

}  // namespace
}  // namespace vigil::sim
