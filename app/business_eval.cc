// The business report of scored table rows (see business_eval.h).
#include "app/business_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "app/train_command.h"
#include "engine/row_encoder.h"

namespace vigil::app {
namespace {

//! The first score operator of the pipeline, or null.
const config::ScoreSpec* FindScore(const config::PipelineSpec& pipeline) {
  for (const config::OperatorSpec& op : pipeline.operators)
    if (const auto* score = std::get_if<config::ScoreSpec>(&op.params)) return score;
  return nullptr;
}

base::Result<std::vector<double>> ParseBands(const std::string& text) {
  std::vector<double> bands;
  if (text == "none") return bands;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + comma, v);
    if (ec != std::errc() || ptr != text.data() + comma)
      return base::InvalidArgument("--amount-bands " + text +
                                   ": expected increasing numbers, e.g. 20,100,500");
    bands.push_back(v);
    start = comma + 1;
  }
  VIGIL_RETURN_IF_ERROR(models::CheckAmountBands(bands).WithContext("--amount-bands " + text));
  return bands;
}

//! A segment column's value of each row as text, as replay writes it; an empty cell is `null`.
base::Result<std::vector<std::string>> ColumnText(const lifecycle::Table& table, const std::string& column) {
  std::vector<std::string> out;
  if (auto texts = table.Texts(column); texts.ok()) {
    out.assign(texts->begin(), texts->end());
  } else if (auto doubles = table.Doubles(column); doubles.ok()) {
    for (double v : *doubles) {
      std::string& cell = out.emplace_back();
      if (!std::isnan(v)) engine::AppendJsonDouble(v, &cell);
    }
  } else if (auto ints = table.Int64s(column); ints.ok()) {
    for (int64_t v : *ints)
      out.push_back(v == lifecycle::Table::kMissing ? std::string() : std::to_string(v));
  } else {
    return base::InvalidArgument(fmt::format("--segment {}: the table has no column '{}'", column, column));
  }
  for (std::string& cell : out)
    if (cell.empty()) cell = "null";
  return out;
}

//! The segmentation of a categorical column: values in ascending text order.
base::Result<models::Segmentation> ColumnSegmentation(const lifecycle::Table& table,
                                                      const std::string& column, int max_values) {
  VIGIL_ASSIGN_OR_RETURN(std::vector<std::string> text, ColumnText(table, column));
  std::map<std::string, uint32_t> index;
  for (const std::string& v : text) index.emplace(v, 0);
  if (index.size() > static_cast<size_t>(max_values))
    return base::InvalidArgument(
        fmt::format("--segment {}: {} distinct values, more than {} (--max-segment-values): segment by a "
                    "categorical column",
                    column, index.size(), max_values));
  models::Segmentation seg{column, {}, {}};
  for (auto& [value, i] : index) {
    i = static_cast<uint32_t>(seg.values.size());
    seg.values.push_back(value);
  }
  seg.value_of_row.reserve(text.size());
  for (const std::string& v : text) seg.value_of_row.push_back(index.at(v));
  return seg;
}

}  // namespace

void AddBusinessFlags(CLI::App& cmd, BusinessFlags& f) {
  cmd.add_option("--threshold", f.threshold,
                 "Decision threshold of the business KPIs and segments (alert when score >= it); default the "
                 "pipeline's score threshold, else 0.5");
  cmd.add_option("--review-cost", f.review_cost, "Cost of reviewing one alert, in the amount's currency")
      ->capture_default_str();
  cmd.add_option("--loss-rate", f.loss_rate, "Share of a missed fraud's amount that is lost")
      ->capture_default_str();
  cmd.add_option("--alert-budget", f.alert_budget,
                 "Alerted cards a day the reviewers can handle: the report gives the lowest threshold that "
                 "fits it (the book's card precision@k setting)")
      ->capture_default_str();
  cmd.add_option("--amount-column", f.amount_column,
                 "Amount column of the KPIs and amount bands (default: the pipeline's monitor segments' "
                 "amount, else TX_AMOUNT)");
  cmd.add_option("--segment", f.segments,
                 "Categorical column to report metrics per value of, repeatable (added to the pipeline's "
                 "monitor segments' columns)");
  cmd.add_option("--new-card-days", f.new_card_days,
                 "A card is new when first seen in the table less than N days before the row (default: the "
                 "pipeline's monitor segments' card_age_days, else 30; 0 = no card-age segments)");
  cmd.add_option("--amount-bands", f.amount_bands,
                 "Increasing amount band bounds, e.g. 20,100,500 (<20, 20-100, 100-500, >=500; default the "
                 "pipeline's, else that), or none");
  cmd.add_option("--underserved-ratio", f.underserved_ratio,
                 "Flag a segment whose precision or recall at the threshold is below this share of the "
                 "overall figure (default the pipeline's, else 0.5)");
  cmd.add_option("--max-segment-values", f.max_segment_values,
                 "A --segment column with more distinct values is refused (default the pipeline's "
                 "max_values, else 20)");
}

