#include "engine/runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace vigil::engine {

void PauseGate::Enter() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !paused_; });
  ++active_;
}

void PauseGate::Leave() {
  std::lock_guard lock(mu_);
  if (--active_ == 0 && paused_) cv_.notify_all();
}

void PauseGate::Pause(const std::function<void()>& wake) {
  std::unique_lock lock(mu_);
  paused_ = true;
  if (wake) {  // after the gate closed: a woken worker cannot start another read
    lock.unlock();
    wake();
    lock.lock();
  }
  cv_.wait(lock, [&] { return active_ == 0; });
}

void PauseGate::Resume() {
  std::lock_guard lock(mu_);
  paused_ = false;
  cv_.notify_all();
}

Runtime::Runtime(const Plan& plan, std::unique_ptr<Source> source, std::unique_ptr<Sink> output,
                 std::unique_ptr<Sink> dead_letter, EngineProbe* probe)
    : plan_(plan),
      source_(std::move(source)),
      output_(std::move(output)),
      dead_letter_(std::move(dead_letter)),
      probe_(probe) {
  if (output_) sinks_.push_back({output_.get(), "output sink"});
  if (dead_letter_) sinks_.push_back({dead_letter_.get(), "dead-letter sink"});
}

void Runtime::set_side_output(std::unique_ptr<Sink> side_output) {
  side_output_ = std::move(side_output);
  if (side_output_) sinks_.push_back({side_output_.get(), "side output sink"});
}

Runtime::~Runtime() {
  while (!restores_.empty()) StopRestore(restores_.begin()->first);
  {
    std::unique_lock lock(tasks_mu_);
    for (auto& [p, task] : tasks_) WaitUnpinned(lock, task);
  }
  workers_stop_ = true;
  gate_.Resume();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  // A source still open here (Run failed or never ran) revokes its partitions as it closes: drop
  // them uncommitted, while the sinks and tasks still exist.
  failed_ = true;
  source_.reset();
}

base::Result<std::unique_ptr<Runtime>> Runtime::Make(const Plan& plan, std::unique_ptr<Source> source,
                                                     std::unique_ptr<Sink> output,
                                                     std::unique_ptr<Sink> dead_letter, EngineProbe* probe) {
  if (!source) return base::InvalidArgument("runtime needs a source");
  std::unique_ptr<Runtime> runtime(
      new Runtime(plan, std::move(source), std::move(output), std::move(dead_letter), probe));
  VIGIL_ASSIGN_OR_RETURN(runtime->own_memory_, MemoryBudget::Make(plan.spec().runtime.memory_bytes));
  runtime->memory_ = runtime->own_memory_.get();
  return runtime;
}

void Runtime::Fail(base::Status status) {
  std::lock_guard lock(error_mu_);
  if (error_.ok()) {
    spdlog::error("pipeline failed: {}", status.ToString());
    error_ = std::move(status);
  }
  failed_ = true;
  stop_ = true;
}

namespace {
constexpr int kMaxIdleSleepMs = 2;  // a worker with several tasks and nothing to do polls this often
}  // namespace

