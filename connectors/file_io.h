#pragma once
// File connectors: a JSONL file as a one-partition source (offset = line number, 0-based) and a
// JSONL sink. Used by `vigil replay`, tests and benchmarks.

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "engine/io.h"

namespace vigil::connectors {

//! Reads the whole file into memory, then serves it line by line as partition 0. Finished once the
//! reader has returned every line.
class FileSource final : public engine::Source {
 public:
  //! Events from `path`; labels (co-partitioned trivially: one partition) from `labels_path` if set.
  static base::Result<std::unique_ptr<FileSource>> Make(const std::string& path, const std::string& labels_path = "");
  //! A source over text held in memory (benchmarks, tests); `name` is used in dead-letter records.
  static std::unique_ptr<FileSource> FromText(std::string text, std::string name, std::string labels_text = "",
                                              bool with_labels = false);

  base::Status Start(engine::SourceListener* listener) override;
  //! Nothing to serve: sleeps briefly so the control loop does not spin.
  base::Status Poll(int timeout_ms) override;
  base::Status Commit(std::span<const engine::PartitionOffset>) override { return base::Status::OK(); }
  bool Finished() const override;
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

  //! The text and the finished flag, shared with the reader.
  struct Shared;

 private:
  FileSource(std::string text, std::string name);
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Shared> labels_;  // null without labels
  std::string name_;
};

//! Appends each record's value as one line. Dead-letter records are written as JSON objects with
//! reason, field, source, offset and the original payload in base64. Thread-safe.
class FileSink final : public engine::Sink {
 public:
  //! `header`, if not empty, is written as the first line (CSV tables).
  static base::Result<std::unique_ptr<FileSink>> Make(const std::string& path, const std::string& header = "");
  ~FileSink() override;

  base::Status Write(const engine::OutBatch& batch) override;
  base::Status Flush(int timeout_ms) override;
  base::Status Close() override;

 private:
  FileSink(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  std::mutex mu_;
  std::FILE* file_;
  std::string path_;
  std::string line_;
};

//! Standard base64 of `bytes` appended to `out`.
void AppendBase64(std::string_view bytes, std::string* out);

}  // namespace vigil::connectors
