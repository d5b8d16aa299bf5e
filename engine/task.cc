#include "engine/task.h"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace vigil::engine {
namespace {

//! Drops the records of `raw` below `next` (a partition's first unprocessed offset; -1: none yet):
//! a client that re-delivers what the task already processed (a stale fetch position after a
//! rebalance) must not have it counted twice. A partition's records arrive in offset order, so
//! they are a prefix. Returns how many were dropped.
size_t DropRedelivered(std::vector<RawEvent>* raw, int64_t next, int32_t partition, const char* what) {
  if (next < 0 || raw->empty() || raw->front().offset >= next) return 0;
  size_t n = 0;
  while (n < raw->size() && (*raw)[n].offset < next) ++n;
  spdlog::warn("partition {}: {} offsets {}..{} were delivered again; already processed, skipped", partition,
               what, raw->front().offset, (*raw)[n - 1].offset);
  raw->erase(raw->begin(), raw->begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

}  // namespace

Task::Task(const Plan& plan, int32_t partition, EngineProbe* probe)
    : plan_(plan), partition_(partition), probe_(probe), batch_(&plan.schema()) {}

Task::~Task() { (void)Close(); }

base::Result<std::unique_ptr<Task>> Task::Open(const Plan& plan, int32_t partition,
                                               const TaskOptions& options, EngineProbe* probe) {
  std::unique_ptr<Task> task(new Task(plan, partition, probe));
  std::error_code ec;
  std::filesystem::create_directories(options.store_path, ec);
  if (ec) return base::IoError("cannot create state directory '" + options.store_path + "': " + ec.message());
  task->memory_ = options.memory;
  if (task->memory_ == nullptr) {
    VIGIL_ASSIGN_OR_RETURN(task->own_memory_, MemoryBudget::Make(plan.spec().runtime.memory_bytes));
    task->memory_ = task->own_memory_.get();
  }
  StateStoreOptions store_options;
  store_options.path = options.store_path;
  store_options.memory = task->memory_;
  VIGIL_ASSIGN_OR_RETURN(task->store_, StateStore::Open(store_options));
  CacheBudget* budget = task->memory_->cache_budget();
  if (plan.spec().labels.enabled) {
    task->labels_ =
        std::make_unique<LabelIndex>(plan.spec().labels, task->store_.get(), options.cache_max_keys, budget);
    task->RetainLabels();
  }
  task->cache_max_keys_ = options.cache_max_keys;
  const TaskContext ctx = task->Context();
  for (const auto& op : plan.operators()) {
    VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<OperatorState> state, op->MakeState(ctx));
    task->states_.push_back(std::move(state));
  }
  task->source_name_ = options.source_name;
  task->out_.source = task->source_name_;
  task->dead_.source = task->source_name_;
  task->side_.source = task->source_name_;
  task->next_offset_ = task->store_->checkpoint_offset();
  task->label_next_offset_ = task->store_->label_checkpoint_offset();
  return task;
}

TaskContext Task::Context() {
  return TaskContext{partition_, store_.get(), cache_max_keys_, labels_.get(), memory_->cache_budget(),
                     &side_};
}

base::Result<std::size_t> Task::RunOnce(std::size_t max_events, int wait_ms, Sink* output, Sink* dead_letter,
                                        Sink* side_output) {
  VIGIL_RETURN_IF_ERROR(reader_->Read(max_events, wait_ms, &raw_));
  if (DropRedelivered(&raw_, next_offset_, partition_, "event") > 0 && raw_.empty()) return std::size_t{0};
  // Idle: drained, or so it seems (right after the assignment the first fetch may still be on its
  // way), or reading only what parse rejects, which never moves event time forward.
  const auto idle_timeout = std::chrono::milliseconds(plan_.spec().runtime.idle_timeout_ms);
  if (raw_.empty()) {
    idle_.store(reader_->Lag() == 0 || std::chrono::steady_clock::now() - last_accepted_ > idle_timeout,
                std::memory_order_relaxed);
    if (label_reader_) VIGIL_RETURN_IF_ERROR(IdleLabels(side_output));
    return std::size_t{0};
  }
  if (std::chrono::steady_clock::now() - last_accepted_ <= idle_timeout)
    idle_.store(false, std::memory_order_relaxed);
  // Through the turnstile: a query waiting for the state gets it before this batch, however busy
  // the stream is.
  std::unique_lock turn(turn_mu_);
  std::lock_guard lock(mu_);
  turn.unlock();
  const auto start = std::chrono::steady_clock::now();
  batch_.Reset(raw_, partition_);
  side_.Clear();
  int64_t batch_max_time = INT64_MIN;
  const auto& ops = plan_.operators();
  for (size_t i = 0; i < ops.size(); ++i) {
    base::Status st = ops[i]->Process(batch_, states_[i].get());
    if (!st.ok()) return st.WithContext("operator '" + ops[i]->name() + "'");
    if (i == 0) {  // after parse: event times are known
      int64_t until = INT64_MIN;
      for (size_t r = 0; r < batch_.size(); ++r)
        if (batch_.live(r)) until = std::max(until, batch_.meta(r).event_time);
      batch_max_time = until;
      const auto now = std::chrono::steady_clock::now();
      if (until != INT64_MIN) last_accepted_ = now;
      idle_.store(now - last_accepted_ > idle_timeout, std::memory_order_relaxed);
      int64_t from = INT64_MAX;
      for (size_t r = 0; r < batch_.size(); ++r)
        if (batch_.live(r)) from = std::min(from, batch_.meta(r).event_time);
      in_flight_from_.store(from, std::memory_order_relaxed);
      if (label_reader_) VIGIL_RETURN_IF_ERROR(CatchUpLabels(until));
    }
  }
  plan_.output_encoder().EncodeLive(batch_, &out_, plan_.spec().output.format);
  out_.source_partition = partition_;
  if (!out_.records.empty() && output != nullptr) VIGIL_RETURN_IF_ERROR(output->Write(out_));
  const size_t dropped = batch_.size() - out_.records.size();
  if (dropped > 0) {
    RowEncoder::EncodeDropped(batch_, &dead_);
    dead_.source_partition = partition_;
    for (const OutRecord& r : dead_.records) probe_->DeadLettered(r.reason);
    if (dead_letter != nullptr) VIGIL_RETURN_IF_ERROR(dead_letter->Write(dead_));
  }
  VIGIL_RETURN_IF_ERROR(WriteSide(side_output));
  if (raw_.front().timestamp_ms >= 0)  // Kafka records: how long since each was produced
    probe_->DecisionsWritten(
        raw_, std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch())
                  .count());
  // Written: the next stage may see these event times now.
  if (batch_max_time > event_time_.load(std::memory_order_relaxed))
    event_time_.store(batch_max_time, std::memory_order_relaxed);
  in_flight_from_.store(INT64_MAX, std::memory_order_relaxed);
  next_offset_ = raw_.back().offset + 1;
  stats_.events_in += batch_.size();
  stats_.events_out += out_.records.size();
  stats_.dead_letters += dropped;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  probe_->BatchDone(batch_.size(), out_.records.size(), seconds);
  return batch_.size();
}

