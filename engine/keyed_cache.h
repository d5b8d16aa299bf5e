#pragma once
// KeyedCache<V, Codec>: the write-back cache in front of a StateStore table. Hot keys stay decoded in
// memory; only keys changed since the last flush are encoded and written, once, at commit.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/state_store.h"

namespace vigil::engine {

//! Transparent hash so lookups by string_view allocate nothing.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

//! Keys a sweep visits per table at each commit (a bounded step; its cursor goes on from there): 1,000
//! plus twice the keys changed since the last flush (`dirty`), so that the sweep keeps pace with the
//! keys a stream creates however fast it is read (a catch-up reads days of events per commit).
inline constexpr std::size_t SweepBudget(std::size_t dirty) { return 1000 + 2 * dirty; }

//! The write-back caches' eviction: above `max_keys` entries, erases the clean ones (not `dirty`)
//! least recently used by flush interval (`epoch`, the interval of the last access, against the
//! current `epoch`), down to 7/8 of `max_keys`. Entries changed since the last flush are kept.
template <typename Map>
void EvictClean(Map& map, size_t max_keys, uint32_t epoch) {
  if (map.size() <= max_keys) return;
  const size_t target = max_keys - max_keys / 8;
  for (uint32_t age = 4; age > 0 && map.size() > target; age /= 2) {
    for (auto it = map.begin(); it != map.end() && map.size() > target;) {
      if (!it->second.dirty && epoch + 1 - it->second.epoch >= age)
        it = map.erase(it);
      else
        ++it;
    }
  }
}

//! Counters a cache reports to the task probe.
struct CacheStats {
  uint64_t hits = 0;    //!< Lookups answered from memory.
  uint64_t misses = 0;  //!< Lookups that went to RocksDB.
};

//! `Codec` provides `static void Encode(const V&, std::string*)` and
//! `static bool Decode(std::string_view, V*)`.
//! Lifecycle: owned by an operator's per-task state. Pointers returned by Get/GetForUpdate stay valid
//! until the next Flush (which may evict). Thread-safety: one thread at a time.
template <typename V, typename Codec>
class KeyedCache {
 public:
  //! `max_keys`: entries kept after a flush; the rest are evicted (they are on disk by then).
  KeyedCache(StateStore* store, TableId table, size_t max_keys)
      : store_(store), table_(table), max_keys_(max_keys) {}

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
    Touch(pos->first, pos->second, true);
    return &pos->second.value;
  }

  //! Sets `key` to `value` without reading the store first (a blind write). Marks it dirty.
  void Put(std::string_view key, const V& value) {
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(std::string(key), Entry{}).first;
    it->second.value = value;
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
  //! `expired(const V&)` holds; they are gone from memory too. Call it before Flush.
  template <typename Pred>
  base::Status Sweep(Pred expired) {
    const size_t budget = SweepBudget(dirty_.size());
    std::vector<std::string> doomed;
    V stored{};
    bool bad = false;
    VIGIL_RETURN_IF_ERROR(
        store_->Scan(table_, "", &sweep_cursor_, budget, [&](std::string_view k, std::string_view v) {
          auto it = map_.find(k);
          if (it != map_.end()) {
            if (expired(it->second.value)) doomed.emplace_back(k);
          } else if (!Codec::Decode(v, &stored)) {
            bad = true;
          } else if (expired(stored)) {
            doomed.emplace_back(k);
          }
        }));
    if (bad) return base::Corruption("undecodable state value in table " + std::to_string(table_));
    for (const std::string& key : doomed) {
      if (auto it = map_.find(key); it != map_.end()) {
        if (it->second.dirty) std::erase_if(dirty_, [&](const auto& d) { return d.second == &it->second; });
        map_.erase(it);
      }
      store_->Delete(table_, key);
    }
    swept_ += doomed.size();
    return base::Status::OK();
  }

  //! Above max_keys, evicts the clean entries least recently used (by flush interval), then stages
  //! every dirty entry into the store (applied by StateStore::Apply). Entries changed since the last
  //! flush stay until the next one: an evicted key's latest value is always in the store already,
  //! so a read-only lookup between this staging and its Apply (a scoring query during a commit)
  //! never finds an older value there.
  void Flush() {
    EvictClean(map_, max_keys_, epoch_);
    for (const auto& [key, entry] : dirty_) {
      buf_.clear();
      Codec::Encode(entry->value, &buf_);
      store_->Put(table_, *key, buf_);
      entry->dirty = false;
    }
    dirty_.clear();
    ++epoch_;
  }

  size_t size() const { return map_.size(); }
  const CacheStats& stats() const { return stats_; }
  //! Keys deleted by Sweep since the cache was made.
  uint64_t swept() const { return swept_; }

 private:
  struct Entry {
    V value{};
    bool dirty = false;
    uint32_t epoch = 0;  // flush interval of the last access
  };

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
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> map_;
  std::vector<std::pair<const std::string*, Entry*>> dirty_;  // entries changed since the last flush
  uint32_t epoch_ = 1;
  CacheStats stats_;
  std::optional<std::string> sweep_cursor_;
  uint64_t swept_ = 0;
  std::string buf_;
};

}  // namespace vigil::engine
