// Latency of POST /v1/score over loopback, next to GET /healthz on the same connection (the HTTP
// floor, measured in the same process and run).
//
//   build/release/bench/score_api_bench PIPELINE.yaml EVENTS.jsonl LABELS.jsonl [--requests N]
//                                       [--warmup N] [--rounds N]
//   scripts/bench-score-api      # builds, prepares a registry and the data, runs this
//
// In one process: the pipeline's Plan and a Runtime whose source serves EVENTS (and LABELS) as one
// partition and never reports itself finished, so its tasks stay alive as in `vigil run`; Kafka sinks
// become kind none and the state lives in a temporary directory. The HTTP server (app::RegisterRoutes)
// listens on 127.0.0.1, port 0. Once /metrics shows every event read and committed (the runtime is
// idle), one keep-alive Boost.Beast client sends the requests one after another: POST /v1/score with
// later events of existing customers (the last events of the file, a minute past its last event time
// and with fresh ids), and GET /healthz. The two kinds alternate in rounds so that a change in machine
// load hits both. Each request's wall time is write + read of the whole response. The same score
// requests then go through Runtime::Query in process, without HTTP. Exit status 1 if any score answer
// was not 200.
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "app/http_api.h"
#include "base/file.h"
#include "config/pipeline_config.h"
#include "connectors/factory.h"
#include "connectors/file_io.h"
#include "engine/http_server.h"
#include "engine/pipeline.h"
#include "operators/register.h"

namespace vigil::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int64_t kShiftMs = 60'000;                       // requests come a minute after the last event
constexpr auto kReplayTimeout = std::chrono::minutes(30);  // for the runtime to read every event
constexpr auto kMetricsPoll = std::chrono::milliseconds(50);

//! Command line.
struct Options {
  std::string pipeline, events, labels;
  size_t requests = 10'000;  //!< Measured requests of each kind. Default 10,000.
  size_t warmup = 200;       //!< Unmeasured requests of each kind first. Default 200.
  size_t rounds = 10;        //!< Alternating rounds of requests/rounds score then healthz. Default 10.
};

//! The partition's event reader, waiting `wait_ms` when it has nothing, as a Kafka consumer does.
//! A bare file reader returns at once, and the worker owning it would spin on a core.
class IdleWaitReader final : public engine::PartitionReader {
 public:
  explicit IdleWaitReader(std::unique_ptr<engine::PartitionReader> inner) : inner_(std::move(inner)) {}
  base::Status Read(std::size_t max_events, int wait_ms, std::vector<engine::RawEvent>* out) override {
    VIGIL_RETURN_IF_ERROR(inner_->Read(max_events, wait_ms, out));
    if (out->empty() && wait_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    return base::Status::OK();
  }
  int64_t Lag() const override { return inner_->Lag(); }

 private:
  std::unique_ptr<engine::PartitionReader> inner_;
};

//! Passes assignments on, wrapping the event reader in IdleWaitReader.
class WrappingListener final : public engine::SourceListener {
 public:
  explicit WrappingListener(engine::SourceListener* inner) : inner_(inner) {}
  base::Result<engine::StartOffsets> PrepareAssign(int32_t partition) override {
    return inner_->PrepareAssign(partition);
  }
  base::Status Assigned(int32_t partition, std::unique_ptr<engine::PartitionReader> reader,
                        std::unique_ptr<engine::PartitionReader> labels) override {
    return inner_->Assigned(partition, std::make_unique<IdleWaitReader>(std::move(reader)),
                            std::move(labels));
  }
  base::Status Revoked(std::span<const int32_t> partitions) override { return inner_->Revoked(partitions); }

 private:
  engine::SourceListener* inner_;
};

//! A FileSource that never finishes: the runtime keeps its task (and its state) after the last line,
//! as a live Kafka pipeline does once it has caught up.
class LiveFileSource final : public engine::Source {
 public:
  explicit LiveFileSource(std::unique_ptr<connectors::FileSource> inner) : inner_(std::move(inner)) {}
  base::Status Start(engine::SourceListener* listener) override {
    listener_ = std::make_unique<WrappingListener>(listener);
    return inner_->Start(listener_.get());
  }
  base::Status Poll(int timeout_ms) override { return inner_->Poll(timeout_ms); }
  base::Status Commit(std::span<const engine::PartitionOffset> offsets) override {
    return inner_->Commit(offsets);
  }
  bool Finished() const override { return false; }
  base::Status Close() override { return inner_->Close(); }
  const std::string& name() const override { return inner_->name(); }

