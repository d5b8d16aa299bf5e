#include "engine/pipeline.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <thread>

#include "engine/stages.h"

namespace vigil::engine {

base::Result<std::unique_ptr<Pipeline>> Pipeline::Build(std::vector<config::PipelineSpec> stages,
                                                        const OperatorRegistry& registry,
                                                        const MakeStageIo& make_io, PipelineOptions options) {
  if (stages.empty()) return base::InvalidArgument("a pipeline needs a stage");
  std::unique_ptr<Pipeline> p(new Pipeline());
  p->metrics_ = options.metrics ? std::move(options.metrics) : NewMetricsRegistry();
  // One memory budget (runtime.memory) for the state of every stage's tasks.
  if (make_io) {
    VIGIL_ASSIGN_OR_RETURN(p->memory_, MemoryBudget::Make(stages.front().runtime.memory_bytes));
  }
  // Stage by stage, as `vigil run` always has: a stage's I/O exists before the next stage binds.
  for (size_t s = 0; s < stages.size(); ++s) {
    const config::PipelineSpec& stage = stages[s];
    VIGIL_ASSIGN_OR_RETURN(auto plan,
                           Plan::Build(stage, registry, options.operator_metrics ? p->metrics_ : nullptr));
    p->plans_.push_back(std::move(plan));
    p->probes_.push_back(std::make_unique<EngineProbe>(p->metrics_, stage.name));
    if (!make_io) continue;
    VIGIL_ASSIGN_OR_RETURN(StageIo io, make_io(stage, *p->plans_.back()));
    VIGIL_ASSIGN_OR_RETURN(auto runtime,
                           Runtime::Make(*p->plans_.back(), std::move(io.source), std::move(io.output),
                                         std::move(io.dead_letter), p->probes_.back().get()));
    runtime->set_changelog(std::move(io.changelog), io.exactly_once);
    runtime->set_side_output(std::move(io.side_output));
    runtime->set_memory_budget(p->memory_.get());
    if (options.log_stages)
      spdlog::info("{}: {}{}", stage.name, io.exactly_once ? "exactly-once" : "at-least-once",
                   runtime->has_changelog() ? ", state backed by a changelog topic" : "");
    runtime->set_idle_exit_ms(options.idle_exit_ms);
    runtime->set_discard_state(options.discard_state);
    if (s + 1 == stages.size()) runtime->set_progress(options.progress_ms, options.progress_note);
    const int64_t align = options.event_time_alignment_ms.value_or(StageAlignmentMs(stages, s));
    if (align >= 0) {
      runtime->set_event_time_alignment(align);
      if (options.log_stages)
        spdlog::info("{}: partitions kept within {} ms of event time of each other", stage.name, align);
    }
    p->runtimes_.push_back(std::move(runtime));
  }
  return p;
}

Pipeline::~Pipeline() = default;

base::Status Pipeline::Run() {
  if (runtimes_.empty()) return base::FailedPrecondition("the pipeline was built without I/O");
  if (runtimes_.size() == 1) return runtimes_.front()->Run();
  std::mutex mu;
  base::Status first_error;
  std::vector<std::thread> threads;
  for (auto& rt : runtimes_) {
    threads.emplace_back([&, runtime = rt.get()] {
      base::Status st = runtime->Run();
      if (st.ok()) return;
      std::lock_guard lock(mu);
      if (first_error.ok()) first_error = std::move(st);
      RequestStop();
    });
  }
  for (auto& t : threads) t.join();
  return first_error;
}

void Pipeline::RequestStop() {
  for (auto& rt : runtimes_) rt->RequestStop();
}

RunSummary Pipeline::summary() const {
  RunSummary s;
  if (runtimes_.empty()) return s;
  s.events_in = runtimes_.front()->summary().events_in;
  s.events_out = runtimes_.back()->summary().events_out;
  for (const auto& rt : runtimes_) {
    s.dead_letters += rt->summary().dead_letters;
    s.commits += rt->summary().commits;
  }
  return s;
}

}  // namespace vigil::engine
