#include "tests/support/replay_table.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! Bit for bit, except that every NaN equals every other and a JSON null reads as NaN.
bool SameValue(simdjson::dom::element field, double expected) {
  if (field.is_null()) return std::isnan(expected);
  double live = 0;
  if (field.get_double().get(live) != simdjson::SUCCESS) return false;
  if (std::isnan(live) || std::isnan(expected)) return std::isnan(live) && std::isnan(expected);
  return std::memcmp(&live, &expected, sizeof live) == 0;
}

//! Values of `doc` that differ from `row`, over every column but the last (LABEL); the first three
//! differences are described in `what` when not null.
size_t Differences(simdjson::dom::element doc, const std::vector<std::string>& columns,
                   const std::vector<double>& row, std::string* what) {
  size_t differences = 0;
  std::ostringstream described;
  for (size_t c = 0; c + 1 < columns.size(); ++c) {
    simdjson::dom::element field;
    const bool present = doc[columns[c]].get(field) == simdjson::SUCCESS;
    if (present && SameValue(field, row[c])) continue;
    if (++differences <= 3) {
      described.precision(17);
      described << (differences > 1 ? "; " : "") << columns[c] << " live "
                << (present ? simdjson::to_string(field) : std::string("(absent)")) << " replay " << row[c];
    }
  }
  if (what != nullptr) *what = described.str();
  return differences;
}

bool ParseId(simdjson::dom::parser& parser, const Message& m, simdjson::dom::element* doc, int64_t* id) {
  return parser.parse(m.value).get(*doc) == simdjson::SUCCESS &&
         (*doc)["TRANSACTION_ID"].get_int64().get(*id) == simdjson::SUCCESS;
}

//! Appends a line to `examples`; the stream writes into it until the end of the full expression.
class Note {
 public:
  explicit Note(std::vector<std::string>* examples) : examples_(examples) {}
  ~Note() { examples_->push_back(line_.str()); }
  template <typename T>
  Note& operator<<(const T& value) {
    line_ << value;
    return *this;
  }

 private:
  std::vector<std::string>* examples_;
  std::ostringstream line_;
};

}  // namespace

size_t ReplayTable::Column(const std::string& column) const {
  for (size_t c = 0; c < columns.size(); ++c)
    if (columns[c] == column) return c;
  FAIL("the replay table has no column " << column);
  return 0;
}

ReplayTable ReadReplayTable(const std::string& path) {
  std::ifstream in(path);
  if (!in) FAIL("cannot read " << path);
  ReplayTable table;
  std::string line;
  std::getline(in, line);
  for (std::stringstream header(line); std::getline(header, line, ',');) table.columns.push_back(line);
  if (table.columns.empty() || table.columns.front() != "TRANSACTION_ID")
    FAIL(path << ": the first column is not TRANSACTION_ID");
  while (std::getline(in, line)) {
    std::vector<double> row;
    row.reserve(table.columns.size());
    for (std::stringstream cells(line); std::getline(cells, line, ',');)
      row.push_back(line.empty() ? NAN : std::strtod(line.c_str(), nullptr));
    row.resize(table.columns.size(), NAN);  // a trailing empty LABEL leaves no cell
    const auto id = static_cast<int64_t>(row[0]);
    table.order.push_back(id);
    table.rows[id] = std::move(row);
  }
  return table;
}

ReplayTable ReplayFiles(const std::string& dir, const std::string& pipeline, const std::string& events,
                        const std::string& labels) {
  const std::string out = dir + "/replay.csv";
  const std::string log = dir + "/replay.log";
  const int rc = Shell(VigilBinary() + " --log-level warn replay " + pipeline + " --events " + events +
                       " --labels " + labels + " --out " + out + " > " + log + " 2>&1");
  INFO(ReadFile(log));
  REQUIRE(rc == 0);
  return ReadReplayTable(out);
}

ReplayComparison CompareWithReplay(const std::vector<Message>& records, const ReplayTable& table) {
  ReplayComparison result;
  result.records = records.size();
  simdjson::dom::parser parser;
  std::unordered_map<int64_t, size_t> seen;      // id -> records
  std::unordered_map<int64_t, bool> last_exact;  // id -> its last record matched
  size_t printed_duplicates = 0, printed_differences = 0, printed_unknown = 0;
  for (const Message& m : records) {
    simdjson::dom::element doc;
    int64_t id = 0;
    if (!ParseId(parser, m, &doc, &id)) {
      ++result.unknown;
      if (++printed_unknown <= 3)
        Note(&result.examples) << "unparsable record at offset " << m.offset << ": " << m.value;
      continue;
    }
    const auto row = table.rows.find(id);
    if (row == table.rows.end()) {
      ++result.unknown;
      if (++printed_unknown <= 3)
        Note(&result.examples) << "record for unknown TRANSACTION_ID " << id << " at offset " << m.offset;
      continue;
    }
    if (++seen[id] == 2 && ++printed_duplicates <= 5)
      Note(&result.examples) << "TRANSACTION_ID " << id << " decided again at offset " << m.offset;
    std::string first;
    const size_t differences = Differences(doc, table.columns, row->second, &first);
    result.compared += table.columns.size() - 1;
    result.mismatches += differences;
    result.mismatched_records += differences > 0 ? 1 : 0;
    last_exact[id] = differences == 0;
    if (differences > 0 && ++printed_differences <= 5)
      Note(&result.examples) << "TRANSACTION_ID " << id << " at offset " << m.offset << " ("
                             << table.columns[1] << " " << static_cast<int64_t>(row->second[1])
                             << "): " << differences << " values differ: " << first;
  }
  result.distinct = seen.size();
  result.duplicates = (result.records - result.unknown) - result.distinct;
  size_t printed_missing = 0;
  for (const int64_t id : table.order) {
    if (seen.count(id) != 0) continue;
    ++result.missing;
    if (++printed_missing <= 5) Note(&result.examples) << "TRANSACTION_ID " << id << " has no decision";
  }
  for (const auto& [id, exact] : last_exact) result.exact_ids += exact ? 1 : 0;
  return result;
}

FinalStateComparison CompareFinalState(const std::vector<Message>& records, const ReplayTable& table,
                                       const std::string& key_column) {
  const size_t key = table.Column(key_column);
  std::map<int64_t, int64_t> last_by_key;  // key -> the id of its last event in the table
  for (const int64_t id : table.order) last_by_key[static_cast<int64_t>(table.rows.at(id)[key])] = id;

  simdjson::dom::parser parser;
  std::unordered_map<int64_t, size_t> last_record;  // id -> index of its last record
  for (size_t i = 0; i < records.size(); ++i) {
    simdjson::dom::element doc;
    int64_t id = 0;
    if (ParseId(parser, records[i], &doc, &id)) last_record[id] = i;
  }
  FinalStateComparison result;
  result.keys = last_by_key.size();
  size_t printed = 0;
  for (const auto& [k, id] : last_by_key) {
    const auto it = last_record.find(id);
    std::string first = "no decision";
    simdjson::dom::element doc;
    int64_t parsed = 0;
    const bool equal = it != last_record.end() && ParseId(parser, records[it->second], &doc, &parsed) &&
                       Differences(doc, table.columns, table.rows.at(id), &first) == 0;
    if (equal) {
      ++result.equal;
    } else {
      ++result.different;
      if (++printed <= 5)
        Note(&result.examples) << key_column << " " << k << ", last TRANSACTION_ID " << id << ": " << first;
    }
  }
  return result;
}

}  // namespace vigil::testing
