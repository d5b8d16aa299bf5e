#pragma once
// PiecedCache<V, Codec>: the write-back cache in front of a StateStore table whose values are runs of
// entries (EntryRun) that grow with a key's traffic, such as a window's events. A key is stored in
// pieces whose size does not grow with its history, so a commit costs what changed, not what the key
// holds, and no record (nor changelog message) exceeds kPieceBytes plus its key:
//   "\x00"                           → "pieced/1": the table's layout, written with its first change
//   "\x01" key                       → header: stride, entries per piece, first and end entry numbers,
//                                      the Codec's own fields (a window's latest time) and their size;
//                                      then, for a run of at most kInlineBytes, its entries
//   "\x02" key, piece (8 bytes, BE)  → the piece's first entry number (8 bytes), then its entries
// A small run (most keys) is one record, written whole. A larger one is in pieces: piece p holds
// entries [p·n, (p+1)·n) (n = EntriesPerPiece(stride)), less those evicted before it was written. A
// flush then writes the header, the pieces from the first inserted entry on (an append: the last
// piece), the pieces touched in place and those the store lacks, and deletes the pieces that eviction
// emptied (all of them when the run fits in its header again): RocksDB deletes, so the changelog
// carries their tombstones. A flush stages in the store's order: the headers by key, then the pieces
// (SortByKey, keyed_cache.h).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/entry_run.h"
#include "engine/keyed_cache.h"
#include "engine/state_store.h"

namespace vigil::engine {

//! `V` derives from EntryRun. `Codec` provides `static void EncodeMeta(const V&, std::string*)` and
//! `static bool DecodeMeta(std::string_view, V*)` for V's own fields, stored in the header.
//! Memory: as KeyedCache's (max_keys, and the byte allowance of a CacheBudget), a value's bytes
//! being its entries' capacity. Lifecycle: made by Make, owned by an operator's per-task state.
//! Pointers returned by GetForUpdate stay valid until the next Flush, Trim or Sweep. Thread-safety:
//! one thread at a time, except that Peek of a key not in memory reads the store only (operator.h
//! rule 8).
template <typename V, typename Codec>
class PiecedCache {
 public:
  //! Opens the cache over `table`; refuses a table written in another layout (one value per key, as
  //! vigil wrote before pieces), naming `what` and how to rebuild the state. `budget` may be null.
  static base::Result<std::unique_ptr<PiecedCache>> Make(StateStore* store, TableId table, size_t max_keys,
                                                         const std::string& what,
                                                         CacheBudget* budget = nullptr) {
    std::unique_ptr<PiecedCache> cache(new PiecedCache(store, table, max_keys, budget));
    std::optional<std::string> cursor;
    std::optional<std::pair<std::string, std::string>> first;
    VIGIL_RETURN_IF_ERROR(store->Scan(table, "", &cursor, 1,
                                      [&](std::string_view k, std::string_view v) { first.emplace(k, v); }));
    if (!first) return cache;  // an empty table
    const auto& [first_key, first_value] = *first;
    if (first_key != kLayoutKey || first_value != kLayout)
      return base::FailedPrecondition(
          what +
          ": the store holds state of an older layout (one record per key); rebuild the state: "
          "`vigil reset` the pipeline, or give it a new runtime.state_dir and source.group");
    cache->layout_written_ = true;
    return cache;
  }

  //! The value of `key` for modification, loaded from the store or default-constructed. Marks it dirty.
  base::Result<V*> GetForUpdate(std::string_view key) {
    auto it = map_.find(key);
    if (it != map_.end()) {
      ++stats_.hits;
      Touch(it->first, it->second);
      return &it->second.value;
    }
    ++stats_.misses;
    Entry entry;
    // Not found: a new key, default-constructed.
    if (auto loaded = Load(key, &entry.value, &entry.stored); !loaded.ok()) return loaded.status();
    auto pos = map_.emplace(std::string(key), std::move(entry)).first;
    Measure(pos->first, pos->second);
    Touch(pos->first, pos->second);
    return &pos->second.value;
  }

  //! Reads `key` into `out` without caching it or marking anything dirty. Returns false when absent.
  base::Result<bool> Peek(std::string_view key, V* out) const {
    auto it = map_.find(key);
    if (it != map_.end()) {
      *out = it->second.value;
      return true;
    }
    PieceRange stored;
    return Load(key, out, &stored);
  }

