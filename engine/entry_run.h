#pragma once
// EntryRun: a key's value as a run of fixed-width entries (a window's events), the value type of a
// PiecedCache. It records what changed since the last flush, so that the cache writes the pieces that
// hold those entries and nothing else.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vigil::engine {

//! Upper bound of the value of a piece record, in bytes: 60 KiB. With its key (2-byte table prefix,
//! kind byte, the operator's key, 8-byte piece number) no record of a PiecedCache (in the store, and
//! so in the changelog) exceeds 64 KiB while keys stay under 4 KiB, however many entries a key has.
inline constexpr std::size_t kPieceBytes = 60 << 10;

//! Entries per piece for entries of `stride` doubles: as many as fit in kPieceBytes after the piece's
//! 8-byte first entry number.
constexpr uint64_t EntriesPerPiece(uint32_t stride) {
  return std::max<uint64_t>(1, (kPieceBytes - sizeof(uint64_t)) / (uint64_t{stride} * sizeof(double)));
}

//! Entries of `stride` doubles, in order. Entries are numbered from the key's first one and numbers
//! never go back, so a number names the piece that stores its entry (number / EntriesPerPiece).
//! Insert marks every entry from its position on as changed (they all move), Touch one entry's piece,
//! Evict only moves first(). Lifecycle and thread-safety: those of the PiecedCache that holds it.
struct EntryRun {
  uint32_t stride = 1;
  uint32_t head = 0;  //!< Entries [0, head) of `data` are evicted but not yet compacted.
  uint64_t base = 0;  //!< Number of the entry at data[0].
  std::vector<double> data;
  uint64_t dirty_from = UINT64_MAX;  //!< Since the last flush: every entry from this number on changed.
  std::vector<uint64_t> touched;     //!< Since the last flush: pieces with an entry changed in place.

  //! Bytes on the heap (the entries' and the touched pieces' capacity), for the caches' budget.
  std::size_t HeapBytes() const {
    return data.capacity() * sizeof(double) + touched.capacity() * sizeof(uint64_t);
  }
  //! Live entries.
  std::size_t size() const { return data.size() / stride - head; }
  //! Number of live entry 0, and one past the last entry's.
  uint64_t first() const { return base + head; }
  uint64_t end() const { return base + data.size() / stride; }
  double* entry(std::size_t i) { return data.data() + (head + i) * stride; }
  const double* entry(std::size_t i) const { return data.data() + (head + i) * stride; }

  //! Inserts an entry before live index `pos`.
  void Insert(std::size_t pos, const double* e) {
    dirty_from = std::min(dirty_from, first() + pos);
    data.insert(data.begin() + static_cast<std::ptrdiff_t>((head + pos) * stride), e, e + stride);
  }
  //! Forgets the first n entries; compacts when the evicted prefix outgrows the live part, so
  //! eviction does not move memory on every event.
  void Evict(std::size_t n) {
    head += static_cast<uint32_t>(n);
    if (head > 16 && head * 2 > data.size() / stride) {
      data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(std::size_t{head} * stride));
      base += head;
      head = 0;
    }
  }
  //! Records that live entry `i` was changed in place.
  void Touch(std::size_t i) {
    const uint64_t piece = (first() + i) / EntriesPerPiece(stride);
    if (touched.empty() || touched.back() != piece) touched.push_back(piece);
  }
};

}  // namespace vigil::engine
