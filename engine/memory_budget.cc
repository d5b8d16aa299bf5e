// With state_store.cc, the only file that includes RocksDB.
#include "engine/memory_budget.h"

#include <rocksdb/cache.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <cstdint>

#include "config/pipeline_config.h"

namespace vigil::engine {

CacheBudget::Account::Account(CacheBudget* budget) : budget_(budget) {
  if (budget_ == nullptr) return;
  std::lock_guard lock(budget_->mu_);
  budget_->accounts_.push_back(this);
}

CacheBudget::Account::~Account() {
  if (budget_ == nullptr) return;
  Set(0);
  std::lock_guard lock(budget_->mu_);
  std::erase(budget_->accounts_, this);
}

void CacheBudget::Account::Set(std::size_t bytes) {
  const std::size_t before = bytes_.exchange(bytes, std::memory_order_relaxed);
  if (budget_ == nullptr || before == bytes) return;
  if (bytes > before)
    budget_->used_.fetch_add(bytes - before, std::memory_order_relaxed);
  else
    budget_->used_.fetch_sub(before - bytes, std::memory_order_relaxed);
}

std::size_t CacheBudget::Account::Allowance() const {
  if (budget_ == nullptr || budget_->used() <= budget_->limit()) return SIZE_MAX;
  return budget_->Allowance();
}

std::size_t CacheBudget::Allowance() const {
  std::lock_guard lock(mu_);
  if (accounts_.empty()) return limit_;
  // An even share each; what the caches below it leave unused goes to those above it, evenly.
  const std::size_t share = limit_ / accounts_.size();
  std::size_t spare = 0, over = 0;
  for (const Account* a : accounts_) {
    const std::size_t b = a->bytes();
    if (b < share)
      spare += share - b;
    else
      ++over;
  }
  return share + (over > 0 ? spare / over : 0);
}

MemoryBudget::MemoryBudget(uint64_t bytes)
    : bytes_(bytes), cache_budget_(static_cast<std::size_t>(bytes / 2)) {
  // Index and filter blocks go to the high-priority pool (a tenth), so data blocks do not push them out.
  block_cache_ = rocksdb::NewLRUCache(block_cache_bytes(), -1, false, 0.1);
  write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(memtable_bytes(), block_cache_);
  statistics_ = rocksdb::CreateDBStatistics();
  statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
}

MemoryBudget::~MemoryBudget() = default;

static_assert(MemoryBudget::kMinBytes == config::RuntimeSpec::kMinMemoryBytes);

base::Result<std::unique_ptr<MemoryBudget>> MemoryBudget::Make(uint64_t bytes) {
  if (bytes < kMinBytes)
    return base::InvalidArgument("runtime.memory: " + std::to_string(bytes) +
                                 " bytes is below the minimum of " + std::to_string(kMinBytes) + " (16MiB)");
  return std::unique_ptr<MemoryBudget>(new MemoryBudget(bytes));
}

MemoryUsage MemoryBudget::Usage() const {
  MemoryUsage u;
  u.memtables = write_buffers_->memory_usage();
  // The memtables are charged to the cache in reservations of their own: what remains is blocks.
  const std::size_t in_cache = block_cache_->GetUsage();
  const std::size_t reserved = std::min(in_cache, write_buffers_->dummy_entries_in_cache_usage());
  u.block_cache = in_cache - reserved;
  u.pinned = block_cache_->GetPinnedUsage();
  u.write_cache = cache_budget_.used();
  u.block_cache_hits = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
  u.block_cache_misses = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  return u;
}

}  // namespace vigil::engine
