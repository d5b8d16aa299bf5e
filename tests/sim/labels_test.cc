#include "sim/labels.h"

#include <catch2/catch.hpp>
#include <vector>

#include "sim/simulator.h"

namespace vigil::sim {
namespace {

Transaction Tx(int64_t id, int64_t time_ms, int8_t fraud = 0) {
  Transaction tx;
  tx.transaction_id = id;
  tx.tx_time_ms = time_ms;
  tx.is_fraud = fraud;
  return tx;
}

TEST_CASE("Labels are due a delay after their transaction", "[sim][labels]") {
  const std::vector<Transaction> txs = {Tx(0, 100, 0), Tx(1, 250, 1)};
  const auto labels = MakeLabels(txs, 1000);
  REQUIRE(labels.size() == 2);
  CHECK(labels[1].transaction_id == 1);
  CHECK(labels[1].label_time_ms == 1250);
  CHECK(labels[1].is_fraud == 1);
}

TEST_CASE("Merge interleaves by event time, a due label before a transaction at the same time",
          "[sim][labels]") {
  const std::vector<Transaction> txs = {Tx(0, 0), Tx(1, 5), Tx(2, 10), Tx(3, 10), Tx(4, 30)};
  auto events = MergeByEventTime(txs, 10);
  REQUIRE(events.ok());
  // (kind, id): T=transaction, L=label.
  std::vector<std::pair<char, int64_t>> order;
  for (const Event& e : *events) {
    if (const auto* tx = std::get_if<Transaction>(&e)) {
      order.emplace_back('T', tx->transaction_id);
    } else {
      order.emplace_back('L', std::get<Label>(e).transaction_id);
    }
  }
  const std::vector<std::pair<char, int64_t>> expected = {{'T', 0}, {'T', 1}, {'L', 0}, {'T', 2}, {'T', 3},
                                                          {'L', 1}, {'L', 2}, {'L', 3}, {'T', 4}, {'L', 4}};
  CHECK(order == expected);
}

TEST_CASE("Merger refuses out-of-order transactions and propagates sink errors", "[sim][labels]") {
  EventMerger merger(10, [](const Event&) { return base::Status::OK(); });
  const std::vector<Transaction> bad = {Tx(0, 50), Tx(1, 40)};
  CHECK(merger.Add(bad).code() == base::StatusCode::kFailedPrecondition);

  int seen = 0;
  EventMerger failing(
      10, [&](const Event&) { return ++seen == 2 ? base::Unavailable("broker down") : base::Status::OK(); });
  const std::vector<Transaction> txs = {Tx(0, 0), Tx(1, 1)};
  CHECK(failing.Add(txs).code() == base::StatusCode::kUnavailable);
}

TEST_CASE("Merged simulator output is in event-time order with one label per transaction", "[sim][labels]") {
  SimOptions o;
  o.customers = 200;
  o.terminals = 400;
  o.radius = 15;
  o.days = 12;
  const auto sim = Simulator::Make(o);
  REQUIRE(sim.ok());
  int64_t transactions = 0;
  int64_t labels = 0;
  int64_t last_time = 0;
  EventMerger merger(o.LabelDelayMs(), [&](const Event& e) {
    const int64_t t = EventTimeMs(e);
    REQUIRE(t >= last_time);
    last_time = t;
    if (std::holds_alternative<Transaction>(e)) {
      ++transactions;
    } else {
      REQUIRE(std::get<Label>(e).transaction_id == labels);  // labels come in id order
      ++labels;
    }
    return base::Status::OK();
  });
  REQUIRE((*sim)->Run([&](int32_t, std::span<const Transaction> txs) { return merger.Add(txs); }).ok());
  CHECK(labels < transactions);  // the last 7 days' labels are still pending
  CHECK(merger.pending_labels() > 0);
  REQUIRE(merger.Finish().ok());
  CHECK(labels == transactions);
}

}  // namespace
}  // namespace vigil::sim