 private:
  std::unique_ptr<connectors::FileSource> inner_;
  std::unique_ptr<WrappingListener> listener_;
};

//! One keep-alive HTTP/1.1 connection, synchronous. Not thread-safe.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }
  //! Sends one request and reads the whole answer; returns its status, the body in `body`.
  int Send(http::verb method, const std::string& target, const std::string& payload, std::string* body) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    if (method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = payload;
      req.prepare_payload();
    }
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    if (body != nullptr) *body = std::move(res.body());
    return res.result_int();
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::vector<std::string_view> Lines(const std::string& text) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    pos = nl + 1;
  }
  return lines;
}

//! `n` request bodies from the last events of `lines` (cycled if there are fewer): every field as it
//! was, except event time (the file's latest + a minute + i ms) and the label id (fresh, unseen ids).
base::Result<std::vector<std::string>> ScoreBodies(const std::vector<std::string_view>& lines,
                                                   const config::PipelineSpec& spec, size_t n) {
  simdjson::dom::parser parser;
  int64_t last_time = INT64_MIN, last_id = 0;
  for (std::string_view line : lines) {
    simdjson::dom::element doc;
    if (parser.parse(line.data(), line.size()).get(doc)) continue;
    if (int64_t t = 0; !doc[spec.schema.event_time].get_int64().get(t)) last_time = std::max(last_time, t);
    if (int64_t id = 0; !doc[spec.labels.id].get_int64().get(id)) last_id = std::max(last_id, id);
  }
  if (last_time == INT64_MIN)
    return base::InvalidArgument("no event has an integer '" + spec.schema.event_time +
                                 "' (epoch ms expected)");
  const size_t take = std::min(n, lines.size());
  std::vector<std::string> bodies;
  bodies.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view line = lines[lines.size() - take + i % take];
    simdjson::dom::object event;
    if (parser.parse(line.data(), line.size()).get(event))
      return base::InvalidArgument("an event is not a JSON object");
    std::string body = "{";
    for (auto [key, value] : event) {
      if (body.size() > 1) body.push_back(',');
      body += "\"" + std::string(key) + "\":";
      if (key == spec.schema.event_time)
        body += std::to_string(last_time + kShiftMs + static_cast<int64_t>(i));
      else if (key == spec.labels.id)
        body += std::to_string(last_id + 1 + static_cast<int64_t>(i));
      else
        body += simdjson::minify(value);
    }
    body.push_back('}');
    bodies.push_back(std::move(body));
  }
  return bodies;
}

