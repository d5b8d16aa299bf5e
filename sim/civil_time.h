#pragma once
// Calendar helpers of the simulator: dates in, ISO-8601 UTC timestamps out.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::sim {

//! Milliseconds since the Unix epoch of midnight UTC on `date` ("YYYY-MM-DD"). InvalidArgument if
//! the text is not a valid calendar date.
base::Result<int64_t> ParseDateMs(std::string_view date);

//! Longest text FormatIsoUtc writes: "-YYYYYY-MM-DDTHH:MM:SS.mmmZ" fits.
inline constexpr size_t kMaxIsoUtcLength = 32;

//! Writes `epoch_ms` as ISO-8601 UTC into `out`, which holds at least kMaxIsoUtcLength chars:
//! "2018-04-01T00:00:31Z", with ".mmm" before the Z when the milliseconds are not 0. Returns the
//! number of chars written (no terminating NUL).
size_t FormatIsoUtc(int64_t epoch_ms, char* out);

//! FormatIsoUtc as a string.
std::string IsoUtc(int64_t epoch_ms);

}  // namespace vigil::sim
