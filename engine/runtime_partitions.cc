// Runtime, continued: the partitions it owns. Assignment (a task opened, its store restored in the
// background), revocation (committed, then closed), and the drop of uncommitted work when the group
// refused a commit or took partitions away (closed uncommitted, then taken again from the last
// commit). The run loop, the commit protocol and the workers are in runtime.cc.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "engine/runtime.h"

namespace vigil::engine {

base::Result<StartOffsets> Runtime::PrepareAssign(int32_t partition) {
  const auto& spec = plan_.spec();
  TaskOptions options;
  // One directory per (group, source, partition); a file path as source name becomes one component.
  std::string leaf = source_->name() + "-" + std::to_string(partition);
  for (char& c : leaf)
    if (c == '/' || c == ':' || c == '\\') c = '_';
  options.store_path = (std::filesystem::path(spec.runtime.state_dir) / spec.source.group / leaf).string();
  options.cache_max_keys = spec.runtime.cache_max_keys;
  options.memory = memory_;
  options.source_name = source_->name();
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Task> task, Task::Open(plan_, partition, options, probe_));
  StartOffsets start{task->checkpoint_offset(), task->label_checkpoint_offset()};
  if (changelog_) {
    if (base::Status restorable = task->CheckRestorable(); !restorable.ok()) {
      spdlog::warn("partition {}: {}; rebuilding it from the changelog", partition, restorable.message());
      task.reset();
      VIGIL_RETURN_IF_ERROR(StateStore::Destroy(options.store_path));
      VIGIL_ASSIGN_OR_RETURN(task, Task::Open(plan_, partition, options, probe_));
    }
    // Restored in the background once assigned (StartRestore). Meanwhile the partition is read from
    // its committed offset: the changelog's checkpoint under exactly-once, at most it under
    // at-least-once (whose records below the checkpoint the task then skips).
    task->set_restoring(true);
    start = StartOffsets{};
  }
  spdlog::info("{}: partition {} assigned; state checkpoint {}{}", plan_.spec().name, partition,
               task->checkpoint_offset(), changelog_ ? " (before its restore)" : "");
  pending_tasks_[partition] = std::move(task);
  starting_.store(static_cast<int>(pending_tasks_.size()), std::memory_order_relaxed);
  return start;
}

base::Status Runtime::Assigned(int32_t partition, std::unique_ptr<PartitionReader> reader,
                               std::unique_ptr<PartitionReader> labels) {
  auto it = pending_tasks_.find(partition);
  if (it == pending_tasks_.end())
    return base::Internal("partition " + std::to_string(partition) + " assigned without PrepareAssign");
  if (plan_.spec().labels.enabled && !labels)
    return base::Internal("partition " + std::to_string(partition) + " assigned without its label stream");
  it->second->SetReaders(std::move(reader), std::move(labels));
  gate_.Pause([this] { WakeReaders(); });
  {
    std::lock_guard lock(tasks_mu_);
    tasks_[partition] = std::move(it->second);
  }
  pending_tasks_.erase(it);
  starting_.store(static_cast<int>(pending_tasks_.size()), std::memory_order_relaxed);
  RebuildWorkerLists();
  gate_.Resume();
  // Not while closing: the restore would outlive the source it reads (its close is under way).
  if (Task* task = tasks_.at(partition).get(); task->restoring() && !closing_) StartRestore(task);
  return base::Status::OK();
}

void Runtime::StartRestore(Task* task) {
  const int32_t partition = task->partition();
  restoring_.fetch_add(1, std::memory_order_relaxed);
  restores_[partition] = std::thread([this, task, partition] {
    const auto begin = std::chrono::steady_clock::now();
    auto restored = task->Restore(changelog_.get());
    base::Status st = restored.status();
    // A state that resumes past its partition's end (a recreated topic) would skip every record.
    if (st.ok() && task->next_offset() >= 0) st = source_->CheckResume(partition, task->next_offset());
    if (st.ok()) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
      probe_->Restored(*restored, seconds);
      spdlog::info(
          "{}: partition {}: restored {} changes from the changelog in {:.3f} s ({:.0f}/s); state "
          "checkpoint {}",
          plan_.spec().name, partition, *restored, seconds,
          seconds > 0 ? static_cast<double>(*restored) / seconds : 0.0, task->next_offset());
      task->set_restoring(false);  // the workers take it from here
    } else if (st.code() != base::StatusCode::kAborted) {
      Fail(st.WithContext("restore of partition " + std::to_string(partition)));
    }
    restoring_.fetch_sub(1, std::memory_order_relaxed);
  });
}

