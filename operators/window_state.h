#pragma once
// The per-key state of `window`: the key's events still inside the longest window, sorted by time,
// and the latest time seen. Internal to operators/.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::operators {

//! Events of one key, interleaved for locality: entry i is data[i*stride] = time (epoch ms, exact in
//! a double below 2^53) followed by stride-1 values. Entries before `head` are evicted but not yet
//! compacted, so eviction does not move memory on every event.
struct WindowKeyState {
  int64_t max_time = INT64_MIN;
  uint32_t head = 0;
  uint32_t stride = 1;
  std::vector<double> data;

  size_t size() const { return data.size() / stride - head; }
  double time(size_t i) const { return data[(head + i) * stride]; }
  const double* entry(size_t i) const { return data.data() + (head + i) * stride; }
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
  //! Inserts an entry before index `pos`.
  void Insert(size_t pos, const double* entry) {
    data.insert(data.begin() + static_cast<std::ptrdiff_t>((head + pos) * stride), entry, entry + stride);
  }
  //! Forgets the first n entries; compacts when the evicted prefix outgrows the live part.
  void Evict(size_t n) {
    head += static_cast<uint32_t>(n);
    if (head > 16 && head * 2 > data.size() / stride) {
      data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(size_t{head} * stride));
      head = 0;
    }
  }
};

//! Binary layout: max_time, stride, then the live entries' doubles (host byte order).
struct WindowKeyCodec {
  static void Encode(const WindowKeyState& s, std::string* out) {
    out->append(reinterpret_cast<const char*>(&s.max_time), sizeof s.max_time);
    out->append(reinterpret_cast<const char*>(&s.stride), sizeof s.stride);
    const size_t skip = size_t{s.head} * s.stride;
    out->append(reinterpret_cast<const char*>(s.data.data() + skip), (s.data.size() - skip) * sizeof(double));
  }
  static bool Decode(std::string_view in, WindowKeyState* s) {
    constexpr size_t kHeader = sizeof(int64_t) + sizeof(uint32_t);
    if (in.size() < kHeader || (in.size() - kHeader) % sizeof(double) != 0) return false;
    std::memcpy(&s->max_time, in.data(), sizeof(int64_t));
    std::memcpy(&s->stride, in.data() + sizeof(int64_t), sizeof(uint32_t));
    if (s->stride == 0) return false;
    s->head = 0;
    s->data.resize((in.size() - kHeader) / sizeof(double));
    if (s->data.size() % s->stride != 0) return false;
    std::memcpy(s->data.data(), in.data() + kHeader, s->data.size() * sizeof(double));
    return true;
  }
};

}  // namespace vigil::operators