base::Result<BusinessSettings> ResolveBusinessSettings(const config::PipelineSpec& pipeline,
                                                       const BusinessFlags& f) {
  BusinessSettings s;
  s.kpi.threshold = 0.5;
  s.threshold_source = "default";
  const config::ScoreSpec* score = FindScore(pipeline);
  if (score != nullptr) {
    s.kpi.threshold = score->threshold;
    s.threshold_source = "the pipeline's score threshold";
    if (const config::SegmentsSpec& g = score->monitor.segments; g.enabled) {
      s.amount_column = g.amount;
      s.card_age_days = g.card_age_days;
      s.amount_bands = g.amount_bands;
      s.columns = g.columns;
      s.max_values = g.max_values;
      s.underserved_ratio = g.underserved_ratio;
    }
  }
  if (!std::isnan(f.threshold)) {
    s.kpi.threshold = f.threshold;
    s.threshold_source = "--threshold";
  }
  s.kpi.cost = {f.review_cost, f.loss_rate};
  s.kpi.alert_budget = f.alert_budget;
  if (!(f.review_cost >= 0) || !(f.loss_rate >= 0))
    return base::InvalidArgument("--review-cost and --loss-rate must be 0 or more");
  if (!(f.alert_budget > 0)) return base::InvalidArgument("--alert-budget must be positive");
  if (!f.amount_column.empty()) s.amount_column = f.amount_column;
  for (const std::string& c : f.segments)
    if (std::find(s.columns.begin(), s.columns.end(), c) == s.columns.end()) s.columns.push_back(c);
  if (f.new_card_days >= 0) s.card_age_days = f.new_card_days;
  if (!f.amount_bands.empty()) {
    VIGIL_ASSIGN_OR_RETURN(s.amount_bands, ParseBands(f.amount_bands));
  }
  if (!std::isnan(f.underserved_ratio)) s.underserved_ratio = f.underserved_ratio;
  if (!(s.underserved_ratio >= 0 && s.underserved_ratio <= 1))
    return base::InvalidArgument("--underserved-ratio must be in [0, 1]");
  if (f.max_segment_values >= 0) s.max_values = f.max_segment_values;
  if (s.max_values < 1) return base::InvalidArgument("--max-segment-values must be at least 1");
  return s;
}

base::Status CheckAmountColumn(const std::string& path, const BusinessSettings& s) {
  std::ifstream in(path);
  if (!in) return base::NotFound("cannot read " + path);
  std::string header;
  std::getline(in, header);
  std::istringstream cells(header);
  for (std::string cell; std::getline(cells, cell, ',');) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
    if (cell == s.amount_column) return base::Status::OK();
  }
  return base::InvalidArgument(
      fmt::format("{}: no amount column '{}' for the business report (--amount-column "
                  "names the table's amount column)",
                  path, s.amount_column));
}

void AddBusinessColumns(const BusinessSettings& s, lifecycle::TableReadOptions* read) {
  const auto loaded = [&](const std::string& c) {
    for (const auto* list : {&read->double_columns, &read->int64_columns, &read->text_columns})
      if (std::find(list->begin(), list->end(), c) != list->end()) return true;
    return false;
  };
  if (!loaded(s.amount_column)) read->double_columns.push_back(s.amount_column);
  for (const std::string& c : s.columns)
    if (!loaded(c)) read->text_columns.push_back(c);
}

