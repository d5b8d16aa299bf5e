#include "sim/writer.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "sim/civil_time.h"

namespace vigil::sim {
namespace {

constexpr size_t kFlushBytes = 1 << 20;

void AppendInt(int64_t value, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

void AppendAmount(double amount, std::string& out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), amount, std::chars_format::fixed, 2);
  out.append(buf, end);
}

void AppendIso(int64_t epoch_ms, std::string& out) {
  char buf[kMaxIsoUtcLength];
  out.append(buf, FormatIsoUtc(epoch_ms, buf));
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

base::Result<OutputFormat> OutputFormatFromPath(std::string_view path) {
  if (EndsWith(path, ".jsonl") || EndsWith(path, ".json") || EndsWith(path, ".ndjson")) {
    return OutputFormat::kJsonl;
  }
  if (EndsWith(path, ".csv")) return OutputFormat::kCsv;
  return base::InvalidArgument("cannot tell the format of '" + std::string(path) +
                               "': expected .jsonl, .json, .ndjson or .csv");
}

void AppendTransactionJson(const Transaction& tx, std::string& out) {
  out += "{\"TRANSACTION_ID\":";
  AppendInt(tx.transaction_id, out);
  out += ",\"TX_DATETIME\":\"";
  AppendIso(tx.tx_time_ms, out);
  out += "\",\"TX_TIME_MS\":";
  AppendInt(tx.tx_time_ms, out);
  out += ",\"CUSTOMER_ID\":";
  AppendInt(tx.customer_id, out);
  out += ",\"TERMINAL_ID\":";
  AppendInt(tx.terminal_id, out);
  out += ",\"TX_AMOUNT\":";
  AppendAmount(tx.amount, out);
  out += ",\"TX_FRAUD\":";
  AppendInt(tx.is_fraud, out);
  out += ",\"TX_FRAUD_SCENARIO\":";
  AppendInt(static_cast<int64_t>(tx.fraud_scenario), out);
  out += "}\n";
}

void AppendTransactionCsv(const Transaction& tx, std::string& out) {
  AppendInt(tx.transaction_id, out);
  out += ',';
  AppendIso(tx.tx_time_ms, out);
  out += ',';
  AppendInt(tx.tx_time_ms, out);
  out += ',';
  AppendInt(tx.customer_id, out);
  out += ',';
  AppendInt(tx.terminal_id, out);
  out += ',';
  AppendAmount(tx.amount, out);
  out += ',';
  AppendInt(tx.is_fraud, out);
  out += ',';
  AppendInt(static_cast<int64_t>(tx.fraud_scenario), out);
  out += '\n';
}

void AppendLabelJson(const Label& label, std::string& out) {
  out += "{\"TRANSACTION_ID\":";
  AppendInt(label.transaction_id, out);
  out += ",\"TX_FRAUD\":";
  AppendInt(label.is_fraud, out);
  out += ",\"LABEL_TIME_MS\":";
  AppendInt(label.label_time_ms, out);
  out += "}\n";
}

void AppendLabelCsv(const Label& label, std::string& out) {
  AppendInt(label.transaction_id, out);
  out += ',';
  AppendInt(label.is_fraud, out);
  out += ',';
  AppendInt(label.label_time_ms, out);
  out += '\n';
}

std::string_view TransactionCsvHeader() {
  return "TRANSACTION_ID,TX_DATETIME,TX_TIME_MS,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD,TX_FRAUD_"
         "SCENARIO\n";
}

std::string_view LabelCsvHeader() { return "TRANSACTION_ID,TX_FRAUD,LABEL_TIME_MS\n"; }

RecordWriter::RecordWriter(std::string path, std::FILE* file, OutputFormat format, Kind kind)
    : path_(std::move(path)), file_(file), format_(format), kind_(kind) {
  buffer_.reserve(kFlushBytes + 4096);
}

RecordWriter::~RecordWriter() { (void)Close(); }

base::Result<std::unique_ptr<RecordWriter>> RecordWriter::Open(const std::string& path, OutputFormat format,
                                                               Kind kind) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return base::IoError("cannot open '" + path + "': " + std::strerror(errno));
  std::unique_ptr<RecordWriter> writer(new RecordWriter(path, file, format, kind));
  if (format == OutputFormat::kCsv) {
    writer->buffer_ += kind == Kind::kTransactions ? TransactionCsvHeader() : LabelCsvHeader();
  }
  return writer;
}

base::Result<std::unique_ptr<RecordWriter>> RecordWriter::OpenTransactions(const std::string& path,
                                                                           OutputFormat format) {
  return Open(path, format, Kind::kTransactions);
}

base::Result<std::unique_ptr<RecordWriter>> RecordWriter::OpenLabels(const std::string& path,
                                                                     OutputFormat format) {
  return Open(path, format, Kind::kLabels);
}

base::Status RecordWriter::Write(std::span<const Transaction> transactions) {
  if (file_ == nullptr || kind_ != Kind::kTransactions) {
    return base::FailedPrecondition("'" + path_ + "' does not accept transactions (closed or a label file)");
  }
  for (const Transaction& tx : transactions) {
    if (format_ == OutputFormat::kJsonl) {
      AppendTransactionJson(tx, buffer_);
    } else {
      AppendTransactionCsv(tx, buffer_);
    }
    VIGIL_RETURN_IF_ERROR(FlushIfFull());
  }
  records_ += static_cast<int64_t>(transactions.size());
  return base::Status::OK();
}

base::Status RecordWriter::Write(std::span<const Label> labels) {
  if (file_ == nullptr || kind_ != Kind::kLabels) {
    return base::FailedPrecondition("'" + path_ + "' does not accept labels (closed or a transaction file)");
  }
  for (const Label& label : labels) {
    if (format_ == OutputFormat::kJsonl) {
      AppendLabelJson(label, buffer_);
    } else {
      AppendLabelCsv(label, buffer_);
    }
    VIGIL_RETURN_IF_ERROR(FlushIfFull());
  }
  records_ += static_cast<int64_t>(labels.size());
  return base::Status::OK();
}

base::Status RecordWriter::FlushIfFull() {
  if (buffer_.size() < kFlushBytes) return base::Status::OK();
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) failed_ = true;
  buffer_.clear();
  if (failed_) return base::IoError("cannot write '" + path_ + "': " + std::strerror(errno));
  return base::Status::OK();
}

base::Status RecordWriter::Close() {
  if (file_ == nullptr) return failed_ ? base::IoError("cannot write '" + path_ + "'") : base::Status::OK();
  if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    failed_ = true;
  }
  buffer_.clear();
  if (std::fclose(file_) != 0) failed_ = true;
  file_ = nullptr;
  if (failed_) return base::IoError("cannot write '" + path_ + "'");
  return base::Status::OK();
}

}  // namespace vigil::sim