  //! Visits up to SweepBudget(changed keys) keys of the table from where the last sweep stopped (the stored
  //! keys, read as their header, or as the cached value when the key is in memory) and stages the deletion of
  //! those for which `expired(const V&)` holds (a header-only value: no entries loaded). Call it before
  //! Flush. Deleted keys are gone from memory too. After a ScanExpired, only the keys it found are
  //! checked again (against the cached value when the key is in memory by then): the store is not read.
  template <typename Pred>
  base::Status Sweep(Pred expired) {
    if (!scanned_) VIGIL_RETURN_IF_ERROR(ScanStored(expired, SweepBudget(dirty_.size())));
    scanned_ = false;
    for (const Candidate& c : candidates_) {
      PieceRange pieces = c.pieces;
      if (auto it = map_.find(c.key); it != map_.end()) {
        if (!expired(it->second.value)) continue;
        pieces = it->second.stored;
        if (it->second.dirty) std::erase_if(dirty_, [&](const auto& d) { return d.second == &it->second; });
        bytes_ -= it->second.bytes;
        map_.erase(it);
      } else if (!expired(c.header)) {
        continue;
      }
      store_->Delete(table_, HeaderKey(c.key));
      for (uint64_t p = pieces.first; p < pieces.second; ++p) store_->Delete(table_, PieceKey(c.key, p));
      ++swept_;
    }
    candidates_.clear();
    account_.Set(bytes_);
    return base::Status::OK();
  }

  //! The store's half of the next Sweep, which leaves memory alone: it may run beside the thread that
  //! uses the cache, on the thread that calls Sweep and Flush, once the store wrote the last Flush's
  //! changes. Reads up to SweepBudget(keys the last Flush wrote) stored headers from where the last
  //! scan stopped and keeps the keys for which `expired` holds for the next Sweep.
  template <typename Pred>
  base::Status ScanExpired(Pred expired) {
    VIGIL_RETURN_IF_ERROR(ScanStored(expired, SweepBudget(last_flushed_)));
    scanned_ = true;
    return base::Status::OK();
  }

  //! Above max_keys or its byte allowance, evicts the clean entries least recently used (by flush
  //! interval), then stages the changes of every dirty entry (see the file comment). Entries changed
  //! since the last flush stay until the next one: an evicted key's latest value is always in the
  //! store already, so a read-only lookup between this staging and its Apply never finds an older
  //! value there.
  void Flush() {
    for (const auto& [key, entry] : dirty_) Measure(*key, *entry);
    account_.Set(bytes_);
    EvictClean(map_, max_keys_, account_.Allowance(), &bytes_, epoch_);
    account_.Set(bytes_);
    if (!dirty_.empty() && !layout_written_) {
      store_->Put(table_, kLayoutKey, kLayout);
      layout_written_ = true;
    }
    // In the store's order: every header ("\x01" key) by key, then every piece ("\x02" key ...).
    SortByKey(dirty_);
    for (const auto& [key, entry] : dirty_) FlushHeader(*key, entry->value);
    for (const auto& [key, entry] : dirty_) {
      FlushPieces(*key, entry);
      entry->dirty = false;
    }
    last_flushed_ = dirty_.size();
    dirty_.clear();
    ++epoch_;
  }

  //! After the store wrote the last Flush's changes: evicts clean entries (those of that flush
  //! included) down to the bounds, when above them. Same thread as Flush.
  void Trim() {
    EvictClean(map_, max_keys_, account_.Allowance(), &bytes_, epoch_);
    account_.Set(bytes_);
  }

  size_t size() const { return map_.size(); }
  //! Approximate bytes held, as of the last Flush, Trim or Sweep (entries loaded since included).
  size_t bytes() const { return bytes_; }
  const CacheStats& stats() const { return stats_; }
  //! Keys deleted by Sweep since the cache was made.
  uint64_t swept() const { return swept_; }

 private:
  static constexpr std::string_view kLayoutKey{"\x00", 1};
  static constexpr std::string_view kLayout = "pieced/1";
  static constexpr char kHeaderKind = '\x01';
  static constexpr char kPieceKind = '\x02';
  // stride, entries per piece, first, end, size of the Codec's fields
  static constexpr size_t kHeaderBytes = 3 * sizeof(uint32_t) + 2 * sizeof(uint64_t);
  //! Runs of at most this many bytes of entries are kept in their header: one record per key.
  static constexpr size_t kInlineBytes = 4 << 10;

  using PieceRange = std::pair<uint64_t, uint64_t>;  // [lo, hi)

  struct Entry {
    V value{};
    bool dirty = false;
    uint32_t epoch = 0;       // flush interval of the last access
    PieceRange stored{0, 0};  // the pieces the store holds (with this flush's staged changes); none: inline
    size_t bytes = 0;         // approximate bytes, as last measured
  };

  PiecedCache(StateStore* store, TableId table, size_t max_keys, CacheBudget* budget)
      : store_(store), table_(table), max_keys_(max_keys), account_(budget) {}

  void Measure(const std::string& key, Entry& entry) {
    const size_t now = sizeof(std::pair<const std::string, Entry>) + kEntryOverhead + KeyHeapBytes(key) +
                       entry.value.HeapBytes();
    bytes_ += now - entry.bytes;
    entry.bytes = now;
  }

