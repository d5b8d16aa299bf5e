#pragma once
// The per-key state of `window`: the key's events still inside the longest window, sorted by time,
// and the latest time seen, kept by an engine::PiecedCache (in pieces of at most 60 KiB, however
// busy the key). Internal to operators/.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/entry_run.h"

namespace vigil::operators {

//! Events of one key, interleaved for locality: entry i is time (epoch ms, exact in a double below
//! 2^53) followed by stride-1 values (see engine::EntryRun).
struct WindowKeyState : engine::EntryRun {
  int64_t max_time = INT64_MIN;

  double time(size_t i) const { return entry(i)[0]; }
  //! Index of the first entry with time > t, searching [0, end).
  size_t UpperBound(double t, size_t end) const {
    size_t lo = 0, n = end;
    while (n > 0) {
      const size_t half = n / 2;
      if (time(lo + half) <= t) {
        lo += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    return lo;
  }
};

//! The header's own field: max_time (8 bytes, host byte order).
struct WindowKeyCodec {
  static void EncodeMeta(const WindowKeyState& s, std::string* out) {
    out->append(reinterpret_cast<const char*>(&s.max_time), sizeof s.max_time);
  }
  static bool DecodeMeta(std::string_view in, WindowKeyState* s) {
    if (in.size() != sizeof s->max_time) return false;
    std::memcpy(&s->max_time, in.data(), sizeof s->max_time);
    return true;
  }
};

}  // namespace vigil::operators
