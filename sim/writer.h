#pragma once
// Writers for simulated transactions and labels, as JSON Lines or CSV.
//
// Transaction fields: TRANSACTION_ID, TX_DATETIME (ISO-8601 UTC, "2018-04-01T00:00:31Z"),
// TX_TIME_MS (epoch ms), CUSTOMER_ID, TERMINAL_ID, TX_AMOUNT (2 decimals), TX_FRAUD (0/1),
// TX_FRAUD_SCENARIO (0-3). Label fields: TRANSACTION_ID, TX_FRAUD, LABEL_TIME_MS.
// CSV files start with a header line of these names; JSONL files hold one object per line.
// The Append* functions build the same text for other sinks (e.g. one Kafka message per record).

#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "sim/transaction.h"

namespace vigil::sim {

//! A file format.
enum class OutputFormat {
  kJsonl,  //!< One JSON object per line.
  kCsv,    //!< Comma-separated, with a header line.
};

//! The format a path's extension names: ".jsonl"/".json"/".ndjson" or ".csv". InvalidArgument else.
base::Result<OutputFormat> OutputFormatFromPath(std::string_view path);

//! Appends `tx` as one JSON object and a newline to `out`.
void AppendTransactionJson(const Transaction& tx, std::string& out);
//! Appends `tx` as one CSV row and a newline to `out`.
void AppendTransactionCsv(const Transaction& tx, std::string& out);
//! Appends `label` as one JSON object and a newline to `out`.
void AppendLabelJson(const Label& label, std::string& out);
//! Appends `label` as one CSV row and a newline to `out`.
void AppendLabelCsv(const Label& label, std::string& out);
//! The CSV header line of transactions, newline included.
std::string_view TransactionCsvHeader();
//! The CSV header line of labels, newline included.
std::string_view LabelCsvHeader();

//! Writes records to one file through a large buffer. Lifecycle: Open, Write any number of times,
//! Close. The destructor closes too but drops the error: call Close() to know that the data reached
//! the file. Not thread-safe.
class RecordWriter {
 public:
  //! Creates (truncates) `path`; for CSV writes the header. IoError if the file cannot be opened.
  static base::Result<std::unique_ptr<RecordWriter>> OpenTransactions(const std::string& path,
                                                                      OutputFormat format);
  //! As OpenTransactions, for a label file.
  static base::Result<std::unique_ptr<RecordWriter>> OpenLabels(const std::string& path, OutputFormat format);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  //! Appends transactions. FailedPrecondition on a label writer or after Close().
  base::Status Write(std::span<const Transaction> transactions);
  //! Appends labels. FailedPrecondition on a transaction writer or after Close().
  base::Status Write(std::span<const Label> labels);
  //! Flushes and closes the file; IoError if any write failed. Idempotent.
  base::Status Close();
  //! Records written so far.
  int64_t records() const { return records_; }

 private:
  enum class Kind { kTransactions, kLabels };
  RecordWriter(std::string path, std::FILE* file, OutputFormat format, Kind kind);
  static base::Result<std::unique_ptr<RecordWriter>> Open(const std::string& path, OutputFormat format,
                                                          Kind kind);
  base::Status FlushIfFull();

  std::string path_;     //!< For error messages.
  std::FILE* file_;      //!< Owned; null once closed.
  OutputFormat format_;  //!< JSONL or CSV.
  Kind kind_;            //!< What this writer accepts.
  std::string buffer_;   //!< Pending text, flushed when large.
  int64_t records_ = 0;  //!< Records written.
  bool failed_ = false;  //!< A write to the file failed.
};

}  // namespace vigil::sim
