#include "lifecycle/table.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/file.h"

namespace vigil::lifecycle {
namespace {

std::string_view TrimLineEnd(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  return line;
}

std::vector<std::string> SplitHeader(std::string_view line) {
  std::vector<std::string> names;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    std::string_view cell =
        line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
    while (!cell.empty() && cell.back() == ' ') cell.remove_suffix(1);
    names.emplace_back(cell);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return names;
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool ParseDouble(const char* begin, const char* end, double& out) {
  if (begin == end) {
    out = std::nan("");
    return true;
  }
  if (*begin == '+') ++begin;
  const auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end;
}

bool ParseInt64(const char* begin, const char* end, int64_t& out) {
  if (begin != end && *begin == '+') ++begin;
  const auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec == std::errc() && ptr == end) return true;
  // An integral double such as "1.0" or "1e3" is accepted too.
  double d = 0;
  if (begin == end || !ParseDouble(begin, end, d) || std::trunc(d) != d || std::fabs(d) > 9.0e15)
    return false;
  out = static_cast<int64_t>(d);
  return true;
}

// The end of the cell starting at `begin`: the next ',' (or the line's end), after the closing quote
// when the cell is JSON-quoted.
const char* CellEnd(const char* begin, const char* line_end) {
  const char* p = begin;
  if (p < line_end && *p == '"') {
    for (++p; p < line_end && *p != '"'; ++p)
      if (*p == '\\' && p + 1 < line_end) ++p;
  }
  const void* comma = std::memchr(p, ',', static_cast<size_t>(line_end - p));
  return comma == nullptr ? line_end : static_cast<const char*>(comma);
}

// A text cell: a quoted one without its quotes, \" and \\ unescaped.
std::string Unquote(std::string_view cell) {
  if (cell.size() < 2 || cell.front() != '"' || cell.back() != '"') return std::string(cell);
  std::string out;
  for (size_t i = 1; i + 1 < cell.size(); ++i) {
    if (cell[i] == '\\' && i + 2 < cell.size() && (cell[i + 1] == '"' || cell[i + 1] == '\\')) ++i;
    out.push_back(cell[i]);
  }
  return out;
}

}  // namespace

base::Result<Table> Table::ReadCsv(const std::string& path, const TableReadOptions& options) {
  VIGIL_ASSIGN_OR_RETURN(std::string data, base::ReadFile(path));
  const size_t header_end = data.find('\n');
  const std::string_view header_line = TrimLineEnd(
      std::string_view(data).substr(0, header_end == std::string::npos ? data.size() : header_end));
  if (header_line.empty()) {
    return base::Status(base::StatusCode::kInvalidArgument, path + ":1: empty file or header line");
  }
  Table table;
  table.header_ = SplitHeader(header_line);
  for (size_t i = 0; i < table.header_.size(); ++i) {
    const std::string& name = table.header_[i];
    if (name.empty() || std::count(table.header_.begin(), table.header_.end(), name) > 1) {
      return base::Status(
          base::StatusCode::kInvalidArgument,
          fmt::format("{}:1: column {} has an empty or repeated name '{}'", path, i + 1, name));
    }
    const bool as_text = Contains(options.text_columns, name);
    const bool as_int = !as_text && Contains(options.int64_columns, name);
    const bool as_double =
        !as_int && !as_text && (options.double_columns.empty() || Contains(options.double_columns, name));
    if (as_int || as_double || as_text)
      table.columns_.push_back(Column{
          name, i, as_int, as_int && Contains(options.optional_int64_columns, name), {}, {}, as_text, {}});
  }
  for (const auto* wanted : {&options.double_columns, &options.int64_columns, &options.text_columns}) {
    for (const std::string& name : *wanted) {
      if (!Contains(table.header_, name)) {
        return base::Status(base::StatusCode::kNotFound,
                            fmt::format("{}: no column '{}' in the header", path, name));
      }
    }
  }
  if (header_end == std::string::npos) return table;
  VIGIL_RETURN_IF_ERROR(table.ParseBody(std::string_view(data).substr(header_end + 1), path, 2));
  return table;
}

base::Status Table::ParseBody(std::string_view body, const std::string& path, size_t first_line) {
  const size_t expected_rows = static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1;
  std::vector<int> slot_of_cell(header_.size(), -1);
  for (size_t c = 0; c < columns_.size(); ++c) {
    slot_of_cell[columns_[c].index] = static_cast<int>(c);
    if (columns_[c].is_int64)
      columns_[c].int64s.reserve(expected_rows);
    else if (columns_[c].is_text)
      columns_[c].texts.reserve(expected_rows);
    else
      columns_[c].doubles.reserve(expected_rows);
  }
  const char* p = body.data();
  const char* const end = p + body.size();
  size_t line_no = first_line;
  for (; p < end; ++line_no) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (eol == nullptr) eol = end;
    const char* line_end = eol;
    while (line_end > p && (line_end[-1] == '\r' || line_end[-1] == ' ')) --line_end;
    if (line_end == p) {  // Blank lines (a trailing newline) are skipped.
      p = eol + 1;
      continue;
    }
    size_t cell = 0;
    const char* cell_begin = p;
    while (true) {
      const char* cell_end = CellEnd(cell_begin, line_end);
      if (cell >= header_.size()) break;
      const int slot = slot_of_cell[cell];
      if (slot >= 0) {
        Column& column = columns_[static_cast<size_t>(slot)];
        bool ok = false;
        if (column.is_text) {
          column.texts.push_back(
              Unquote(std::string_view(cell_begin, static_cast<size_t>(cell_end - cell_begin))));
          ok = true;
        } else if (column.is_int64 && column.optional && cell_begin == cell_end) {
          column.int64s.push_back(kMissing);
          ok = true;
        } else if (column.is_int64) {
          ok = ParseInt64(cell_begin, cell_end, column.int64s.emplace_back());
        } else
          ok = ParseDouble(cell_begin, cell_end, column.doubles.emplace_back());
        if (!ok) {
          return base::Status(
              base::StatusCode::kInvalidArgument,
              fmt::format("{}:{}: column {} is not {}: '{}'", path, line_no, column.name,
                          column.is_int64 ? "an integer" : "a number",
                          std::string_view(cell_begin, static_cast<size_t>(cell_end - cell_begin))));
        }
      }
      ++cell;
      if (cell_end == line_end) break;
      cell_begin = cell_end + 1;
    }
    if (cell != header_.size()) {
      return base::Status(
          base::StatusCode::kInvalidArgument,
          fmt::format("{}:{}: {} cells, the header has {}", path, line_no,
                      cell > header_.size() ? "too many" : std::to_string(cell), header_.size()));
    }
    ++num_rows_;
    p = eol + 1;
  }
  return base::Status::OK();
}