void Runtime::WorkerLoop(int worker) {
  const auto& batch = plan_.spec().batch;
  int idle_sleep_ms = 1;
  while (!workers_stop_.load(std::memory_order_relaxed)) {
    gate_.Enter();
    if (workers_stop_.load(std::memory_order_relaxed)) {  // stopped while this worker waited to enter
      gate_.Leave();
      break;
    }
    const std::vector<Task*>& mine = worker_tasks_[static_cast<size_t>(worker)];
    // A worker with one task blocks in the read (the batch's max wait); with several it polls each.
    const int wait_ms = mine.size() == 1 ? batch.max_wait_ms : 0;
    size_t read = 0;
    bool held = false;
    for (Task* task : mine) {
      if (task->restoring() || (align_ms_ >= 0 && AheadOfOthers(*task))) {
        held = true;
        continue;
      }
      auto n =
          task->RunOnce(batch.max_events, wait_ms, output_.get(), dead_letter_.get(), side_output_.get());
      if (!n.ok()) {
        Fail(n.status().WithContext("partition " + std::to_string(task->partition())));
        break;
      }
      read += *n;
    }
    if (read > 0) events_seen_.fetch_add(read, std::memory_order_relaxed);
    const bool had_tasks = !mine.empty();
    gate_.Leave();
    if (failed_) return;
    if (read == 0 && (!had_tasks || wait_ms == 0 || held)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(idle_sleep_ms));
      // Short: an event that arrives meanwhile waits this long (a worker with one task blocks in
      // its read instead, and wakes at the event).
      idle_sleep_ms = std::min({idle_sleep_ms * 2, kMaxIdleSleepMs, std::max(1, batch.max_wait_ms)});
    } else {
      idle_sleep_ms = 1;
    }
  }
}

void Runtime::WakeReaders() {
  for (auto& [partition, task] : tasks_) task->WakeReader();
}

bool Runtime::AheadOfOthers(const Task& task) const {
  // The lists only change while every worker is paused at the gate.
  const int64_t mine = task.event_time();
  if (mine == INT64_MIN || task.idle()) return false;
  if (starting_.load(std::memory_order_relaxed) > 0)
    return true;  // partitions of this assignment still to come
  for (const auto& list : worker_tasks_) {
    for (const Task* other : list) {
      if (other == &task || other->idle()) continue;
      const int64_t theirs = other->pending_from();  // what they may still write
      if (theirs == INT64_MIN || mine - theirs > align_ms_) return true;
    }
  }
  return false;
}

void Runtime::RebuildWorkerLists() {
  for (auto& list : worker_tasks_) list.clear();
  size_t i = 0;
  for (auto& [partition, task] : tasks_) worker_tasks_[i++ % worker_tasks_.size()].push_back(task.get());
  probe_->SetAssigned(static_cast<int>(tasks_.size()));
}

base::Status Runtime::FlushSinks() {
  constexpr int kFlushTimeoutMs = 60'000;
  for (const NamedSink& s : sinks_) VIGIL_RETURN_IF_ERROR(s.sink->Flush(kFlushTimeoutMs).WithContext(s.what));
  return base::Status::OK();
}

