#include "tests/support/handbook_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <span>

#include "base/time.h"
#include "sim/simulator.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDay = base::kMsPerDay;

//! Per-key event times and running sums of a value, for (t - window, t] queries.
struct KeyHistory {
  std::vector<int64_t> times;
  std::vector<double> sums{0.0};
  //! Count and sum of the events with time in (lo, hi].
  std::pair<int64_t, double> Range(int64_t lo, int64_t hi) const {
    const auto a = std::upper_bound(times.begin(), times.end(), lo) - times.begin();
    const auto b = std::upper_bound(times.begin(), times.end(), hi) - times.begin();
    return {b - a, sums[static_cast<size_t>(b)] - sums[static_cast<size_t>(a)]};
  }
};

std::string Num(double v) {
  return v == std::floor(v) ? std::to_string(static_cast<int64_t>(v)) : fmt::format("{}", v);
}

}  // namespace

std::string WriteHandbookTable(const std::string& path, const std::vector<std::string>& drop) {
  sim::SimOptions options;
  options.customers = 1000;
  options.terminals = 2000;
  options.days = 40;
  auto simulator = sim::Simulator::Make(options);
  REQUIRE(simulator.ok());
  std::vector<sim::Transaction> txs;
  REQUIRE((*simulator)
              ->Run([&](int32_t, std::span<const sim::Transaction> day) {
                txs.insert(txs.end(), day.begin(), day.end());
                return base::Status::OK();
              })
              .ok());
  std::vector<std::string> header = {"TRANSACTION_ID", "TX_TIME_MS",        "CUSTOMER_ID",    "TERMINAL_ID",
                                     "TX_AMOUNT",      "TX_DURING_WEEKEND", "TX_DURING_NIGHT"};
  for (const int w : {1, 7, 30}) {
    header.push_back(fmt::format("CUSTOMER_ID_NB_TX_{}DAY_WINDOW", w));
    header.push_back(fmt::format("CUSTOMER_ID_AVG_AMOUNT_{}DAY_WINDOW", w));
  }
  for (const int w : {1, 7, 30}) {
    header.push_back(fmt::format("TERMINAL_ID_NB_TX_{}DAY_WINDOW", w));
    header.push_back(fmt::format("TERMINAL_ID_RISK_{}DAY_WINDOW", w));
  }
  header.push_back("LABEL");
  std::vector<bool> keep(header.size());
  for (size_t c = 0; c < header.size(); ++c)
    keep[c] = std::find(drop.begin(), drop.end(), header[c]) == drop.end();
  std::map<int64_t, KeyHistory> customers, terminals;
  std::ofstream out(path);
  std::vector<std::string> kept;
  for (size_t c = 0; c < header.size(); ++c)
    if (keep[c]) kept.push_back(header[c]);
  out << fmt::format("{}\n", fmt::join(kept, ","));
  for (const sim::Transaction& tx : txs) {
    KeyHistory& cust = customers[tx.customer_id];
    cust.times.push_back(tx.tx_time_ms);
    cust.sums.push_back(cust.sums.back() + tx.amount);
    std::vector<double> row = {double(tx.transaction_id),
                               double(tx.tx_time_ms),
                               double(tx.customer_id),
                               double(tx.terminal_id),
                               tx.amount,
                               base::DayOfWeek(tx.tx_time_ms) >= 5 ? 1.0 : 0.0,
                               base::HourOfDay(tx.tx_time_ms) <= 6 ? 1.0 : 0.0};
    for (const int w : {1, 7, 30}) {
      const auto [n, sum] = cust.Range(tx.tx_time_ms - w * kDay, tx.tx_time_ms);
      row.insert(row.end(), {double(n), sum / double(n)});
    }
    KeyHistory& term = terminals[tx.terminal_id];
    const int64_t end = tx.tx_time_ms - 7 * kDay;
    for (const int w : {1, 7, 30}) {
      const auto [n, frauds] = term.Range(end - w * kDay, end);
      row.insert(row.end(), {double(n), n > 0 ? frauds / double(n) : 0.0});
    }
    term.times.push_back(tx.tx_time_ms);
    term.sums.push_back(term.sums.back() + tx.is_fraud);
    row.push_back(tx.is_fraud);
    std::vector<std::string> cells;
    for (size_t c = 0; c < row.size(); ++c)
      if (keep[c]) cells.push_back(Num(row[c]));
    out << fmt::format("{}\n", fmt::join(cells, ","));
  }
  return path;
}

const std::string& SmallHandbookTable() {
  static const std::string path = WriteHandbookTable(TempDir("vigil-table") + "/table.csv");
  return path;
}

}  // namespace vigil::testing
