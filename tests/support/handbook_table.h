#pragma once
// A small Handbook training table (the columns of deploy/examples/handbook.yaml's output, then LABEL)
// computed here from a simulation the way the book computes its features, for the tests of
// `vigil train`, `vigil evaluate`, the search and the retrainer.

#include <string>
#include <vector>

namespace vigil::testing {

//! Writes the table of a 40-day simulation of 1,000 cards and 2,000 terminals (2018-04-01 ..
//! 2018-05-10), the terminal windows delayed by 7 days, without the `drop` columns; returns `path`.
std::string WriteHandbookTable(const std::string& path, const std::vector<std::string>& drop = {});

//! One such table for the whole test process, written on first use.
const std::string& SmallHandbookTable();

}  // namespace vigil::testing
