#pragma once
// KeyedCache<V, Codec>: the write-back cache in front of a StateStore table. Hot keys stay decoded in
// memory; only keys changed since the last flush are encoded and written, once, at commit.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/memory_budget.h"
#include "engine/state_store.h"

namespace vigil::engine {

//! Transparent hash so lookups by string_view allocate nothing. An 8-byte key (an integer id, the
//! common case) hashes to its own value: libstdc++'s prime bucket counts spread integers evenly
//! (unless they are all multiples of that prime; a power-of-two table would need a mixing step), and
//! nearby ids land in nearby buckets. Ids that grow with time (transactions) are stored
//! and read mostly in that order (a label index), so their lookups walk the table nearly in sequence
//! instead of missing the processor's caches at each one.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    if (s.size() == sizeof(uint64_t)) {
      uint64_t v;
      std::memcpy(&v, s.data(), sizeof v);
      return static_cast<size_t>(v);
    }
    return std::hash<std::string_view>{}(s);
  }
};

//! Keys a sweep visits per table at each commit (a bounded step; its cursor goes on from there): 1,000
//! plus twice the keys changed since the last flush (`dirty`), so that the sweep keeps pace with the
//! keys a stream creates however fast it is read (a catch-up reads days of events per commit).
inline constexpr std::size_t SweepBudget(std::size_t dirty) { return 1000 + 2 * dirty; }

//! Approximate bytes of a cache entry besides the pair it holds, its key's heap and its value's heap:
//! the hash node's link and cached hash, its bucket, the allocator's header.
inline constexpr std::size_t kEntryOverhead = 48;

//! Heap bytes of a key in a std::string: none while it fits inline (15 characters in libstdc++).
inline std::size_t KeyHeapBytes(const std::string& key) {
  return key.capacity() > 15 ? key.capacity() + 1 : 0;
}

//! Heap bytes of a cached value: `value.HeapBytes()` when V has it, else none (a fixed-size value).
template <typename V>
std::size_t ValueHeapBytes(const V& value) {
  if constexpr (requires { value.HeapBytes(); })
    return value.HeapBytes();
  else
    return 0;
}

//! The write-back caches' eviction: above `max_keys` entries or `max_bytes` approximate bytes
//! (`*bytes`, the sum of the entries' `bytes`, kept up to date), erases the clean entries (not
//! `dirty`) least recently used by flush interval (`epoch`, the interval of the last access, against
//! the current `epoch`), down to 7/8 of the bound exceeded. Entries changed since the last flush are
//! kept.
template <typename Map>
void EvictClean(Map& map, size_t max_keys, size_t max_bytes, size_t* bytes, uint32_t epoch) {
  if (map.size() <= max_keys && *bytes <= max_bytes) return;
  const size_t target_keys = map.size() > max_keys ? max_keys - max_keys / 8 : SIZE_MAX;
  const size_t target_bytes = *bytes > max_bytes ? max_bytes - max_bytes / 8 : SIZE_MAX;
  const auto over = [&] { return map.size() > target_keys || *bytes > target_bytes; };
  for (uint32_t age = 4; age > 0 && over(); age /= 2) {
    for (auto it = map.begin(); it != map.end() && over();) {
      if (!it->second.dirty && epoch + 1 - it->second.epoch >= age) {
        *bytes -= it->second.bytes;
        it = map.erase(it);
      } else {
        ++it;
      }
    }
  }
}

