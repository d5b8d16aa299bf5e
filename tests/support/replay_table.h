#pragma once
// The reference for end-to-end feature tests: `vigil replay`'s training table, and the comparison of
// a live output topic's records with it, value by value and bit for bit.
//
// Every function reports through Catch2 and may only be called from a TEST_CASE, on its thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/kafka_env.h"

namespace vigil::testing {

//! A training table as `vigil replay --out T.csv` writes it: the pipeline's output fields, then LABEL.
struct ReplayTable {
  //! The header; the first column is TRANSACTION_ID, the last LABEL.
  std::vector<std::string> columns;
  //! Each event's row by TRANSACTION_ID; an empty cell reads as NaN.
  std::map<int64_t, std::vector<double>> rows;
  //! The TRANSACTION_IDs in the table's (event) order.
  std::vector<int64_t> order;

  //! Index of `column` in `columns`; fails the test when the table has no such column.
  size_t Column(const std::string& column) const;
};

//! Reads the CSV at `path`. Fails the test when it cannot be read or its first column is not
//! TRANSACTION_ID.
ReplayTable ReadReplayTable(const std::string& path);

//! Runs `vigil replay PIPELINE --events EVENTS --labels LABELS --out DIR/replay.csv` and reads the
//! table. Fails the test when replay fails.
ReplayTable ReplayFiles(const std::string& dir, const std::string& pipeline, const std::string& events,
                        const std::string& labels);

//! What CompareWithReplay found. Every count is of records or values, never of time.
struct ReplayComparison {
  size_t records = 0;             //!< Output records read.
  size_t distinct = 0;            //!< Distinct TRANSACTION_IDs among them.
  size_t duplicates = 0;          //!< records - distinct: ids decided more than once.
  size_t missing = 0;             //!< Table ids without any output record.
  size_t unknown = 0;             //!< Records whose id is not in the table, or that do not parse.
  size_t compared = 0;            //!< Values compared (every column but LABEL, of every record).
  size_t mismatches = 0;          //!< Values that differ from the table's, bit for bit (null = NaN).
  size_t mismatched_records = 0;  //!< Records with at least one such value.
  //! The last record of each id (in topic order) that matches the table's row in every column.
  size_t exact_ids = 0;
  //! The first few duplicates, missing ids, unknown records and differences, one line each.
  std::vector<std::string> examples;
};

//! Compares every record of `records` (JSON values with the table's columns but LABEL) with the
//! table row of its TRANSACTION_ID. Asserts nothing: the caller checks the counts (and shows the
//! examples).
ReplayComparison CompareWithReplay(const std::vector<Message>& records, const ReplayTable& table);

//! The "final state": for every distinct value of `key_column` (e.g. CUSTOMER_ID), the table's last
//! event of that key, and whether the last output record (in topic order) of the same transaction
//! equals it in every column but LABEL.
struct FinalStateComparison {
  size_t keys = 0;                    //!< Distinct keys in the table.
  size_t equal = 0;                   //!< Keys whose last event's output record equals the table's row.
  size_t different = 0;               //!< Keys whose last event has no output record or a different one.
  std::vector<std::string> examples;  //!< The first few different keys, one line each.
};

//! See FinalStateComparison. Asserts nothing.
FinalStateComparison CompareFinalState(const std::vector<Message>& records, const ReplayTable& table,
                                       const std::string& key_column);

}  // namespace vigil::testing