namespace {
constexpr size_t kLabelBatch = 1000;  // labels read at once
}  // namespace

base::Status Task::IdleLabels(Sink* side_output) {
  VIGIL_RETURN_IF_ERROR(label_reader_->Read(kLabelBatch, 0, &label_raw_));
  if (label_raw_.empty()) return base::Status::OK();
  std::unique_lock turn(turn_mu_);
  std::lock_guard lock(mu_);
  turn.unlock();
  VIGIL_RETURN_IF_ERROR(IngestLabels());
  const int64_t now = event_time();
  if (now == INT64_MIN) return base::Status::OK();  // no event yet: nothing waits for a label
  side_.Clear();
  const auto& ops = plan_.operators();
  for (size_t i = 0; i < ops.size(); ++i) {
    base::Status st = ops[i]->LabelsAdvanced(states_[i].get(), now);
    if (!st.ok()) return st.WithContext("operator '" + ops[i]->name() + "'");
  }
  return WriteSide(side_output);
}

base::Status Task::IngestLabels() {
  if (DropRedelivered(&label_raw_, label_next_offset_, partition_, "label") > 0 && label_raw_.empty())
    return base::Status::OK();
  VIGIL_RETURN_IF_ERROR(labels_->Ingest(label_raw_));
  label_next_offset_ = label_raw_.back().offset + 1;
  return base::Status::OK();
}

base::Status Task::WriteSide(Sink* side_output) {
  side_.source_partition = partition_;
  if (side_.records.empty() || side_output == nullptr) return base::Status::OK();
  return side_output->Write(side_);
}