bool Table::HasColumn(std::string_view name) const {
  return std::find(header_.begin(), header_.end(), name) != header_.end();
}

const Table::Column* Table::Find(std::string_view name) const {
  for (const Column& column : columns_) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

base::Result<std::span<const double>> Table::Doubles(std::string_view name) const {
  const Column* column = Find(name);
  if (column == nullptr || column->is_int64 || column->is_text) {
    return base::Status(base::StatusCode::kNotFound, fmt::format("table has no numeric column '{}'", name));
  }
  return std::span<const double>(column->doubles);
}

base::Result<std::span<const std::string>> Table::Texts(std::string_view name) const {
  const Column* column = Find(name);
  if (column == nullptr || !column->is_text) {
    return base::Status(base::StatusCode::kNotFound, fmt::format("table has no text column '{}'", name));
  }
  return std::span<const std::string>(column->texts);
}

base::Result<std::span<const int64_t>> Table::Int64s(std::string_view name) const {
  const Column* column = Find(name);
  if (column == nullptr || !column->is_int64) {
    return base::Status(base::StatusCode::kNotFound, fmt::format("table has no integer column '{}'", name));
  }
  return std::span<const int64_t>(column->int64s);
}

base::Result<std::vector<float>> Table::DenseRows(const std::vector<std::string>& columns,
                                                  std::span<const size_t> rows) const {
  std::vector<std::span<const double>> sources;
  for (const std::string& name : columns) {
    VIGIL_ASSIGN_OR_RETURN(std::span<const double> values, Doubles(name));
    sources.push_back(values);
  }
  std::vector<float> out(rows.size() * columns.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    float* dst = out.data() + r * columns.size();
    for (size_t c = 0; c < sources.size(); ++c) dst[c] = static_cast<float>(sources[c][rows[r]]);
  }
  return out;
}

}  // namespace vigil::lifecycle
