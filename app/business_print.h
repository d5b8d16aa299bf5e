#pragma once
// Printing of `vigil evaluate`'s business reports (app/business_eval.h): a cost table and a segment
// table with one column group per scored set, side by side, or their JSON.

#include <span>
#include <string>

#include "app/business_eval.h"

namespace vigil::app {

//! Prints the KPI table (at the threshold, at the cost-minimising threshold, at the alert budget), the
//! cost at thresholds 0.1 .. 0.9, and the segment table, whose under-served segments end with
//! "<- under-served (...)" and are counted on the last line. `period` describes the rows
//! ("the test period", "the last 8 weeks"). Every report covers the same rows.
void PrintBusiness(const BusinessSettings& settings, std::span<const BusinessReport> reports,
                   const std::string& period);

//! `"kpis": {...}, "segments": {...}` of one report: the members to put in a JSON object. Undefined
//! figures (NaN) and the "nothing alerted" threshold (+inf) are null.
std::string BusinessJsonMembers(const BusinessReport& report);

//! A JSON number, or null when not finite.
std::string JsonNumber(double value);

}  // namespace vigil::app