  // The pieces that hold entries [first, end) of `stride` doubles.
  static PieceRange Pieces(uint32_t stride, uint64_t first, uint64_t end) {
    const uint64_t n = EntriesPerPiece(stride);
    if (end == first) return {0, 0};
    return {first / n, (end - 1) / n + 1};
  }

  static std::string HeaderKey(std::string_view key) {
    std::string k(1, kHeaderKind);
    k.append(key);
    return k;
  }
  static std::string PieceKey(std::string_view key, uint64_t piece) {
    std::string k(1, kPieceKind);
    k.append(key);
    for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((piece >> shift) & 0xff));
    return k;
  }

  void Touch(const std::string& key, Entry& entry) {
    entry.epoch = epoch_;
    if (!entry.dirty) {
      entry.dirty = true;
      dirty_.emplace_back(&key, &entry);
    }
  }

  static void Append(std::string* out, const void* p, size_t n) {
    out->append(static_cast<const char*>(p), n);
  }

  //! What a header says beyond the value's own fields.
  struct Stored {
    uint64_t end = 0;          //!< One past the last entry's number.
    PieceRange pieces{0, 0};   //!< The pieces in the store; none when the entries are inline.
    std::string_view entries;  //!< The inline entries (empty for a run in pieces).
  };

  // Reads a header into `v` (its numbers and the Codec's fields; no entries yet) and `at`.
  static bool DecodeHeader(std::string_view in, V* v, Stored* at) {
    if (in.size() < kHeaderBytes) return false;
    uint32_t per_piece = 0, meta = 0;
    uint64_t first = 0;
    std::memcpy(&v->stride, in.data(), sizeof(uint32_t));
    std::memcpy(&per_piece, in.data() + 4, sizeof(uint32_t));
    std::memcpy(&first, in.data() + 8, sizeof(uint64_t));
    std::memcpy(&at->end, in.data() + 16, sizeof(uint64_t));
    std::memcpy(&meta, in.data() + 24, sizeof(uint32_t));
    if (v->stride == 0 || per_piece != EntriesPerPiece(v->stride) || at->end < first ||
        in.size() - kHeaderBytes < meta)
      return false;
    v->base = first;
    v->head = 0;
    v->data.clear();
    v->dirty_from = UINT64_MAX;
    v->touched.clear();
    at->entries = in.substr(kHeaderBytes + meta);
    const uint64_t bytes = (at->end - first) * v->stride * sizeof(double);
    if (at->entries.empty()) {
      at->pieces = Pieces(v->stride, first, at->end);
    } else if (at->entries.size() == bytes) {
      at->pieces = {0, 0};
    } else {
      return false;
    }
    return Codec::DecodeMeta(in.substr(kHeaderBytes, meta), v);
  }

  //! A stored key an expiry scan found, with its header as read (no entries) and its pieces.
  struct Candidate {
    std::string key;
    V header;
    PieceRange pieces;
  };

  //! Reads up to `budget` stored headers from the sweep cursor on; `candidates_` gets those expired.
  template <typename Pred>
  base::Status ScanStored(Pred expired, size_t budget) {
    candidates_.clear();
    V header;
    Stored at;
    base::Status bad;
    const auto visit = [&](std::string_view k, std::string_view v) {
      if (!DecodeHeader(v, &header, &at)) {
        bad = base::Corruption("undecodable state header in table " + std::to_string(table_));
      } else if (expired(header)) {
        candidates_.push_back({std::string(k.substr(1)), header, at.pieces});
      }
    };
    VIGIL_RETURN_IF_ERROR(
        store_->Scan(table_, std::string_view(&kHeaderKind, 1), &sweep_cursor_, budget, visit));
    return bad;
  }

  //! Bytes of a run's entries.
  static size_t EntryBytes(const V& v) { return v.size() * v.stride * sizeof(double); }
  //! A run of at most kInlineBytes is stored in its header, a larger one in pieces.
  static bool InLine(const V& v) { return EntryBytes(v) <= kInlineBytes; }

  void FlushPieces(const std::string& key, Entry* entry) {
    V& v = entry->value;
    const bool in_line = InLine(v);
    const PieceRange now = in_line ? PieceRange{0, 0} : Pieces(v.stride, v.first(), v.end());
    const PieceRange was = entry->stored;
    // Pieces that eviction emptied (all of them once the run fits in its header).
    for (uint64_t p = was.first; p < was.second; ++p)
      if (p < now.first || p >= now.second) store_->Delete(table_, PieceKey(key, p));
    if (!in_line) {
      const uint64_t n = EntriesPerPiece(v.stride);
      const uint64_t moved = v.dirty_from == UINT64_MAX ? UINT64_MAX : v.dirty_from / n;
      std::sort(v.touched.begin(), v.touched.end());
      auto touched = v.touched.begin();
      for (uint64_t p = now.first; p < now.second; ++p) {
        while (touched != v.touched.end() && *touched < p) ++touched;
        const bool missing = p < was.first || p >= was.second;
        if (missing || p >= moved || (touched != v.touched.end() && *touched == p)) PutPiece(key, v, p);
      }
    }
    v.dirty_from = UINT64_MAX;
    v.touched.clear();
    entry->stored = now;
  }

