#include "models/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace vigil::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

//! The sample in a canonical order (so the caller's order never changes a result), its cards
//! numbered 0.. in ascending id order.
struct Sample {
  std::vector<PairedOutcome> events;  //!< Sorted by card, then day, label and scores.
  std::vector<uint32_t> card_of;      //!< Per event, its card's number.
  uint32_t cards = 0;                 //!< Distinct cards.
};

Sample Canonical(std::span<const PairedOutcome> events) {
  Sample s;
  s.events.assign(events.begin(), events.end());
  std::sort(s.events.begin(), s.events.end(), [](const PairedOutcome& a, const PairedOutcome& b) {
    return std::tie(a.card, a.day, a.label, a.baseline, a.contender) <
           std::tie(b.card, b.day, b.label, b.baseline, b.contender);
  });
  s.card_of.reserve(s.events.size());
  for (size_t i = 0; i < s.events.size(); ++i) {
    if (i > 0 && s.events[i].card != s.events[i - 1].card) ++s.cards;
    s.card_of.push_back(s.cards);
  }
  if (!s.events.empty()) ++s.cards;
  return s;
}

//! One model's ranking of the sample, built once and evaluated under each resample's card counts.
class Ranking {
 public:
  Ranking(const Sample& s, bool contender, const PairedBootstrapOptions& o) : sample_(s), options_(o) {
    auto score = [contender](const PairedOutcome& e) { return contender ? e.contender : e.baseline; };
    if (o.metric == PairedMetric::kAveragePrecision) {
      order_.resize(s.events.size());
      for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
      std::sort(order_.begin(), order_.end(),
                [&](uint32_t a, uint32_t b) { return score(s.events[a]) > score(s.events[b]); });
      for (size_t i = 0; i < order_.size(); ++i)
        if (i + 1 == order_.size() || score(s.events[order_[i + 1]]) != score(s.events[order_[i]]))
          group_ends_.push_back(static_cast<uint32_t>(i + 1));
      return;
    }
    // Card precision: each day's cards with their max score and max label, ranked.
    std::map<int32_t, std::vector<Card>> by_day;
    for (size_t i = 0; i < s.events.size(); ++i) {
      const PairedOutcome& e = s.events[i];
      std::vector<Card>& cards = by_day[e.day];
      // Events are sorted by card, so a card's events of a day are adjacent in its day's list.
      if (cards.empty() || cards.back().card != s.card_of[i]) {
        cards.push_back({s.card_of[i], score(e), e.label});
      } else {
        cards.back().score = std::max(cards.back().score, score(e));
        cards.back().label = std::max(cards.back().label, e.label);
      }
    }
    for (auto& [day, cards] : by_day) {
      std::sort(cards.begin(), cards.end(), [](const Card& a, const Card& b) {
        return a.score != b.score ? a.score > b.score : a.card < b.card;  // ties: lower card id first
      });
      days_.push_back(std::move(cards));
    }
  }

  //! The metric when card c is drawn counts[c] times; NaN when undefined.
  double Metric(const std::vector<uint32_t>& counts) {
    return options_.metric == PairedMetric::kAveragePrecision ? AveragePrecision(counts)
                                                              : CardPrecision(counts);
  }

 private:
  //! A card's day.
  struct Card {
    uint32_t card = 0;  //!< Its number.
    double score = 0;   //!< Max score that day.
    int label = 0;      //!< Max label that day.
  };

  // As models::AveragePrecision, each event weighted by its card's draw count: a tie group is one
  // threshold, and a card drawn twice puts its events twice in the same groups.
  double AveragePrecision(const std::vector<uint32_t>& counts) const {
    double positives = 0;
    for (size_t i = 0; i < sample_.events.size(); ++i)
      if (sample_.events[i].label == 1) positives += counts[sample_.card_of[i]];
    if (positives == 0) return kNaN;
    double tp = 0, fp = 0, ap = 0, previous_recall = 0;
    uint32_t begin = 0;
    for (const uint32_t end : group_ends_) {
      const double tp_before = tp;
      for (uint32_t j = begin; j < end; ++j) {
        const uint32_t i = order_[j];
        (sample_.events[i].label == 1 ? tp : fp) += counts[sample_.card_of[i]];
      }
      begin = end;
      if (tp == tp_before) continue;  // recall unchanged: the threshold adds nothing
      const double recall = tp / positives;
      ap += (recall - previous_recall) * (tp / (tp + fp));
      previous_recall = recall;
    }
    return ap;
  }

