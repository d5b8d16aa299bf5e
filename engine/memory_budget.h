#pragma once
// MemoryBudget: one byte budget (`runtime.memory`) for the state of every task of the process. It
// owns what the stores share: one RocksDB block cache, one write-buffer manager charged to that
// cache (memtables count inside it), one statistics object; and the CacheBudget of the write-back
// caches in front of the stores. The split of a budget of M bytes:
//   block cache     M/2  RocksDB's data, index and filter blocks, the memtables' charge included;
//     of which memtables at most M/8 (the write-buffer manager flushes a store's memtable beyond it;
//     a commit's write lands whole in one memtable, so they may exceed it until flushed);
//   write-back caches M/2  the decoded values of every task's KeyedCache, PiecedCache and LabelIndex.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/status.h"

namespace rocksdb {
class Cache;
class Statistics;
class WriteBufferManager;
}  // namespace rocksdb

namespace vigil::engine {

//! The write-back caches' share of the budget, for all caches of the process together. Each cache
//! holds an Account and reports its approximate bytes (keys, values and a per-entry overhead). A
//! cache evicts only while the caches together are over the limit, and then only down to its
//! allowance: an even share of the limit, plus an even part of what the caches below their share
//! leave unused. After every cache evicted, they hold at most the limit (entries changed since the
//! last commit excepted: they stay until written). Thread-safe.
class CacheBudget {
 public:
  //! `limit`: bytes for every cache together.
  explicit CacheBudget(std::size_t limit) : limit_(limit) {}
  CacheBudget(const CacheBudget&) = delete;
  CacheBudget& operator=(const CacheBudget&) = delete;

  //! One cache's bytes. Registered for its whole life; used by that cache's thread only (Set), read
  //! by any (Allowance, used).
  class Account {
   public:
    //! `budget` may be null: no byte bound.
    explicit Account(CacheBudget* budget);
    ~Account();
    Account(const Account&) = delete;
    Account& operator=(const Account&) = delete;
    //! Reports the cache's bytes now.
    void Set(std::size_t bytes);
    std::size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    //! Bytes the cache may keep now; SIZE_MAX while the caches together are within the limit.
    std::size_t Allowance() const;

   private:
    CacheBudget* budget_;
    std::atomic<std::size_t> bytes_{0};
  };

  std::size_t limit() const { return limit_; }
  //! Bytes held by every cache together.
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::size_t Allowance() const;

  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
  mutable std::mutex mu_;
  std::vector<const Account*> accounts_;  //!< Guarded by mu_.
};

//! What MemoryBudget reports for the vigil_state_memory_bytes gauges, in bytes.
struct MemoryUsage {
  std::size_t block_cache = 0;  //!< Blocks in the shared cache (the memtables' charge not counted).
  std::size_t memtables = 0;    //!< Memtables of every store.
  std::size_t pinned = 0;       //!< Blocks of the cache in use by a reader now.
  std::size_t write_cache = 0;  //!< Write-back caches.
  uint64_t block_cache_hits = 0;
  uint64_t block_cache_misses = 0;
};

//! Lifecycle: made once per process (or per runtime when run alone) before the stores it serves,
//! destroyed after them. Thread-safe.
class MemoryBudget {
 public:
  //! `bytes`: the whole budget; at least kMinBytes.
  static base::Result<std::unique_ptr<MemoryBudget>> Make(uint64_t bytes);
  ~MemoryBudget();
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  //! The smallest budget accepted: 16 MiB.
  static constexpr uint64_t kMinBytes = 16ull << 20;

  uint64_t bytes() const { return bytes_; }
  //! The shared block cache's capacity (memtables included): bytes / 2.
  std::size_t block_cache_bytes() const { return static_cast<std::size_t>(bytes_ / 2); }
  //! The memtables' bound, charged to the block cache: bytes / 8.
  std::size_t memtable_bytes() const { return static_cast<std::size_t>(bytes_ / 8); }
  //! The write-back caches' bound: bytes / 2.
  std::size_t write_cache_bytes() const { return cache_budget_.limit(); }

  const std::shared_ptr<rocksdb::Cache>& block_cache() const { return block_cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffers() const { return write_buffers_; }
  const std::shared_ptr<rocksdb::Statistics>& statistics() const { return statistics_; }
  CacheBudget* cache_budget() { return &cache_budget_; }
  const CacheBudget& cache_budget() const { return cache_budget_; }

  //! What is held now.
  MemoryUsage Usage() const;

 private:
  explicit MemoryBudget(uint64_t bytes);

  const uint64_t bytes_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  CacheBudget cache_budget_;
};

}  // namespace vigil::engine
