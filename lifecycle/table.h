#pragma once
// The training table: a CSV file with a header line and numeric cells, as `vigil replay` writes it
// (the pipeline's output fields, then LABEL). `vigil train` and `vigil evaluate` read it whole into
// memory, column by column. A cell may be a JSON-quoted string (a string field, as replay writes it;
// commas inside the quotes do not split it), read by text columns only.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::lifecycle {

//! Which columns of a CSV file to load, and how.
struct TableReadOptions {
  //! Columns to load as doubles; empty = every column not in `int64_columns`. An empty cell is NaN.
  std::vector<std::string> double_columns;
  //! Columns to load as int64 (ids, times, labels). Every cell must be an integer. Default: none.
  std::vector<std::string> int64_columns;
  //! Of `int64_columns`, those whose cell may be empty (a label not known yet when the table was
  //! replayed): an empty cell is Table::kMissing. Default: none.
  std::vector<std::string> optional_int64_columns;
  //! Columns to load as text, whatever they hold (categorical segments): a JSON-quoted cell, as
  //! `vigil replay` writes a string, is unquoted (\" and \\ unescaped). Default: none.
  std::vector<std::string> text_columns;
};

//! A numeric CSV table held in memory. Lifecycle: built once by ReadCsv, then immutable; it may be
//! read from several threads at once. Column spans live as long as the Table.
class Table {
 public:
  //! An empty cell of an optional int64 column.
  static constexpr int64_t kMissing = INT64_MIN;

  //! Reads `path`. The first line names the columns; cells are separated by ','; a cell that starts
  //! with '"' runs to its closing '"' (a backslash escapes the next character). NotFound / IoError if the
  //! file cannot be read; InvalidArgument (with file:line) for a bad header, a row with the wrong number of
  //! cells, or a cell that is not a number; NotFound if a requested column is absent.
  static base::Result<Table> ReadCsv(const std::string& path, const TableReadOptions& options = {});

  //! Number of data rows.
  size_t num_rows() const { return num_rows_; }
  //! Every column name of the header, in file order (loaded or not).
  const std::vector<std::string>& header() const { return header_; }
  //! True if the header has a column called `name`.
  bool HasColumn(std::string_view name) const;

  //! A column loaded as doubles. NotFound if it was not loaded as such.
  base::Result<std::span<const double>> Doubles(std::string_view name) const;
  //! A column loaded as int64. NotFound if it was not loaded as such.
  base::Result<std::span<const int64_t>> Int64s(std::string_view name) const;
  //! A column loaded as text. NotFound if it was not loaded as such.
  base::Result<std::span<const std::string>> Texts(std::string_view name) const;

  //! Row-major floats of the double columns `columns` for the rows `rows`, in the given orders:
  //! the input of DMatrix::FromDense and Forest::PredictBatch. NotFound for an unloaded column.
  base::Result<std::vector<float>> DenseRows(const std::vector<std::string>& columns,
                                             std::span<const size_t> rows) const;

 private:
  //! One loaded column.
  struct Column {
    std::string name;                //!< Header name.
    size_t index = 0;                //!< Position in the header.
    bool is_int64 = false;           //!< Which of the two vectors holds the values.
    bool optional = false;           //!< An int64 column whose empty cell is kMissing.
    std::vector<double> doubles;     //!< Values when !is_int64 and !is_text.
    std::vector<int64_t> int64s;     //!< Values when is_int64.
    bool is_text = false;            //!< Values in `texts`.
    std::vector<std::string> texts;  //!< Values when is_text.
  };

  const Column* Find(std::string_view name) const;
  base::Status ParseBody(std::string_view body, const std::string& path, size_t first_line);

  std::vector<std::string> header_;  //!< Header names, in file order.
  std::vector<Column> columns_;      //!< Loaded columns, in header order.
  size_t num_rows_ = 0;              //!< Data rows.
};

}  // namespace vigil::lifecycle
