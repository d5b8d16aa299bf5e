#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace vigil::models {
namespace {

base::Status CheckInputs(std::span<const double> scores, std::span<const int> labels) {
  if (scores.size() != labels.size()) {
    return base::InvalidArgument("scores and labels differ in length: " + std::to_string(scores.size()) +
                                 " vs " + std::to_string(labels.size()));
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      return base::InvalidArgument("label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                                   ", expected 0 or 1");
    }
    if (std::isnan(scores[i])) return base::InvalidArgument("score " + std::to_string(i) + " is NaN");
  }
  return base::Status::OK();
}

// Indices ordered by descending score; equal scores keep input order.
std::vector<size_t> RankDescending(std::span<const double> scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

//! Cumulative counts at one threshold: rows with score >= threshold.
struct Threshold {
  double true_positives = 0;   //!< Frauds at or above the threshold.
  double false_positives = 0;  //!< Genuine rows at or above the threshold.
};

// One entry per distinct score, highest first: the cumulative counts down to that score.
std::vector<Threshold> CumulativeCounts(std::span<const double> scores, std::span<const int> labels) {
  const std::vector<size_t> order = RankDescending(scores);
  std::vector<Threshold> out;
  Threshold running;
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t row = order[i];
    (labels[row] == 1 ? running.true_positives : running.false_positives) += 1;
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[row]) out.push_back(running);
  }
  return out;
}

//! One customer's day: its max score and max label.
struct Card {
  int64_t customer_id;  //!< The card.
  double score;         //!< Max score of its transactions that day.
  int label;            //!< Max label of its transactions that day.
};

// The day's cards, leaving out `detected` ones, ranked by score (ties: lower customer id first).
std::vector<Card> RankCards(const std::vector<const ScoredTransaction*>& day_rows,
                            const std::unordered_set<int64_t>& detected) {
  std::unordered_map<int64_t, size_t> index;
  std::vector<Card> cards;
  for (const ScoredTransaction* row : day_rows) {
    if (detected.count(row->customer_id) != 0) continue;
    auto [it, inserted] = index.emplace(row->customer_id, cards.size());
    if (inserted) {
      cards.push_back({row->customer_id, row->score, row->label});
    } else {
      Card& card = cards[it->second];
      card.score = std::max(card.score, row->score);
      card.label = std::max(card.label, row->label);
    }
  }
  std::sort(cards.begin(), cards.end(), [](const Card& a, const Card& b) {
    return a.score != b.score ? a.score > b.score : a.customer_id < b.customer_id;
  });
  return cards;
}

}  // namespace

base::Result<double> AucRoc(std::span<const double> scores, std::span<const int> labels) {
  VIGIL_RETURN_IF_ERROR(CheckInputs(scores, labels));
  const std::vector<Threshold> curve = CumulativeCounts(scores, labels);
  const double positives = curve.empty() ? 0 : curve.back().true_positives;
  const double negatives = curve.empty() ? 0 : curve.back().false_positives;
  if (positives == 0 || negatives == 0) {
    return base::InvalidArgument("AUC ROC needs both classes; got " + std::to_string(positives) +
                                 " frauds and " + std::to_string(negatives) + " genuine");
  }
  // Trapezoids between consecutive thresholds: a tie group counts its pairs one half.
  double area = 0;
  Threshold previous;
  for (const Threshold& t : curve) {
    area += (t.false_positives - previous.false_positives) * (t.true_positives + previous.true_positives) / 2;
    previous = t;
  }
  return area / (positives * negatives);
}

base::Result<double> AveragePrecision(std::span<const double> scores, std::span<const int> labels) {
  VIGIL_RETURN_IF_ERROR(CheckInputs(scores, labels));
  const std::vector<Threshold> curve = CumulativeCounts(scores, labels);
  const double positives = curve.empty() ? 0 : curve.back().true_positives;
  if (positives == 0) return base::InvalidArgument("average precision needs at least one fraud");
  double ap = 0;
  double previous_recall = 0;
  for (const Threshold& t : curve) {
    const double recall = t.true_positives / positives;
    const double precision = t.true_positives / (t.true_positives + t.false_positives);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return ap;
}

base::Result<double> PrecisionAtK(std::span<const double> scores, std::span<const int> labels, int64_t k) {
  VIGIL_RETURN_IF_ERROR(CheckInputs(scores, labels));
  if (k < 1) return base::InvalidArgument("k must be >= 1, got " + std::to_string(k));
  const std::vector<size_t> order = RankDescending(scores);
  const size_t top = std::min(order.size(), static_cast<size_t>(k));
  int64_t frauds = 0;
  for (size_t i = 0; i < top; ++i) frauds += labels[order[i]];
  return static_cast<double>(frauds) / static_cast<double>(k);
}

base::Result<CardPrecision> CardPrecisionAtK(std::span<const ScoredTransaction> rows, int64_t k) {
  if (k < 1) return base::InvalidArgument("k must be >= 1, got " + std::to_string(k));
  if (rows.empty()) return base::InvalidArgument("card precision@k of an empty set");
  std::map<int32_t, std::vector<const ScoredTransaction*>> by_day;
  for (const ScoredTransaction& row : rows) {
    if (row.label != 0 && row.label != 1) return base::InvalidArgument("labels must be 0 or 1");
    if (std::isnan(row.score)) return base::InvalidArgument("NaN score");
    by_day[row.day].push_back(&row);
  }
  CardPrecision result;
  std::unordered_set<int64_t> detected;
  for (const auto& [day, day_rows] : by_day) {
    const std::vector<Card> cards = RankCards(day_rows, detected);
    int64_t compromised = 0;
    for (const Card& card : cards) compromised += card.label;
    int64_t hits = 0;
    for (size_t i = 0; i < std::min(cards.size(), static_cast<size_t>(k)); ++i) {
      if (cards[i].label == 1) {
        ++hits;
        detected.insert(cards[i].customer_id);
      }
    }
    result.days.push_back(day);
    result.per_day.push_back(static_cast<double>(hits) / static_cast<double>(k));
    result.compromised_cards.push_back(compromised);
  }
  result.mean = std::accumulate(result.per_day.begin(), result.per_day.end(), 0.0) /
                static_cast<double>(result.per_day.size());
  return result;
}

}  // namespace vigil::models