void Runtime::StopRestore(int32_t partition) {
  auto it = restores_.find(partition);
  if (it == restores_.end()) return;
  if (auto t = tasks_.find(partition); t != tasks_.end()) t->second->CancelRestore();
  if (it->second.joinable()) it->second.join();
  restores_.erase(it);
}

std::vector<Task*> Runtime::CommittableTasks() const {
  std::vector<Task*> tasks;
  for (const auto& [p, task] : tasks_)
    if (!task->restoring()) tasks.push_back(task.get());
  return tasks;
}

base::Status Runtime::Revoked(std::span<const int32_t> partitions) {
  gate_.Pause([this] { WakeReaders(); });
  std::vector<Task*> revoked, committed;
  for (int32_t p : partitions) {
    StopRestore(p);  // a partition still restoring has nothing to commit
    auto it = tasks_.find(p);
    if (it == tasks_.end()) continue;
    revoked.push_back(it->second.get());
    if (!it->second->restoring()) committed.push_back(it->second.get());
  }
  // A transaction spans every task: committing the revoked ones commits them all.
  base::Status st =
      failed_ ? base::Status::OK() : CommitPaused(exactly_once_ ? std::span<Task* const>{} : committed);
  if (st.code() == base::StatusCode::kAborted) {
    // The group moved on before this commit: the partitions' next owner reads their uncommitted
    // work again. Under exactly-once every task's outputs were in the aborted transaction.
    spdlog::warn("{}: {}; the revoked partitions' work since the last commit is dropped", plan_.spec().name,
                 st.message());
    st = DropUncommitted(partitions);
  } else {
    Retire(revoked);
  }
  RebuildWorkerLists();
  gate_.Resume();
  return st;
}

base::Status Runtime::Lost(std::span<const int32_t> partitions) {
  gate_.Pause([this] { WakeReaders(); });
  base::Status st = DropUncommitted(partitions);
  RebuildWorkerLists();
  gate_.Resume();
  return st;
}

base::Status Runtime::DropUncommitted(std::span<const int32_t> partitions) {
  const auto listed = [&](int32_t p) {
    return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
  };
  // Under exactly-once every task's outputs were in the transaction aborted below: only a rewind can
  // take partitions that stay assigned back to their last commit.
  if (exactly_once_)
    for (const auto& [p, task] : tasks_)
      if (!listed(p))
        return base::Aborted("exactly-once: the work of partition " + std::to_string(p) +
                             ", still assigned, was in the aborted transaction");
  for (const NamedSink& s : sinks_) (void)s.sink->Release(false);
  // After a refused commit the producer has aborted already; what the workers wrote since is in the
  // transaction it began then, which goes too.
  VIGIL_RETURN_IF_ERROR(source_->AbortUncommitted());
  std::vector<Task*> tasks;
  for (int32_t p : partitions) {
    StopRestore(p);
    if (auto it = tasks_.find(p);
        it != tasks_.end() && std::find(tasks.begin(), tasks.end(), it->second.get()) == tasks.end())
      tasks.push_back(it->second.get());
  }
  // Closed without a commit: a store holds what its last commit applied, no more.
  Retire(tasks);
  probe_->Rewound();
  return base::Status::OK();
}

void Runtime::Retire(std::span<Task* const> tasks) {
  for (Task* task : tasks) {
    const TaskStats& s = task->stats();
    retired_.events_in += s.events_in;
    retired_.events_out += s.events_out;
    retired_.dead_letters += s.dead_letters;
    probe_->Expired(task->TakeExpired());
    (void)task->Close();  // a query inside returns first; later ones find the task closed
    const int32_t partition = task->partition();
    std::unique_lock lock(tasks_mu_);
    auto gone = tasks_.extract(partition);
    // Destroyed here, not by the last query's pin: its reader must go while the source is open.
    WaitUnpinned(lock, gone.mapped());
    lock.unlock();
    spdlog::info("{}: partition {} revoked", plan_.spec().name, partition);
  }
}

std::vector<int32_t> Runtime::OwnedPartitions() const {
  std::vector<int32_t> partitions;
  for (const auto& [p, task] : tasks_) partitions.push_back(p);
  return partitions;
}

base::Status Runtime::Rewind(const base::Status& why) {
  spdlog::warn("{}: {}; the work since the last commit is dropped and read again", plan_.spec().name,
               why.message());
  gate_.Pause([this] { WakeReaders(); });
  base::Status st = DropUncommitted(OwnedPartitions());
  RebuildWorkerLists();
  gate_.Resume();
  VIGIL_RETURN_IF_ERROR(st);
  return source_->Reassign();
}

}  // namespace vigil::engine
