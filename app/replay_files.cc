#include "app/replay_files.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/kafka_source.h"

namespace vigil::app {

base::Status WriteLabelsByTime(const config::PipelineSpec& spec, const std::string& path) {
  std::vector<std::pair<int64_t, std::string>> labels;
  simdjson::dom::parser parser;
  VIGIL_RETURN_IF_ERROR(
      connectors::ReadTopic(spec.kafka, spec.labels.source.topic, [&](std::string_view value) {
        simdjson::dom::element doc;
        int64_t time = 0;
        if (!parser.parse(value.data(), value.size()).get(doc) && doc[spec.labels.time].get_int64().get(time))
          time = 0;
        labels.emplace_back(time, std::string(value));
      }));
  std::stable_sort(labels.begin(), labels.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::ofstream out(path, std::ios::binary);
  for (auto& [time, value] : labels) {
    std::replace(value.begin(), value.end(), '\n', ' ');  // JSON whitespace: one record a line
    out << value << '\n';
  }
  return out.good() ? base::Status::OK() : base::IoError("cannot write '" + path + "'");
}

namespace {

//! A read-only mapping of a whole file; empty for an empty file.
class MappedFile {
 public:
  static base::Result<MappedFile> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return base::IoError("cannot read '" + path + "': " + std::strerror(errno));
    struct stat st {};
    MappedFile file;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) file.data_ = {static_cast<const char*>(p), static_cast<size_t>(st.st_size)};
    }
    ::close(fd);
    if (st.st_size > 0 && file.data_.empty()) return base::IoError("cannot map '" + path + "'");
    return file;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept : data_(std::exchange(other.data_, {})) {}
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile() {
    if (!data_.empty()) ::munmap(const_cast<char*>(data_.data()), data_.size());
  }
  std::string_view data() const { return data_; }

 private:
  std::string_view data_;
};

}  // namespace

base::Status SortByEventTime(const std::string& in, const std::string& out, const std::string& time_field) {
  VIGIL_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(in));
  const std::string_view text = file.data();
  struct Line {
    int64_t time;
    uint32_t offset_hi;  // the line's offset, in two halves to keep 16 bytes a line
    uint32_t offset_lo;
  };
  std::vector<Line> lines;
  simdjson::dom::parser parser;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    int64_t time = INT64_MIN;
    simdjson::dom::element doc;
    if (!parser.parse(text.data() + begin, end - begin, /*realloc_if_needed=*/true).get(doc) &&
        doc[time_field].get_int64().get(time))
      time = INT64_MIN;
    lines.push_back({time, static_cast<uint32_t>(begin >> 32), static_cast<uint32_t>(begin & 0xffffffffu)});
    begin = end + 1;
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.time < b.time; });
  std::ofstream dst(out, std::ios::binary);
  for (const Line& l : lines) {
    const size_t begin = (static_cast<size_t>(l.offset_hi) << 32) | l.offset_lo;
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    dst.write(text.data() + begin, static_cast<std::streamsize>(end - begin));
    dst.put('\n');
  }
  return dst.good() ? base::Status::OK() : base::IoError("cannot write '" + out + "'");
}

}  // namespace vigil::app