//! Sum of the samples of `name` in Prometheus text, or -1 when absent.
double MetricValue(const std::string& text, std::string_view name) {
  double total = -1;
  for (std::string_view line : Lines(text)) {
    if (line.substr(0, name.size()) != name || line.size() == name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    const size_t space = line.rfind(' ');
    total = std::max(total, 0.0) + std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
  }
  return total;
}

//! Latencies of one kind of request, in µs, and the status codes answered.
struct Series {
  std::vector<double> micros;
  std::vector<double> at;   //!< When each request started, seconds after `epoch`.
  Clock::time_point epoch;  //!< The start of the measurement.
  std::map<int, size_t> statuses;
};

double Percentile(const std::vector<double>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

//! How many requests took over 1 ms, and when the slowest ones started (commits, compactions and
//! scheduler stalls show up here rather than in the percentiles).
void PrintSlow(const char* what, const Series& s) {
  std::vector<size_t> slow;
  for (size_t i = 0; i < s.micros.size(); ++i)
    if (s.micros[i] > 1000) slow.push_back(i);
  std::printf("  %-16s %zu over 1 ms", what, slow.size());
  std::sort(slow.begin(), slow.end(), [&](size_t a, size_t b) { return s.micros[a] > s.micros[b]; });
  for (size_t j = 0; j < std::min<size_t>(slow.size(), 3); ++j)
    std::printf("%s %.1f ms at +%.3f s", j == 0 ? "; slowest:" : ",", s.micros[slow[j]] / 1000,
                s.at[slow[j]]);
  std::printf("\n");
}

void PrintRow(const char* what, Series s) {
  std::sort(s.micros.begin(), s.micros.end());
  double sum = 0;
  for (double v : s.micros) sum += v;
  std::printf("%-16s %7zu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", what, s.micros.size(),
              Percentile(s.micros, 0.5), Percentile(s.micros, 0.9), Percentile(s.micros, 0.99),
              Percentile(s.micros, 0.999), s.micros.back(), sum / static_cast<double>(s.micros.size()));
}

//! The pipeline under test: its Plan, a Runtime on its own thread, the HTTP server with the app's
//! routes. Stops all of it and removes its state directory when destroyed.
class LivePipeline {
 public:
  static base::Result<std::unique_ptr<LivePipeline>> Start(const Options& o) {
    std::unique_ptr<LivePipeline> p(new LivePipeline());
    VIGIL_ASSIGN_OR_RETURN(config::PipelineSpec spec, config::LoadPipelineFile(o.pipeline));
    if (spec.labels.enabled && o.labels.empty())
      return base::InvalidArgument("the pipeline joins labels: give LABELS");
    p->state_dir_ =
        std::filesystem::temp_directory_path() / ("vigil-score-api-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(p->state_dir_);
    spec.runtime.state_dir = p->state_dir_.string();
    spec.source.kind = config::SourceSpec::Kind::kFile;  // source.key still routes /v1/score requests
    spec.source.path = o.events;
    for (config::SinkSpec* sink : {&spec.output, &spec.dead_letter})
      if (sink->kind == config::SinkSpec::Kind::kKafka) sink->kind = config::SinkSpec::Kind::kNone;
    engine::OperatorRegistry registry;
    VIGIL_RETURN_IF_ERROR(operators::RegisterOperators(&registry));
    VIGIL_ASSIGN_OR_RETURN(auto file,
                           connectors::FileSource::Make(o.events, spec.labels.enabled ? o.labels : ""));
    const auto io = [&](const config::PipelineSpec& stage, const engine::Plan& plan) {
      return connectors::StageIoFrom(std::make_unique<LiveFileSource>(std::move(file)), stage, plan);
    };
    VIGIL_ASSIGN_OR_RETURN(p->pipeline_, engine::Pipeline::Build({spec}, registry, io));
    p->run_thread_ = std::thread([q = p.get()] {
      q->run_status_ = q->pipeline_->Run();
      q->run_done_ = true;
    });
    engine::HttpServerOptions http;
    http.bind_address = "127.0.0.1";
    http.port = 0;
    http.threads = spec.http.threads;
    VIGIL_ASSIGN_OR_RETURN(p->server_, engine::HttpServer::Start(http));
    app::RegisterRoutes(*p->server_, *p->pipeline_);
    return p;
  }

  ~LivePipeline() {
    if (server_) server_->Stop();
    if (pipeline_) pipeline_->RequestStop();
    if (run_thread_.joinable()) run_thread_.join();
    server_.reset();
    pipeline_.reset();
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }

  //! Returns once /metrics shows `events` read and then one more state commit done (that commit
  //! covers every event: a commit never overlaps a batch), or the runtime's error. Until then the
  //! runtime is not idle: the first commit after a backlog holds the task's lock while it writes the
  //! whole backlog's state, and score requests wait for it.
  base::Status WaitIdle(size_t events) {
    Client client(server_->port());
    const auto deadline = Clock::now() + kReplayTimeout;
    std::string text;
    double commits_when_read = -1;
    while (Clock::now() < deadline) {
      if (run_done_) return run_status_.ok() ? base::Internal("the runtime stopped early") : run_status_;
      if (client.Send(http::verb::get, "/metrics", "", &text) == 200) {
        const double commits = MetricValue(text, "vigil_commit_latency_seconds_count");
        if (commits_when_read < 0 &&
            MetricValue(text, "vigil_events_in_total") >= static_cast<double>(events))
          commits_when_read = commits;
        if (commits_when_read >= 0 && commits > commits_when_read) return base::Status::OK();
      }
      std::this_thread::sleep_for(kMetricsPoll);
    }
    return base::Unavailable("the runtime did not read and commit every event in time");
  }

  uint16_t port() const { return server_->port(); }
  engine::Runtime* runtime() const { return &pipeline_->runtime(0); }
  const config::PipelineSpec& spec() const { return pipeline_->plan(0).spec(); }

 private:
  LivePipeline() = default;

  std::filesystem::path state_dir_;
  std::unique_ptr<engine::Pipeline> pipeline_;
  std::thread run_thread_;
  std::atomic<bool> run_done_{false};
  base::Status run_status_;
  std::unique_ptr<engine::HttpServer> server_;
};

//! One request's wall time (write + whole response read), added to `s`; the answer in `body`.
void Timed(Client& client, http::verb method, const std::string& target, const std::string& payload,
           Series* s, std::string* body) {
  const auto start = Clock::now();
  const int status = client.Send(method, target, payload, body);
  s->micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  s->at.push_back(std::chrono::duration<double>(start - s->epoch).count());
  ++s->statuses[status];
}

//! Warm-up (unrecorded but its statuses kept in `warm`), then `rounds` rounds of score then healthz.
void Measure(Client& client, const std::vector<std::string>& bodies, const Options& o, Series* score,
             Series* healthz, Series* warm, std::string* sample) {
  std::string body;
  Series discard;
  for (size_t i = 0; i < o.warmup; ++i) {
    Timed(client, http::verb::post, "/v1/score", bodies[i % bodies.size()], warm, &body);
    Timed(client, http::verb::get, "/healthz", "", &discard, nullptr);
  }
  for (size_t r = 0; r < o.rounds; ++r) {
    const size_t begin = o.requests * r / o.rounds, end = o.requests * (r + 1) / o.rounds;
    for (size_t i = begin; i < end; ++i) {
      Timed(client, http::verb::post, "/v1/score", bodies[i], score, &body);
      if (sample->empty() && score->statuses.count(200) == 1) *sample = body;
    }
    for (size_t i = begin; i < end; ++i) Timed(client, http::verb::get, "/healthz", "", healthz, nullptr);
  }
}

//! The same score requests without HTTP: the key's JSON parse, its partition and Runtime::Query, timed
//! in process (statuses: 200 when the event was scored, 422 rejected, 500 an error). What the HTTP path
//! adds to it is the transport, the request's parsing and routing, and the answer's encoding.
Series MeasureInProcess(engine::Runtime* runtime, const config::PipelineSpec& spec,
                        const std::vector<std::string>& bodies) {
  Series s;
  s.epoch = Clock::now();
  simdjson::dom::parser parser;
  engine::BatchMode mode;
  mode.read_only = true;
  for (const std::string& body : bodies) {
    const auto start = Clock::now();
    std::string key;
    simdjson::dom::element doc, value;
    if (!parser.parse(body).get(doc) && !doc[spec.source.key].get(value)) {
      if (int64_t i = 0; !value.get_int64().get(i))
        key = std::to_string(i);
      else if (std::string_view v; !value.get_string().get(v))
        key = v;
    }
    bool live = false;
    auto partition = runtime->PartitionFor(key);
    const base::Status st =
        partition.ok() ? runtime->Query(*partition, body, mode,
                                        [&](const engine::Batch& b, size_t row) { live = b.live(row); })
                       : partition.status();
    s.micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    s.at.push_back(std::chrono::duration<double>(start - s.epoch).count());
    ++s.statuses[!st.ok() ? 500 : live ? 200 : 422];
  }
  return s;
}

void PrintStatuses(const char* what, const Series& s) {
  std::printf("  %-16s", what);
  for (const auto& [status, n] : s.statuses) std::printf(" %d x%zu", status, n);
  std::printf("\n");
}

bool AllOk(const Series& s) { return s.statuses.size() == 1 && s.statuses.count(200) == 1; }

base::Result<Options> ParseArgs(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](size_t* out) -> base::Status {
      if (i + 1 >= argc) return base::InvalidArgument(a + " needs a value");
      *out = std::strtoull(argv[++i], nullptr, 10);
      return base::Status::OK();
    };
    if (a == "--requests")
      VIGIL_RETURN_IF_ERROR(number(&o.requests));
    else if (a == "--warmup")
      VIGIL_RETURN_IF_ERROR(number(&o.warmup));
    else if (a == "--rounds")
      VIGIL_RETURN_IF_ERROR(number(&o.rounds));
    else if (!a.empty() && a[0] == '-')
      return base::InvalidArgument("unknown option " + a);
    else
      positional.push_back(a);
  }
  if (positional.size() < 2 || positional.size() > 3)
    return base::InvalidArgument("expected PIPELINE EVENTS [LABELS]");
  if (o.requests == 0 || o.rounds == 0 || o.rounds > o.requests)
    return base::InvalidArgument("bad --requests/--rounds");
  o.pipeline = positional[0];
  o.events = positional[1];
  if (positional.size() == 3) o.labels = positional[2];
  return o;
}

int Run(const Options& o) {
  auto text = base::ReadFile(o.events);
  if (!text.ok()) return std::fprintf(stderr, "error: %s\n", text.status().message().c_str()), 2;
  const std::vector<std::string_view> lines = Lines(*text);
  const auto started = Clock::now();
  auto pipeline = LivePipeline::Start(o);
  if (!pipeline.ok()) return std::fprintf(stderr, "error: %s\n", pipeline.status().message().c_str()), 2;
  if (base::Status st = (*pipeline)->WaitIdle(lines.size()); !st.ok())
    return std::fprintf(stderr, "error: %s\n", st.ToString().c_str()), 1;
  const double replay_s = std::chrono::duration<double>(Clock::now() - started).count();
  auto bodies = ScoreBodies(lines, (*pipeline)->spec(), o.requests);
  if (!bodies.ok()) return std::fprintf(stderr, "error: %s\n", bodies.status().message().c_str()), 2;

  Series score, healthz, warm;
  std::string sample;
  Client client((*pipeline)->port());
  score.epoch = healthz.epoch = warm.epoch = Clock::now();
  Measure(client, *bodies, o, &score, &healthz, &warm, &sample);
  const Series direct = MeasureInProcess((*pipeline)->runtime(), (*pipeline)->spec(), *bodies);

  const auto& spec = (*pipeline)->spec();
  std::printf(
      "pipeline %s: %zu events (and their labels) read and committed in %.1f s; runtime idle, %d workers, "
      "%d HTTP threads\n",
      spec.name.c_str(), lines.size(), replay_s, spec.runtime.workers, spec.http.threads);
  std::printf(
      "%zu POST /v1/score and %zu GET /healthz, sequential, one keep-alive connection to 127.0.0.1:%u\n"
      "(after %zu unrecorded requests of each; %zu alternating rounds)\n\n",
      o.requests, o.requests, (*pipeline)->port(), o.warmup, o.rounds);
  std::printf("%-16s %7s %9s %9s %9s %9s %9s %9s   (µs)\n", "", "count", "p50", "p90", "p99", "p99.9", "max",
              "mean");
  PrintRow("GET /healthz", healthz);
  PrintRow("POST /v1/score", score);
  PrintRow("in-process query", direct);
  std::printf("slow requests (the measurement lasted %.1f s):\n",
              std::chrono::duration<double>(Clock::now() - score.epoch).count());
  PrintSlow("GET /healthz", healthz);
  PrintSlow("POST /v1/score", score);
  PrintSlow("in-process query", direct);
  std::sort(score.micros.begin(), score.micros.end());
  std::sort(healthz.micros.begin(), healthz.micros.end());
  const double ratio = Percentile(score.micros, 0.5) / Percentile(healthz.micros, 0.5);
  std::printf("\np50(score) / p50(healthz): %.2fx\n", ratio);
  std::printf("status codes:\n");
  PrintStatuses("POST /v1/score", score);
  PrintStatuses("GET /healthz", healthz);
  if (!warm.statuses.empty()) PrintStatuses("(warm-up score)", warm);
  PrintStatuses("in-process query", direct);
  if (!sample.empty()) std::printf("a score answer: %s\n", sample.c_str());
  if (!AllOk(score) || !AllOk(warm) || !AllOk(healthz) || !AllOk(direct)) {
    std::fprintf(stderr,
                 "error: some answers were not 200; the figures above are not latencies of scoring\n");
    return 1;
  }
  // One line for scripts that compare runs.
  std::printf(
      "summary: score_p50_us=%.1f score_p99_us=%.1f score_p999_us=%.1f healthz_p50_us=%.1f "
      "healthz_p99_us=%.1f ratio_p50=%.2f\n",
      Percentile(score.micros, 0.5), Percentile(score.micros, 0.99), Percentile(score.micros, 0.999),
      Percentile(healthz.micros, 0.5), Percentile(healthz.micros, 0.99), ratio);
  return 0;
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  auto options = vigil::bench::ParseArgs(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr,
                 "error: %s\nusage: score_api_bench PIPELINE.yaml EVENTS.jsonl [LABELS.jsonl] [--requests N] "
                 "[--warmup N] [--rounds N]\n",
                 options.status().message().c_str());
    return 2;
  }
  try {
    return vigil::bench::Run(*options);
  } catch (const std::exception& e) {  // Boost.Beast's synchronous calls throw on I/O errors
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
