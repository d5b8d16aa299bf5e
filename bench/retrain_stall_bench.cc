// Micro-batch latency of a live stream while a model trains in the background, against the same
// stream without training, in one process.
//
//   build/release/bench/retrain_stall_bench PIPELINE.yaml TABLE.csv EVENTS.jsonl [LABELS.jsonl]
//                                           [--rate N] [--seconds S] [--warmup S]
//   scripts/bench-retrain-stall    # builds, prepares a registry, the data and the table, runs this
//
// The pipeline's Plan and a Runtime run in process with a source that never finishes: it first
// serves EVENTS (and LABELS) whole, as fast as the runtime reads (the catch-up, not measured, until a
// state commit follows it), then loops over the file at a fixed rate of wall time (--rate events/s),
// each pass with fresh ids and event times (moved past the previous pass's), so the stream never
// runs dry. Its reader behaves like the Kafka one: a batch closes at batch.max_events or after
// batch.max_wait. Labels are published at their label time (once the events have reached it).
//
// A batch's latency is the wall time from its reader's Read returning to the task handing its records
// to the output sink (the bench's own reader and sinks take the two timestamps; nothing is added to
// the engine): what vigil_batch_latency_seconds observes. Phases of --seconds each: A without training;
// B with the retraining worker's work running back to back on its own thread (nice 19 on its thread
// id, lifecycle::TrainAndRegister on TABLE with one libxgboost thread, as lifecycle::Retrainer trains; B ends
// when the training running at its end has finished); A' without training again. A batch belongs to the phase
// in which its read returned. Also printed per phase: histogram_quantile(0.99) over the probe's
// vigil_batch_latency_seconds buckets (what a dashboard would show), and each batch's event delay: from its
// first event's due time at the source to the hand-off, which also holds the wait for the batch to fill and
// the state commits (they pause the workers between batches). Exit status 1 if the stream lost events (events
// out != events in) or a training failed.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "base/time.h"
#include "bench/retrain_stall/paced_stream.h"
#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "lifecycle/trainer.h"
#include "operators/register.h"

namespace vigil::bench {
namespace {

namespace fs = std::filesystem;
using namespace retrain_stall;  // Clock, Options, the paced stream

constexpr auto kCatchUpTimeout = std::chrono::minutes(30);
constexpr auto kDrainTimeout = std::chrono::minutes(2);  // for the backlog left when the stream stops
constexpr auto kPoll = std::chrono::milliseconds(20);
constexpr int kLowestPriority = 19;  // nice value of the training thread, as lifecycle::Retrainer's

//! Trains back to back on its own thread until Stop, as lifecycle::Retrainer's worker does.
class Trainer {
 public:
  explicit Trainer(lifecycle::TrainRequest request) : request_(std::move(request)) {}
  ~Trainer() { Stop(); }
  void Start() {
    thread_ = std::thread([this] {
      // Linux nice values are per thread: this lowers the training thread only.
      if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kLowestPriority) != 0)
        std::fprintf(stderr, "warning: cannot lower the training thread's priority\n");
      while (!stop_.load()) {
        const auto start = Clock::now();
        auto outcome = lifecycle::TrainAndRegister(request_);
        const bool ok = outcome.ok() && outcome->trained.ok();
        if (!ok) error_ = outcome.ok() ? outcome->trained.message() : outcome.status().message();
        (ok ? seconds_ : failed_seconds_).push_back(Seconds(Clock::now() - start));
      }
    });
  }
  //! Asks for no further training and waits for the one running.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // After Stop:
  const std::vector<double>& seconds() const { return seconds_; }
  size_t failed() const { return failed_seconds_.size(); }
  const std::string& error() const { return error_; }

 private:
  const lifecycle::TrainRequest request_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<double> seconds_, failed_seconds_;
  std::string error_;
};

//! What a phase's bounds read from the probe's metrics.
struct MetricsSnapshot {
  std::map<double, double>
      latency_buckets;                     //!< vigil_batch_latency_seconds: cumulative count by upper bound.
  double commits = 0, commit_seconds = 0;  //!< vigil_commit_latency_seconds: count and sum.