//! Orders a cache's dirty entries by key, so that a flush stages them in the store's order: RocksDB
//! inserts a sorted run into its memtable's skip list from the previous key's position (its
//! sequential-insert splice), instead of searching it from the top for every key, a cache miss per
//! level. Over keys that miss the caches (a large key space) these inserts were the commit's largest
//! cost (bench/RESULTS.md, `state_scale_bench`).
//! Each key is read once, for its first 8 bytes taken as a big-endian integer (zero-padded), so that
//! these heads order as the bytes do; the sort compares them, and whole keys only where they are equal.
template <typename Entry>
void SortByKey(std::vector<std::pair<const std::string*, Entry*>>& dirty) {
  struct Item {
    uint64_t head;
    std::pair<const std::string*, Entry*> entry;
  };
  thread_local std::vector<Item> items;
  items.clear();
  items.reserve(dirty.size());
  for (const auto& d : dirty) {
    unsigned char bytes[8] = {};
    std::memcpy(bytes, d.first->data(), std::min<std::size_t>(d.first->size(), 8));
    uint64_t head = 0;
    for (unsigned char b : bytes) head = head << 8 | b;
    items.push_back({head, d});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.head != b.head) return a.head < b.head;
    return *a.entry.first < *b.entry.first;
  });
  for (std::size_t i = 0; i < items.size(); ++i) dirty[i] = items[i].entry;
}

//! Counters a cache reports to the task probe.
struct CacheStats {
  uint64_t hits = 0;    //!< Lookups answered from memory.
  uint64_t misses = 0;  //!< Lookups that went to RocksDB.
};

//! `Codec` provides `static void Encode(const V&, std::string*)` and
//! `static bool Decode(std::string_view, V*)`.
//! Memory: at most `max_keys` entries and, with a CacheBudget, its allowance of bytes (see
//! CacheBudget), measured at each Flush; entries changed since the last flush are kept regardless.
//! Lifecycle: owned by an operator's per-task state. Pointers returned by Get/GetForUpdate stay valid
//! until the next Flush or Trim (which may evict). Thread-safety: one thread at a time.
template <typename V, typename Codec>
class KeyedCache {
 public:
  //! `max_keys`: entries kept after a flush; the rest are evicted (they are on disk by then).
  //! `budget` (may be null: keys only) bounds the bytes of this and the process's other caches.
  KeyedCache(StateStore* store, TableId table, size_t max_keys, CacheBudget* budget = nullptr)
      : store_(store), table_(table), max_keys_(max_keys), account_(budget) {}

  //! The value of `key` for modification, loaded from the store or default-constructed. Marks it dirty.
  base::Result<V*> GetForUpdate(std::string_view key) {
    auto it = map_.find(key);
    if (it != map_.end()) {
      ++stats_.hits;
      Touch(it->first, it->second, true);
      return &it->second.value;
    }
    ++stats_.misses;
    Entry entry;
    VIGIL_RETURN_IF_ERROR(Load(key, &entry.value));
    auto pos = map_.emplace(std::string(key), std::move(entry)).first;
    Measure(pos->first, pos->second);
    Touch(pos->first, pos->second, true);
    return &pos->second.value;
  }

  //! Sets `key` to `value` without reading the store first (a blind write). Marks it dirty.
  void Put(std::string_view key, const V& value) {
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(std::string(key), Entry{}).first;
    it->second.value = value;
    Measure(it->first, it->second);
    Touch(it->first, it->second, true);
  }

  //! The value of `key` for reading, cached (not dirty) on first use; nullptr when the key has none.
  base::Result<const V*> Find(std::string_view key) {
    auto it = map_.find(key);
    if (it != map_.end()) {
      ++stats_.hits;
      Touch(it->first, it->second, false);
      return &it->second.value;
    }
    ++stats_.misses;
    VIGIL_ASSIGN_OR_RETURN(bool found, store_->Get(table_, key, &buf_));
    if (!found) return static_cast<const V*>(nullptr);
    Entry entry;
    if (!Codec::Decode(buf_, &entry.value)) return base::Corruption("undecodable state value");
    auto pos = map_.emplace(std::string(key), std::move(entry)).first;
    Measure(pos->first, pos->second);
    Touch(pos->first, pos->second, false);
    return &pos->second.value;
  }

