#include "operators/feature_log.h"

#include <filesystem>
#include <fstream>

#include "engine/row_encoder.h"

namespace vigil::operators {

base::Result<std::unique_ptr<FeatureLog>> FeatureLog::Make(const std::string& path, const std::string& id_name,
                                                           const std::string& time_name, const std::string& card_name,
                                                           const std::vector<std::string>& features) {
  std::string header = id_name + "," + time_name + "," + card_name;
  for (const auto& f : features) header += "," + f;
  header += ",SCORE,MODEL_VERSION,LABEL,SOURCE_PARTITION,SOURCE_OFFSET";
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  bool fresh = true;
  if (std::ifstream in(path); in) {
    std::string first;
    if (std::getline(in, first)) {
      fresh = false;
      if (first != header)
        return base::FailedPrecondition("feature log '" + path + "' has another header: " + first.substr(0, 200));
    }
  }
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) return base::IoError("cannot open the feature log '" + path + "'");
  if (fresh && std::fprintf(f, "%s\n", header.c_str()) < 0) {
    std::fclose(f);
    return base::IoError("cannot write the feature log '" + path + "'");
  }
  return std::unique_ptr<FeatureLog>(new FeatureLog(f, path, features.size()));
}

FeatureLog::~FeatureLog() {
  if (file_ != nullptr) std::fclose(file_);
}

base::Status FeatureLog::Append(std::span<const LogRow> rows) {
  if (rows.empty()) return base::Status::OK();
  std::string buf;
  buf.reserve(rows.size() * (32 + num_features_ * 12));
  for (const LogRow& r : rows) {
    buf += std::to_string(r.id);
    buf.push_back(',');
    buf += std::to_string(r.time_ms);
    buf.push_back(',');
    buf += std::to_string(r.card);
    for (size_t f = 0; f < num_features_; ++f) {
      buf.push_back(',');
      if (r.features[f] == r.features[f]) engine::AppendJsonDouble(static_cast<double>(r.features[f]), &buf);
    }
    buf.push_back(',');
    engine::AppendJsonDouble(static_cast<double>(r.score), &buf);
    buf.push_back(',');
    buf += *r.version;
    buf.push_back(',');
    buf.push_back(r.label ? '1' : '0');
    buf.push_back(',');
    buf += std::to_string(r.partition);
    buf.push_back(',');
    buf += std::to_string(r.offset);
    buf.push_back('\n');
  }
  std::lock_guard lock(mu_);
  if (std::fwrite(buf.data(), 1, buf.size(), file_) != buf.size())
    return base::IoError("write to the feature log '" + path_ + "' failed");
  rows_ += rows.size();
  return base::Status::OK();
}

base::Status FeatureLog::Flush() {
  std::lock_guard lock(mu_);
  return std::fflush(file_) == 0 ? base::Status::OK() : base::IoError("flush of the feature log '" + path_ + "' failed");
}

uint64_t FeatureLog::rows() const {
  std::lock_guard lock(mu_);
  return rows_;
}

}  // namespace vigil::operators
