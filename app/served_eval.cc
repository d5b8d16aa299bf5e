// Prequential weekly evaluation of served scores (see served_eval.h).
#include "app/served_eval.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "app/business_print.h"
#include "app/train_command.h"
#include "base/json.h"
#include "base/time.h"
#include "lifecycle/table.h"
#include "models/metrics.h"

namespace vigil::app {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

//! One named set of served scores, by transaction id.
struct ScoreSet {
  std::string name;
  std::string path;
  std::unordered_map<int64_t, double> scores;
};

base::Result<ScoreSet> ReadScores(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return base::InvalidArgument("--served " + spec + ": expected NAME=FILE");
  ScoreSet set{spec.substr(0, eq), spec.substr(eq + 1), {}};
  if (set.path.ends_with(".csv")) {
    lifecycle::TableReadOptions options;
    options.int64_columns = {std::string(lifecycle::kTransactionColumn)};
    options.double_columns = {"SCORE"};
    VIGIL_ASSIGN_OR_RETURN(lifecycle::Table table, lifecycle::Table::ReadCsv(set.path, options));
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> ids, table.Int64s(lifecycle::kTransactionColumn));
    VIGIL_ASSIGN_OR_RETURN(std::span<const double> scores, table.Doubles("SCORE"));
    for (size_t i = 0; i < ids.size(); ++i) set.scores[ids[i]] = scores[i];
    return set;
  }
  std::ifstream in(set.path);
  if (!in) return base::NotFound("cannot read " + set.path);
  simdjson::dom::parser parser;
  size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    simdjson::dom::element doc;
    int64_t id = 0;
    double score = 0;
    if (parser.parse(line).get(doc) || doc[lifecycle::kTransactionColumn].get_int64().get(id) ||
        doc["SCORE"].get_double().get(score))
      return base::InvalidArgument(fmt::format("{}:{}: expected a JSON object with {} and SCORE", set.path,
                                               line_number, lifecycle::kTransactionColumn));
    set.scores[id] = score;
  }
  return set;
}

//! Metrics of one score set over one week.
struct WeekMetrics {
  double average_precision = kNaN;
  double card_precision = kNaN;
};

}  // namespace

