// Printing of the business reports (see business_print.h).
#include "app/business_print.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "base/json.h"

namespace vigil::app {
namespace {

constexpr int kLabelWidth = 34;

std::string Ratio(double v) { return std::isnan(v) ? "-" : fmt::format("{:.3f}", v); }
std::string Money(double v) { return fmt::format("{:.2f}", v); }
std::string PerDay(double v) { return fmt::format("{:.2f}", v); }
std::string Threshold(double v) { return std::isinf(v) ? "none" : fmt::format("{:.4g}", v); }

//! Column width of each report: its name and a number fit.
std::vector<size_t> Widths(std::span<const BusinessReport> reports) {
  std::vector<size_t> widths;
  for (const BusinessReport& r : reports) widths.push_back(std::max<size_t>(14, r.name.size() + 2));
  return widths;
}

void Row(const std::string& label, std::span<const BusinessReport> reports, const std::vector<size_t>& widths,
         const std::function<std::string(const BusinessReport&)>& cell) {
  std::string line = fmt::format("{:<{}}", label, kLabelWidth);
  for (size_t i = 0; i < reports.size(); ++i) line += fmt::format("{:>{}}", cell(reports[i]), widths[i]);
  fmt::print("{}\n", line);
}

//! The rows of one operating point of each report.
void PointRows(std::span<const BusinessReport> reports, const std::vector<size_t>& widths,
               const std::function<const models::OperatingPoint&(const BusinessReport&)>& point,
               bool with_threshold) {
  const auto row = [&](const std::string& label,
                       const std::function<std::string(const models::OperatingPoint&)>& f) {
    Row("  " + label, reports, widths, [&](const BusinessReport& r) { return f(point(r)); });
  };
  if (with_threshold) row("threshold", [](const auto& p) { return Threshold(p.threshold); });
  row("alerts per day", [](const auto& p) { return PerDay(p.alerts_per_day); });
  row("alerted cards per day", [](const auto& p) { return PerDay(p.cards_per_day); });
  row("precision", [](const auto& p) { return Ratio(p.precision); });
  row("recall", [](const auto& p) { return Ratio(p.recall); });
  row("fraud amount caught", [](const auto& p) { return Money(p.fraud_amount_caught); });
  row("amount recall", [](const auto& p) { return Ratio(p.amount_recall); });
  row("cost", [](const auto& p) { return Money(p.cost); });
}

void PrintSegments(const BusinessSettings& s, std::span<const BusinessReport> reports) {
  const models::SegmentReport& first = reports.front().segments;
  fmt::print(
      "\nsegments at threshold {}: AP, precision and recall; under-served: precision or recall below "
      "{} x the overall figure\n",
      Threshold(s.kpi.threshold), s.underserved_ratio);
  // Wide enough for the longest segmentation and value names.
  size_t dimension_width = 16, value_width = 12;
  for (const models::SegmentMetrics& m : first.segments) {
    dimension_width = std::max(dimension_width, m.dimension.size() + 2);
    value_width = std::max(value_width, m.value.size() + 2);
  }
  const auto head = [&](const std::string& segment, const std::string& value, const std::string& tx,
                        const std::string& frauds) {
    return fmt::format("{:<{}}{:<{}}{:>8}{:>8}", segment, dimension_width, value, value_width, tx, frauds);
  };
  std::string names(dimension_width + value_width + 16, ' ');
  std::string header = head("segment", "value", "tx", "frauds");
  for (const BusinessReport& r : reports) {
    names += fmt::format("{:>24}", r.name.size() > 22 ? r.name.substr(0, 22) : r.name);
    header += fmt::format("{:>8}{:>8}{:>8}", "AP", "prec", "recall");
  }
  fmt::print("{}\n{}\n", names, header);
  const auto line = [&](const std::string& segment, const std::string& value, size_t index) {
    const models::SegmentMetrics& m = index == SIZE_MAX ? first.overall : first.segments[index];
    std::string text = head(segment, value, std::to_string(m.transactions), std::to_string(m.frauds));
    std::vector<std::string> flagged;
    for (const BusinessReport& r : reports) {
      const models::SegmentMetrics& x = index == SIZE_MAX ? r.segments.overall : r.segments.segments[index];
      text += fmt::format("{:>8}{:>8}{:>8}", Ratio(x.average_precision), Ratio(x.precision), Ratio(x.recall));
      if (x.low_precision) flagged.push_back(r.name + " precision");
      if (x.low_recall) flagged.push_back(r.name + " recall");
    }
    if (!flagged.empty()) text += fmt::format("   <- under-served ({})", fmt::join(flagged, ", "));
    fmt::print("{}\n", text);
  };
  line("all", "", SIZE_MAX);
  for (size_t i = 0; i < first.segments.size(); ++i)
    line(first.segments[i].dimension, first.segments[i].value, i);
  std::vector<std::string> counts;
  for (const BusinessReport& r : reports)
    counts.push_back(fmt::format("{} {}", r.name, r.segments.underserved));
  fmt::print("under-served segments: {}\n", fmt::join(counts, ", "));
}

std::string PointJson(const models::OperatingPoint& p) {
  return fmt::format(
      "{{\"threshold\": {}, \"alerts\": {}, \"alerted_cards\": {}, \"alerts_per_day\": {}, "
      "\"cards_per_day\": {}, "
      "\"frauds_caught\": {}, \"precision\": {}, \"recall\": {}, \"fraud_amount_caught\": {}, "
      "\"amount_recall\": "
      "{}, \"cost\": {}}}",
      JsonNumber(p.threshold), p.alerts, p.alerted_cards, JsonNumber(p.alerts_per_day),
      JsonNumber(p.cards_per_day), p.frauds_caught, JsonNumber(p.precision), JsonNumber(p.recall),
      JsonNumber(p.fraud_amount_caught), JsonNumber(p.amount_recall), JsonNumber(p.cost));
}

std::string SegmentJson(const models::SegmentMetrics& m) {
  return fmt::format(
      "{{\"segment\": {}, \"value\": {}, \"transactions\": {}, \"frauds\": {}, \"alerts\": {}, "
      "\"average_precision\": {}, \"precision\": {}, \"recall\": {}, \"underserved\": {}}}",
      base::JsonString(m.dimension), base::JsonString(m.value), m.transactions, m.frauds, m.alerts,
      JsonNumber(m.average_precision), JsonNumber(m.precision), JsonNumber(m.recall),
      m.underserved ? "true" : "false");
}

}  // namespace

std::string JsonNumber(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

void PrintBusiness(const BusinessSettings& s, std::span<const BusinessReport> reports,
                   const std::string& period) {
  if (reports.empty()) return;
  const models::BusinessKpis& k = reports.front().kpis;
  const std::vector<size_t> widths = Widths(reports);
  fmt::print("\nbusiness KPIs over {}: {} days, {} transactions, {} frauds, fraud amount {}\n", period,
             k.days, k.transactions, k.frauds, Money(k.fraud_amount));
  fmt::print(
      "cost = {} per alert + {} x the missed fraud amount; thresholds searched exactly, over the "
      "distinct scores\n",
      s.kpi.cost.review_cost, s.kpi.cost.loss_rate);
  Row("", reports, widths, [](const BusinessReport& r) { return r.name; });
  fmt::print("at the threshold {} ({})\n", Threshold(s.kpi.threshold), s.threshold_source);
  PointRows(
      reports, widths, [](const BusinessReport& r) -> const auto& { return r.kpis.at_threshold; }, false);
  fmt::print("at the cost-minimising threshold\n");
  PointRows(
      reports, widths, [](const BusinessReport& r) -> const auto& { return r.kpis.min_cost; }, true);
  fmt::print("at the alert budget of {} cards a day\n", s.kpi.alert_budget);
  PointRows(
      reports, widths, [](const BusinessReport& r) -> const auto& { return r.kpis.budget; }, true);
  fmt::print("cost by threshold\n");
  for (size_t t = 0; t < reports.front().grid.size(); ++t)
    Row(fmt::format("  {}", Threshold(reports.front().grid[t].threshold)), reports, widths,
        [t](const BusinessReport& r) { return Money(r.grid[t].cost); });
  PrintSegments(s, reports);
}

std::string BusinessJsonMembers(const BusinessReport& r) {
  const models::BusinessKpis& k = r.kpis;
  std::vector<std::string> grid, segments;
  for (const models::OperatingPoint& p : r.grid) grid.push_back(PointJson(p));
  for (const models::SegmentMetrics& m : r.segments.segments) segments.push_back(SegmentJson(m));
  return fmt::format(
      "\"kpis\": {{\"transactions\": {}, \"frauds\": {}, \"fraud_amount\": {}, \"days\": {}, "
      "\"review_cost\": {}, "
      "\"loss_rate\": {}, \"alert_budget\": {}, \"threshold_search\": \"distinct scores\", \"at_threshold\": "
      "{}, "
      "\"min_cost\": {}, \"budget\": {}, \"by_threshold\": [{}]}}, \"segments\": {{\"threshold\": {}, "
      "\"underserved_ratio\": {}, \"overall\": {}, \"segments\": [{}], \"underserved\": {}}}",
      k.transactions, k.frauds, JsonNumber(k.fraud_amount), k.days, JsonNumber(k.options.cost.review_cost),
      JsonNumber(k.options.cost.loss_rate), JsonNumber(k.options.alert_budget), PointJson(k.at_threshold),
      PointJson(k.min_cost), PointJson(k.budget), fmt::join(grid, ", "), JsonNumber(r.segments.threshold),
      JsonNumber(r.segments.ratio), SegmentJson(r.segments.overall), fmt::join(segments, ", "),
      r.segments.underserved);
}

}  // namespace vigil::app