  //! Reads `key` into `out` without caching it or marking anything dirty. Returns false when absent.
  base::Result<bool> Peek(std::string_view key, V* out) const {
    auto it = map_.find(key);
    if (it != map_.end()) {
      *out = it->second.value;
      return true;
    }
    std::string buf;
    VIGIL_ASSIGN_OR_RETURN(bool found, store_->Get(table_, key, &buf));
    if (!found) return false;
    if (!Codec::Decode(buf, out)) return base::Corruption("undecodable state value");
    return true;
  }

  //! Visits up to SweepBudget(changed keys) stored keys of the table from where the last sweep
  //! stopped (read from memory when cached) and stages the deletion of those for which
  //! `expired(const V&)` holds; they are gone from memory too. Call it before Flush. After a
  //! ScanExpired, only the keys it found are checked again (against the cached value when the key is
  //! in memory by then): the store is not read. `deleted(std::string_view key)` is told of each key
  //! deleted, for an owner that keeps something per key beside the cache.
  template <typename Pred, typename Deleted = void (*)(std::string_view)>
  base::Status Sweep(
      Pred expired, Deleted deleted = [](std::string_view) {}) {
    if (!scanned_) VIGIL_RETURN_IF_ERROR(ScanStored(expired, SweepBudget(dirty_.size())));
    scanned_ = false;
    std::sort(erased_.begin(), erased_.end());
    for (const auto& [key, stored] : candidates_) {
      // Erase staged its deletion already: the scan read the store before it.
      if (std::binary_search(erased_.begin(), erased_.end(), key)) continue;
      if (auto it = map_.find(key); it != map_.end()) {
        if (!expired(it->second.value)) continue;
        Forget(it);
      } else if (!expired(stored)) {
        continue;
      }
      store_->Delete(table_, key);
      ++swept_;
      deleted(key);
    }
    candidates_.clear();
    Report();
    return base::Status::OK();
  }

  //! Stages the deletion of `key`, gone from memory too, without reading it: for an owner that knows
  //! when a key expires. Counted in swept(). Call it before Flush.
  void Erase(std::string_view key) {
    if (auto it = map_.find(key); it != map_.end()) Forget(it);
    store_->Delete(table_, key);
    erased_.emplace_back(key);
    ++swept_;
  }

  //! Bytes its owner holds for the cache beside it (an expiry queue): counted with the cache's own in
  //! its account, so the entries are evicted to make room for them. Reported at the next Flush or Trim.
  void SetExtraBytes(size_t bytes) { extra_bytes_ = bytes; }

  //! The store's half of the next Sweep, which leaves memory alone: it may run beside the thread that
  //! uses the cache, on the thread that calls Sweep and Flush, once the store wrote the last Flush's
  //! changes. Reads up to SweepBudget(keys the last Flush wrote) stored keys from where the last scan
  //! stopped and keeps those for which `expired` holds for the next Sweep.
  template <typename Pred>
  base::Status ScanExpired(Pred expired) {
    VIGIL_RETURN_IF_ERROR(ScanStored(expired, SweepBudget(last_flushed_)));
    scanned_ = true;
    return base::Status::OK();
  }

  //! Above max_keys or its byte allowance, evicts the clean entries least recently used (by flush
  //! interval), then stages every dirty entry into the store (applied by StateStore::Apply).
  //! Entries changed since the last flush stay until the next one: an evicted key's latest value is
  //! always in the store already, so a read-only lookup between this staging and its Apply (a scoring
  //! query during a commit) never finds an older value there.
  void Flush() {
    for (const auto& [key, entry] : dirty_) Measure(*key, *entry);
    Report();
    EvictClean(map_, max_keys_, EntryAllowance(), &bytes_, epoch_);
    Report();
    SortByKey(dirty_);
    for (const auto& [key, entry] : dirty_) {
      buf_.clear();
      Codec::Encode(entry->value, &buf_);
      store_->Put(table_, *key, buf_);
      entry->dirty = false;
    }
    last_flushed_ = dirty_.size();
    dirty_.clear();
    erased_.clear();
    ++epoch_;
  }