  // As models::CardPrecisionAtK, a card drawn n times being n cards of equal score: of its copies,
  // those caught in an earlier day's top k are left out.
  double CardPrecision(const std::vector<uint32_t>& counts) {
    caught_.assign(sample_.cards, 0);
    const auto k = static_cast<uint64_t>(options_.top_k);
    double sum = 0;
    int present = 0;
    for (const std::vector<Card>& day : days_) {
      uint64_t taken = 0, hits = 0;
      bool drawn = false;  // a day counts when any of its cards was drawn, caught earlier or not
      for (const Card& c : day) {
        if (counts[c.card] == 0) continue;
        drawn = true;
        const uint64_t left = counts[c.card] - caught_[c.card];
        if (left == 0 || taken == k) continue;
        const uint64_t take = std::min(left, k - taken);
        taken += take;
        if (c.label == 1) {
          hits += take;
          caught_[c.card] += static_cast<uint32_t>(take);
        }
      }
      if (!drawn) continue;
      ++present;
      sum += static_cast<double>(hits) / static_cast<double>(k);
    }
    return present == 0 ? kNaN : sum / present;
  }

  const Sample& sample_;
  const PairedBootstrapOptions& options_;
  std::vector<uint32_t> order_;          //!< AP: events by descending score.
  std::vector<uint32_t> group_ends_;     //!< AP: end of each tie group in order_.
  std::vector<std::vector<Card>> days_;  //!< Card precision: each day's ranked cards, oldest first.
  std::vector<uint32_t> caught_;         //!< Card precision: per card, copies caught so far.
};

//! The q-quantile of ascending `v` (not empty), interpolating between order statistics.
double Quantile(const std::vector<double>& v, double q) {
  const double position = q * static_cast<double>(v.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, v.size() - 1);
  return v[below] + (position - static_cast<double>(below)) * (v[above] - v[below]);
}

}  // namespace

base::Result<PairedComparison> ComparePaired(std::span<const PairedOutcome> events,
                                             const PairedBootstrapOptions& options) {
  if (options.top_k < 1) return base::InvalidArgument("top_k must be >= 1");
  if (options.resamples < 0) return base::InvalidArgument("resamples must be >= 0");
  if (!(options.confidence > 0 && options.confidence < 1))
    return base::InvalidArgument("confidence must be strictly between 0 and 1");
  if (events.empty()) return base::InvalidArgument("no events to compare");
  PairedComparison out;
  for (const PairedOutcome& e : events) {
    if (e.label != 0 && e.label != 1) return base::InvalidArgument("labels must be 0 or 1");
    if (std::isnan(e.baseline) || std::isnan(e.contender)) return base::InvalidArgument("NaN score");
    out.frauds += e.label;
  }
  const Sample sample = Canonical(events);
  out.events = static_cast<int64_t>(events.size());
  out.cards = sample.cards;
  Ranking baseline(sample, false, options), contender(sample, true, options);
  std::vector<uint32_t> counts(sample.cards, 1);
  out.baseline = baseline.Metric(counts);
  out.contender = contender.Metric(counts);
  if (std::isnan(out.baseline) || std::isnan(out.contender))
    return base::InvalidArgument("the metric is undefined on these events (no fraud)");
  out.difference = out.contender - out.baseline;
  out.low = out.high = kNaN;
  if (options.resamples == 0) return out;

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<uint32_t> draw(0, sample.cards - 1);
  std::vector<double> differences;
  differences.reserve(static_cast<size_t>(options.resamples));
  for (int r = 0; r < options.resamples; ++r) {
    std::fill(counts.begin(), counts.end(), 0);
    for (uint32_t c = 0; c < sample.cards; ++c) ++counts[draw(rng)];
    const double a = baseline.Metric(counts), b = contender.Metric(counts);
    if (!std::isnan(a) && !std::isnan(b)) differences.push_back(b - a);
  }
  out.resamples = static_cast<int>(differences.size());
  if (differences.empty()) return out;
  std::sort(differences.begin(), differences.end());
  out.low = Quantile(differences, (1 - options.confidence) / 2);
  out.high = Quantile(differences, (1 + options.confidence) / 2);
  return out;
}

}  // namespace vigil::models