  static MetricsSnapshot Take(const prometheus::Registry& registry) {
    MetricsSnapshot m;
    const std::string text = engine::SerializeMetrics(registry);
    for (size_t pos = 0, eol = 0; pos < text.size(); pos = eol + 1) {
      eol = std::min(text.find('\n', pos), text.size());
      const std::string_view line(text.data() + pos, eol - pos);
      const size_t space = line.rfind(' ');
      if (line.empty() || line[0] == '#' || space == std::string_view::npos) continue;
      const double value = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
      const std::string_view name = line.substr(0, line.find_first_of("{ "));
      if (name == "vigil_batch_latency_seconds_bucket") {
        const size_t le = line.find("le=\"") + 4;
        const std::string bound(line.substr(le, line.find('"', le) - le));
        m.latency_buckets[bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr)] += value;
      } else if (name == "vigil_commit_latency_seconds_count") {
        m.commits += value;
      } else if (name == "vigil_commit_latency_seconds_sum") {
        m.commit_seconds += value;
      }
    }
    return m;
  }
};

//! histogram_quantile(q, ...) over the increase between two bucket snapshots, as Prometheus computes it.
double HistogramQuantile(double q, const std::map<double, double>& before,
                         const std::map<double, double>& after) {
  std::vector<std::pair<double, double>> b;  // (upper bound, cumulative increase)
  for (const auto& [le, count] : after) b.emplace_back(le, count - (before.count(le) ? before.at(le) : 0));
  if (b.empty() || b.back().second <= 0) return NAN;
  const double rank = q * b.back().second;
  size_t i = 0;
  while (b[i].second < rank) ++i;
  if (std::isinf(b[i].first)) return b.size() > 1 ? b[b.size() - 2].first : NAN;
  const double lower = i == 0 ? 0 : b[i - 1].first, below = i == 0 ? 0 : b[i - 1].second;
  return lower + (b[i].first - lower) * (rank - below) / (b[i].second - below);
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return NAN;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string LoadAverage() {
  double load[3] = {NAN, NAN, NAN};
  if (::getloadavg(load, 3) != 3) return "unknown";
  char text[64];
  std::snprintf(text, sizeof text, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return text;
}

//! One measured phase.
struct Phase {
  const char* name = "";
  Clock::time_point start, end;
  MetricsSnapshot at_start, at_end;
  std::string load_end;
  size_t trainings = 0;
  std::vector<Sample> samples;

  std::vector<double> Sorted(double Sample::*field) const {
    std::vector<double> v;
    for (const Sample& s : samples)
      if (!std::isnan(s.*field)) v.push_back(s.*field * 1000);
    std::sort(v.begin(), v.end());
    return v;
  }
};

//! The pipeline under test: its Plan and a Runtime on its own thread over the Stream. Stops it and
//! removes its state directory when destroyed.
class LivePipeline {
 public:
  static base::Result<std::unique_ptr<LivePipeline>> Start(config::PipelineSpec spec, Stream* stream,
                                                           Recorder* recorder,
                                                           const std::string& source_name) {
    std::unique_ptr<LivePipeline> p(new LivePipeline());
    p->state_dir_ = fs::temp_directory_path() / ("vigil-retrain-stall-bench-" + std::to_string(::getpid()));
    fs::remove_all(p->state_dir_);
    spec.runtime.state_dir = p->state_dir_.string();
    engine::OperatorRegistry registry;
    VIGIL_RETURN_IF_ERROR(operators::RegisterOperators(&registry));
    const auto io = [&](const auto&, const auto&) {
      return engine::StageIo{
          std::make_unique<StreamSource>(stream, recorder, spec.labels.enabled, source_name),
          std::make_unique<RecordingSink>(recorder, false), std::make_unique<RecordingSink>(recorder, true)};
    };
    VIGIL_ASSIGN_OR_RETURN(p->pipeline_, engine::Pipeline::Build({spec}, registry, io));
    p->run_thread_ = std::thread([q = p.get()] {
      q->run_status_ = q->pipeline_->Run();
      q->run_done_ = true;
    });
    return p;
  }
  ~LivePipeline() {
    (void)Stop();
    std::error_code ec;
    fs::remove_all(state_dir_, ec);
  }

  //! Stops the runtime (it drains and commits) and returns its status. Idempotent.
  base::Status Stop() {
    if (pipeline_) pipeline_->RequestStop();
    if (run_thread_.joinable()) run_thread_.join();
    return run_status_;
  }
  //! True once the runtime's Run returned (an error, or Stop).
  bool stopped() const { return run_done_.load(); }
  const prometheus::Registry& metrics() const { return *pipeline_->metrics(); }

 private:
  LivePipeline() = default;
  fs::path state_dir_;
  std::unique_ptr<engine::Pipeline> pipeline_;
  std::thread run_thread_;
  std::atomic<bool> run_done_{false};
  base::Status run_status_;
};

//! Waits until `done` or the runtime stopped or `timeout`; false unless done.
template <typename F>
bool WaitFor(const LivePipeline& pipeline, Clock::duration timeout, F done) {
  for (const auto deadline = Clock::now() + timeout; Clock::now() < deadline && !pipeline.stopped();) {
    if (done()) return true;
    std::this_thread::sleep_for(kPoll);
  }
  return done();
}

//! The training lifecycle::Retrainer would start as of just after the newest event of the file (its
//! RetrainSpec, defaults when the score operator has no `retrain:`), registering into `models_dir`:
//! a copy of the score operator's registry, so the benchmark leaves the real one as it was.
base::Result<lifecycle::TrainRequest> RetrainRequest(const Options& o, const config::PipelineSpec& spec,
                                                     int64_t last_time, const fs::path& models_dir) {
  const config::ScoreSpec* score = nullptr;
  for (const config::OperatorSpec& op : spec.operators)
    if (score == nullptr) score = std::get_if<config::ScoreSpec>(&op.params);
  if (score == nullptr) return base::InvalidArgument("the pipeline has no score operator");
  std::error_code ec;
  fs::copy(score->registry, models_dir, fs::copy_options::recursive, ec);
  if (ec) return base::IoError("cannot copy the registry " + score->registry + ": " + ec.message());
  const config::RetrainSpec& retrain = score->retrain;
  lifecycle::TrainRequest request;
  request.pipeline_file = o.pipeline;
  request.pipeline = spec;
  request.table = o.table;
  request.input = o.table;
  request.models_dir = models_dir.string();
  const int64_t point = last_time + 1;
  request.train_start_ms = point - (retrain.valid_days + retrain.train_days) * kMsPerDay;
  request.train_days = retrain.train_days;
  request.valid_days = retrain.valid_days;
  request.model.rounds = retrain.rounds;
  for (const auto& [key, value] : retrain.params) request.model.params.push_back(key + "=" + value);
  request.trigger = "schedule";
  return request;
}

//! Starts a phase: its time and the histogram's buckets.
void Begin(Phase* phase, const LivePipeline& pipeline) {
  phase->at_start = MetricsSnapshot::Take(pipeline.metrics());
  phase->start = Clock::now();
}

//! Ends a phase begun with Begin.
void End(Phase* phase, const LivePipeline& pipeline, const Recorder& recorder) {
  phase->end = Clock::now();
  phase->at_end = MetricsSnapshot::Take(pipeline.metrics());
  phase->load_end = LoadAverage();
  phase->samples = recorder.Between(phase->start, phase->end);
}

void PrintPhases(const std::vector<Phase>& phases) {
  std::printf(
      "\nbatch latency, ms: read returned → records handed to the sink (hist p99: histogram_quantile over\n"
      "vigil_batch_latency_seconds in the same phase)\n");
  std::printf("%-14s %7s %7s %8s %9s %7s %7s %7s %7s %7s %8s %9s  %s\n", "phase", "seconds", "batches",
              "events", "events/s", "p50", "p90", "p99", "p99.9", "max", "hist p99", "trainings",
              "load at end");
  for (const Phase& p : phases) {
    const std::vector<double> v = p.Sorted(&Sample::latency);
    size_t events = 0;
    for (const Sample& s : p.samples) events += s.events;
    const double secs = Seconds(p.end - p.start);
    std::printf("%-14s %7.1f %7zu %8zu %9.0f %7.2f %7.2f %7.2f %7.2f %7.2f %8.2f %9zu  %s\n", p.name, secs,
                v.size(), events, static_cast<double>(events) / secs, Percentile(v, 0.5), Percentile(v, 0.9),
                Percentile(v, 0.99), Percentile(v, 0.999), v.empty() ? NAN : v.back(),
                HistogramQuantile(0.99, p.at_start.latency_buckets, p.at_end.latency_buckets) * 1000,
                p.trainings, p.load_end.c_str());
  }
  std::printf(
      "\nevent delay, ms: an event's due time at the source → its batch handed to the sink (the batch's\n"
      "first event; includes the wait for the batch to fill and the state commits, which pause the\n"
      "workers); backlog: events due but not read yet\n");
  std::printf("%-14s %7s %7s %7s %7s %12s %8s %12s\n", "phase", "p50", "p99", "p99.9", "max", "max backlog",
              "commits", "commit mean");
  for (const Phase& p : phases) {
    const std::vector<double> v = p.Sorted(&Sample::delay);
    int64_t backlog = 0;
    for (const Sample& s : p.samples) backlog = std::max(backlog, s.backlog);
    const double commits = p.at_end.commits - p.at_start.commits;
    std::printf("%-14s %7.2f %7.2f %7.2f %7.2f %12lld %8.0f %12.2f\n", p.name, Percentile(v, 0.5),
                Percentile(v, 0.99), Percentile(v, 0.999), v.empty() ? NAN : v.back(),
                static_cast<long long>(backlog), commits,
                (p.at_end.commit_seconds - p.at_start.commit_seconds) / commits * 1000);
  }
}

//! What one run measured.
struct Measured {
  double catch_up_s = 0;      //!< Reading and committing the file.
  std::vector<Phase> phases;  //!< A, B, A'.
  bool drained = false;       //!< Every event read was handed over after the stream stopped.
  base::Status run;           //!< The runtime's.
};

//! Runs the pipeline over `s`: the catch-up, the warm-up, phases A, B (with `trainer`) and A', then
//! stops the stream, lets the runtime hand over what it read and stops it.
base::Result<Measured> Measure(const Options& o, const config::PipelineSpec& spec, Stream& s,
                               Recorder& recorder, Trainer& trainer) {
  Measured m;
  const auto started = Clock::now();
  VIGIL_ASSIGN_OR_RETURN(auto live, LivePipeline::Start(spec, &s, &recorder, o.events));
  // The catch-up ends with a state commit that covers it (a commit never overlaps a batch): the first
  // commit after a backlog writes the whole backlog's state and would show in phase A.
  double commits_when_read = -1;
  const bool caught_up = WaitFor(*live, kCatchUpTimeout, [&] {
    const double commits = MetricsSnapshot::Take(live->metrics()).commits;
    if (commits_when_read < 0 && recorder.out() + recorder.dead() >= s.file_events())
      commits_when_read = commits;
    return commits_when_read >= 0 && commits > commits_when_read;
  });
  if (!caught_up)
    return base::Unavailable("the runtime did not read and commit the file: " + live->Stop().ToString());
  m.catch_up_s = Seconds(Clock::now() - started);
  s.StartPacing(o.rate);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  m.phases.resize(3);
  m.phases[0].name = "A (none)";
  m.phases[1].name = "B (training)";
  m.phases[2].name = "A' (none)";
  for (Phase& phase : m.phases) {
    Begin(&phase, *live);
    const bool training = &phase == &m.phases[1];
    if (training) trainer.Start();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    if (training) {
      trainer.Stop();  // B lasts until the training running at its end has finished
      phase.trainings = trainer.seconds().size() + trainer.failed();
    }
    End(&phase, *live, recorder);
  }
  s.Stop();
  m.drained =
      WaitFor(*live, kDrainTimeout, [&] { return recorder.out() + recorder.dead() >= s.delivered(); });
  m.run = live->Stop();
  return m;
}

//! Prints the run's figures and a summary line; returns the exit status.
int Report(const Options& o, const config::PipelineSpec& spec, const Stream& s, const Recorder& recorder,
           const Trainer& trainer, const lifecycle::TrainRequest& r, const Measured& m,
           const std::string& load_start) {
  std::printf(
      "pipeline %s, 1 partition, %d workers, batches of up to %zu events or %d ms\n"
      "catch-up: the %zu events of %s (and their labels), read and committed in %.1f s\n"
      "then: passes over the file with fresh ids and times at %.0f events/s; %.0f s unmeasured, phases of "
      "%.0f s\n",
      spec.name.c_str(), spec.runtime.workers, spec.batch.max_events, spec.batch.max_wait_ms, s.file_events(),
      o.events.c_str(), m.catch_up_s, o.rate, o.warmup, o.seconds);
  std::printf(
      "during B: TrainAndRegister on %s back to back (from %s, train %d days, validate %d days,\n"
      "%d rounds, 1 libxgboost thread, nice %d); trainings: %zu, failed: %zu",
      o.table.c_str(), base::IsoDate(r.train_start_ms).c_str(), r.train_days, r.valid_days, r.model.rounds,
      kLowestPriority, trainer.seconds().size() + trainer.failed(), trainer.failed());
  for (size_t i = 0; i < trainer.seconds().size(); ++i)
    std::printf("%s%.1f", i == 0 ? "; took " : ", ", trainer.seconds()[i]);
  std::printf("%s\n", trainer.seconds().empty() ? "" : " s");
  std::printf("load average (1, 5, 15 min): %s at start, %s at the end; %u cores\n", load_start.c_str(),
              LoadAverage().c_str(), std::thread::hardware_concurrency());
  PrintPhases(m.phases);

  const std::vector<double> a1 = m.phases[0].Sorted(&Sample::latency),
                            b = m.phases[1].Sorted(&Sample::latency),
                            a2 = m.phases[2].Sorted(&Sample::latency);
  std::vector<double> a = a1;
  a.insert(a.end(), a2.begin(), a2.end());
  std::sort(a.begin(), a.end());
  const double ratio = Percentile(b, 0.99) / Percentile(a, 0.99);
  std::printf("\np99 batch latency during training / without (A and A' pooled): %.2f / %.2f ms = %.2fx\n",
              Percentile(b, 0.99), Percentile(a, 0.99), ratio);
  const uint64_t in = s.delivered(), out = recorder.out(), dead = recorder.dead();
  std::printf("events in %llu, out %llu, dead letters %llu\n", static_cast<unsigned long long>(in),
              static_cast<unsigned long long>(out), static_cast<unsigned long long>(dead));
  int status = 0;
  if (!m.run.ok() || !m.drained || out != in) {
    std::fprintf(stderr, "error: the stream lost events (%s)\n",
                 m.run.ok() ? "out != in" : m.run.ToString().c_str());
    status = 1;
  }
  if (trainer.failed() > 0 || trainer.seconds().empty()) {
    const std::string why = trainer.seconds().empty() ? "no training completed during B"
                                                      : "a training failed: " + trainer.error();
    std::fprintf(stderr, "error: %s\n", why.c_str());
    status = 1;
  }
  // One line for scripts that compare runs.
  std::printf("summary: a_p99_ms=%.2f b_p99_ms=%.2f a2_p99_ms=%.2f ratio_p99=%.2f trainings=%zu load=%s\n",
              Percentile(a1, 0.99), Percentile(b, 0.99), Percentile(a2, 0.99), ratio, m.phases[1].trainings,
              load_start.c_str());
  return status;
}

int Run(const Options& o) {
  auto loaded = config::LoadPipelineFile(o.pipeline);
  if (!loaded.ok()) return std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str()), 2;
  const config::PipelineSpec& spec = *loaded;
  if (spec.labels.enabled && o.labels.empty())
    return std::fprintf(stderr, "error: the pipeline joins labels: give LABELS\n"), 2;
  auto stream = Stream::Load(spec, o);
  if (!stream.ok()) return std::fprintf(stderr, "error: %s\n", stream.status().message().c_str()), 2;
  const fs::path models_dir =
      fs::temp_directory_path() / ("vigil-retrain-stall-models-" + std::to_string(::getpid()));
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{models_dir};
  auto request = RetrainRequest(o, spec, (*stream)->last_time(), models_dir);
  if (!request.ok()) return std::fprintf(stderr, "error: %s\n", request.status().message().c_str()), 2;
  const std::string load_start = LoadAverage();
  Recorder recorder;
  Trainer trainer(*request);
  auto measured = Measure(o, spec, **stream, recorder, trainer);
  if (!measured.ok()) return std::fprintf(stderr, "error: %s\n", measured.status().ToString().c_str()), 1;
  return Report(o, spec, **stream, recorder, trainer, *request, *measured, load_start);
}

base::Result<Options> ParseArgs(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](double* out) -> base::Status {
      if (i + 1 >= argc) return base::InvalidArgument(a + " needs a value");
      *out = std::strtod(argv[++i], nullptr);
      return base::Status::OK();
    };
    if (a == "--rate")
      VIGIL_RETURN_IF_ERROR(number(&o.rate));
    else if (a == "--seconds")
      VIGIL_RETURN_IF_ERROR(number(&o.seconds));
    else if (a == "--warmup")
      VIGIL_RETURN_IF_ERROR(number(&o.warmup));
    else if (!a.empty() && a[0] == '-')
      return base::InvalidArgument("unknown option " + a);
    else
      positional.push_back(a);
  }
  if (positional.size() < 3 || positional.size() > 4)
    return base::InvalidArgument("expected PIPELINE TABLE EVENTS [LABELS]");
  if (!(o.rate > 0) || !(o.seconds > 0) || !(o.warmup >= 0))
    return base::InvalidArgument("bad --rate/--seconds/--warmup");
  o.pipeline = positional[0];
  o.table = positional[1];
  o.events = positional[2];
  if (positional.size() == 4) o.labels = positional[3];
  return o;
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  auto options = vigil::bench::ParseArgs(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr,
                 "error: %s\nusage: retrain_stall_bench PIPELINE.yaml TABLE.csv EVENTS.jsonl [LABELS.jsonl] "
                 "[--rate N] "
                 "[--seconds S] [--warmup S]\n",
                 options.status().message().c_str());
    return 2;
  }
  return vigil::bench::Run(*options);
}
