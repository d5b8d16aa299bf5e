// The run-record methods of Registry (registry.h): `<dir>/runs/<run id>.json`, in runs.h's format.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "base/time.h"
#include "models/file_io.h"
#include "models/registry.h"

namespace vigil::models {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kExtension = ".json";
//! Sequence numbers per second of NewRunId: four digits keep ids fixed-width, hence sortable.
constexpr int kMaxRunsPerSecond = 10'000;

bool IsRunId(std::string_view id) {
  return !id.empty() && id[0] != '.' && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

fs::path RunPath(const Registry& registry, std::string_view id) {
  return fs::path(registry.runs_dir()) / (std::string(id) + std::string(kExtension));
}

//! "YYYYMMDD-HHMMSS" (UTC) of `ms`, from its ISO-8601 text "YYYY-MM-DDTHH:MM:SSZ".
std::string Stamp(int64_t ms) {
  char buffer[32];
  const std::string_view iso(buffer, static_cast<size_t>(base::FormatIso8601(ms, buffer)));
  std::string stamp;
  for (const char c : iso) {
    if (c == 'T')
      stamp += '-';
    else if (std::isdigit(static_cast<unsigned char>(c)))
      stamp += c;
  }
  return stamp;
}

//! Creates `path` holding `text` only if it does not exist, and never visible half-written: the text
//! goes to a private file first, which is then hard-linked to `path` (link fails if `path` exists).
//! Returns false when `path` exists already.
base::Result<bool> CreateExclusively(const fs::path& path, const std::string& text) {
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = fmt::format("{}.{}-{}.tmp", path.string(), ::getpid(), counter.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return base::IoError("cannot write '" + tmp.string() + "'");
  }
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  std::error_code ec;
  fs::remove(tmp, ec);
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  return base::IoError(fmt::format("cannot create '{}': {}", path.string(), std::strerror(err)));
}

}  // namespace

std::string Registry::runs_dir() const { return (fs::path(dir_) / "runs").string(); }

base::Result<std::string> Registry::NewRunId(std::string_view trigger, int64_t now_ms) const {
  std::error_code ec;
  fs::create_directories(runs_dir(), ec);
  if (ec) return base::IoError(fmt::format("cannot create '{}': {}", runs_dir(), ec.message()));
  const std::string stamp = Stamp(now_ms);
  RunRecord run;
  run.trigger = std::string(trigger);
  run.started_ms = now_ms;
  run.outcome = std::string(kRunRunning);
  for (int seq = 1; seq < kMaxRunsPerSecond; ++seq) {
    run.id = fmt::format("r{}-{:04d}", stamp, seq);
    VIGIL_ASSIGN_OR_RETURN(const bool created, CreateExclusively(RunPath(*this, run.id), RunToJson(run)));
    if (created) return run.id;
  }
  return base::FailedPrecondition(
      fmt::format("{} runs started in one second in '{}'", kMaxRunsPerSecond, dir_));
}

base::Status Registry::WriteRun(const RunRecord& run) const {
  if (!IsRunId(run.id)) return base::InvalidArgument(fmt::format("'{}' is not a run id", run.id));
  std::error_code ec;
  fs::create_directories(runs_dir(), ec);
  if (ec) return base::IoError(fmt::format("cannot create '{}': {}", runs_dir(), ec.message()));
  return WriteAtomically(RunPath(*this, run.id), RunToJson(run));
}

base::Result<RunRecord> Registry::ReadRun(std::string_view id) const {
  if (!IsRunId(id)) return base::InvalidArgument(fmt::format("'{}' is not a run id", id));
  const fs::path path = RunPath(*this, id);
  auto text = ReadText(path);
  if (!text.ok()) return base::NotFound(fmt::format("no run '{}' in '{}'", id, dir_));
  VIGIL_ASSIGN_OR_RETURN(RunRecord run, RunFromJson(*text, path.string()));
  if (run.id != id) return base::Corruption(fmt::format("{}: holds run '{}'", path.string(), run.id));
  return run;
}

base::Result<std::vector<RunRecord>> Registry::ListRuns() const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return base::NotFound(fmt::format("no registry directory '{}'", dir_));
  std::vector<std::string> ids;
  const fs::path dir = runs_dir();
  if (!fs::exists(dir, ec)) return std::vector<RunRecord>();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.ends_with(kExtension)) continue;
    ids.push_back(name.substr(0, name.size() - kExtension.size()));
  }
  if (ec) return base::IoError(fmt::format("cannot list '{}': {}", dir.string(), ec.message()));
  std::sort(ids.begin(), ids.end());
  std::vector<RunRecord> runs;
  for (const std::string& id : ids) {
    VIGIL_ASSIGN_OR_RETURN(RunRecord run, ReadRun(id));
    runs.push_back(std::move(run));
  }
  return runs;
}

base::Status Registry::SetRunOutcome(std::string_view id, std::string_view outcome,
                                     std::string_view detail) const {
  VIGIL_ASSIGN_OR_RETURN(RunRecord run, ReadRun(id));
  run.outcome = std::string(outcome);
  run.detail = std::string(detail);
  return WriteRun(run);
}

base::Result<std::optional<RunRecord>> Registry::FindRunOfVersion(std::string_view version) const {
  VIGIL_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, ListRuns());
  for (auto it = runs.rbegin(); it != runs.rend(); ++it)
    if (it->model_version == version) return std::optional<RunRecord>(std::move(*it));
  return std::optional<RunRecord>();
}

base::Status Registry::SetVersionRunOutcome(std::string_view version, std::string_view outcome,
                                            std::string_view detail,
                                            const std::map<std::string, double>& rollout_metrics) const {
  VIGIL_ASSIGN_OR_RETURN(std::optional<RunRecord> run, FindRunOfVersion(version));
  if (!run) return base::Status::OK();
  run->outcome = std::string(outcome);
  run->detail = std::string(detail);
  if (!rollout_metrics.empty()) run->rollout_metrics = rollout_metrics;
  return WriteRun(*run);
}

}  // namespace vigil::models