base::Status Task::CatchUpLabels(int64_t until) {
  constexpr auto kSlice = std::chrono::milliseconds(20);  // one read's wait, so the deadline holds
  // Until the label stream is known to be at its end, wait for it: an event must see every label that
  // exists for its time, however fetching interleaves (after an assignment the end is unknown until
  // the first fetch answers). The wait is bounded per batch: the commit waits for this batch.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(plan_.spec().labels.max_wait_ms);
  bool timed_out = false;
  while (labels_->watermark() < until) {
    VIGIL_RETURN_IF_ERROR(label_reader_->Read(kLabelBatch, 0, &label_raw_));
    if (label_raw_.empty()) {
      if (label_reader_->Lag() == 0) break;  // every label that exists was read
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      VIGIL_RETURN_IF_ERROR(
          label_reader_->Read(kLabelBatch, static_cast<int>(std::min(left, kSlice).count()), &label_raw_));
      if (label_raw_.empty()) continue;
    }
    VIGIL_RETURN_IF_ERROR(IngestLabels());
  }
  if (timed_out) {
    probe_->LabelWaitTimedOut();
    if (!label_stalled_)
      spdlog::warn(
          "partition {}: the label stream is behind the events and did not catch up within {} ms; "
          "scoring with the labels known so far (vigil_label_wait_timeouts_total counts the batches)",
          partition_, plan_.spec().labels.max_wait_ms);
  } else if (label_stalled_) {
    spdlog::info("partition {}: the label stream caught up", partition_);
  }
  label_stalled_ = timed_out;
  const int64_t watermark = labels_->watermark();
  const double behind =
      watermark == INT64_MIN ? 0.0 : static_cast<double>(std::max<int64_t>(0, until - watermark)) / 1000.0;
  probe_->SetLabelLag(partition_, behind);
  return base::Status::OK();
}

base::Status Task::Query(std::string_view event, const BatchMode& mode,
                         const std::function<void(const Batch&, size_t row)>& fn) {
  if (restoring())  // not the state yet: an answer now would be wrong, and waiting takes long
    return base::Unavailable("partition " + std::to_string(partition_) + " is restoring its state");
  std::unique_lock turn(turn_mu_);
  std::lock_guard lock(mu_);
  turn.unlock();
  if (!store_ || states_.size() != plan_.operators().size())
    return base::Unavailable("partition " + std::to_string(partition_) + " is closed");
  if (!query_batch_) query_batch_ = std::make_unique<Batch>(&plan_.schema());
  const RawEvent raw{event.data(), static_cast<uint32_t>(event.size()), nullptr, 0, -1};
  query_batch_->set_mode(mode);
  query_batch_->Reset(std::span<const RawEvent>(&raw, 1), partition_);
  const auto& ops = plan_.operators();
  for (size_t i = 0; i < ops.size() && query_batch_->live(0); ++i) {
    base::Status st = ops[i]->Process(*query_batch_, states_[i].get());
    if (!st.ok()) return st.WithContext("operator '" + ops[i]->name() + "'");
  }
  fn(*query_batch_, 0);
  return base::Status::OK();
}

base::Status Task::CommitState() {
  VIGIL_RETURN_IF_ERROR(StageState(nullptr));
  return ApplyState(nullptr);
}

base::Status Task::StageState(Changelog* changelog) {
  {
    std::lock_guard lock(mu_);
    if (next_offset_ < 0 && label_next_offset_ < 0) return base::Status::OK();
    const int64_t now = event_time();
    for (auto& state : states_) {
      if (!state) continue;
      VIGIL_RETURN_IF_ERROR(state->Expire(now));
      state->Flush();
    }
    if (labels_) {
      VIGIL_RETURN_IF_ERROR(labels_->Expire(now));
      labels_->Flush();
    }
    store_->Prepare(next_offset_, label_next_offset_);
    staged_ = true;
  }
  return AppendStaged(changelog);
}

base::Status Task::ScanExpired() {
  // Without the state lock: each scan reads the store and its own cursor, which only this thread uses.
  const int64_t now = event_time();
  for (auto& state : states_)
    if (state) VIGIL_RETURN_IF_ERROR(state->ScanExpired(now));
  if (labels_) VIGIL_RETURN_IF_ERROR(labels_->ScanExpired(now));
  return base::Status::OK();
}

base::Status Task::AppendStaged(Changelog* changelog) {
  if (changelog == nullptr || !staged_) return base::Status::OK();
  // Without the state lock: the appends may wait on a full producer queue, and queries (and, in a
  // pipelined commit, the worker) go on meanwhile. They read the cache and the store's applied
  // state, never the staged batch, which only this commit touches until ApplyState.
  return store_->ForEachStaged([&](std::string_view key, const std::string_view* value) {
    return changelog->Append(partition_, key, value);
  });
}

