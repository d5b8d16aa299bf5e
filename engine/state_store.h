#pragma once
// StateStore: one task's durable keyed state, a RocksDB instance with its write-ahead log off.
// Changes are staged in a WriteBatch and applied at commit together with the task's input position,
// so the stored state and the offset it reflects always agree. Durability across crashes comes from
// the changelog (see the reliability docs), not from the WAL: after a crash the store is what its last
// memtable flush wrote, checkpoint and changelog offset included, and the restore replays the changelog
// from there. A flush every `flush_changes` changes bounds that tail, whatever the stream's age.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace vigil::engine {

class MemoryBudget;

//! Options of a task's store. Every size is in bytes.
struct StateStoreOptions {
  std::string path;  //!< Directory of the RocksDB instance; created if absent.
  //! The process's memory budget: the store uses its shared block cache (data, index and filter
  //! blocks), write-buffer manager (memtables, charged to that cache) and statistics. Must outlive the
  //! store. Null: a block cache of block_cache_bytes of the store's own, memtables unbounded by others.
  MemoryBudget* memory = nullptr;
  //! One memtable's size, at most (a budget's memtable bound / 4 may lower it). Default 16 MiB.
  std::size_t write_buffer_bytes = 16 << 20;
  std::size_t block_cache_bytes = 32 << 20;  //!< Without `memory`: the store's own cache. Default 32 MiB.
  //! A flush of the memtable (in the background) once this many changes were applied since the last
  //! one: a restart after a crash replays at most about this many changelog records. Default 65,536.
  std::size_t flush_changes = 1 << 16;
};

//! Identifies an operator's keyspace inside a store (a 2-byte key prefix).
using TableId = uint16_t;

//! Lifecycle: Open → (Get | Put | Delete)* → Commit → … → Close (or destructor).
//! Thread-safety: owned by one task and used by one thread at a time, except that one Get (a scoring
//! query) may run concurrently with ForEachStaged and Apply (a commit's I/O), never with
//! Put/Delete/Prepare/Commit.
class StateStore {
 public:
  //! Opens or creates the store at options.path.
  static base::Result<std::unique_ptr<StateStore>> Open(const StateStoreOptions& options);
  //! Removes a store's directory (used when a task's state must be rebuilt).
  static base::Status Destroy(const std::string& path);
  ~StateStore();

  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  //! Reads the committed value of (table, key) into `value`. Returns false when absent.
  //! Staged, uncommitted changes are not visible: callers keep them in their own cache.
  //! A store that has held no record since it was opened empty (a new task's, or a replay's scratch
  //! store, which never commits) answers without asking RocksDB: its keys' first lookups cost nothing.
  base::Result<bool> Get(TableId table, std::string_view key, std::string* value) const;
  //! Visits committed records of `table` in key order: those whose key (without the table prefix)
  //! starts with `prefix` and sorts after `*cursor` (from the first when `*cursor` is empty), at most
  //! `limit` of them, calling `fn(key, value)` (both valid during the call only). Leaves `*cursor` at
  //! the last key visited, or empty once no such record is left (the next call starts over). Staged
  //! changes are not visible. May run alongside a Get, never alongside Put/Delete/Prepare/Commit.
  base::Status Scan(TableId table, std::string_view prefix, std::optional<std::string>* cursor,
                    std::size_t limit,
                    const std::function<void(std::string_view key, std::string_view value)>& fn) const;
  //! Stages a write; applied at the next Commit.
  void Put(TableId table, std::string_view key, std::string_view value);
  //! Stages a delete; applied at the next Commit.
  void Delete(TableId table, std::string_view key);
  //! Applies every staged change and records `next_offset` (the first input offset not yet reflected
  //! in the state) and `label_next_offset` (the same for the label stream, -1 if none), atomically,
  //! without the WAL. Same as Prepare then Apply(changelog_offset()).
  base::Status Commit(int64_t next_offset, int64_t label_next_offset = -1);

  // The commit in two steps, with a changelog in between: Prepare stages the checkpoint with the
  // changes, ForEachStaged hands them (checkpoint included) to the changelog, Apply writes them.
  //! Stages the checkpoint (`next_offset`, `label_next_offset`) with the staged changes.
  void Prepare(int64_t next_offset, int64_t label_next_offset);
  //! Calls `fn(store key, value or null for a deletion)` for every staged change, in order.
  base::Status ForEachStaged(
      const std::function<base::Status(std::string_view, const std::string_view*)>& fn) const;
  //! Writes the staged changes atomically and records `changelog_offset`: the changelog offset
  //! after the last of them (-1: no changelog).
  base::Status Apply(int64_t changelog_offset);
  //! The changelog offset of the last Apply or restore, or -1.
  int64_t changelog_offset() const { return changelog_offset_; }
  //! True when the store holds nothing (a new store).
  bool empty() const;
  //! Writes changes read from the changelog (store keys as ForEachStaged gives them), then records
  //! `changelog_offset` and re-reads the checkpoint they carry.
  base::Status ApplyRestored(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes,
                             int64_t changelog_offset);
  //! The `next_offset` of the last commit, or -1 for a new store.
  int64_t checkpoint_offset() const { return checkpoint_offset_; }
  //! The `label_next_offset` of the last commit, or -1.
  int64_t label_checkpoint_offset() const { return label_checkpoint_offset_; }
  //! Flushes memtables to disk (clean shutdown), compacts the store when level 0 holds a quarter or
  //! more of its bytes, and closes. Idempotent.
  base::Status Close();
  //! RocksDB's estimate of live keys.
  uint64_t EstimateKeys() const;
  //! True while a memtable flush is scheduled or running (the store's disk lags its memory).
  bool FlushPending() const;
  //! Number of changes staged since the last commit.
  std::size_t staged() const { return staged_; }

 private:
  StateStore(std::unique_ptr<rocksdb::DB> db, int64_t checkpoint, int64_t label_checkpoint, int64_t changelog,
             std::size_t flush_changes);
  //! Merges level 0 into the levels below when it holds a quarter or more of the store's bytes.
  void CompactLevel0WhenLarge();
  //! Counts `changes` applied; past flush_changes_, starts a flush without waiting for it.
  void FlushWhenDue(std::size_t changes);
  std::string TableKey(TableId table, std::string_view key) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<rocksdb::WriteBatch> pending_;
  int64_t checkpoint_offset_ = -1;
  int64_t label_checkpoint_offset_ = -1;
  int64_t changelog_offset_ = -1;
  int64_t prepared_offset_ = -1, prepared_label_offset_ = -1;
  std::size_t staged_ = 0;
  std::size_t flush_changes_;
  std::size_t unflushed_ = 0;  //!< Changes applied since the last flush started.
  mutable std::string key_buf_;
  //! Opened empty and no record written since: every Get and Scan finds nothing. Cleared before the
  //! first write, so that a concurrent Get (a scoring query during a commit) that still sees it set
  //! finds what RocksDB held before that write, as it would without it.
  std::atomic<bool> blank_{false};
};

}  // namespace vigil::engine
