#include "models/handbook_eval.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "sim/simulator.h"

namespace vigil::models {
namespace {

TEST_CASE("The book's dates map to days 115 (train) and 129 (test)", "[models][handbook]") {
  const auto split = SplitFromDates("2018-04-01", "2018-07-25");
  REQUIRE(split.ok());
  CHECK(split->train_start_day == 115);
  CHECK(split->TrainEndDay() == 122);
  CHECK(split->TestStartDay() == 129);  // 2018-08-08
  CHECK(split->TestEndDay() == 136);
  const HandbookSplit defaults;
  CHECK(defaults.train_start_day == 115);
  CHECK_FALSE(SplitFromDates("2018-04-01", "2018-02-30").ok());
  CHECK_FALSE(SplitFromDates("2018-04-01", "2018-03-01").ok());  // before the dataset
}

TEST_CASE("Prequential folds step back one test period each", "[models][handbook]") {
  const auto folds = PrequentialSplits(HandbookSplit{}, 4);
  REQUIRE(folds.ok());
  std::vector<int32_t> starts;
  for (const HandbookSplit& f : *folds) starts.push_back(f.train_start_day);
  CHECK(starts == std::vector<int32_t>{115, 108, 101, 94});
  CHECK_FALSE(PrequentialSplits(HandbookSplit{10, 7, 7, 7}, 3).ok());
}

TEST_CASE("Known compromised cards grow with the delayed labels", "[models][handbook]") {
  // Train days 0-1, delay day 2, test days 3-5. Test day D learns the frauds of day D - 2.
  const HandbookSplit split{0, 2, 1, 3};
  const std::vector<ScoredTransaction> rows = {
      {0, 1, 1, 0},  // 0: card 1 defrauded in training: known from the start
      {1, 4, 0, 0},  // 1: training, genuine
      {2, 2, 1, 0},  // 2: card 2 defrauded in the delay period: known from day 4
      {3, 1, 0, 0},  // 3: removed (card 1)
      {3, 2, 0, 0},  // 4: kept (card 2 not yet known)
      {3, 3, 1, 0},  // 5: kept; card 3 becomes known on day 5
      {4, 2, 1, 0},  // 6: removed (card 2)
      {4, 3, 0, 0},  // 7: kept
      {5, 3, 0, 0},  // 8: removed (card 3)
      {5, 4, 0, 0},  // 9: kept
      {6, 4, 1, 0},  // 10: after the test period
  };
  const auto sets = SelectHandbookSets(rows, split);
  REQUIRE(sets.ok());
  CHECK(sets->train == std::vector<size_t>{0, 1});
  CHECK(sets->test == std::vector<size_t>{4, 5, 7, 9});
  CHECK(sets->removed_test_rows == 3);
  CHECK(sets->known_cards == std::vector<int64_t>{1, 2, 3});
}

TEST_CASE("EvaluateHandbook scores the filtered test set", "[models][handbook]") {
  const HandbookSplit split{0, 1, 1, 2};  // train day 0, test days 2-3
  const std::vector<ScoredTransaction> rows = {
      {0, 9, 1, 0.0},                                   // card 9 known compromised
      {2, 9, 1, 0.99}, {2, 1, 1, 0.9}, {2, 2, 0, 0.2},  // card 9's row is dropped
      {3, 3, 0, 0.8},  {3, 4, 1, 0.7}, {3, 5, 0, 0.1},
  };
  const auto eval = EvaluateHandbook(rows, split, 1);
  REQUIRE(eval.ok());
  CHECK(eval->train_transactions == 1);
  CHECK(eval->train_frauds == 1);
  CHECK(eval->removed_test_rows == 1);
  CHECK(eval->test.transactions == 5);
  CHECK(eval->test.frauds == 2);
  // Frauds .9 and .7 against genuine .8, .2, .1: 5 of 6 pairs ordered right.
  CHECK(eval->test.auc_roc == Approx(5.0 / 6));
  // .9 (P 1, R .5), .8 (P .5), .7 (P 2/3, R 1).
  CHECK(eval->test.average_precision == Approx(0.5 + 0.5 * 2.0 / 3));
  CHECK(eval->test.card_precision_at_k == Approx(0.5));  // day 2 hit, day 3 miss
}

TEST_CASE("On simulated data the protocol's set sizes are near the book's", "[models][handbook]") {
  sim::SimOptions options;
  options.days = 136;  // through the last test day
  std::vector<ScoredTransaction> rows;
  auto simulator = sim::Simulator::Make(options);
  REQUIRE(simulator.ok());
  REQUIRE((*simulator)
              ->Run([&](int32_t, std::span<const sim::Transaction> txs) {
                for (const sim::Transaction& tx : txs) {
                  rows.push_back({tx.day, tx.customer_id, tx.is_fraud, tx.amount});  // score = amount
                }
                return base::Status::OK();
              })
              .ok());
  const auto eval = EvaluateHandbook(rows, HandbookSplit{});
  REQUIRE(eval.ok());
  INFO("train " << eval->train_transactions << "/" << eval->train_frauds << ", test "
                << eval->test.transactions << "/" << eval->test.frauds << ", amount as score: AUC "
                << eval->test.auc_roc << " AP " << eval->test.average_precision << " CP@100 "
                << eval->test.card_precision_at_k);
  // The book: 67,240 training rows with 598 frauds, 58,264 test rows with 385 frauds.
  CHECK(std::abs(eval->train_transactions / 67240.0 - 1) < 0.05);
  CHECK(std::abs(eval->train_frauds / 598.0 - 1) < 0.2);
  CHECK(std::abs(eval->test.transactions / 58264.0 - 1) < 0.05);
  CHECK(std::abs(eval->test.frauds / 385.0 - 1) < 0.25);
  CHECK(eval->test.auc_roc > 0.5);  // large amounts are scenario-1 and -3 frauds
}

}  // namespace
}  // namespace vigil::models
