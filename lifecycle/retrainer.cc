// The retraining worker: follows the feature log, trains through TrainAndRegister.
#include "lifecycle/retrainer.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include "base/time.h"
#include "lifecycle/train_search.h"
#include "lifecycle/trainer.h"
#include "models/registry.h"
#include "models/runs.h"

namespace vigil::lifecycle {
namespace {

namespace fs = std::filesystem;

using base::kMsPerDay;
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
//! How often the worker looks at the log.
constexpr auto kPollInterval = std::chrono::seconds(1);
//! Read size of the log follower.
constexpr size_t kReadChunk = 1 << 20;
//! Lowest CPU priority (highest nice value).
constexpr int kLowestPriority = 19;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FeatureLogTail

FeatureLogTail::FeatureLogTail(std::string path, std::string time_column)
    : path_(std::move(path)), time_column_(std::move(time_column)) {}

std::optional<int64_t> FeatureLogTail::TimeOf(std::string_view line) const {
  size_t pos = 0;
  for (int i = 0; i < time_index_ && pos != std::string_view::npos; ++i) {
    pos = line.find(',', pos);
    if (pos != std::string_view::npos) ++pos;
  }
  if (pos == std::string_view::npos) return std::nullopt;
  int64_t time = 0;
  const size_t end = std::min(line.find(',', pos), line.size());
  const auto [ptr, ec] = std::from_chars(line.data() + pos, line.data() + end, time);
  if (ec != std::errc() || ptr != line.data() + end) return std::nullopt;
  return time;
}

base::Status FeatureLogTail::OnLine(std::string_view line, uint64_t at) {
  if (time_index_ < 0) {
    int index = 0;
    for (size_t pos = 0; pos <= line.size(); ++index) {
      const size_t comma = std::min(line.find(',', pos), line.size());
      if (line.substr(pos, comma - pos) == time_column_) {
        time_index_ = index;
        header_bytes_ = at + line.size() + 1;
        return base::Status::OK();
      }
      pos = comma + 1;
    }
    return base::Corruption(fmt::format("{}: the header has no column {}", path_, time_column_));
  }
  if (line.empty()) return base::Status::OK();
  ++rows_;
  const std::optional<int64_t> time = TimeOf(line);
  if (!time) {
    ++bad_rows_;
    return base::Status::OK();
  }
  newest_ms_ = std::max(newest_ms_.value_or(*time), *time);
  oldest_ms_ = std::min(oldest_ms_.value_or(*time), *time);
  times_.push_back(*time);
  offsets_.push_back(at);
  return base::Status::OK();
}

base::Result<size_t> FeatureLogTail::Poll() {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path_, ec);
  if (ec) return size_t{0};  // not created yet
  if (size < offset_) {
    spdlog::warn("retrain: {} shrank; reading it again from the start", path_);
    *this = FeatureLogTail(path_, time_column_);
  }
  if (size == offset_) return size_t{0};
  std::FILE* file = std::fopen(path_.c_str(), "rb");
  if (file == nullptr) return base::IoError(fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
  const uint64_t rows_before = rows_;
  base::Status st;
  if (::fseeko(file, static_cast<off_t>(offset_), SEEK_SET) != 0) {
    st = base::IoError(fmt::format("cannot seek in {}", path_));
  }
  std::string carry;
  std::vector<char> buffer(kReadChunk);
  uint64_t remaining = size - offset_;
  while (st.ok() && remaining > 0) {
    const size_t got = std::fread(buffer.data(), 1, std::min<uint64_t>(remaining, buffer.size()), file);
    if (got == 0) break;
    remaining -= got;
    carry.append(buffer.data(), got);
    size_t start = 0;
    for (size_t nl = carry.find('\n'); nl != std::string::npos; nl = carry.find('\n', start)) {
      st = OnLine(std::string_view(carry).substr(start, nl - start), offset_);
      if (!st.ok()) break;
      offset_ += nl + 1 - start;
      start = nl + 1;
    }
    carry.erase(0, start);
  }
  std::fclose(file);
  if (!st.ok()) return st;
  return static_cast<size_t>(rows_ - rows_before);
}

int64_t FeatureLogTail::CountRows(int64_t start_ms, int64_t end_ms) const {
  return std::count_if(times_.begin(), times_.end(), [&](int64_t t) { return t >= start_ms && t < end_ms; });
}

void FeatureLogTail::ForgetBefore(int64_t ms) {
  size_t kept = 0;
  for (size_t i = 0; i < times_.size(); ++i) {
    if (times_[i] < ms) continue;
    times_[kept] = times_[i];
    offsets_[kept++] = offsets_[i];
  }
  times_.resize(kept);
  offsets_.resize(kept);
}

base::Status FeatureLogTail::CopyWindow(const std::string& to, int64_t start_ms, int64_t end_ms) const {
  // Only from the first remembered row of the window on: what comes before was forgotten or is older.
  uint64_t from = offset_;
  for (size_t i = 0; i < times_.size(); ++i)
    if (times_[i] >= start_ms && times_[i] < end_ms) from = std::min(from, offsets_[i]);
  std::ifstream in(path_, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!in || !out || time_index_ < 0) return base::IoError(fmt::format("cannot copy {} to {}", path_, to));
  std::string header(header_bytes_, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  in.seekg(static_cast<std::streamoff>(from));
  std::string line;
  for (uint64_t at = from; at < offset_ && std::getline(in, line); at += line.size() + 1) {
    const std::optional<int64_t> time = TimeOf(line);
    if (!time || *time < start_ms || *time >= end_ms) continue;
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    out.put('\n');
  }
  out.close();
  if (!in.good() && !in.eof()) return base::IoError(fmt::format("cannot read {}", path_));
  if (!out) return base::IoError(fmt::format("cannot write {}", to));
  return base::Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Retrainer

//! The worker's metrics (prometheus-cpp stays inside this file).
struct Retrainer::Probe {
  Probe(prometheus::Registry& registry, const std::string& pipeline)
      : runs(prometheus::BuildCounter()
                 .Name("vigil_retrain_runs_total")
                 .Help("Background retraining runs, by outcome (registered, failed, skipped)")
                 .Register(registry)),
        last_run(prometheus::BuildGauge()
                     .Name("vigil_retrain_last_run_timestamp_seconds")
                     .Help("Wall-clock end of the last background retraining run, Unix seconds")
                     .Register(registry)
                     .Add({{"pipeline", pipeline}})),
        busy(prometheus::BuildGauge()
                 .Name("vigil_retrain_busy")
                 .Help("1 while the background retraining worker trains")
                 .Register(registry)
                 .Add({{"pipeline", pipeline}})),
        pipeline(pipeline) {}
  //! Counts one run with `outcome`; registered and failed runs also set the timestamp.
  void Ran(const std::string& outcome) {
    runs.Add({{"pipeline", pipeline}, {"outcome", outcome}}).Increment();
    if (outcome != "skipped") last_run.Set(static_cast<double>(NowMs()) / 1000.0);
  }
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Gauge& last_run;
  prometheus::Gauge& busy;
  std::string pipeline;
};

Retrainer::Retrainer(config::PipelineSpec pipeline, const config::ScoreSpec& score,
                     const std::shared_ptr<prometheus::Registry>& metrics)
    : pipeline_(std::move(pipeline)),
      score_(score),
      registry_(score.registry),
      tail_(score.feature_log),
      newest_ms_(kNoTime) {
  if (metrics) probe_ = std::make_unique<Probe>(*metrics, pipeline_.name);
}

base::Result<std::unique_ptr<Retrainer>> Retrainer::Start(
    const config::PipelineSpec& pipeline, const std::shared_ptr<prometheus::Registry>& metrics,
    std::function<bool()> leads) {
  for (const auto& op : pipeline.operators) {
    const auto* score = std::get_if<config::ScoreSpec>(&op.params);
    if (score == nullptr || !score->retrain.enabled) continue;
    if (score->feature_log.empty())
      return base::InvalidArgument("retrain: needs the score operator's feature_log");
    if (pipeline.features.empty())
      return base::InvalidArgument("retrain: the pipeline has no `features:` list");
    std::unique_ptr<Retrainer> retrainer(new Retrainer(pipeline, *score, metrics));
    retrainer->leads_ = std::move(leads);
    retrainer->thread_ = std::thread([r = retrainer.get()] { r->Loop(); });
    return retrainer;
  }
  return std::unique_ptr<Retrainer>();
}

Retrainer::~Retrainer() { Stop(); }

void Retrainer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Retrainer::busy() const {
  std::lock_guard lock(mu_);
  return training_ || !pending_command_.empty();
}

base::Result<std::string> Retrainer::RequestRetrain() {
  std::lock_guard lock(mu_);
  if (training_ || !pending_command_.empty()) return base::FailedPrecondition("a training is running");
  if (stop_) return base::FailedPrecondition("the pipeline is stopping");
  if (leads_ && !leads_())
    return base::FailedPrecondition("another instance of the group trains for it (the leader, see its log)");
  if (newest_ms_.load() == kNoTime) return base::FailedPrecondition("the feature log holds no row yet");
  VIGIL_ASSIGN_OR_RETURN(std::string id, registry_.NewRunId("command", NowMs()));
  pending_command_ = id;
  wake_.notify_all();
  return id;
}

std::optional<int64_t> Retrainer::LastScheduledPoint() const {
  auto runs = registry_.ListRuns();
  if (!runs.ok()) return std::nullopt;
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    if (it->trigger != "schedule" || it->input != score_.feature_log) continue;
    return it->validation_window.empty() ? it->train_window.end_ms : it->validation_window.end_ms;
  }
  return std::nullopt;
}

TrainRequest Retrainer::MakeRequest(int64_t point_ms, const std::string& trigger,
                                    const std::string& run_id) const {
  const config::RetrainSpec& spec = score_.retrain;
  TrainRequest request;
  request.pipeline_file = pipeline_.file;
  request.pipeline = pipeline_;
  request.input = score_.feature_log;
  request.models_dir = score_.registry;
  request.train_days = spec.train_days;
  request.delay_days = spec.delay_days;
  request.valid_days = spec.valid_days;
  request.train_start_ms = point_ms - (spec.valid_days + spec.delay_days + spec.train_days) * kMsPerDay;
  request.model.rounds = spec.rounds;
  for (const auto& [key, value] : spec.params) request.model.params.push_back(key + "=" + value);
  request.model.early_stopping_rounds = spec.early_stopping_rounds;
  request.model.early_stopping_metric = pipeline_.train.early_stopping_metric;
  request.trigger = trigger;
  request.run_id = run_id;
  return request;
}

void Retrainer::TrainAsOf(int64_t point_ms, const std::string& trigger, const std::string& run_id) {
  const config::RetrainSpec& spec = score_.retrain;
  TrainRequest request = MakeRequest(point_ms, trigger, run_id);
  const int64_t train_start = request.train_start_ms;
  const int64_t train_end = train_start + spec.train_days * kMsPerDay;
  const int64_t rows = tail_.CountRows(train_start, train_end);
  if (rows < spec.min_rows) {
    const std::string reason =
        fmt::format("{} rows in the training window, fewer than min_rows {}", rows, spec.min_rows);
    spdlog::info("retrain ({}) skipped: {}", trigger, reason);
    if (!run_id.empty()) {
      models::RunRecord run;
      if (auto reserved = registry_.ReadRun(run_id); reserved.ok()) run = *reserved;
      run.finished_ms = NowMs();
      run.input = score_.feature_log;
      run.train_window = {train_start, train_end};
      run.validation_window = {point_ms - spec.valid_days * kMsPerDay, point_ms};
      run.outcome = std::string(models::kRunFailedPrefix) + reason;
      if (base::Status st = registry_.WriteRun(run); !st.ok())
        spdlog::warn("retrain: run {} not recorded: {}", run_id, st.message());
    }
    if (probe_) probe_->Ran("skipped");
    return;
  }
  const std::string snapshot =
      (fs::temp_directory_path() / fmt::format("vigil-retrain-{}-{}.csv", ::getpid(), NowMs())).string();
  request.table = snapshot;
  base::Result<TrainOutcome> outcome = base::IoError("no snapshot");
  if (base::Status st = tail_.CopyWindow(snapshot, train_start, point_ms); !st.ok()) {
    outcome = st;
  } else if (spec.search > 0) {
    outcome = Search(request);
  } else {
    outcome = TrainAndRegister(request);
  }
  std::error_code ec;
  fs::remove(snapshot, ec);
  if (!outcome.ok()) {
    spdlog::warn("retrain ({}) failed before it was recorded: {}", trigger, outcome.status().message());
    if (!run_id.empty())
      (void)registry_.SetRunOutcome(run_id,
                                    std::string(models::kRunFailedPrefix) + outcome.status().message(), "");
    if (probe_) probe_->Ran("failed");
    return;
  }
  const models::RunRecord& run = outcome->run;
  if (outcome->trained.ok()) {
    spdlog::info("retrain ({}): run {} registered {} (parent {}), trained on {} rows", trigger, run.id,
                 run.model_version, run.parent.empty() ? "none" : run.parent, rows);
  } else {
    spdlog::warn("retrain ({}): run {} failed: {}", trigger, run.id, outcome->trained.message());
  }
  if (!outcome->recorded.ok())
    spdlog::warn("retrain: run {} not recorded: {}", run.id, outcome->recorded.message());
  if (probe_) probe_->Ran(outcome->trained.ok() ? "registered" : "failed");
}

base::Result<TrainOutcome> Retrainer::Search(const TrainRequest& request) const {
  const config::RetrainSpec& spec = score_.retrain;
  SearchOptions options;
  options.trials = spec.search;
  options.metric = pipeline_.train.search.metric;
  options.space = pipeline_.train.search.space;
  options.budget_ms = spec.search_budget_ms;
  const std::string trigger = request.trigger;
  options.on_trial = [&trigger](const SearchTrial& t, int trials) {
    spdlog::info("retrain ({}): search trial {}/{} (run {}): {}", trigger, t.number, trials, t.run.id,
                 t.status.ok() ? fmt::format("validation {:.4f}", t.score) : t.status.message());
  };
  VIGIL_ASSIGN_OR_RETURN(SearchOutcome outcome, SearchAndRegister(request, options));
  if (outcome.best > 0) {
    spdlog::info(
        "retrain ({}): search ran {} of {} trials{}; best trial {} ({} {:.4f})", trigger,
        outcome.trials.size(), spec.search,
        outcome.budget_reached ? fmt::format(", stopped by its budget of {} ms", spec.search_budget_ms) : "",
        outcome.best, options.metric, outcome.trials[outcome.best - 1].score);
  }
  return std::move(outcome.registered);
}

void Retrainer::ProposeNewest() {
  const config::RolloutSpec& rollout = score_.rollout;
  if (!rollout.enabled || !rollout.propose_retrained || registry_.ReadCandidate().ok()) return;
  auto runs = registry_.ListRuns();
  if (!runs.ok()) return;
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    if (it->input != score_.feature_log || it->model_version.empty()) continue;
    if (it->outcome != models::kRunRegistered) {
      if (it->outcome.starts_with(models::kRunFailedPrefix) || it->outcome == models::kRunRunning) continue;
      return;  // the newest version was tried already
    }
    base::Status st = registry_.ProposeCandidate(it->model_version, pipeline_.features);
    if (st.code() == base::StatusCode::kFailedPrecondition) return;  // a trial started meanwhile: later
    if (!st.ok()) {
      spdlog::warn("retrain: cannot propose {}: {}", it->model_version, st.message());
      (void)registry_.SetRunOutcome(it->id, models::kRunRejected, "not proposed: " + st.message());
    } else {
      spdlog::info("retrain: {} (run {}) proposed as the candidate", it->model_version, it->id);
    }
    return;
  }
}

bool Retrainer::DriftDue(std::optional<int64_t> newest) {
  auto signal = registry_.ReadDriftSignal();
  if (signal.ok() && signal->time_ms > drift_seen_ms_ && score_.retrain.on_drift) {
    drift_seen_ms_ = signal->time_ms;
    // A signal of an older registry has no event time: the log's newest row stands for it.
    const int64_t at = signal->event_time_ms > 0 ? signal->event_time_ms : newest.value_or(0);
    const int64_t cooldown = score_.retrain.drift_cooldown_ms;
    if (drift_trained_at_ && at - *drift_trained_at_ < cooldown) {
      spdlog::info("retrain: drift signal ({}) within the cooldown; not retraining", signal->reason);
    } else if (drift_waits_for_ && at - *drift_waits_for_ < cooldown) {
      spdlog::info("retrain: drift signal ({}) while a drift training waits; counted with it",
                   signal->reason);
    } else if (drift_waits_for_) {
      drift_then_ = at;  // a cooldown later than the waiting one: its own training, after it
      spdlog::info(
          "retrain: drift signal for {}: {}; training once the feature log reaches {}, after the one "
          "that waits",
          signal->version, signal->reason, base::Iso8601(at));
    } else {
      drift_waits_for_ = at;
      spdlog::info("retrain: drift signal for {}: {}; training once the feature log reaches {}",
                   signal->version, signal->reason, base::Iso8601(at));
    }
  }
  return drift_waits_for_ && newest && *newest >= *drift_waits_for_;
}

void Retrainer::Loop() {
  // Linux nice values are per thread: this lowers only the worker (and nothing it does not start).
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kLowestPriority) != 0)
    spdlog::warn("retrain: cannot lower the worker's priority: {}", std::strerror(errno));
  const config::RetrainSpec& spec = score_.retrain;
  const int64_t span_ms = (spec.train_days + spec.delay_days + spec.valid_days) * kMsPerDay;
  std::optional<int64_t> point = LastScheduledPoint();
  spdlog::info("retrain: following {} (every {} h of event time)", score_.feature_log,
               spec.every_ms / 3'600'000);
  if (auto polled = tail_.Poll(); !polled.ok()) spdlog::warn("retrain: {}", polled.status().message());
  // Without a point in the registry: from `from` on, but not before the first point whose windows all
  // lie within the log, so that no training reads days before its first row.
  const auto first_point = [&](int64_t from) {
    return std::max(from, *tail_.oldest_ms() + span_ms - spec.every_ms);
  };
  if (!point && tail_.newest_ms()) point = first_point(*tail_.newest_ms());
  if (auto signal = registry_.ReadDriftSignal(); signal.ok()) drift_seen_ms_ = signal->time_ms;  // old news
  bool due = false;
  for (;;) {
    std::string command;
    {
      std::unique_lock lock(mu_);
      if (!due) wake_.wait_for(lock, kPollInterval, [this] { return stop_ || !pending_command_.empty(); });
      if (stop_) return;
      command = pending_command_;
    }
    if (leads_ && !leads_()) {  // the leader trains; its scheduled runs keep the cadence
      if (auto last = LastScheduledPoint()) point = last;
      due = false;
      continue;
    }
    if (auto polled = tail_.Poll(); !polled.ok()) spdlog::warn("retrain: {}", polled.status().message());
    const std::optional<int64_t> newest = tail_.newest_ms();
    if (newest) newest_ms_ = *newest;
    if (newest && !point) point = first_point(*tail_.oldest_ms());  // the log was empty at start
    due = newest && point && *newest >= *point + spec.every_ms;
    ProposeNewest();
    const bool drift = DriftDue(newest);
    if (command.empty() && !due && !drift) continue;
    {
      std::lock_guard lock(mu_);
      training_ = true;
    }
    if (probe_) probe_->busy.Set(1);
    if (!command.empty()) {
      TrainAsOf(*newest + 1, "command", command);
    } else if (drift) {
      drift_trained_at_ = *drift_waits_for_;
      drift_waits_for_ = std::exchange(drift_then_, std::nullopt);
      TrainAsOf(*newest + 1, "drift", "");
    } else {
      *point += spec.every_ms;
      TrainAsOf(*point, "schedule", "");
      tail_.ForgetBefore(std::min(*point, *newest) - span_ms);
    }
    if (probe_) probe_->busy.Set(0);
    {
      std::lock_guard lock(mu_);
      training_ = false;
      if (!command.empty()) pending_command_.clear();
    }
    due = newest && point && *newest >= *point + spec.every_ms;
  }
}

}  // namespace vigil::lifecycle
