#include "models/registry.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/file_io.h"
#include "models/runs.h"

namespace vigil::models {
namespace {

namespace fs = std::filesystem;
constexpr double kGoldenTolerance = 1e-6;

base::Status CheckGoldenRows(const ModelVersion& v, simdjson::dom::element meta) {
  simdjson::dom::array rows;
  if (meta["golden_rows"].get_array().get(rows)) return base::Corruption("metadata has no golden_rows");
  std::vector<float> input;
  size_t checked = 0;
  for (simdjson::dom::element row : rows) {
    simdjson::dom::array values;
    double expected = 0;
    if (row["inputs"].get_array().get(values) || row["score"].get_double().get(expected))
      return base::Corruption("malformed golden row");
    input.clear();
    for (simdjson::dom::element x : values) {
      double d = NAN;
      if (!x.is_null() && x.get_double().get(d)) return base::Corruption("malformed golden row input");
      input.push_back(static_cast<float>(d));
    }
    if (input.size() != v.features.size())
      return base::Corruption("a golden row has the wrong number of inputs");
    const double got = v.forest->PredictRow(input.data());
    if (std::abs(got - expected) > kGoldenTolerance)
      return base::Corruption("golden row " + std::to_string(checked) + " scores " + std::to_string(got) +
                              ", metadata expects " + std::to_string(expected));
    ++checked;
  }
  if (checked == 0) return base::Corruption("metadata has no golden rows");
  return base::Status::OK();
}

}  // namespace

std::string Registry::MetadataPath(const std::string& version) const {
  return (fs::path(dir_) / version / "metadata.json").string();
}

base::Result<std::shared_ptr<const ModelVersion>> Registry::LoadVersion(
    const std::string& version, const std::vector<std::string>& expected_features) const {
  const fs::path dir = fs::path(dir_) / version;
  const std::string where = "model " + version + " in '" + dir_ + "'";
  VIGIL_ASSIGN_OR_RETURN(std::string meta_text, ReadText(MetadataPath(version)));
  simdjson::dom::parser parser;
  simdjson::dom::element meta;
  if (parser.parse(meta_text).get(meta)) return base::Corruption(where + ": metadata.json is not valid JSON");
  auto v = std::make_shared<ModelVersion>();
  v->version = version;
  std::string_view text;
  if (!meta["parent"].get_string().get(text)) v->parent = std::string(text);
  std::string model_file = "model.json";
  if (!meta["model_file"].get_string().get(text)) model_file = std::string(text);
  simdjson::dom::array features;
  if (meta["features"].get_array().get(features))
    return base::Corruption(where + ": metadata lists no features");
  for (simdjson::dom::element f : features) {
    if (f.get_string().get(text)) return base::Corruption(where + ": a feature name is not a string");
    v->features.emplace_back(text);
  }
  if (!expected_features.empty() && v->features != expected_features) {
    std::string want, got;
    for (const auto& f : expected_features) want += (want.empty() ? "" : ",") + f;
    for (const auto& f : v->features) got += (got.empty() ? "" : ",") + f;
    return base::InvalidArgument(where + ": its features [" + got + "] do not match the pipeline's [" + want +
                                 "]");
  }
  const std::string model_path = (dir / model_file).string();
  VIGIL_ASSIGN_OR_RETURN(std::string model_bytes, ReadText(model_path));
  auto model = ParseXgbModel(model_bytes);
  if (!model.ok()) return model.status().WithContext(model_path).WithContext(where);
  auto forest = Forest::FromModel(*model);
  if (!forest.ok()) return forest.status().WithContext(model_path).WithContext(where);
  v->forest = *forest;
  if (auto explainer = Explainer::Make(*model); explainer.ok()) v->explainer = *explainer;
  if (v->forest->num_features() > v->features.size())
    return base::Corruption(where + ": the model reads more features than its metadata lists");
  if (!v->forest->feature_names().empty() && v->forest->feature_names() != v->features)
    return base::Corruption(where + ": the feature names in metadata.json differ from the model file's");
  if (base::Status st = CheckGoldenRows(*v, meta); !st.ok()) return st.WithContext(where);
  return std::shared_ptr<const ModelVersion>(std::move(v));
}

namespace {
//! The name written in `<registry>/<file>`, trailing whitespace removed.
base::Result<std::string> ReadName(const std::string& registry, const char* file) {
  VIGIL_ASSIGN_OR_RETURN(std::string name, ReadText(fs::path(registry) / file));
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  if (name.empty()) return base::NotFound(std::string(file) + " is empty");
  return name;
}
}  // namespace

base::Result<std::string> Registry::ReadChampion() const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec))
    return base::NotFound("the model registry '" + dir_ + "' does not exist (" +
                          fs::absolute(dir_, ec).string() + " is not a directory)");
  auto name = ReadName(dir_, "CHAMPION");
  if (!name.ok())
    return base::NotFound("no champion in '" + dir_ + "'; promote a version first: vigil models --registry " +
                          dir_ + " promote vN");
  return name;
}