base::Status Runtime::CommitPaused(std::span<Task* const> tasks) {
  const auto start = std::chrono::steady_clock::now();
  constexpr int kFlushTimeoutMs = 60'000;
  std::vector<Task*> all;
  if (tasks.empty()) {
    all = CommittableTasks();
    tasks = all;
  }
  if (!exactly_once_) {
    // Every output and dead letter of the processed offsets is delivered before the changelog gets
    // the checkpoint: once a restore can see the checkpoint, the decisions below it exist. A failed
    // delivery fails the commit here, with nothing staged, appended or committed.
    for (const NamedSink& s : sinks_)
      VIGIL_RETURN_IF_ERROR(s.sink->Flush(kFlushTimeoutMs).WithContext(s.what));
  }
  std::vector<PartitionOffset> offsets;
  for (Task* task : tasks) {
    VIGIL_RETURN_IF_ERROR(task->StageState(changelog_.get()));
    if (task->next_offset() >= 0 || task->label_next_offset() >= 0)
      offsets.push_back({task->partition(), task->next_offset(), task->label_next_offset()});
  }
  if (exactly_once_) {
    // One transaction: the sinks and the changelog are flushed by the source's commit.
    VIGIL_RETURN_IF_ERROR(source_->Commit(offsets));
    for (Task* task : tasks) VIGIL_RETURN_IF_ERROR(task->ApplyState(changelog_.get()));
  } else {
    if (changelog_) VIGIL_RETURN_IF_ERROR(changelog_->Flush(kFlushTimeoutMs).WithContext("changelog"));
    for (Task* task : tasks) VIGIL_RETURN_IF_ERROR(task->ApplyState(changelog_.get()));
    if (!offsets.empty()) VIGIL_RETURN_IF_ERROR(source_->Commit(offsets));
  }
  ++commits_;
  probe_->Committed(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return base::Status::OK();
}

base::Status Runtime::Commit() {
  const auto start = std::chrono::steady_clock::now();
  // A worker with one task blocks in its read (up to batch.max_wait) inside the gate: woken, it
  // leaves at once rather than holding the commit until an event or its timeout.
  gate_.Pause([this] { WakeReaders(); });
  // The workers stop only while the tasks' state is staged in memory and the sinks mark what they
  // wrote so far (at-least-once: the commit waits for those deliveries only, the workers' newer
  // records go out at once) or, under exactly-once, start holding their new records back for the
  // next transaction; the commit's I/O (deliveries, the transaction, the store writes) then runs
  // while they go on. Sinks that can do neither keep the workers paused throughout.
  bool marked = !exactly_once_;
  for (const NamedSink& s : sinks_) marked = marked && s.sink->Mark();
  bool held = true;
  if (!marked)
    for (const NamedSink& s : sinks_) held = s.sink->Hold() && held;
  if (!held) {
    for (const NamedSink& s : sinks_) (void)s.sink->Release();
    base::Status st = CommitPaused({});
    probe_->CommitPaused(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    gate_.Resume();
    return st;
  }
  const std::vector<Task*> tasks = CommittableTasks();
  std::vector<PartitionOffset> offsets;
  base::Status st;
  for (Task* task : tasks) {
    if (st.ok()) st = task->StageState(nullptr);
    if (task->next_offset() >= 0 || task->label_next_offset() >= 0)
      offsets.push_back({task->partition(), task->next_offset(), task->label_next_offset()});
  }
  gate_.Resume();
  probe_->CommitPaused(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (st.ok()) st = CommitStaged(tasks, offsets, marked);
  // A failed commit fails the pipeline: the held records' events are read again after a restart.
  for (const NamedSink& s : sinks_)
    if (base::Status released = s.sink->Release(st.ok()); st.ok()) st = released.WithContext(s.what);
  // The next commit's expiry sweeps read the store now, while the workers run.
  for (Task* task : tasks)
    if (st.ok()) st = task->ScanExpired();
  if (!st.ok()) return st;
  ++commits_;
  probe_->Committed(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return base::Status::OK();
}

base::Status Runtime::CommitStaged(std::span<Task* const> tasks, std::span<const PartitionOffset> offsets,
                                   bool marked) {
  constexpr int kFlushTimeoutMs = 60'000;
  if (exactly_once_) {
    // The changes join the open transaction, which holds every output up to the staging (the
    // workers' newer ones are held); the source's commit delivers and commits all of it.
    for (Task* task : tasks) VIGIL_RETURN_IF_ERROR(task->AppendStaged(changelog_.get()));
    VIGIL_RETURN_IF_ERROR(source_->Commit(offsets));
    for (const NamedSink& s : sinks_) VIGIL_RETURN_IF_ERROR(s.sink->Release().WithContext(s.what));
    for (Task* task : tasks) VIGIL_RETURN_IF_ERROR(task->ApplyState(changelog_.get()));
    return base::Status::OK();
  }
  // At-least-once, in CommitPaused's order: the outputs of the staged offsets are delivered before
  // the changelog gets their checkpoint. Only those are waited for: the sinks marked them (the
  // workers' newer records are queued meanwhile), or else held the newer ones back.
  const auto flush = [marked](Sink& sink) {
    return marked ? sink.FlushMarked(kFlushTimeoutMs) : sink.Flush(kFlushTimeoutMs);
  };
  for (const NamedSink& s : sinks_) VIGIL_RETURN_IF_ERROR(flush(*s.sink).WithContext(s.what));
  if (changelog_) {
    for (Task* task : tasks) VIGIL_RETURN_IF_ERROR(task->AppendStaged(changelog_.get()));
    VIGIL_RETURN_IF_ERROR(changelog_->FlushAppended(kFlushTimeoutMs).WithContext("changelog"));
  }
  // Everything below the staged offsets is delivered: the held records may go.
  for (const NamedSink& s : sinks_) VIGIL_RETURN_IF_ERROR(s.sink->Release().WithContext(s.what));
  for (Task* task : tasks) VIGIL_RETURN_IF_ERROR(task->ApplyState(changelog_.get()));
  if (!offsets.empty()) VIGIL_RETURN_IF_ERROR(source_->Commit(offsets));
  return base::Status::OK();
}

void Runtime::PublishMetrics() {
  uint64_t cached = 0, stored = 0;
  CacheStats cache;
  for (Task* task : CommittableTasks()) {  // a restoring task's states are being rebuilt
    const int32_t p = task->partition();
    cached += task->cached_keys();
    stored += task->stored_keys();
    const CacheStats c = task->cache_stats();
    cache.hits += c.hits;
    cache.misses += c.misses;
    probe_->Expired(task->TakeExpired());
    if (const int64_t lag = task->lag(); lag >= 0) probe_->SetLag(p, lag);
  }
  const uint64_t lookups = cache.hits + cache.misses;
  probe_->SetState(cached, stored,
                   lookups ? static_cast<double>(cache.hits) / static_cast<double>(lookups) : 1.0);
  probe_->SetMemory(memory_->Usage(), *memory_);
}

void Runtime::LogProgress(std::chrono::steady_clock::time_point now) {
  if (progress_ms_ <= 0) return;
  const uint64_t events = events_seen_.load(std::memory_order_relaxed);
  if (last_progress_log_ == std::chrono::steady_clock::time_point{}) {
    last_progress_log_ = now;
    events_at_last_progress_ = events;
    return;
  }
  const double seconds = std::chrono::duration<double>(now - last_progress_log_).count();
  if (seconds * 1000 < static_cast<double>(progress_ms_)) return;
  int64_t lag = 0;
  for (auto& [p, task] : tasks_) lag += std::max<int64_t>(0, task->lag());
  const std::string note = progress_note_ ? progress_note_() : std::string();
  spdlog::info("{}: {:.0f} events/s, lag {} events, {} partitions{}{}", plan_.spec().name,
               static_cast<double>(events - events_at_last_progress_) / seconds, lag, tasks_.size(),
               note.empty() ? "" : ", ", note);
  last_progress_log_ = now;
  events_at_last_progress_ = events;
}

base::Status Runtime::Run() {
  const auto& spec = plan_.spec();
  worker_tasks_.assign(static_cast<size_t>(spec.runtime.workers), {});
  VIGIL_RETURN_IF_ERROR(source_->Start(this));
  for (int w = 0; w < spec.runtime.workers; ++w) workers_.emplace_back([this, w] { WorkerLoop(w); });
  ready_ = true;
  const auto interval = std::chrono::milliseconds(spec.runtime.commit_interval_ms);
  auto next_commit = std::chrono::steady_clock::now() + interval;
  uint64_t last_seen = 0;
  int rewinds_in_a_row = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    // Up to 50 ms, but not past the next commit's time: it starts on time.
    const auto until_commit =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_commit - std::chrono::steady_clock::now());
    const int poll_ms = static_cast<int>(std::clamp<int64_t>(until_commit.count(), 0, 50));
    if (base::Status st = source_->Poll(poll_ms); !st.ok()) {
      Fail(st);
      break;
    }
    if (source_->Finished()) break;
    const auto now = std::chrono::steady_clock::now();
    if (const uint64_t seen = events_seen_.load(std::memory_order_relaxed);
        seen != last_seen || restoring_.load(std::memory_order_relaxed) > 0) {  // a restore is not idle
      last_seen = seen;
      last_progress = now;
    } else if (idle_exit_ms_ > 0 && now - last_progress > std::chrono::milliseconds(idle_exit_ms_)) {
      spdlog::info("no event for {} ms; stopping", idle_exit_ms_);
      break;
    }
    if (const auto began = std::chrono::steady_clock::now(); began >= next_commit) {
      if (base::Status st = Commit(); !st.ok()) {
        // A refusal that comes back commit after commit is not a rebalance passing by: stop.
        constexpr int kMaxRewindsInARow = 5;
        if (st.code() == base::StatusCode::kAborted && ++rewinds_in_a_row <= kMaxRewindsInARow)
          st = Rewind(st);
        else if (st.code() == base::StatusCode::kAborted)
          st = st.WithContext(std::to_string(kMaxRewindsInARow) + " commits in a row refused");
        if (!st.ok()) {
          Fail(st);
          break;
        }
      } else {
        rewinds_in_a_row = 0;
      }
      PublishMetrics();
      LogProgress(std::chrono::steady_clock::now());
      // Commits start an interval apart, not an interval after the last one ended: a decision held
      // for the next transaction while one commits then waits about the interval plus that commit,
      // not the interval plus two commits. A commit longer than the interval leaves the workers a
      // quarter interval before the next.
      next_commit = std::max(began + interval, std::chrono::steady_clock::now() + interval / 4);
    }
  }
  ready_ = false;
  gate_.Pause([this] { WakeReaders(); });  // drain: the batches in flight finish, without a read's wait
  workers_stop_ = true;
  if (!failed_) {
    base::Status st = discard_state_ ? FlushSinks() : CommitPaused({});
    if (st.code() == base::StatusCode::kAborted) {
      // The group moved on meanwhile: whoever owns the partitions now reads this work again. The
      // tasks go uncommitted, so that the source's close does not stage them twice.
      spdlog::warn("{}: the last commit was refused ({}); its work is read again from the commit before",
                   plan_.spec().name, st.message());
      if (st = DropUncommitted(OwnedPartitions()); !st.ok()) Fail(st);
    } else if (!st.ok()) {
      Fail(st);
    }
  }
  PublishMetrics();
  gate_.Resume();
  for (auto& w : workers_) w.join();
  workers_.clear();
  closing_ = true;  // an assignment the source's close delivers starts no restore
  while (!restores_.empty()) StopRestore(restores_.begin()->first);  // unfinished: nothing to commit
  if (!failed_) {
    if (base::Status st = source_->Close(); !st.ok()) Fail(st);
  }
  for (auto& [p, task] : tasks_) (void)task->Close();
  for (const NamedSink& s : sinks_) (void)s.sink->Close();
  std::lock_guard lock(error_mu_);
  return error_;
}

base::Status Runtime::Query(int32_t partition, std::string_view event, const BatchMode& mode,
                            const std::function<void(const Batch&, size_t row)>& fn) {
  std::shared_ptr<Task> task;
  {
    std::lock_guard lock(tasks_mu_);
    auto it = tasks_.find(partition);
    if (it == tasks_.end())
      return base::Unavailable("partition " + std::to_string(partition) +
                               " is not assigned to this instance");
    task = it->second;
  }
  base::Status st = task->Query(event, mode, fn);
  {
    std::lock_guard lock(tasks_mu_);
    task.reset();
  }
  unpinned_.notify_all();
  return st;
}

void Runtime::WaitUnpinned(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Task>& task) {
  // Pins are taken and dropped under tasks_mu_, so the count is exact here.
  unpinned_.wait(lock, [&] { return task.use_count() == 1; });
}

RunSummary Runtime::summary() const {
  RunSummary s = retired_;
  for (const auto& [p, task] : tasks_) {
    s.events_in += task->stats().events_in;
    s.events_out += task->stats().events_out;
    s.dead_letters += task->stats().dead_letters;
  }
  s.commits = commits_;
  return s;
}

}  // namespace vigil::engine
