#pragma once
// FeatureLog: the feature vectors a pipeline actually served, joined with their labels, as a training
// table. Each row is written once the event's label is due (label delay after its event time), so a
// row never holds anything the pipeline did not know by then:
//   <id>,<event time>,<card>,<feature 1..n>,SCORE,MODEL_VERSION,LABEL,SOURCE_PARTITION,SOURCE_OFFSET
// (the input partition and offset of the event, so a training on the log knows which Kafka offsets
// its rows came from)
// With the Handbook's names (TRANSACTION_ID, TX_TIME_MS, CUSTOMER_ID) it is a `vigil train --table`.
//
// Lifecycle: one per score operator, shared by its tasks; opened (appending, header when new) by
// Make, closed by the destructor. Thread-safety: Append and Flush may be called from any thread.
// Cost: rows are formatted into a per-call buffer and written under one lock per batch; Flush (at
// each commit) hands them to the OS.

#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::operators {

//! One matured event: ids, what was served, and its label.
struct LogRow {
  int64_t id = 0;        //!< Event id (the labels' join key).
  int64_t time_ms = 0;   //!< Event time.
  int64_t card = 0;      //!< Card / customer.
  float score = 0;       //!< The score served.
  int label = 0;         //!< 1 fraud, 0 genuine or no label by the delay.
  const float* features = nullptr;  //!< The served input vector (num_features values).
  const std::string* version = nullptr;  //!< The model version that served it.
  int32_t partition = -1;  //!< Input partition of the event.
  int64_t offset = -1;     //!< Its offset there.
};

class FeatureLog {
 public:
  //! Opens `path` for appending (its directory is created); writes the header when the file is new.
  //! A non-empty file whose header differs is refused (another pipeline's log).
  static base::Result<std::unique_ptr<FeatureLog>> Make(const std::string& path, const std::string& id_name,
                                                        const std::string& time_name, const std::string& card_name,
                                                        const std::vector<std::string>& features);
  ~FeatureLog();

  //! Appends rows, in order. IoError if the write fails.
  base::Status Append(std::span<const LogRow> rows);
  //! Hands the written rows to the OS.
  base::Status Flush();
  //! Rows appended since Make.
  uint64_t rows() const;

 private:
  FeatureLog(std::FILE* file, std::string path, size_t num_features)
      : file_(file), path_(std::move(path)), num_features_(num_features) {}
  mutable std::mutex mu_;
  std::FILE* file_;
  std::string path_;
  size_t num_features_;
  uint64_t rows_ = 0;
};

}  // namespace vigil::operators