base::Result<std::string> Registry::ReadCandidate() const {
  auto name = ReadName(dir_, "CANDIDATE");
  if (!name.ok()) return base::NotFound("no candidate in '" + dir_ + "'");
  return name;
}

base::Status Registry::ProposeCandidate(const std::string& version,
                                        const std::vector<std::string>& expected_features) const {
  VIGIL_RETURN_IF_ERROR(LoadVersion(version, expected_features).status());
  if (auto champion = ReadChampion(); champion.ok() && *champion == version)
    return base::FailedPrecondition(version + " is already the champion");
  if (auto current = ReadCandidate(); current.ok() && *current != version)
    return base::FailedPrecondition(*current + " is on trial; wait for its verdict");
  VIGIL_RETURN_IF_ERROR(WriteAtomically(fs::path(dir_) / "CANDIDATE", version + "\n"));
  (void)SetVersionRunOutcome(version, kRunCandidate, "");
  return base::Status::OK();
}

base::Status Registry::EndCandidate(const std::string& version, std::string_view outcome,
                                    const std::string& detail,
                                    const std::map<std::string, double>& rollout_metrics) const {
  if (auto current = ReadCandidate(); current.ok() && *current == version) {
    std::error_code ec;
    fs::remove(fs::path(dir_) / "CANDIDATE", ec);
    if (ec)
      return base::IoError("cannot remove " + (fs::path(dir_) / "CANDIDATE").string() + ": " + ec.message());
  }
  (void)SetVersionRunOutcome(version, outcome, detail, rollout_metrics);
  return base::Status::OK();
}

namespace {
//! Removes CANDIDATE when it names `version`, which now serves: its trial is over.
void RemoveCandidateIf(const Registry& registry, const std::string& version) {
  if (auto candidate = registry.ReadCandidate(); candidate.ok() && *candidate == version) {
    std::error_code ec;
    fs::remove(fs::path(registry.dir()) / "CANDIDATE", ec);
  }
}

//! Appends `line` to `<registry>/HISTORY`.
base::Status AppendHistory(const std::string& registry, const std::string& line) {
  const fs::path path = fs::path(registry) / "HISTORY";
  std::ofstream history(path, std::ios::app);
  history << line << "\n";
  history.flush();
  if (!history) return base::IoError("cannot append to '" + path.string() + "'");
  return base::Status::OK();
}
}  // namespace

base::Status Registry::Promote(const std::string& version, const std::vector<std::string>& expected_features,
                               std::string_view detail,
                               const std::map<std::string, double>& rollout_metrics) const {
  VIGIL_RETURN_IF_ERROR(LoadVersion(version, expected_features).status());
  // Promoting the champion again would push it twice on the stack: a rollback would then "restore"
  // the version that serves.
  if (auto champion = ReadChampion(); champion.ok() && *champion == version) return base::Status::OK();
  VIGIL_RETURN_IF_ERROR(WriteAtomically(fs::path(dir_) / "CHAMPION", version + "\n"));
  VIGIL_RETURN_IF_ERROR(AppendHistory(dir_, version));
  RemoveCandidateIf(*this, version);
  // The registry change is done; the run record follows it on a best-effort basis.
  (void)SetVersionRunOutcome(version, kRunPromoted, detail, rollout_metrics);
  return base::Status::OK();
}

namespace {

constexpr std::string_view kRollbackPrefix = "rollback ";

//! The champions' stack that HISTORY describes, oldest first: a version line pushes, a
//! "rollback vN" line pops. Empty when there is no HISTORY.
std::vector<std::string> ChampionStack(const std::string& registry) {
  std::vector<std::string> stack;
  auto text = ReadText(fs::path(registry) / "HISTORY");
  if (!text.ok()) return stack;
  std::stringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.rfind(kRollbackPrefix, 0) == 0) {
      if (!stack.empty()) stack.pop_back();
    } else {
      stack.push_back(line);
    }
  }
  return stack;
}

}  // namespace

base::Result<std::string> Registry::Rollback(const std::vector<std::string>& expected_features) const {
  std::vector<std::string> stack = ChampionStack(dir_);
  if (stack.size() < 2)
    return base::FailedPrecondition(
        "nothing to roll back to in '" + dir_ +
        "': " + (stack.empty() ? "no champion was promoted" : "only " + stack.back() + " was"));
  const std::string current = stack.back();
  const std::string previous = stack[stack.size() - 2];
  // CHAMPION is what serves: when HISTORY's top is another version (CHAMPION written by hand, or a
  // promotion cut short between the two files), popping would restore the wrong one and mark the
  // wrong run rolled back.
  VIGIL_ASSIGN_OR_RETURN(const std::string champion, ReadChampion());
  if (champion != current)
    return base::FailedPrecondition("CHAMPION names " + champion + " but the last promotion in " + dir_ +
                                    "/HISTORY is " + current + "; promote the version that should serve");
  // The version that serves again is verified as a promotion verifies it.
  VIGIL_RETURN_IF_ERROR(LoadVersion(previous, expected_features).status());
  VIGIL_RETURN_IF_ERROR(WriteAtomically(fs::path(dir_) / "CHAMPION", previous + "\n"));
  VIGIL_RETURN_IF_ERROR(AppendHistory(dir_, std::string(kRollbackPrefix) + current));
  RemoveCandidateIf(*this, previous);
  (void)SetVersionRunOutcome(current, kRunRolledBack, "");
  // Its run says promoted again, as CHAMPION does.
  (void)SetVersionRunOutcome(previous, kRunPromoted, "");
  return previous;
}

