#pragma once
// `vigil evaluate`'s business report of scored table rows: the KPIs of models/kpi.h (money caught and
// missed, review work, the cost-minimising and alert-budget thresholds) and the per-segment metrics of
// models/segments.h (new vs established cards, amount bands, categorical columns; under-served
// segments flagged). Both `--model` (the chapter-3 test set) and `--served` (the summary weeks) use
// it; app/business_print.h prints it.
//
// Settings come from the command line, else from the pipeline's score operator (`threshold`,
// `monitor.performance.segments`), else from the defaults below. A card's age is counted from its
// earliest row in the table (the table is the stream as far as evaluate knows it: in the table's
// first card_age_days every card is new).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "lifecycle/table.h"
#include "models/kpi.h"
#include "models/segments.h"

namespace vigil::app {

//! The flags as given; NaN, -1 or empty = not given.
struct BusinessFlags {
  double threshold = std::numeric_limits<double>::quiet_NaN();  //!< --threshold.
  double review_cost = 5;                                       //!< --review-cost. Default 5.
  double loss_rate = 1;                                         //!< --loss-rate. Default 1.
  double alert_budget = 100;                                    //!< --alert-budget, cards a day. Default 100.
  std::string amount_column;                                    //!< --amount-column.
  std::vector<std::string> segments;                            //!< --segment, repeatable.
  int new_card_days = -1;                                       //!< --new-card-days.
  std::string amount_bands;                                     //!< --amount-bands "20,100,500" or "none".
  double underserved_ratio = std::numeric_limits<double>::quiet_NaN();  //!< --underserved-ratio.
  int max_segment_values = -1;                                          //!< --max-segment-values.
};

//! Adds the flags above to `cmd`.
void AddBusinessFlags(CLI::App& cmd, BusinessFlags& flags);

//! The settings in force.
struct BusinessSettings {
  models::KpiOptions kpi;                   //!< Threshold, costs, alert budget (days set per report).
  std::string threshold_source;             //!< Where the threshold came from, for the report.
  std::string amount_column = "TX_AMOUNT";  //!< The amount of the KPIs and bands.
  int card_age_days = 30;                   //!< 0: no card-age segments.
  std::vector<double> amount_bands = {20, 100, 500};  //!< Empty: no amount bands.
  std::vector<std::string> columns;                   //!< Categorical segment columns.
  int max_values = 20;                                //!< A column with more values is refused.
  double underserved_ratio = 0.5;  //!< Flag below this share of the overall precision or recall.
};

//! Resolves the settings. InvalidArgument for out-of-range flags or malformed --amount-bands.
base::Result<BusinessSettings> ResolveBusinessSettings(const config::PipelineSpec& pipeline,
                                                       const BusinessFlags& flags);

//! Checks that the header of the table at `path` has the amount column, naming --amount-column when
//! not (the only column the report needs that a table may lack). NotFound if the file cannot be read.
base::Status CheckAmountColumn(const std::string& path, const BusinessSettings& settings);

//! Adds to `read` the columns the report needs that it does not load yet: the amount as a double, the
//! segment columns as text.
void AddBusinessColumns(const BusinessSettings& settings, lifecycle::TableReadOptions* read);

//! The table as the report sees it: per row its amount and its value in every segmentation.
//! Built once per table; immutable.
struct BusinessTable {
  std::vector<double> amounts;                      //!< Per table row.
  std::vector<models::Segmentation> segmentations;  //!< Per table row (value_of_row over the table).
};

//! Builds the BusinessTable from a table holding TX_TIME_MS and CUSTOMER_ID as integers and the
//! columns of AddBusinessColumns. InvalidArgument for a missing column, a NaN or negative amount, or
//! a segment column with more than max_values values (not categorical: named with its count).
base::Result<BusinessTable> MakeBusinessTable(const lifecycle::Table& table,
                                              const BusinessSettings& settings);

//! One scored set's report.
struct BusinessReport {
  std::string name;                          //!< The model or served set.
  models::BusinessKpis kpis;                 //!< At the threshold, min cost, alert budget.
  std::vector<models::OperatingPoint> grid;  //!< At thresholds 0.1, 0.2, ..., 0.9.
  models::SegmentReport segments;            //!< Per segment.
};

//! The report of `rows` (scored), whose table rows are `table_rows`, over a period of `days` days.
base::Result<BusinessReport> EvaluateBusiness(const BusinessTable& table, const BusinessSettings& settings,
                                              std::string name,
                                              std::span<const models::ScoredTransaction> rows,
                                              std::span<const size_t> table_rows, int32_t days);

}  // namespace vigil::app