base::Status EvaluateServed(const ServedEvalOptions& o) {
  if (o.served.empty()) return base::InvalidArgument("give at least one --served NAME=FILE");
  if (o.k < 1 || o.last < 1 || o.delay_days < 0)
    return base::InvalidArgument("--k and --last must be >= 1, --delay-days >= 0");
  std::vector<ScoreSet> sets;
  for (const std::string& spec : o.served) {
    VIGIL_ASSIGN_OR_RETURN(ScoreSet set, ReadScores(spec));
    sets.push_back(std::move(set));
  }
  lifecycle::TableReadOptions options;
  options.int64_columns = {std::string(lifecycle::kTransactionColumn), std::string(lifecycle::kTimeColumn),
                           std::string(lifecycle::kCustomerColumn), std::string(lifecycle::kLabelColumn)};
  VIGIL_RETURN_IF_ERROR(CheckAmountColumn(o.table, o.business));
  AddBusinessColumns(o.business, &options);  // the amount (as a double) and the segment columns only
  VIGIL_ASSIGN_OR_RETURN(lifecycle::Table table, lifecycle::Table::ReadCsv(o.table, options));
  VIGIL_ASSIGN_OR_RETURN(BusinessTable business_table, MakeBusinessTable(table, o.business));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> ids, table.Int64s(lifecycle::kTransactionColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, table.Int64s(lifecycle::kTimeColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> cards, table.Int64s(lifecycle::kCustomerColumn));
  VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> labels, table.Int64s(lifecycle::kLabelColumn));
  if (ids.empty()) return base::InvalidArgument(o.table + ": no rows");
  const int64_t first_day = base::DayOf(*std::min_element(times.begin(), times.end()));
  const int64_t last_day = base::DayOf(*std::max_element(times.begin(), times.end()));
  int64_t from_day = first_day;
  if (!o.weeks_from.empty()) {
    VIGIL_ASSIGN_OR_RETURN(int64_t ms, lifecycle::ParseDateMs(o.weeks_from));
    from_day = base::DayOf(ms);
  }
  // The day each card's first fraud happened: known compromised from that day + delay + 1 on.
  std::unordered_map<int64_t, int64_t> first_fraud;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (labels[i] != 1) continue;
    auto [it, inserted] = first_fraud.try_emplace(cards[i], base::DayOf(times[i]));
    if (!inserted) it->second = std::min(it->second, base::DayOf(times[i]));
  }
  struct Week {
    int64_t start_day = 0;
    int64_t rows = 0, frauds = 0, unscored = 0;
    std::vector<WeekMetrics> metrics;
    std::vector<size_t> table_rows;  // the rows evaluated
  };
  std::vector<Week> weeks;
  std::vector<size_t> rows;
  std::vector<double> scores;
  std::vector<int> week_labels;
  std::vector<models::ScoredTransaction> scored;
  for (int64_t start = from_day; start + 7 <= last_day + 1; start += 7) {
    Week w;
    w.start_day = start;
    rows.clear();
    for (size_t i = 0; i < ids.size(); ++i) {
      const int64_t day = base::DayOf(times[i]);
      if (day < start || day >= start + 7) continue;
      const auto known = first_fraud.find(cards[i]);
      if (known != first_fraud.end() && known->second + o.delay_days + 1 <= day) continue;
      const bool everywhere =
          std::all_of(sets.begin(), sets.end(), [&](const ScoreSet& s) { return s.scores.contains(ids[i]); });
      if (!everywhere) {
        ++w.unscored;
        continue;
      }
      rows.push_back(i);
      w.frauds += labels[i];
    }
    w.rows = static_cast<int64_t>(rows.size());
    w.table_rows = rows;
    for (const ScoreSet& s : sets) {
      scores.clear();
      week_labels.clear();
      scored.clear();
      for (size_t i : rows) {
        const double score = s.scores.at(ids[i]);
        scores.push_back(score);
        week_labels.push_back(static_cast<int>(labels[i]));
        scored.push_back({static_cast<int32_t>(base::DayOf(times[i]) - first_day), cards[i],
                          static_cast<int>(labels[i]), score});
      }
      WeekMetrics m;
      if (auto ap = models::AveragePrecision(scores, week_labels); ap.ok()) m.average_precision = *ap;
      if (auto cp = models::CardPrecisionAtK(scored, o.k); cp.ok()) m.card_precision = cp->mean;
      w.metrics.push_back(m);
    }
    weeks.push_back(std::move(w));
  }
  if (weeks.empty()) return base::InvalidArgument("the table holds no whole week from " + o.weeks_from);
  const size_t summary_from =
      weeks.size() > static_cast<size_t>(o.last) ? weeks.size() - static_cast<size_t>(o.last) : 0;
  std::vector<WeekMetrics> mean(sets.size(), WeekMetrics{0, 0});
  for (size_t w = summary_from; w < weeks.size(); ++w)
    for (size_t s = 0; s < sets.size(); ++s) {
      mean[s].average_precision +=
          weeks[w].metrics[s].average_precision / static_cast<double>(weeks.size() - summary_from);
      mean[s].card_precision +=
          weeks[w].metrics[s].card_precision / static_cast<double>(weeks.size() - summary_from);
    }
  // The business report over the summary weeks' rows, each set side by side.
  std::vector<BusinessReport> reports;
  for (const ScoreSet& set : sets) {
    std::vector<size_t> pooled;
    std::vector<models::ScoredTransaction> pooled_rows;
    for (size_t w = summary_from; w < weeks.size(); ++w) {
      for (size_t i : weeks[w].table_rows) {
        pooled.push_back(i);
        pooled_rows.push_back({static_cast<int32_t>(base::DayOf(times[i]) - first_day), cards[i],
                               static_cast<int>(labels[i]), set.scores.at(ids[i])});
      }
    }
    if (pooled.empty()) break;
    const auto days = static_cast<int32_t>(7 * (weeks.size() - summary_from));
    auto report = EvaluateBusiness(business_table, o.business, set.name, pooled_rows, pooled, days);
    if (!report.ok()) return report.status().WithContext("business report of " + set.name);
    reports.push_back(std::move(report).value());
  }
  auto date = [](int64_t day) { return base::IsoDate(day * base::kMsPerDay); };
  if (o.json) {
    std::string out = "{\"weeks\": [";
    for (size_t w = 0; w < weeks.size(); ++w) {
      out += fmt::format("{}{{\"start\": \"{}\", \"transactions\": {}, \"frauds\": {}, \"unscored\": {}",
                         w ? ", " : "", date(weeks[w].start_day), weeks[w].rows, weeks[w].frauds,
                         weeks[w].unscored);
      for (size_t s = 0; s < sets.size(); ++s)
        out += fmt::format(", {}: {{\"average_precision\": {}, \"card_precision_at_k\": {}}}",
                           base::JsonString(sets[s].name), weeks[w].metrics[s].average_precision,
                           weeks[w].metrics[s].card_precision);
      out += "}";
    }
    out += fmt::format("], \"last_weeks\": {}, \"mean\": {{", weeks.size() - summary_from);
    for (size_t s = 0; s < sets.size(); ++s)
      out += fmt::format("{}{}: {{\"average_precision\": {}, \"card_precision_at_k\": {}}}", s ? ", " : "",
                         base::JsonString(sets[s].name), mean[s].average_precision, mean[s].card_precision);
    out += "}, \"business\": {";
    for (size_t s = 0; s < reports.size(); ++s)
      out += fmt::format("{}{}: {{{}}}", s ? ", " : "", base::JsonString(reports[s].name),
                         BusinessJsonMembers(reports[s]));
    fmt::print("{}}}}}\n", out);
    return base::Status::OK();
  }
  fmt::print(
      "prequential weekly evaluation of served scores; table {}; known compromised cards removed (delay {} "
      "d)\n",
      o.table, o.delay_days);
  std::string header = fmt::format("{:<12}{:>8}{:>8}", "week of", "tx", "frauds");
  std::vector<size_t> widths;  // one per score set: wide enough for its column names
  for (const ScoreSet& s : sets) {
    widths.push_back(std::max<size_t>(10, s.name.size() + 9));
    header += fmt::format("{:>{}}{:>{}}", s.name + " AP", widths.back(), fmt::format("{} CP@{}", s.name, o.k),
                          widths.back());
  }
  fmt::print("{}\n", header);
  for (size_t w = 0; w < weeks.size(); ++w) {
    std::string line =
        fmt::format("{:<12}{:>8}{:>8}", date(weeks[w].start_day), weeks[w].rows, weeks[w].frauds);
    for (size_t i = 0; i < sets.size(); ++i)
      line += fmt::format("{:>{}.3f}{:>{}.3f}", weeks[w].metrics[i].average_precision, widths[i],
                          weeks[w].metrics[i].card_precision, widths[i]);
    fmt::print("{}{}\n", line, w == summary_from && summary_from > 0 ? "   <- last weeks start" : "");
  }
  std::string line = fmt::format("{:<28}", fmt::format("mean, last {} weeks", weeks.size() - summary_from));
  for (size_t i = 0; i < sets.size(); ++i)
    line += fmt::format("{:>{}.3f}{:>{}.3f}", mean[i].average_precision, widths[i], mean[i].card_precision,
                        widths[i]);
  fmt::print("{}\n", line);
  PrintBusiness(
      o.business, reports,
      weeks.size() - summary_from == 1
          ? std::string("the last week, known compromised cards removed")
          : fmt::format("the last {} weeks, known compromised cards removed", weeks.size() - summary_from));
  return base::Status::OK();
}

}  // namespace vigil::app