  //! After the store wrote the last Flush's changes: evicts clean entries (those of that flush
  //! included) down to the bounds, when above them. Same thread as Flush.
  void Trim() {
    EvictClean(map_, max_keys_, EntryAllowance(), &bytes_, epoch_);
    Report();
  }

  size_t size() const { return map_.size(); }
  //! Approximate bytes held, as of the last Flush, Trim or Sweep (entries inserted since included).
  size_t bytes() const { return bytes_; }
  const CacheStats& stats() const { return stats_; }
  //! Keys deleted by Sweep since the cache was made.
  uint64_t swept() const { return swept_; }

 private:
  struct Entry {
    V value{};
    bool dirty = false;
    uint32_t epoch = 0;  // flush interval of the last access
    size_t bytes = 0;    // approximate bytes, as last measured
  };

  using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  //! Drops an entry from memory (and from the dirty list).
  void Forget(typename Map::iterator it) {
    if (it->second.dirty) std::erase_if(dirty_, [&](const auto& d) { return d.second == &it->second; });
    bytes_ -= it->second.bytes;
    map_.erase(it);
  }

  void Report() { account_.Set(bytes_ + extra_bytes_); }
  //! The entries' share of the account's allowance: what the owner's extra bytes leave.
  size_t EntryAllowance() const {
    const size_t allowance = account_.Allowance();
    return allowance == SIZE_MAX ? SIZE_MAX : allowance - std::min(allowance, extra_bytes_);
  }

  void Measure(const std::string& key, Entry& entry) {
    const size_t now = sizeof(std::pair<const std::string, Entry>) + kEntryOverhead + KeyHeapBytes(key) +
                       ValueHeapBytes(entry.value);
    bytes_ += now - entry.bytes;
    entry.bytes = now;
  }

  void Touch(const std::string& key, Entry& entry, bool dirty) {
    entry.epoch = epoch_;
    if (dirty && !entry.dirty) {
      entry.dirty = true;
      dirty_.emplace_back(&key, &entry);
    }
  }

  base::Status Load(std::string_view key, V* value) {
    VIGIL_ASSIGN_OR_RETURN(bool found, store_->Get(table_, key, &buf_));
    if (found && !Codec::Decode(buf_, value))
      return base::Corruption("undecodable state value in table " + std::to_string(table_));
    return base::Status::OK();
  }

  StateStore* store_;
  TableId table_;
  size_t max_keys_;
  CacheBudget::Account account_;
  size_t bytes_ = 0;
  size_t extra_bytes_ = 0;           // the owner's, beside the entries (SetExtraBytes)
  std::vector<std::string> erased_;  // keys Erase deleted since the last flush (kept allocated)
  Map map_;
  std::vector<std::pair<const std::string*, Entry*>> dirty_;  // entries changed since the last flush
  uint32_t epoch_ = 1;
  CacheStats stats_;
  //! Reads up to `budget` stored keys from the sweep cursor on; `candidates_` gets those expired.
  template <typename Pred>
  base::Status ScanStored(Pred expired, size_t budget) {
    candidates_.clear();
    V stored{};
    bool bad = false;
    VIGIL_RETURN_IF_ERROR(
        store_->Scan(table_, "", &sweep_cursor_, budget, [&](std::string_view k, std::string_view v) {
          if (!Codec::Decode(v, &stored))
            bad = true;
          else if (expired(stored))
            candidates_.emplace_back(std::string(k), stored);
        }));
    if (bad) return base::Corruption("undecodable state value in table " + std::to_string(table_));
    return base::Status::OK();
  }

  std::optional<std::string> sweep_cursor_;
  std::vector<std::pair<std::string, V>> candidates_;  // expired keys the last scan found
  bool scanned_ = false;                               // ScanExpired ran since the last Sweep
  size_t last_flushed_ = 0;                            // keys the last Flush wrote
  uint64_t swept_ = 0;
  std::string buf_;
};

}  // namespace vigil::engine
