#pragma once
// The per-key state of `window`: the key's events (time + value fields) still inside the longest
// window, sorted by time, and the latest time seen. Internal to operators/.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::operators {

//! Events of one key; `values` holds `stride` doubles per event.
struct WindowKeyState {
  int64_t max_time = INT64_MIN;
  std::vector<int64_t> times;
  std::vector<double> values;
};

//! Fixed binary layout: max_time, count, stride, times[], values[] (host byte order).
struct WindowKeyCodec {
  static void Encode(const WindowKeyState& s, std::string* out) {
    const uint32_t n = static_cast<uint32_t>(s.times.size());
    const uint32_t stride = n ? static_cast<uint32_t>(s.values.size() / n) : 0;
    out->append(reinterpret_cast<const char*>(&s.max_time), sizeof s.max_time);
    out->append(reinterpret_cast<const char*>(&n), sizeof n);
    out->append(reinterpret_cast<const char*>(&stride), sizeof stride);
    out->append(reinterpret_cast<const char*>(s.times.data()), n * sizeof(int64_t));
    out->append(reinterpret_cast<const char*>(s.values.data()), s.values.size() * sizeof(double));
  }
  static bool Decode(std::string_view in, WindowKeyState* s) {
    uint32_t n = 0, stride = 0;
    constexpr size_t kHeader = sizeof(int64_t) + 2 * sizeof(uint32_t);
    if (in.size() < kHeader) return false;
    std::memcpy(&s->max_time, in.data(), sizeof(int64_t));
    std::memcpy(&n, in.data() + 8, sizeof n);
    std::memcpy(&stride, in.data() + 12, sizeof stride);
    if (in.size() != kHeader + n * sizeof(int64_t) + size_t{n} * stride * sizeof(double)) return false;
    s->times.resize(n);
    s->values.resize(size_t{n} * stride);
    std::memcpy(s->times.data(), in.data() + kHeader, n * sizeof(int64_t));
    std::memcpy(s->values.data(), in.data() + kHeader + n * sizeof(int64_t), s->values.size() * sizeof(double));
    return true;
  }
};

}  // namespace vigil::operators