base::Status Registry::WriteDriftSignal(const DriftSignal& signal) const {
  std::string reason = signal.reason;
  std::replace(reason.begin(), reason.end(), '\n', ' ');
  std::replace(reason.begin(), reason.end(), '\t', ' ');
  // wall time, version, reason, event time: a line of three fields (older registries) reads as an
  // unknown event time.
  const std::string line = std::to_string(signal.time_ms) + "\t" + signal.version + "\t" + reason + "\t" +
                           std::to_string(signal.event_time_ms) + "\n";
  const fs::path path = fs::path(dir_) / "DRIFT";
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out.write(line.data(), static_cast<std::streamsize>(line.size()));
  out.flush();
  if (!out) return base::IoError("cannot append to '" + path.string() + "'");
  return base::Status::OK();
}

base::Result<DriftSignal> Registry::ReadDriftSignal() const {
  auto text = ReadText(fs::path(dir_) / "DRIFT");
  if (!text.ok()) return base::NotFound("no drift signal in '" + dir_ + "'");
  // The newest complete line (a line still being appended has no newline yet).
  const std::string& all = *text;
  const size_t end = all.rfind('\n');
  if (end == std::string::npos) return base::NotFound("no drift signal in '" + dir_ + "'");
  const size_t previous = end == 0 ? std::string::npos : all.rfind('\n', end - 1);
  const size_t begin = previous == std::string::npos ? 0 : previous + 1;
  const std::string line = all.substr(begin, end - begin);
  DriftSignal signal;
  std::stringstream in(line);
  std::string time;
  std::string event_time;
  if (!std::getline(in, time, '\t') || !std::getline(in, signal.version, '\t') ||
      !std::getline(in, signal.reason, '\t'))
    return base::Corruption("malformed DRIFT in '" + dir_ + "'");
  try {
    signal.time_ms = std::stoll(time);
    if (std::getline(in, event_time)) signal.event_time_ms = std::stoll(event_time);
  } catch (...) {
    return base::Corruption("malformed DRIFT in '" + dir_ + "'");
  }
  return signal;
}

std::vector<std::string> Registry::ListUnregistered() const {
  std::error_code ec;
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.is_directory() && !fs::exists(entry.path() / "metadata.json") &&
        (fs::exists(entry.path() / "model.json") || fs::exists(entry.path() / "model.ubj")))
      folders.push_back(entry.path().filename());
  std::sort(folders.begin(), folders.end());
  return folders;
}

std::string Registry::NextVersionName() const {
  int64_t highest = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 2 || name[0] != 'v' || !std::all_of(name.begin() + 1, name.end(), ::isdigit)) continue;
    highest = std::max<int64_t>(highest, std::stoll(name.substr(1)));
  }
  return "v" + std::to_string(highest + 1);
}

base::Status Registry::CheckVersionFree(const std::string& version) const {
  const fs::path target = fs::path(dir_) / version;
  if (fs::exists(target))
    return base::Status(base::StatusCode::kAlreadyExists, target.string() + " exists already");
  return base::Status::OK();
}

namespace {
base::Status WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  return out ? base::Status::OK() : base::IoError("cannot write " + path.string());
}
}  // namespace

base::Status Registry::AddVersion(const std::string& version, const std::string& model_file,
                                  std::string_view model, std::string_view metadata) const {
  VIGIL_RETURN_IF_ERROR(CheckVersionFree(version));
  const fs::path target = fs::path(dir_) / version;
  const fs::path staging = fs::path(dir_) / ("." + version + ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return base::IoError("cannot create " + staging.string() + ": " + ec.message());
  VIGIL_RETURN_IF_ERROR(WriteFile(staging / model_file, model));
  VIGIL_RETURN_IF_ERROR(WriteFile(staging / "metadata.json", metadata));
  fs::rename(staging, target, ec);
  if (ec)
    return base::IoError("cannot rename " + staging.string() + " to " + target.string() + ": " +
                         ec.message());
  return base::Status::OK();
}

base::Result<std::vector<std::string>> Registry::ListVersions() const {
  std::error_code ec;
  std::vector<std::string> versions;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.is_directory() && fs::exists(entry.path() / "metadata.json"))
      versions.push_back(entry.path().filename());
  if (ec) return base::NotFound("cannot list '" + dir_ + "': " + ec.message());
  std::sort(versions.begin(), versions.end());
  return versions;
}

}  // namespace vigil::models