base::Result<BusinessTable> MakeBusinessTable(const lifecycle::Table& table, const BusinessSettings& s) {
  BusinessTable out;
  VIGIL_ASSIGN_OR_RETURN(std::span<const double> amounts, table.Doubles(s.amount_column));
  for (size_t i = 0; i < amounts.size(); ++i) {
    if (!(amounts[i] >= 0))
      return base::InvalidArgument(fmt::format("{} of table row {} is {}: an amount must be a number >= 0",
                                               s.amount_column, i + 1, amounts[i]));
  }
  out.amounts.assign(amounts.begin(), amounts.end());
  if (s.card_age_days > 0) {
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> times, table.Int64s(lifecycle::kTimeColumn));
    VIGIL_ASSIGN_OR_RETURN(std::span<const int64_t> cards, table.Int64s(lifecycle::kCustomerColumn));
    std::unordered_map<int64_t, int64_t> first_seen;
    for (size_t i = 0; i < times.size(); ++i) {
      auto [it, inserted] = first_seen.try_emplace(cards[i], times[i]);
      if (!inserted) it->second = std::min(it->second, times[i]);
    }
    models::Segmentation age{models::kCardAgeDimension, {models::kNewCard, models::kEstablishedCard}, {}};
    for (size_t i = 0; i < times.size(); ++i)
      age.value_of_row.push_back(models::IsNewCard(first_seen.at(cards[i]), times[i], s.card_age_days) ? 0
                                                                                                       : 1);
    out.segmentations.push_back(std::move(age));
  }
  if (!s.amount_bands.empty()) {
    models::Segmentation bands{models::kAmountDimension, models::AmountBandNames(s.amount_bands), {}};
    for (double a : amounts) bands.value_of_row.push_back(models::AmountBand(a, s.amount_bands));
    out.segmentations.push_back(std::move(bands));
  }
  for (const std::string& c : s.columns) {
    VIGIL_ASSIGN_OR_RETURN(models::Segmentation seg, ColumnSegmentation(table, c, s.max_values));
    out.segmentations.push_back(std::move(seg));
  }
  return out;
}

base::Result<BusinessReport> EvaluateBusiness(const BusinessTable& table, const BusinessSettings& s,
                                              std::string name,
                                              std::span<const models::ScoredTransaction> rows,
                                              std::span<const size_t> table_rows, int32_t days) {
  BusinessReport r;
  r.name = std::move(name);
  std::vector<double> amounts, scores;
  std::vector<int> labels;
  for (size_t i = 0; i < rows.size(); ++i) {
    amounts.push_back(table.amounts[table_rows[i]]);
    scores.push_back(rows[i].score);
    labels.push_back(rows[i].label);
  }
  models::KpiOptions kpi = s.kpi;
  kpi.days = days;
  VIGIL_ASSIGN_OR_RETURN(r.kpis, models::ComputeKpis(rows, amounts, kpi));
  for (int t = 1; t <= 9; ++t) {
    VIGIL_ASSIGN_OR_RETURN(models::OperatingPoint p,
                           models::OperatingPointAt(rows, amounts, t / 10.0, r.kpis.days, s.kpi.cost));
    r.grid.push_back(p);
  }
  // The segmentations restricted to the evaluated rows.
  std::vector<models::Segmentation> segmentations;
  for (const models::Segmentation& whole : table.segmentations) {
    models::Segmentation& seg =
        segmentations.emplace_back(models::Segmentation{whole.dimension, whole.values, {}});
    for (size_t row : table_rows) seg.value_of_row.push_back(whole.value_of_row[row]);
  }
  VIGIL_ASSIGN_OR_RETURN(r.segments, models::EvaluateSegments(scores, labels, segmentations, s.kpi.threshold,
                                                              s.underserved_ratio));
  return r;
}

}  // namespace vigil::app
