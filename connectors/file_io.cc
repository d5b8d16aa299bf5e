#include "connectors/file_io.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "engine/row_encoder.h"

namespace vigil::connectors {

struct FileSource::Shared {
  std::string text;
  std::atomic<bool> finished{false};
};

namespace {

class FileReader final : public engine::PartitionReader {
 public:
  FileReader(std::shared_ptr<FileSource::Shared> shared, int64_t start) : shared_(std::move(shared)) {
    while (line_ < start && pos_ < shared_->text.size()) NextLine();
  }

  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    out->clear();
    const std::string& t = shared_->text;
    while (out->size() < max_events && pos_ < t.size()) {
      const size_t begin = pos_;
      const int64_t line = line_;
      NextLine();
      size_t end = pos_;
      while (end > begin && (t[end - 1] == '\n' || t[end - 1] == '\r')) --end;
      if (end == begin) continue;  // blank lines are not events
      out->push_back(
          engine::RawEvent{t.data() + begin, static_cast<uint32_t>(end - begin), nullptr, 0, line});
    }
    if (out->empty() && pos_ >= t.size()) shared_->finished = true;
    return base::Status::OK();
  }

  int64_t Lag() const override { return 0; }

 private:
  void NextLine() {
    const size_t nl = shared_->text.find('\n', pos_);
    pos_ = nl == std::string::npos ? shared_->text.size() : nl + 1;
    ++line_;
  }

  std::shared_ptr<FileSource::Shared> shared_;
  size_t pos_ = 0;
  int64_t line_ = 0;
};

}  // namespace

FileSource::FileSource(std::string text, std::string name)
    : shared_(std::make_shared<Shared>()), name_(std::move(name)) {
  shared_->text = std::move(text);
}

namespace {

//! The input file at `path`; an error says it is the input.
base::Result<std::string> ReadWhole(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return text.status().WithContext("cannot read input file");
  return text;
}

}  // namespace

base::Result<std::unique_ptr<FileSource>> FileSource::Make(const std::string& path,
                                                           const std::string& labels_path) {
  VIGIL_ASSIGN_OR_RETURN(std::string text, ReadWhole(path));
  std::string labels;
  if (!labels_path.empty()) {
    VIGIL_ASSIGN_OR_RETURN(labels, ReadWhole(labels_path));
  }
  return FromText(std::move(text), path, std::move(labels), !labels_path.empty());
}

std::unique_ptr<FileSource> FileSource::FromText(std::string text, std::string name, std::string labels_text,
                                                 bool with_labels) {
  std::unique_ptr<FileSource> source(new FileSource(std::move(text), std::move(name)));
  if (with_labels) {
    source->labels_ = std::make_shared<Shared>();
    source->labels_->text = std::move(labels_text);
  }
  return source;
}

base::Status FileSource::Start(engine::SourceListener* listener) {
  VIGIL_ASSIGN_OR_RETURN(engine::StartOffsets start, listener->PrepareAssign(0));
  std::unique_ptr<engine::PartitionReader> labels;
  if (labels_) labels = std::make_unique<FileReader>(labels_, std::max<int64_t>(start.labels, 0));
  return listener->Assigned(0, std::make_unique<FileReader>(shared_, std::max<int64_t>(start.events, 0)),
                            std::move(labels));
}

bool FileSource::Finished() const { return shared_->finished.load(); }

base::Status FileSource::Poll(int timeout_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 2)));
  return base::Status::OK();
}

void AppendBase64(std::string_view bytes, std::string* out) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out->push_back(kTable[v >> 18]);
    out->push_back(kTable[(v >> 12) & 63]);
    out->push_back(kTable[(v >> 6) & 63]);
    out->push_back(kTable[v & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out->push_back(kTable[v >> 18]);
    out->push_back(kTable[(v >> 12) & 63]);
    out->push_back(i + 1 < bytes.size() ? kTable[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

base::Result<std::unique_ptr<FileSink>> FileSink::Make(const std::string& path, const std::string& header) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return base::IoError("cannot open output file '" + path + "': " + std::strerror(errno));
  if (!header.empty()) std::fprintf(f, "%s\n", header.c_str());
  return std::unique_ptr<FileSink>(new FileSink(f, path));
}

FileSink::~FileSink() { (void)Close(); }

base::Status FileSink::Write(const engine::OutBatch& batch) {
  std::lock_guard lock(mu_);
  if (file_ == nullptr) return base::FailedPrecondition("file sink '" + path_ + "' is closed");
  line_.clear();
  for (const engine::OutRecord& r : batch.records) {
    const std::string_view value(batch.buffer.data() + r.value_offset, r.value_size);
    if (r.reason == engine::DlqReason::kNone) {
      line_.append(value);
    } else {
      line_.append("{\"reason\":");
      engine::AppendJsonString(engine::DlqReasonName(r.reason), &line_);
      line_.append(",\"field\":");
      engine::AppendJsonString(r.detail, &line_);
      line_.append(",\"source\":");
      engine::AppendJsonString(batch.source, &line_);
      line_.append(",\"partition\":" + std::to_string(batch.source_partition));
      line_.append(",\"offset\":" + std::to_string(r.source_offset));
      line_.append(",\"payload_base64\":\"");
      AppendBase64(value, &line_);
      line_.append("\"}");
    }
    line_.push_back('\n');
  }
  if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size())
    return base::IoError("write to '" + path_ + "' failed: " + std::strerror(errno));
  return base::Status::OK();
}

base::Status FileSink::Flush(int) {
  std::lock_guard lock(mu_);
  if (file_ != nullptr && std::fflush(file_) != 0) return base::IoError("flush of '" + path_ + "' failed");
  return base::Status::OK();
}

base::Status FileSink::Close() {
  std::lock_guard lock(mu_);
  if (file_ == nullptr) return base::Status::OK();
  const int rc = std::fclose(file_);
  file_ = nullptr;
  return rc == 0 ? base::Status::OK() : base::IoError("close of '" + path_ + "' failed");
}

}  // namespace vigil::connectors