  void FlushHeader(const std::string& key, const V& v) {
    buf_.clear();
    const auto per_piece = static_cast<uint32_t>(EntriesPerPiece(v.stride));
    const uint64_t first = v.first(), end = v.end();
    Append(&buf_, &v.stride, sizeof v.stride);
    Append(&buf_, &per_piece, sizeof per_piece);
    Append(&buf_, &first, sizeof first);
    Append(&buf_, &end, sizeof end);
    const uint32_t meta = 0;
    Append(&buf_, &meta, sizeof meta);
    const size_t meta_at = buf_.size();
    Codec::EncodeMeta(v, &buf_);
    const auto meta_size = static_cast<uint32_t>(buf_.size() - meta_at);
    std::memcpy(buf_.data() + meta_at - sizeof meta, &meta_size, sizeof meta_size);
    if (const size_t bytes = EntryBytes(v); bytes > 0 && InLine(v)) Append(&buf_, v.entry(0), bytes);
    store_->Put(table_, HeaderKey(key), buf_);
  }

  void PutPiece(const std::string& key, const V& v, uint64_t p) {
    const uint64_t n = EntriesPerPiece(v.stride);
    const uint64_t from = std::max(p * n, v.first()), to = std::min((p + 1) * n, v.end());
    buf_.clear();
    Append(&buf_, &from, sizeof from);
    Append(&buf_, v.data.data() + (from - v.base) * v.stride, (to - from) * v.stride * sizeof(double));
    store_->Put(table_, PieceKey(key, p), buf_);
  }

  // Reads `key`'s header and entries into `v`, and which pieces the store holds into `stored`.
  // Returns false (v untouched) when the key has none.
  base::Result<bool> Load(std::string_view key, V* v, PieceRange* stored) const {
    std::string buf;
    VIGIL_ASSIGN_OR_RETURN(bool found, store_->Get(table_, HeaderKey(key), &buf));
    if (!found) return false;
    const auto corrupt = [&](const char* what) {
      return base::Corruption(std::string(what) + " in state table " + std::to_string(table_));
    };
    Stored at;
    if (!DecodeHeader(buf, v, &at)) return corrupt("undecodable header");
    *stored = at.pieces;
    const uint64_t end = at.end, n = EntriesPerPiece(v->stride);
    v->data.resize((end - v->base) * v->stride);
    if (!at.entries.empty()) {
      std::memcpy(v->data.data(), at.entries.data(), at.entries.size());
      return true;
    }
    uint64_t next = v->base;  // number of the next entry to load
    for (uint64_t p = v->base / n; next < end; ++p) {
      VIGIL_ASSIGN_OR_RETURN(found, store_->Get(table_, PieceKey(key, p), &buf));
      uint64_t start = 0;
      if (!found || buf.size() < sizeof start) return corrupt("missing piece");
      std::memcpy(&start, buf.data(), sizeof start);
      const size_t bytes = buf.size() - sizeof start;
      const uint64_t count = bytes / (v->stride * sizeof(double));
      const uint64_t stop = std::min({start + count, (p + 1) * n, end});
      if (bytes % (v->stride * sizeof(double)) != 0 || start > next || stop < std::min((p + 1) * n, end))
        return corrupt("inconsistent piece");
      std::memcpy(v->data.data() + (next - v->base) * v->stride,
                  buf.data() + sizeof start + (next - start) * v->stride * sizeof(double),
                  (stop - next) * v->stride * sizeof(double));
      next = stop;
    }
    return true;
  }

  StateStore* store_;
  TableId table_;
  size_t max_keys_;
  CacheBudget::Account account_;
  size_t bytes_ = 0;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> map_;
  std::vector<std::pair<const std::string*, Entry*>> dirty_;  // entries changed since the last flush
  uint32_t epoch_ = 1;
  CacheStats stats_;
  bool layout_written_ = false;
  std::optional<std::string> sweep_cursor_;
  std::vector<Candidate> candidates_;  // expired keys the last scan found, for the next Sweep
  bool scanned_ = false;               // ScanExpired ran since the last Sweep
  size_t last_flushed_ = 0;            // keys the last Flush wrote
  uint64_t swept_ = 0;
  std::string buf_;
};

}  // namespace vigil::engine
