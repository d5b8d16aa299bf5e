#pragma once
// Pipeline: a pipeline's stages (engine/stages.h; one unless it repartitions), each bound into its
// Plan, its EngineProbe and a Runtime over the I/O the caller makes for it, and run together. The
// runtimes' tasks share one memory budget (runtime.memory, engine/memory_budget.h).
// `vigil run`, `vigil replay`, the benchmarks and the runtime tests all assemble their runtimes here.
//
// Lifecycle: Build → (stages read through plan()/runtime(), e.g. by the HTTP routes) → Run (blocks)
// → destroyed (the runtimes first, then the plans and probes they use). RequestStop may be called from
// any thread or a signal handler.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/pipeline_config.h"
#include "engine/engine_probe.h"
#include "engine/io.h"
#include "engine/operator_registry.h"
#include "engine/plan.h"
#include "engine/runtime.h"

namespace vigil::engine {

//! What one stage reads and writes.
struct StageIo {
  StageIo() = default;
  StageIo(std::unique_ptr<Source> source, std::unique_ptr<Sink> output, std::unique_ptr<Sink> dead_letter,
          std::unique_ptr<Changelog> changelog = nullptr, bool exactly_once = false)
      : source(std::move(source)),
        output(std::move(output)),
        dead_letter(std::move(dead_letter)),
        changelog(std::move(changelog)),
        exactly_once(exactly_once) {}

  std::unique_ptr<Source> source;
  std::unique_ptr<Sink> output;          //!< Null: the output is dropped (kind none).
  std::unique_ptr<Sink> dead_letter;     //!< Null: dead letters are dropped (kind none).
  std::unique_ptr<Changelog> changelog;  //!< Null: the stores are local only.
  std::unique_ptr<Sink> side_output;     //!< Null: side records are dropped (Runtime::set_side_output).
  bool exactly_once = false;             //!< The source commits a transaction (see engine/runtime.h).
};

//! Makes the I/O of `stage`, whose plan is `plan` (its output encoder gives a CSV sink's header).
//! Called once per stage, in data order, after the stage's plan is bound.
using MakeStageIo = std::function<base::Result<StageIo>(const config::PipelineSpec& stage, const Plan& plan)>;

//! How the stages are built and run; each option's default is what a test or replay wants.
struct PipelineOptions {
  //! Where the probes register their metrics; null (default): a new registry shared by the stages.
  std::shared_ptr<prometheus::Registry> metrics;
  //! The operators that export metrics of their own (score monitoring, rollout) register them in
  //! `metrics` too, as `vigil run` does. Default false: none (replays, tests, benchmarks).
  bool operator_metrics = false;
  //! Runtime::set_idle_exit_ms of every stage: ms without events before Run returns. 0 (default):
  //! never.
  int64_t idle_exit_ms = 0;
  //! Runtime::set_progress of the last stage: one progress line every `progress_ms` ms with what
  //! `progress_note` returns. 0 (default): none.
  int64_t progress_ms = 0;
  std::function<std::string()> progress_note;
  //! Runtime::set_event_time_alignment of every stage, in ms. Unset (default): StageAlignmentMs of
  //! the stages (off for the last stage, hence for a pipeline of one stage).
  std::optional<int64_t> event_time_alignment_ms;
  //! Logs (info) each stage's delivery guarantee and event-time alignment. Default false.
  bool log_stages = false;
  //! Runtime::set_discard_state of every stage: the stores are scratch, thrown away after the run (a
  //! replay): no final commit writes them. Default false.
  bool discard_state = false;
};

//! Owns every stage's plan, probe and runtime. Not copyable; the accessors are thread-safe once built.
class Pipeline {
 public:
  //! Binds `stages` (in data order, at least one) with `registry`'s operators, and makes each stage's
  //! runtime over the I/O `make_io` returns. The first error is returned as it is: a plan's (located
  //! in the file), then `make_io`'s. Without `make_io` (null) the stages are only bound, with no
  //! runtime: for driving a stage's Task directly (Task::Open with plan() and probe()).
  static base::Result<std::unique_ptr<Pipeline>> Build(std::vector<config::PipelineSpec> stages,
                                                       const OperatorRegistry& registry,
                                                       const MakeStageIo& make_io,
                                                       PipelineOptions options = {});
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  //! Runs every stage's runtime (each on a thread of its own when there are several) until all have
  //! returned; the first error stops the others and is returned. Once; needs the runtimes.
  base::Status Run();
  //! Asks every stage's Run to finish (Runtime::RequestStop). Async-signal-safe.
  void RequestStop();
  //! The pipeline's counts: events read by the first stage, written by the last; dead letters and
  //! commits of every stage.
  RunSummary summary() const;

  //! The number of stages.
  size_t size() const { return plans_.size(); }
  const Plan& plan(size_t stage) const { return *plans_[stage]; }
  EngineProbe& probe(size_t stage) const { return *probes_[stage]; }
  //! The stage's runtime; only when built with a `make_io`.
  Runtime& runtime(size_t stage) const { return *runtimes_[stage]; }
  const Plan& last_plan() const { return *plans_.back(); }
  //! Where the probes (and the operators, with operator_metrics) register their metrics.
  const std::shared_ptr<prometheus::Registry>& metrics() const { return metrics_; }

 private:
  Pipeline() = default;

  std::shared_ptr<prometheus::Registry> metrics_;
  std::vector<std::unique_ptr<const Plan>> plans_;
  std::vector<std::unique_ptr<EngineProbe>> probes_;
  std::unique_ptr<MemoryBudget> memory_;            //!< Shared by the runtimes' tasks (runtime.memory).
  std::vector<std::unique_ptr<Runtime>> runtimes_;  // declared last: destroyed before what it uses
};

}  // namespace vigil::engine