base::Status Task::ApplyState(const Changelog* changelog) {
  // Without the state lock too: a query's (or the worker's) store reads see the RocksDB write whole or
  // not at all, and a key they miss in the cache was not changed since the last commit
  // (KeyedCache::Flush keeps changed entries), so both values are the same.
  if (!staged_) return base::Status::OK();
  staged_ = false;
  VIGIL_RETURN_IF_ERROR(store_->Apply(changelog != nullptr ? changelog->NextOffset(partition_) : -1));
  // Written: the entries of this commit may go too, should the caches be over their bounds. That
  // needs the state lock (a batch in progress holds pointers into the caches): taken, as a query
  // takes it, only then.
  const CacheBudget& budget = *memory_->cache_budget();
  if (budget.used() <= budget.limit()) return base::Status::OK();
  std::unique_lock turn(turn_mu_);
  std::lock_guard lock(mu_);
  turn.unlock();
  for (auto& state : states_)
    if (state) state->Trim();
  if (labels_) labels_->Trim();
  return base::Status::OK();
}

base::Status Task::CheckRestorable() const {
  // A store without a changelog position cannot say which changes it lacks: rebuild it whole.
  if (store_->changelog_offset() < 0 && !store_->empty())
    return base::FailedPrecondition("the store of partition " + std::to_string(partition_) +
                                    " has no changelog position");
  return base::Status::OK();
}

base::Result<uint64_t> Task::Restore(Changelog* changelog) {
  std::lock_guard lock(mu_);
  VIGIL_RETURN_IF_ERROR(CheckRestorable());
  constexpr size_t kChunk = 10'000;
  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  uint64_t read = 0;
  int64_t position = store_->changelog_offset();
  VIGIL_ASSIGN_OR_RETURN(
      int64_t end,
      changelog->Restore(partition_, position, [&](std::string_view key, const std::string_view* value) {
        if (cancel_restore_.load(std::memory_order_relaxed))
          return base::Aborted("restore of partition " + std::to_string(partition_) + " cancelled");
        changes.emplace_back(std::string(key),
                             value ? std::optional<std::string>(std::string(*value)) : std::nullopt);
        ++read;
        if (changes.size() < kChunk) return base::Status::OK();
        // A crash from here on replays from the old position again (the changes are whole values).
        base::Status st = store_->ApplyRestored(changes, std::max<int64_t>(position, 0));
        changes.clear();
        return st;
      }));
  if (end >= 0) VIGIL_RETURN_IF_ERROR(store_->ApplyRestored(changes, end));
  // The operators' states were built over the store before the restore: rebuild them.
  if (labels_) {
    labels_ = std::make_unique<LabelIndex>(plan_.spec().labels, store_.get(), cache_max_keys_,
                                           memory_->cache_budget());
    RetainLabels();
  }
  const TaskContext fresh = Context();
  states_.clear();
  for (const auto& op : plan_.operators()) {
    VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<OperatorState> state, op->MakeState(fresh));
    states_.push_back(std::move(state));
  }
  next_offset_ = store_->checkpoint_offset();
  label_next_offset_ = store_->label_checkpoint_offset();
  return read;
}

void Task::RetainLabels() {
  // The score reads an event's label once its monitor's label delay has passed (operators/score.h):
  // the windows over "$label" say their own span in MakeState.
  for (const config::OperatorSpec& op : plan_.spec().operators)
    if (const auto* score = std::get_if<config::ScoreSpec>(&op.params))
      labels_->Retain(int64_t{score->monitor.label_delay_days} * 86'400'000);
}

base::Status Task::Close() {
  std::lock_guard lock(mu_);
  if (!store_) return base::Status::OK();
  states_.clear();
  labels_.reset();
  return store_->Close();
}

std::size_t Task::cached_keys() const {
  std::size_t n = 0;
  for (const auto& s : states_)
    if (s) n += s->cached_keys();
  return n;
}

CacheStats Task::cache_stats() const {
  CacheStats total;
  for (const auto& s : states_) {
    if (!s) continue;
    const CacheStats c = s->cache_stats();
    total.hits += c.hits;
    total.misses += c.misses;
  }
  return total;
}

uint64_t Task::TakeExpired() {
  uint64_t total = labels_ ? labels_->expired() : 0;
  for (const auto& s : states_)
    if (s) total += s->expired_keys();
  // A restore rebuilds the states, whose counts start over.
  const uint64_t delta = total >= expired_seen_ ? total - expired_seen_ : total;
  expired_seen_ = total;
  return delta;
}

}  // namespace vigil::engine
